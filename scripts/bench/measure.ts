import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { descendants } from "../lib/servers/process.js";

// Measuring for the benchmark: wrk (one load tool for every row) and CPU time from /proc.

const REPORT_LUA = fileURLToPath(new URL("./wrk/report.lua", import.meta.url));
const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** What one wrk run printed (report.lua), latencies in ms. */
export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  /** Answers with status >= 400 (wrk's "non-2xx or 3xx"). */
  non2xx: number;
  /** Requests wrk gave up on after --timeout. */
  timeouts: number;
  /** Connect, read and write errors. */
  socketErrors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface WrkOptions {
  url: string;
  connections: number;
  seconds: number;
  host?: string;
  /** POST this JSON to url, each request with its own Idempotency-Key (`<keyPrefix>-<n>`). */
  orderBody?: string;
  keyPrefix?: string;
  timeoutSeconds?: number;
}

/** One wrk run, one thread (the machine's other core serves), latency percentiles from its HdrHistogram. */
export function runWrk(opts: WrkOptions): Promise<LoadResult> {
  const args = [
    "-t1",
    `-c${opts.connections}`,
    `-d${opts.seconds}s`,
    `--timeout`,
    `${opts.timeoutSeconds ?? 5}s`,
    "-s",
    REPORT_LUA,
  ];
  if (opts.host) args.push("-H", `Host: ${opts.host}`);
  args.push(opts.url);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  if (opts.orderBody) {
    env.ORDER_BODY = opts.orderBody;
    env.KEY_PREFIX = opts.keyPrefix ?? `bench-${Date.now()}`;
  }
  return new Promise((resolve, reject) => {
    execFile("wrk", args, { env, timeout: (opts.seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk ${args.join(" ")} failed: ${err.message} ${stderr}`));
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      if (!line) return reject(new Error(`wrk printed no summary:\n${stdout}`));
      const r = JSON.parse(line) as Record<string, number>;
      const seconds = r.durationUs! / 1e6;
      resolve({
        requests: r.requests!,
        seconds,
        rps: r.requests! / seconds,
        non2xx: r.status!,
        timeouts: r.timeout!,
        socketErrors: r.connect! + r.read! + r.write!,
        p50: r.p50! / 1000,
        p90: r.p90! / 1000,
        p99: r.p99! / 1000,
        max: r.max! / 1000,
      });
    });
  });
}

/** utime + stime of one process in seconds; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the comm: state is field 3, utime 14 and stime 15 (1-based, proc(5)); here 0-based from state.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Busy seconds of the whole machine (every core), from /proc/stat: user + nice + system + irq + softirq + steal. */
export function machineBusySeconds(): number {
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = cpu as [number, ...number[]];
  return (user + nice! + system! + irq! + softirq! + (steal ?? 0)) / TICKS_PER_SECOND;
}

/** A named group of processes (a server and every descendant, e.g. PostgreSQL's backends). */
export interface ProcessGroup {
  name: string;
  pid: number;
}

/** CPU seconds per group over a window: sample() at the start, then delta() at the end. */
export class CpuMeter {
  private start = new Map<number, number>();
  private machineStart = 0;
  private startedAt = 0;

  constructor(private readonly groups: ProcessGroup[]) {}

  private pidsOf(group: ProcessGroup): number[] {
    return [group.pid, ...descendants(group.pid)];
  }

  sample(): void {
    this.start.clear();
    for (const g of this.groups) for (const pid of this.pidsOf(g)) this.start.set(pid, cpuSeconds(pid));
    this.machineStart = machineBusySeconds();
    this.startedAt = performance.now();
  }

  /** Per group: CPU seconds since sample() (processes started meanwhile count from 0). */
  delta(): { groups: Record<string, number>; total: number; machine: number; wallSeconds: number } {
    const groups: Record<string, number> = {};
    let total = 0;
    for (const g of this.groups) {
      let sum = 0;
      for (const pid of this.pidsOf(g)) sum += Math.max(0, cpuSeconds(pid) - (this.start.get(pid) ?? 0));
      groups[g.name] = sum;
      total += sum;
    }
    return {
      groups,
      total,
      machine: machineBusySeconds() - this.machineStart,
      wallSeconds: (performance.now() - this.startedAt) / 1000,
    };
  }
}

/**
 * Waits until the whole machine is quiet (busy below `maxCores` over one second), at most `limitMs`: the order rows
 * leave work behind (relays, the saga, replication), which would otherwise slow the next round's reads.
 * Resolves to how long it waited and how busy the last second was.
 */
export async function settle(maxCores = 0.5, limitMs = 60_000): Promise<{ waitedMs: number; cores: number }> {
  const started = Date.now();
  for (;;) {
    const before = machineBusySeconds();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const cores = machineBusySeconds() - before;
    if (cores < maxCores || Date.now() - started >= limitMs) return { waitedMs: Date.now() - started, cores };
  }
}
