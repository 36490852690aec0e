import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import type { Color } from "../../infra/model/index.js";
import type { RoutingState } from "./nginx-config.js";
import type { DataUrls } from "./service-env.js";

export type ProcessRole =
  | "redis"
  | "kafka"
  | "mirrormaker"
  | "postgres"
  | "mongo"
  | "service"
  | "edge"
  | "dns"
  | "prometheus"
  | "alertmanager"
  | "tracing";

/** The roles of a region's data tier (drills stop and start them one by one). */
export const DATA_ROLES: readonly ProcessRole[] = ["redis", "kafka", "mirrormaker", "postgres", "mongo"];

/** One process of the environment, enough to find, probe and stop it from another shell. */
export interface ProcessRecord {
  name: string;
  role: ProcessRole;
  pid: number;
  host: string;
  port: number;
  url: string;
  log: string;
  region?: string;
  color?: Color;
  service?: string;
  version?: string;
  /** nginx only: the config file a reload re-reads. */
  config?: string;
}

export interface LocalState {
  stack: string;
  basePort: number;
  /** Whether Jaeger runs and the services trace (absent: on). */
  tracing?: boolean;
  /** The process that ran `up`; the backing servers die with it, so `status` reports it too. */
  ownerPid: number;
  startedAt: string;
  routing: RoutingState;
  processes: ProcessRecord[];
}

export const stateFile = (stateDir: string) => join(stateDir, "state.json");

/** the file every service reads (ACTIVE_COLOR_FILE) to know whether its Kafka consumers may run. */
export const activeColorFile = (stateDir: string) => join(stateDir, "active-color");

/** Replaced atomically, so a service re-reading it never sees a half-written color. */
export function writeActiveColor(stateDir: string, color: Color): void {
  const file = activeColorFile(stateDir);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${color}\n`);
  renameSync(`${file}.tmp`, file);
}

export function readState(stateDir: string): LocalState | undefined {
  const file = stateFile(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as LocalState;
  } catch (error) {
    throw new Error(
      `${file} is not valid JSON (${(error as Error).message}) — stop leftovers with 'ps' and delete it`,
    );
  }
}

/** Written atomically (temp file + rename) so a reader in another shell never sees half a file. */
export function writeState(stateDir: string, state: LocalState): void {
  const file = stateFile(stateDir);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** The state of a running environment, or an error telling how to start one. */
export function requireState(stateDir: string, stack: string): LocalState {
  const state = readState(stateDir);
  if (!state) {
    throw new Error(
      `the local environment "${stack}" is not running (no ${stateFile(stateDir)}) — run 'npm run local -- up' first`,
    );
  }
  return state;
}

export function upsertProcess(state: LocalState, stateDir: string, rec: ProcessRecord): void {
  writeState(stateDir, { ...state, processes: [...state.processes.filter((p) => p.name !== rec.name), rec] });
}

export function forgetProcesses(stateDir: string, names: string[]): void {
  const state = readState(stateDir);
  if (state)
    writeState(stateDir, { ...state, processes: state.processes.filter((p) => !names.includes(p.name)) });
}

/** Written into every state dir the environment creates; `up` empties only directories that hold it (or state.json). */
export const STATE_DIR_MARKER = ".blueprint-local";

/** The repository's ignored `.local/`: the default state dirs live there, and everything in it is the environment's. */
export const LOCAL_ROOT = join(REPO_ROOT, ".local");

/**
 * Throws unless `stateDir` is missing, empty, inside `ownedRoot` (`.local/`, where the default state dirs live), or
 * was created by the local environment (it holds the marker or a state.json): `up` empties it, and `--state-dir`
 * must never delete a directory someone pointed it at by mistake.
 */
export function assertOwnStateDir(stateDir: string, ownedRoot = LOCAL_ROOT): void {
  if (!existsSync(stateDir)) return;
  if (resolve(stateDir).startsWith(resolve(ownedRoot) + sep)) return;
  if (!statSync(stateDir).isDirectory())
    throw new Error(
      `state dir ${stateDir} is not a directory — pass a new or empty directory to --state-dir`,
    );
  const entries = readdirSync(stateDir);
  if (entries.length === 0 || entries.includes(STATE_DIR_MARKER) || entries.includes("state.json")) return;
  throw new Error(
    `state dir ${stateDir} is not empty and was not created by the local environment (no ${STATE_DIR_MARKER} or state.json in it): ` +
      `refusing to empty it — pass a new or empty directory to --state-dir`,
  );
}

/** A fresh state dir for `up`: empties one the environment created (see assertOwnStateDir), then marks it. */
export function resetStateDir(stateDir: string, ownedRoot = LOCAL_ROOT): void {
  assertOwnStateDir(stateDir, ownedRoot);
  if (existsSync(stateDir))
    for (const entry of readdirSync(stateDir))
      rmSync(join(stateDir, entry), { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(
    join(stateDir, STATE_DIR_MARKER),
    "created by scripts/local (npm run local): `up` empties this directory\n",
  );
}

export function removeState(stateDir: string): void {
  rmSync(stateFile(stateDir), { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  // A zombie (exited, parent not yet reaped, e.g. after its owner was killed) holds no port: it is gone.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

/** URLs of the data tier a service in region connects to: its own region's Redis, FerretDB and Kafka. */
export function dataUrls(state: LocalState, region: string): DataUrls {
  const url = (role: ProcessRole) => {
    const rec = state.processes.find((p) => p.role === role && p.region === region);
    if (!rec) throw new Error(`${role} of ${region} is not running — run 'npm run local -- up' first`);
    return rec.url;
  };
  return { redis: url("redis"), mongo: url("mongo"), kafkaBrokers: [url("kafka")] };
}
