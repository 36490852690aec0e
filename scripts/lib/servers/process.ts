import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface RunningServer {
  name: string;
  pid: number;
  host: string;
  port: number;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

export interface ManagedProcess {
  tool: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<string>;
  hasExited(): boolean;
  stop(timeoutMs?: number): Promise<void>;
}

const tracked = new Set<ManagedProcess>();

/** A fresh temp dir for the tool, or the caller's dir (created if missing). `owned` tells whether stop() removes it. */
export function prepareDir(tool: string, dir?: string): { dir: string; owned: boolean } {
  if (dir) {
    mkdirSync(dir, { recursive: true });
    return { dir, owned: false };
  }
  return { dir: mkdtempSync(join(tmpdir(), `blueprint-${tool}-`)), owned: true };
}

export function logTail(logFile: string, lines = 25): string {
  try {
    return readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(log file not readable)";
  }
}

export function startFailure(tool: string, reason: string, logFile: string): Error {
  return new Error(
    `${tool} failed to start: ${reason}. Log: ${logFile}\n--- last lines of the log ---\n${logTail(logFile)}`,
  );
}

function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    // Negative pid: the whole process group (nginx workers, JVM), since children are spawned detached.
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function groupAlive(pid: number): boolean {
  return killGroup(pid, 0 as unknown as NodeJS.Signals);
}

/** Spawns a tool in its own process group with stdout/stderr appended to <dir>/<logName>, tracked for cleanup. */
export function spawnTracked(opts: {
  tool: string;
  command: string;
  args: string[];
  dir: string;
  logName?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this user (root-refusing servers such as postgres); default: the current user. */
  user?: { uid: number; gid: number };
  /** Signal stop() sends first; default SIGTERM (postgres wants SIGINT, its fast shutdown). */
  stopSignal?: NodeJS.Signals;
}): ManagedProcess {
  installExitHandlers();
  const logFile = join(opts.dir, opts.logName ?? `${opts.tool}.log`);
  const fd = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args, {
      cwd: opts.dir,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", fd, fd],
      detached: true,
      ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw startFailure(opts.tool, `could not spawn ${opts.command}`, logFile);
  const pid = child.pid;
  let exitedFlag = false;
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => {
      exitedFlag = true;
      tracked.delete(managed);
      resolve(signal ? `signal ${signal}` : `exit code ${code}`);
    });
    child.once("error", (error) => {
      exitedFlag = true;
      tracked.delete(managed);
      resolve(`spawn error: ${error.message}`);
    });
  });
  const managed: ManagedProcess = {
    tool: opts.tool,
    pid,
    child,
    logFile,
    exited,
    hasExited: () => exitedFlag,
    async stop(timeoutMs = 10_000) {
      if (!exitedFlag) {
        killGroup(pid, opts.stopSignal ?? "SIGTERM");
        // Unref'd so a pending deadline never keeps the host process alive after a quick exit.
        const timer = sleep(timeoutMs, "timeout", { ref: false });
        if ((await Promise.race([exited, timer])) === "timeout") {
          killGroup(pid, "SIGKILL");
          await exited;
        }
      }
      // Leftover group members (a worker that outlived its master) must not keep the port.
      if (groupAlive(pid)) killGroup(pid, "SIGKILL");
    },
  };
  tracked.add(managed);
  return managed;
}

/**
 * Polls probe() until it returns true. Fails fast when the process exits, and after timeoutMs,
 * with an error naming the tool and the log file.
 */
export async function waitUntilReady(
  proc: ManagedProcess,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "no answer yet";
  while (Date.now() < deadline) {
    if (proc.hasExited())
      throw startFailure(proc.tool, `process exited (${await proc.exited}) before it answered`, proc.logFile);
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(100);
  }
  await proc.stop(2_000);
  throw startFailure(
    proc.tool,
    `no answer within ${timeoutMs} ms (last probe error: ${lastError})`,
    proc.logFile,
  );
}

/** Builds the RunningServer handle; stop() is idempotent and removes a temp dir the harness created. */
export function runningServer(
  proc: ManagedProcess,
  fields: { host: string; port: number; url: string; dir: string; ownsDir: boolean; stopTimeoutMs?: number },
): RunningServer {
  let stopping: Promise<void> | undefined;
  return {
    name: proc.tool,
    pid: proc.pid,
    host: fields.host,
    port: fields.port,
    url: fields.url,
    dir: fields.dir,
    stop() {
      stopping ??= proc.stop(fields.stopTimeoutMs).then(() => {
        if (fields.ownsDir && process.env.BLUEPRINT_KEEP_SERVER_DIRS !== "1")
          rmSync(fields.dir, { recursive: true, force: true });
      });
      return stopping;
    },
  };
}

/** Stops every process this module started (SIGTERM, bounded wait, SIGKILL). */
export async function stopAll(): Promise<void> {
  await Promise.all([...tracked].map((proc) => proc.stop()));
}

let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL whatever is still running.
  process.on("exit", () => {
    for (const proc of tracked) killGroup(proc.pid, "SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = () => {
      // If the host program has its own handler, it owns shutdown (and should call stopAll()).
      if (process.listenerCount(signal) > 1) return;
      void stopAll().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    };
    process.on(signal, onSignal);
  }
}

/** PIDs of every descendant of pid, from /proc/<pid>/stat ppid fields. */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const info = procStat(Number(entry));
    if (!info) continue;
    parents.set(info.ppid, [...(parents.get(info.ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may hold spaces: split after the last ")".
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/** Gone, or a zombie nobody reaped yet (it holds no port, no file, no memory). */
const isGone = (pid: number): boolean => {
  const state = procStat(pid)?.state;
  return state === undefined || state === "Z" || state === "X";
};

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

async function waitGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some((pid) => !isGone(pid))) {
    if (Date.now() > deadline)
      throw new Error(`processes still alive after SIGKILL: ${pids.filter((p) => !isGone(p)).join(", ")}`);
    await sleep(10);
  }
}

/** SIGKILL of these PIDs (those still there); resolves once every one is gone. */
export async function killPids(pids: number[], timeoutMs = 5_000): Promise<void> {
  signalAll(
    pids.filter((pid) => !isGone(pid)),
    "SIGKILL",
  );
  await waitGone(pids, timeoutMs);
}

/**
 * A crash of pid and every process below it, found by parent PID, not by process group: PostgreSQL's backends call
 * setsid(), so a group kill misses them. All are stopped first, so none can fork or restart a child before the kill.
 */
export async function killTree(pid: number, timeoutMs = 5_000): Promise<void> {
  const pids = [pid, ...descendants(pid)];
  signalAll(pids, "SIGSTOP");
  await killPids([...new Set([...pids, ...descendants(pid)])], timeoutMs);
}
