// The parameters schema's formats: ajv-formats' full ones, with a quicker `uri`. Its RFC 3986
// expression is compiled at its first use, ~4 ms of every run, and then interpreted at ~0.2 ms a
// string (its IPv6 grammar is most of it); nearly every URI a parameter holds
// (scheme://user:password@host:port/path) is read by a smaller expression instead, ~0.05 ms for
// all of them, and only the others reach the full one.
import { fullFormats } from "ajv-formats/dist/formats";

/**
 * scheme "://" [userinfo "@"] reg-name [":" port] path-abempty ["?" query] ["#" fragment]: the
 * branch of ajv-formats' URI expression without IP literals or IPv4 (a dotted address is also a
 * reg-name), each part spelled as there, so whatever this accepts, that one accepts too (a
 * property test holds it to that).
 */
const COMMON_URI =
  /^[a-z][a-z0-9+\-.]*:\/\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:]|%[0-9a-f]{2})*@)?(?:[a-z0-9\-._~!$&'()*+,;=]|%[0-9a-f]{2})*(?::\d*)?(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*(?:\?(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?(?:#(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?$/i;

const fullUri = fullFormats.uri as (s: string) => boolean;

/** The same answer as ajv-formats' full `uri`, for any string. */
export const uri = (s: string): boolean => COMMON_URI.test(s) || fullUri(s);

export const paramFormats = { ...fullFormats, uri };
