import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { targetsOf } from "../../load/lib/export-targets.js";
import { resolveA } from "../local/dns-server.js";
import type { LocalEnvironment } from "../local/environment.js";
import { startDnsRelay, type DnsRelay } from "./dns-relay.js";
import { runGate } from "./k6.js";
import type { GateResult } from "./target.js";

export interface FailoverResult {
  ok: boolean;
  stoppedRegion: string;
  toRegion: string;
  /** stopEdge → the DNS name answers the next region only. */
  failoverMs: number | undefined;
  /** startEdge → the DNS name answers the stopped region again. */
  failbackMs: number | undefined;
  /** Three health-check intervals: the bound the drill holds the flip to. */
  boundMs: number;
  /** Every change of the DNS answer, in ms since the edge stopped. */
  dnsTimeline: { phase: "failover" | "failback"; atMs: number; answer: string[] }[];
  /** Constant k6 load through the DNS name during the drill; undefined when it could not run (see k6Skipped). */
  load: GateResult | undefined;
  /** k6 responses per answering edge (x-edge-region): evidence that the load followed DNS. */
  responsesByRegion: Record<string, number>;
  /** Queries k6 sent through the DNS relay. */
  dnsQueries: number;
  k6Skipped?: string;
  error?: string;
}

export interface FailoverOptions {
  reportDir: string;
  log?: (line: string) => void;
  /** Loopback address the DNS relay listens on, port 53 (inside 127.0.0.0/8, away from the regions). */
  relayHost?: string;
  requestsPerSecond?: number;
}

// Load runs this long through the healthy primary before the edge stops (after k6's first DNS query).
const WARMUP_MS = 3_000;
const LOAD_SECONDS = 20;

/**
 * Stops the primary region's edge under constant load through the DNS name, measures the time until DNS
 * answers the next region and the errors meanwhile, then restarts the edge and measures the way back.
 */
export async function runFailoverDrill(
  env: LocalEnvironment,
  opts: FailoverOptions,
): Promise<FailoverResult> {
  const log = opts.log ?? (() => {});
  const [from, to] = env.endpoints;
  if (!from || !to) throw new Error("the failover drill needs two regions — add one to blueprint:regions");
  const address = (region: string) => env.blueprint.regions.find((r) => r.name === region)!.loopbackAddress;
  const [fromAddress, toAddress] = [address(from.region), address(to.region)];
  const { intervalSeconds } = env.blueprint.dns.healthCheck;
  const result: FailoverResult = {
    ok: false,
    stoppedRegion: from.region,
    toRegion: to.region,
    failoverMs: undefined,
    failbackMs: undefined,
    boundMs: 3 * intervalSeconds * 1000,
    dnsTimeline: [],
    load: undefined,
    responsesByRegion: {},
    dnsQueries: 0,
  };

  let relay: DnsRelay | undefined;
  let load: Promise<GateResult> | undefined;
  try {
    relay = await startDnsRelay({ host: opts.relayHost ?? "127.0.53.1", upstream: env.dns });
  } catch (err) {
    result.k6Skipped = err instanceof Error ? err.message : String(err);
  }
  if (relay) load = startLoad(env, relay, opts);

  let edgeStopped = false;
  try {
    // k6 starts slowly on a busy machine: wait for its first DNS query through the relay (bounded), then warm up.
    for (let i = 0; relay && relay.queries === 0 && i < 200; i++) await sleep(100);
    await sleep(WARMUP_MS);
    const answer = await resolveA(env.dns.name, env.dns.port, env.dns.host);
    if (!answer.includes(fromAddress))
      throw new Error(
        `before the drill ${env.dns.name} answers ${answer.join(",") || "nothing"}, not ${fromAddress}`,
      );
    log(`▶ failover: stopping the edge of ${from.region} (${fromAddress})`);
    const stoppedAt = performance.now();
    await env.stopEdge(from.region);
    edgeStopped = true;
    result.failoverMs = await until(
      env,
      "failover",
      stoppedAt,
      (a) => a.length > 0 && a.every((ip) => ip === toAddress),
      result,
    );
    log(`✔ failover: ${env.dns.name} → ${toAddress} (${to.region}) after ${result.failoverMs} ms`);
    await sleep(3_000);
    log(`▶ failover: restarting the edge of ${from.region}`);
    const startedAt = performance.now();
    await env.startEdge(from.region);
    edgeStopped = false;
    result.failbackMs = await until(env, "failback", startedAt, (a) => a.includes(fromAddress), result);
    log(`✔ failback: ${env.dns.name} → ${fromAddress} after ${result.failbackMs} ms`);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    if (edgeStopped) await env.startEdge(from.region);
    result.load = load ? await load : undefined;
    result.responsesByRegion = regionCounts(result.load, env);
    result.dnsQueries = relay?.queries ?? 0;
    await relay?.close();
  }
  result.ok =
    result.error === undefined && result.failoverMs !== undefined && result.failoverMs <= result.boundMs;
  return result;
}

/** Polls the DNS answer every 100 ms until `done`, recording changes; bounded by 30 s. */
async function until(
  env: LocalEnvironment,
  phase: "failover" | "failback",
  since: number,
  done: (answer: string[]) => boolean,
  result: FailoverResult,
): Promise<number> {
  let last = "";
  while (performance.now() - since < 30_000) {
    const answer = await resolveA(env.dns.name, env.dns.port, env.dns.host);
    const atMs = Math.round(performance.now() - since);
    if (answer.join(",") !== last) {
      last = answer.join(",");
      result.dnsTimeline.push({ phase, atMs, answer });
    }
    if (done(answer)) return atMs;
    await sleep(100);
  }
  throw new Error(`${env.dns.name} did not change within 30 s (last answer ${last || "none"})`);
}

function startLoad(env: LocalEnvironment, relay: DnsRelay, opts: FailoverOptions): Promise<GateResult> {
  mkdirSync(opts.reportDir, { recursive: true });
  const resolvConf = join(opts.reportDir, "failover.resolv.conf");
  writeFileSync(resolvConf, `nameserver ${relay.host}\noptions timeout:1 attempts:1\n`);
  const edgePort = new URL(env.endpoints[0]!.edge).port;
  return runGate("smoke", "live", {
    script: "03-failover.ts",
    name: "failover",
    reportDir: opts.reportDir,
    baseUrl: `http://${env.dns.name}:${edgePort}`,
    host: env.endpoints[0]!.publicHost,
    targets: targetsOf(env.blueprint),
    env: {
      FAILOVER_RPS: String(opts.requestsPerSecond ?? 20),
      FAILOVER_SECONDS: String(LOAD_SECONDS),
      REGIONS: env.endpoints.map((e) => e.region).join(","),
    },
    // A private mount namespace, so only this k6 process sees the resolv.conf that points at the relay.
    wrap: (argv) => [
      "unshare",
      "-m",
      "--",
      "sh",
      "-c",
      'mount --bind "$0" /etc/resolv.conf && exec "$@"',
      resolvConf,
      ...argv,
    ],
  });
}

function regionCounts(load: GateResult | undefined, env: LocalEnvironment): Record<string, number> {
  if (!load?.files.json) return {};
  const { metrics } = JSON.parse(readFileSync(load.files.json, "utf8")) as {
    metrics: Record<string, { values: { count?: number } }>;
  };
  return Object.fromEntries(
    env.endpoints.map((e) => [e.region, metrics[`edge_${e.region.replace(/-/g, "_")}`]?.values.count ?? 0]),
  );
}
