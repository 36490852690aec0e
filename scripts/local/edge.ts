import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { withLocalPaths } from "../lib/servers/nginx.js";

/** nginx.conf inside the edge's prefix dir: the harness starts nginx with it, a reload re-reads it. */
export const edgeConfigFile = (dir: string) => join(dir, "nginx.conf");

function workers(masterPid: number): number[] {
  try {
    return readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Reload of an edge this process did not start (`up` ran in another shell): rewrite the config the master
 * reads, SIGHUP it, and wait until only new workers (with the new config) are left.
 */
export async function reloadEdgeByPid(pid: number, dir: string, config: string): Promise<void> {
  const before = new Set(workers(pid));
  writeFileSync(edgeConfigFile(dir), withLocalPaths(config, dir));
  process.kill(pid, "SIGHUP");
  for (let i = 0; i < 200; i++) {
    const now = workers(pid);
    const fresh = now.filter((w) => !before.has(w));
    // Old workers finish in-flight requests first; after 5 s new workers alone are proof enough.
    if (fresh.length > 0 && (fresh.length === now.length || i >= 100)) return;
    await sleep(50);
  }
  throw new Error(
    `edge (pid ${pid}) did not start workers with the new config within 10 s — see ${join(dir, "nginx.log")}`,
  );
}
