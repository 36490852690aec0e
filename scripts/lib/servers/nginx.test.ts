import { describe, expect, it } from "vitest";
import { parseListen, withLocalPaths } from "./nginx.js";

describe("parseListen", () => {
  it("when listen directives use host:port, a bare port, * or IPv6, then each becomes a probe address", () => {
    const config =
      "http { server { listen 127.0.1.1:8080 default_server; }\n server {\n  listen 9090;\n  listen *:7070;\n  listen [::1]:6060;\n } }";
    expect(parseListen(config)).toEqual([
      { host: "127.0.1.1", port: 8080 },
      { host: "127.0.0.1", port: 9090 },
      { host: "127.0.0.1", port: 7070 },
      { host: "::1", port: 6060 },
    ]);
  });

  it("when a word merely contains listen, then it is not taken as a directive", () => {
    expect(parseListen("http { server { # nolisten 1;\n proxy_pass http://listen:80; } }")).toEqual([]);
  });
});

describe("withLocalPaths", () => {
  it("when the config sets no temp paths, then all of them point into the dir", () => {
    const out = withLocalPaths("events {}\nhttp {\n}\n", "/tmp/x");
    expect(out).toContain("client_body_temp_path /tmp/x/client_body;");
    expect(out).toContain("access_log /tmp/x/access.log;");
  });

  it("when the config sets access_log itself, then the harness leaves it alone", () => {
    const out = withLocalPaths("http { access_log off; }", "/tmp/x");
    expect(out).not.toContain("/tmp/x/access.log");
    expect(out).toContain("proxy_temp_path /tmp/x/proxy;");
  });
});
