import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadBlueprint } from "../../infra/config/stack-file.js";
import { findBinary } from "../lib/servers/paths.js";
import { withLocalPaths } from "../lib/servers/nginx.js";
import { effectiveWeights, renderNginxConfig, type RoutingState } from "./nginx-config.js";
import { localPorts } from "./ports.js";

const bp = loadBlueprint("local");
const ports = localPorts(bp, 18000);
const regionA = bp.regions[0]!;
const both: RoutingState = { activeColor: "blue", versions: { blue: "1.0.0", green: "2.0.0" } };
const render = (rollout: RoutingState) =>
  renderNginxConfig(bp, regionA, ports, rollout, { dir: "/tmp/edge" });
const block = (config: string, head: string) =>
  config.slice(config.indexOf(head), config.indexOf("}", config.indexOf(head)) + 1);

describe("edge nginx config", () => {
  it("the public host goes to the active color and the preview host to the idle color", () => {
    const config = render(both);
    expect(block(config, "map $host $color")).toContain("app.blueprint.test $public_color;");
    expect(block(config, "map $host $color")).toContain("preview.app.blueprint.test green;");
    expect(block(config, "split_clients")).toMatch(/\{\s*\* blue;\s*\}/);
  });

  it("when canary weights are set, then split_clients sends the idle color its share", () => {
    const config = render({ ...both, weights: { blue: 90, green: 10 } });
    expect(block(config, "split_clients")).toMatch(/10% green;\s*\* blue;/);
  });

  it("upstreams are per service and deployed color, on the region's address, with keep-alive", () => {
    const config = render(both);
    expect(block(config, "upstream gateway_blue")).toContain("server 127.0.1.1:19080;");
    expect(block(config, "upstream gateway_green")).toContain("server 127.0.1.1:19580;");
    expect(block(config, "upstream gateway_green")).toContain("keepalive 16;");
    expect(config).not.toContain("upstream catalog_");
  });

  it("when the idle color has no version, then the preview host answers 503 and has no upstream", () => {
    const config = render({ activeColor: "blue", versions: { blue: "1.0.0" } });
    expect(block(config, "map $host $color")).toContain("preview.app.blueprint.test none;");
    expect(config).toContain("if ($color = none) { return 503");
    expect(config).not.toContain("upstream gateway_green");
  });

  it("model routes become locations: prefix /api matches /api and /api/..., /readyz only exactly", () => {
    const config = render(both);
    expect(config).toContain("location = /api {");
    expect(config).toContain("location /api/ {");
    expect(config).toContain("location = /readyz {");
    expect(config).not.toMatch(/location \/api \{/);
  });

  it("only idempotent requests are retried and the access log records upstream status and time", () => {
    const config = render(both);
    expect(config).toContain("proxy_next_upstream error timeout http_502 http_503;");
    expect(config).not.toMatch(/proxy_next_upstream [^;]*non_idempotent/);
    expect(config).toMatch(/log_format edge .*us=\$upstream_status ut=\$upstream_response_time/s);
  });

  it("when traffic would reach a color without a version, then rendering fails naming the color", () => {
    expect(() =>
      render({ activeColor: "blue", versions: { blue: "1" }, weights: { blue: 50, green: 50 } }),
    ).toThrow('50% of traffic would go to "green" but it has no version');
    expect(() => effectiveWeights({ ...both, weights: { blue: 50, green: 40 } })).toThrow(
      "must be 100 (got 50 + 40)",
    );
  });

  it("the rendered config passes nginx -t", () => {
    const dir = mkdtempSync(join(tmpdir(), "edge-conf-"));
    try {
      const file = join(dir, "nginx.conf");
      const config = renderNginxConfig(
        bp,
        regionA,
        ports,
        { ...both, weights: { blue: 70, green: 30 } },
        { dir },
      );
      writeFileSync(file, withLocalPaths(config, dir));
      const args = [
        "-t",
        "-q",
        "-p",
        `${dir}/`,
        "-c",
        file,
        "-e",
        join(dir, "err.log"),
        "-g",
        `pid ${dir}/nginx.pid;`,
      ];
      expect(() => execFileSync(findBinary("nginx"), args, { stdio: "pipe" })).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
