/**
 * This build of gen-manifests: the bundle's SHA-256, written in by scripts/build.mjs (into the
 * bundle, the launcher and tsc's output alike). Every compile-cache key includes it, so code
 * compiled by another build, whatever it changed, is never used.
 */
export const BUILD_ID: string = "__GEN_MANIFESTS_BUILD_ID__";

/** Whether this is a build scripts/build.mjs finished (tsc's output alone has no id: it keeps no cache). */
export const isBuilt = (): boolean => !BUILD_ID.startsWith("__");
