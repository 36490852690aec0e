import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

// RFC 9110 7.6.1 hop-by-hop fields, plus Host and Expect, which belong to one hop too.
const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "expect",
]);

/** Copies headers without hop-by-hop fields, those listed in Connection, and any in `skip`. */
export function endToEndHeaders(
  headers: IncomingHttpHeaders,
  skip: ReadonlySet<string> = new Set(),
): OutgoingHttpHeaders {
  const listed = headers.connection
    ?.toLowerCase()
    .split(",")
    .map((h) => h.trim());
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || hopByHop.has(name) || skip.has(name) || listed?.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Appends the peer to X-Forwarded-For, as every proxy hop does. */
export function appendForwardedFor(
  existing: string | string[] | undefined,
  peer: string | undefined,
): string {
  const prior = Array.isArray(existing) ? existing.join(", ") : existing;
  const self = peer ?? "unknown";
  return prior ? `${prior}, ${self}` : self;
}

// `..` or `.` path segments (also percent-encoded) would let a client reach paths outside the route prefix.
const dotSegment = /(^|\/)(\.|%2e){1,2}(\/|\?|$)/i;

/** The upstream path for a raw request URL under `prefix` (query kept, encoding untouched), or undefined if unsafe. */
export function upstreamPath(rawUrl: string, prefix: string): string | undefined {
  const rest = rawUrl.slice(prefix.length);
  // Anything else after the prefix (a backslash, say) was not routed as a path below it.
  if (dotSegment.test(rest) || !(rest === "" || rest.startsWith("/") || rest.startsWith("?")))
    return undefined;
  if (rest === "" || rest.startsWith("?")) return `/${rest}`;
  return rest;
}
