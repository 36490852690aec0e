import { describe, expect, test } from "vitest";
import { originForm, originPath } from "./request-target.js";

describe("request target", () => {
  test("when the target is absolute-form, then its path and query are kept byte for byte and its authority is the host", () => {
    expect(originForm("http://edge.example/api/catalog/a%20b?x=1&y=%2F")).toEqual({
      path: "/api/catalog/a%20b?x=1&y=%2F",
      authority: "edge.example",
    });
    expect(originForm("HTTPS://[::1]:8443?page=2")).toEqual({ path: "/?page=2", authority: "[::1]:8443" });
    expect(originForm("http://10.0.0.1:80")).toEqual({ path: "/", authority: "10.0.0.1:80" });
  });

  test("when the target has no host, user info, another scheme or a backslash, then it is refused", () => {
    for (const target of [
      "http:///api/catalog",
      "http://user@edge.example/api",
      "ftp://edge.example/api",
      "http://edge.example/api/catalog\\metrics",
      "http://edge.example#frag",
      "api/catalog",
    ])
      expect(originForm(target), target).toBeUndefined();
  });

  test("when the path is read for routing, then origin-form passes untouched and absolute-form loses scheme and host", () => {
    expect(originPath("/api/orders?x=1")).toBe("/api/orders?x=1");
    expect(originPath("http://a/api/orders?x=1")).toBe("/api/orders?x=1");
  });
});
