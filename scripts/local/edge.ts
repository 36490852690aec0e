import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { withLocalPaths } from "../lib/servers/nginx.js";
import { httpStatus } from "./processes.js";

/** nginx.conf inside the edge's prefix dir: the harness starts nginx with it, a reload re-reads it. */
export const edgeConfigFile = (dir: string) => join(dir, "nginx.conf");

/**
 * Reload of an edge this process did not start (e.g. `up` ran in another shell): rewrite the config the
 * master reads, SIGHUP it, and wait until the edge answers again.
 */
export async function reloadEdgeByPid(
  pid: number,
  dir: string,
  config: string,
  probeUrl: string,
): Promise<void> {
  writeFileSync(edgeConfigFile(dir), withLocalPaths(config, dir));
  process.kill(pid, "SIGHUP");
  // nginx re-reads the config asynchronously; give the new workers a moment, then check the edge answers.
  await sleep(300);
  for (let i = 0; i < 50; i++) {
    if ((await httpStatus(probeUrl)) > 0) return;
    await sleep(100);
  }
  throw new Error(`edge (pid ${pid}) stopped answering after a reload — see ${join(dir, "nginx.log")}`);
}
