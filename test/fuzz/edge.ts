import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBlueprint } from "../../infra/config/stack-file.js";
import { freePort, startNginx, type RunningNginx } from "../../scripts/lib/servers/index.js";
import { renderNginxConfig } from "../../scripts/local/nginx-config.js";
import { localPorts, type LocalPorts } from "../../scripts/local/ports.js";
import type { Timeouts } from "./malformed-http.js";

export interface FuzzEdge {
  nginx: RunningNginx;
  url: string;
  /** The public hostname of the local edge: any other Host is answered 404 by its default server. */
  host: string;
  /** The edge's own limits on slow clients, read from the rendered config (nginx's defaults where it sets none). */
  timeouts: Timeouts;
  config: string;
  stop(): Promise<void>;
}

// nginx's defaults (ngx_http_core_module) for directives the local edge's config may leave out.
const nginxDefaultSeconds = { client_header_timeout: 60, client_body_timeout: 60 };

/** A `<name> <n>s;` (or ms, m, bare seconds) directive of the config in ms, else nginx's default. */
export function directiveMs(config: string, name: keyof typeof nginxDefaultSeconds): number {
  const match = new RegExp(`^\\s*${name}\\s+(\\d+)(ms|s|m)?;`, "m").exec(config);
  if (!match) return nginxDefaultSeconds[name] * 1000;
  const unit = { ms: 1, s: 1000, m: 60_000 }[match[2] ?? "s"] ?? 1000;
  return Number(match[1]) * unit;
}

/**
 * The edge of `npm run local` in front of the fuzz stack's gateway: the config comes from the same renderer and
 * the same blueprint (`Pulumi.local.yaml`, first region, blue active); only the addresses are the stack's: the
 * region listens on the gateway's loopback address, the edge on a free port, the blue gateway is the stack's.
 */
export async function startFuzzEdge(gatewayUrl: string, stack = "local"): Promise<FuzzEdge> {
  const bp = loadBlueprint(stack);
  const gateway = new URL(gatewayUrl);
  const first = bp.regions[0];
  if (!first) throw new Error(`Pulumi.${stack}.yaml has no region`);
  const region = { ...first, loopbackAddress: gateway.hostname };
  const base = localPorts(bp);
  const ports: LocalPorts = {
    ...base,
    edge: await freePort(gateway.hostname),
    service(name, color, regionName) {
      if (name !== "gateway" || color !== "blue")
        throw new Error(
          `the fuzz edge routes only to the blue gateway (asked for ${name} ${color} ${regionName})`,
        );
      return Number(gateway.port);
    },
  };
  const dir = mkdtempSync(join(tmpdir(), "fuzz-edge-"));
  const config = renderNginxConfig(
    bp,
    region,
    ports,
    { activeColor: "blue", versions: { blue: "fuzz" } },
    { dir },
  );
  const nginx = await startNginx({ config, dir }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    nginx,
    url: `http://${gateway.hostname}:${ports.edge}`,
    host: bp.edge.hostname,
    timeouts: {
      headersTimeoutMs: directiveMs(config, "client_header_timeout"),
      requestTimeoutMs: directiveMs(config, "client_body_timeout"),
    },
    config,
    async stop() {
      await nginx.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
