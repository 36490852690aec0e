import { describe, expect, it } from "vitest";
import { loadBlueprint } from "../../infra/config/stack-file.js";
import { failoverLua, relativeName, renderPdnsConf, renderZoneFile } from "./dns-config.js";
import { localPorts } from "./ports.js";

const bp = loadBlueprint("local");
const ports = localPorts(bp, 18000);

describe("PowerDNS failover config", () => {
  it("the app name is a LUA ifurlup on the edge's /readyz with the app's Host, primary region first", () => {
    expect(failoverLua(bp, ports)).toBe(
      "ifurlup('http://app.blueprint.test:18080/readyz', {{'127.0.1.1'}, {'127.0.2.1'}}, {timeout=1, useragent='blueprint-local-dns'})",
    );
  });

  it("when region-b is the primary, then it is the first address group", () => {
    const swapped = { ...bp, primaryRegion: bp.regions[1]! };
    expect(failoverLua(swapped, ports)).toContain("{{'127.0.2.1'}, {'127.0.1.1'}}");
  });

  it("the zone file carries the model's TTL on the public and the preview name", () => {
    const zone = renderZoneFile(bp, ports);
    expect(zone).toContain("$ORIGIN blueprint.test.");
    expect(zone).toMatch(/^app 1 IN LUA A "ifurlup\('http:\/\/app\.blueprint\.test:18080\/readyz'/m);
    expect(zone).toMatch(
      /^preview\.app 1 IN LUA A "ifurlup\('http:\/\/preview\.app\.blueprint\.test:18080\/readyz'/m,
    );
  });

  it("pdns.conf runs in the foreground on loopback with LUA records checked every model interval", () => {
    const conf = renderPdnsConf(bp, ports, { dir: "/s/dns", namedConf: "/s/dns/named.conf" });
    for (const line of [
      "launch=bind",
      "bind-config=/s/dns/named.conf",
      "local-address=127.0.0.1",
      "local-port=18053",
      "enable-lua-records=yes",
      `lua-health-checks-interval=${bp.dns.healthCheck.intervalSeconds}`,
      "security-poll-suffix=",
      "daemon=no",
      "guardian=no",
      "cache-ttl=0",
    ]) {
      expect(conf.split("\n")).toContain(line);
    }
  });

  it("when the hostname is outside the zone, then the error names both", () => {
    expect(relativeName("app.blueprint.test", "blueprint.test")).toBe("app");
    expect(() => relativeName("app.example.com", "blueprint.test")).toThrow(
      '"app.example.com" is not inside dns.zone "blueprint.test"',
    );
  });
});
