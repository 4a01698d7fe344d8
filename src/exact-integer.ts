// Integers beyond 2^53: JSON.parse, js-yaml and Number() round them silently, and a manifest or a
// template would then get another number than the one written. Such integers are refused where
// they are written (a parameters file, `--set`, a template's text) instead.

/**
 * Whether the number is written back as the integer read: every integer to 2^53 is; beyond, a
 * number is written with its shortest digits, so even 2^63, held exactly, comes out as another.
 */
export const writesBackAs = (n: number, integer: bigint): boolean =>
  (n <= Number.MAX_SAFE_INTEGER && n >= -Number.MAX_SAFE_INTEGER) || String(n) === integer.toString();

const LIMIT = `gen-manifests holds numbers as JavaScript does, exact only to ±${Number.MAX_SAFE_INTEGER} (2^53 − 1)`;

/** A template's own text holds no value: the message shows the integer, and what would have been written. */
export const inexactLiteralMessage = (written: string, n: number): string => `the integer ${written} cannot be kept exactly: ${LIMIT}, and the manifest would have ${n}`;

/** A parameter's integer may be a secret's: the message names where it is (the caller), never its digits. */
export const INEXACT_PARAMETER_MESSAGE = `an integer that cannot be kept exactly: ${LIMIT}. Quote it if it is text (an ID)`;
