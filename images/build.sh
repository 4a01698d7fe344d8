#!/usr/bin/env bash
# Builds every image of images/ (base first: the others are built FROM it) and pushes each to
# <registry>/<prefix>/<name>:<tag>, the reference that {{image "<name>"}} renders in the templates.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: images/build.sh --registry HOST[:PORT] --prefix PREFIX --tag TAG [options] [NAME...]

Builds the images of images/ from Debian 12's packages and pushes each one to
<registry>/<prefix>/<name>:<tag>: the values of the parameters docker_registry,
docker_image_prefix and image_tag, so that the rendered manifests find them.
The base image is always built first; NAME... limits the others to those named.

Options:
  --registry HOST[:PORT]  the private registry (docker_registry); empty: the default registry
  --prefix PREFIX         repository prefix (docker_image_prefix)
  --tag TAG               image tag (image_tag); never "latest"
  --tool TOOL             docker, podman or buildah (default: docker if present, else podman,
                          else buildah)
  --insecure              push over plain HTTP or with an unverified certificate (podman and
                          buildah; docker reads insecure-registries from its daemon's settings)
  --no-push               build and tag only
  --list                  print the image names, base first, and exit
  -h, --help              print this help

Example:
  images/build.sh --registry registry.example.com:5000 --prefix openstack --tag zed-1
EOF
}

fail_usage() { echo "build.sh: $*" >&2; echo "Try: images/build.sh --help" >&2; exit 2; }

here=$(CDPATH="" cd -- "$(dirname -- "$0")" && pwd)

# Every folder with a Dockerfile is an image; base comes first.
list_images() {
  echo base
  local dir name
  for dir in "$here"/*/; do
    name=$(basename -- "$dir")
    [ "$name" != base ] && [ -f "$dir/Dockerfile" ] && echo "$name"
  done
  return 0
}

registry="" prefix="" tag="" tool="" insecure=0 push=1 have_registry=0 have_prefix=0
selected=()
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --list) list_images; exit 0 ;;
    --registry) [ $# -ge 2 ] || fail_usage "--registry needs a value"; registry=$2; have_registry=1; shift 2 ;;
    --registry=*) registry=${1#*=}; have_registry=1; shift ;;
    --prefix) [ $# -ge 2 ] || fail_usage "--prefix needs a value"; prefix=$2; have_prefix=1; shift 2 ;;
    --prefix=*) prefix=${1#*=}; have_prefix=1; shift ;;
    --tag) [ $# -ge 2 ] || fail_usage "--tag needs a value"; tag=$2; shift 2 ;;
    --tag=*) tag=${1#*=}; shift ;;
    --tool) [ $# -ge 2 ] || fail_usage "--tool needs a value"; tool=$2; shift 2 ;;
    --tool=*) tool=${1#*=}; shift ;;
    --insecure) insecure=1; shift ;;
    --no-push) push=0; shift ;;
    -*) fail_usage "unknown option $1" ;;
    *) selected+=("$1"); shift ;;
  esac
done

[ "$have_registry" -eq 1 ] || fail_usage "--registry is required (the docker_registry parameter; --registry '' for the default registry)"
[ "$have_prefix" -eq 1 ] || fail_usage "--prefix is required (the docker_image_prefix parameter)"
[ -n "$tag" ] || fail_usage "--tag is required (the image_tag parameter)"
[ "$tag" != latest ] || fail_usage "--tag latest is refused: a pinned tag keeps a rendered out/ meaning the same images"

all=$(list_images)
for name in "${selected[@]}"; do
  printf '%s\n' "$all" | grep -qxF -- "$name" || fail_usage "no image $name in $here (images: $(printf '%s' "$all" | tr '\n' ' '))"
done

if [ -z "$tool" ]; then
  for candidate in docker podman buildah; do
    if command -v "$candidate" >/dev/null 2>&1; then tool=$candidate; break; fi
  done
  [ -n "$tool" ] || { echo "build.sh: none of docker, podman or buildah is installed" >&2; exit 1; }
fi
case $tool in docker|podman|buildah) ;; *) fail_usage "--tool must be docker, podman or buildah, not $tool" ;; esac

# <registry>/<prefix>/<name>:<tag>, leaving out empty parts, as the templates' image helper does.
reference() {
  local ref="" part
  for part in "${registry%/}" "$(printf '%s' "$prefix" | sed 's#^/*##; s#/*$##')" "$1"; do
    [ -n "$part" ] && ref=${ref:+$ref/}$part
  done
  printf '%s:%s\n' "$ref" "$tag"
}

tls_flags=()
[ "$insecure" -eq 1 ] && [ "$tool" != docker ] && tls_flags=(--tls-verify=false)

build() {
  local name=$1 ref
  ref=$(reference "$name")
  echo "build.sh: building $ref with $tool"
  local args=(--tag "$ref" --build-arg "BASE=$(reference base)" "$here/$name")
  case $tool in
    docker) docker build "${args[@]}" ;;
    podman) podman build "${args[@]}" ;;
    buildah) buildah build "${args[@]}" ;;
  esac
  [ "$push" -eq 1 ] || return 0
  echo "build.sh: pushing $ref"
  case $tool in
    docker) docker push "$ref" ;;
    podman) podman push "${tls_flags[@]}" "$ref" ;;
    buildah) buildah push "${tls_flags[@]}" "$ref" ;;
  esac
}

build base
while IFS= read -r name; do
  [ "$name" = base ] && continue
  if [ "${#selected[@]}" -gt 0 ]; then
    printf '%s\n' "${selected[@]}" | grep -qxF -- "$name" || continue
  fi
  build "$name"
done <<<"$all"
echo "build.sh: done"
