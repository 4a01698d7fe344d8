/**
 * This build of gen-manifests: the bundle's SHA-256, written in by scripts/build.mjs (into the
 * bundle and the launcher). Every compile-cache key includes it, so code compiled by another
 * build, whatever it changed, is never used.
 */
export const BUILD_ID: string = "__GEN_MANIFESTS_BUILD_ID__";

/** Whether this is the bundle scripts/build.mjs made (tsc's output has no id: run unbundled, it keeps its cache in memory). */
export const isBuilt = (): boolean => !BUILD_ID.startsWith("__");
