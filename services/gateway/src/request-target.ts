import { AppError } from "@blueprint/service-kit";
import type { RequestHandler } from "express";

// RFC 9112 3.2.2: a server must accept the absolute-form "http://host/path?query" (what clients send to a proxy).
const absoluteForm = /^(https?):\/\/([^/?#]*)(.*)$/is;
// host[:port]: a registered name or IPv4 address, or an IPv6 literal in brackets; no userinfo (RFC 9110 4.2.4).
const authority = /^(?:\[[0-9a-f:.]+\]|[a-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]*)?$/i;

/**
 * The origin-form ("/path?query", bytes untouched) and authority of an absolute-form request target, or
 * undefined if it is not an http(s) URL with a host, or its path has a backslash.
 */
export function originForm(target: string): { path: string; authority: string } | undefined {
  const parts = absoluteForm.exec(target);
  if (!parts) return undefined;
  const [, , host = "", rest = ""] = parts;
  // express routes an absolute URL by url.parse, which reads "\\" as "/": the raw path would not be what was routed.
  if (!authority.test(host) || rest.startsWith("#") || rest.includes("\\")) return undefined;
  return { path: rest === "" || rest.startsWith("?") ? `/${rest}` : rest, authority: host };
}

/** The origin-form path and query of a target `absoluteFormTarget` let through: "/p?q" for "/p?q" and "http://h/p?q". */
export function originPath(target: string): string {
  if (target.startsWith("/")) return target;
  return originForm(target)?.path ?? target;
}

/**
 * Refuses absolute-form targets that are not an http(s) URL with a host (400), and makes the target's authority
 * the Host, as RFC 9112 3.2.2 requires. The URL itself stays as it is: express routes absolute-form by its path
 * and puts the scheme and host back after each mount, so a rewrite would be undone; the proxy and the exposure
 * checks read the path with `originPath`. Origin-form targets and "*" pass untouched.
 */
export function absoluteFormTarget(): RequestHandler {
  return (req, _res, next) => {
    if (req.url.startsWith("/") || req.url === "*") {
      next();
      return;
    }
    const target = originForm(req.url);
    if (!target) {
      next(
        AppError.badRequest(
          "BAD_REQUEST_TARGET",
          "the request target must be a path, or an absolute http(s) URL with a host, no user info and no backslash",
        ),
      );
      return;
    }
    req.headers.host = target.authority;
    next();
  };
}
