import { Resolver } from "node:dns/promises";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Blueprint } from "../../infra/model/index.js";
import { findBinary } from "../lib/servers/paths.js";
import { spawnTracked, waitUntilReady, type ManagedProcess } from "../lib/servers/process.js";
import { renderNamedConf, renderPdnsConf, renderZoneFile } from "./dns-config.js";
import type { LocalPorts } from "./ports.js";

export const DNS_HOST = "127.0.0.1";

/** A-record answers of the local PowerDNS for name ([] when it answers nothing or not at all). */
export async function resolveA(name: string, port: number, host = DNS_HOST): Promise<string[]> {
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`${host}:${port}`]);
  try {
    return await resolver.resolve4(name);
  } catch {
    return [];
  }
}

/** Writes the generated pdns.conf, named.conf and zone file into dir and runs pdns_server in the foreground. */
export async function startPowerDns(bp: Blueprint, ports: LocalPorts, dir: string): Promise<ManagedProcess> {
  mkdirSync(dir, { recursive: true });
  const zoneFile = join(dir, `${bp.dns.zone}.zone`);
  const namedConf = join(dir, "named.conf");
  writeFileSync(zoneFile, renderZoneFile(bp, ports, DNS_HOST));
  writeFileSync(namedConf, renderNamedConf(bp, zoneFile));
  writeFileSync(join(dir, "pdns.conf"), renderPdnsConf(bp, ports, { dir, namedConf }, DNS_HOST));
  const proc = spawnTracked({
    tool: "pdns",
    command: findBinary("pdns_server"),
    args: [`--config-dir=${dir}`],
    dir,
    logName: "pdns.log",
  });
  // Any answer (even before the first health check) means the zone is loaded.
  await waitUntilReady(proc, async () => (await resolveA(bp.edge.hostname, ports.dns)).length > 0, 15_000);
  return proc;
}
