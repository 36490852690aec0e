import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadBlueprint, REPO_ROOT } from "../../infra/config/stack-file.js";
import { COLORS, type Blueprint, type Color, type Region } from "../../infra/model/index.js";
import { rejoinAsStandby, type RunningNginx } from "../lib/servers/index.js";
import { descendants, killPids, killTree } from "../lib/servers/process.js";
import * as db from "./database.js";
import { failoverOrder } from "./dns-config.js";
import { DNS_HOST } from "./dns-server.js";
import { reloadEdgeByPid } from "./edge.js";
import * as launch from "./launchers.js";
import { effectiveWeights, renderNginxConfig, type RoutingState } from "./nginx-config.js";
import { assertPortsFree, DEFAULT_BASE_PORT, localPorts, type LocalPorts } from "./ports.js";
import { cut, heal, partitionComment } from "./partition.js";
import { pollUntil, settleAll, stopPid } from "./processes.js";
import { activeVersion, runUpPlan } from "./up-plan.js";
import { seedCatalogs } from "./seed.js";
import type { Faults } from "./service-env.js";
import {
  DATA_ROLES,
  dataUrls,
  forgetProcesses,
  isAlive,
  readState,
  removeState,
  assertOwnStateDir,
  requireState,
  resetStateDir,
  stateFile,
  upsertProcess,
  writeActiveColor,
  writeState,
  type ProcessRecord,
} from "./state.js";
import type { LocalEndpoints, LocalEnvironment, LocalEnvironmentOptions, ProcessStatus } from "./types.js";

export type { LocalEndpoints, LocalEnvironment, LocalEnvironmentOptions, ProcessStatus } from "./types.js";
export type { RoutingState } from "./nginx-config.js";

/** Clients stop before their servers, so nothing logs errors about a vanished dependency. */
const STOP_ORDER: ProcessRecord["role"][] = [
  "prometheus",
  "alertmanager",
  "dns",
  "edge",
  "service",
  // After the services: they flush their last spans as they stop.
  "tracing",
  "mirrormaker",
  "kafka",
  "mongo",
  "postgres",
  "redis",
];

class Environment implements LocalEnvironment {
  readonly endpoints: LocalEndpoints[];
  readonly dns: { host: string; port: number; name: string };
  readonly ports: LocalPorts;
  private readonly ctx: launch.LaunchContext;
  private readonly handles = new Map<string, launch.Stoppable>();
  private readonly edges = new Map<string, RunningNginx>();
  private progress: (line: string) => void = () => {};
  private aborted = false;

  constructor(
    private readonly stack: string,
    private readonly stateDir: string,
    basePort: number,
    readonly blueprint: Blueprint,
    private readonly serviceEntry: (service: string) => string,
    tracing: boolean,
  ) {
    this.ports = localPorts(blueprint, basePort);
    this.ctx = { bp: blueprint, ports: this.ports, stateDir, tracing };
    this.endpoints = failoverOrder(blueprint).map((r) => ({
      region: r.name,
      edge: `http://${r.loopbackAddress}:${this.ports.edge}`,
      publicHost: blueprint.edge.hostname,
      previewHost: blueprint.edge.previewHostname,
    }));
    this.dns = { host: DNS_HOST, port: this.ports.dns, name: blueprint.edge.hostname };
  }

  private state() {
    return requireState(this.stateDir, this.stack);
  }

  async record({ rec, handle }: launch.Launched): Promise<void> {
    // A Ctrl-C or failure that arrived while this process was starting must not leave it behind.
    if (this.aborted) {
      await handle.stop();
      throw new Error(`interrupted: stopped ${rec.name} right after it started`);
    }
    upsertProcess(requireState(this.stateDir, this.stack), this.stateDir, rec);
    this.handles.set(rec.name, handle);
  }

  async step(label: string, fn: () => Promise<unknown>): Promise<void> {
    if (this.aborted) throw new Error(`interrupted before: ${label}`);
    const started = performance.now();
    const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
    this.progress(`▶ ${label} …`);
    try {
      await fn();
      this.progress(`✔ ${label} (${seconds()} s)`);
    } catch (error) {
      this.progress(`✖ ${label} (${seconds()} s)`);
      throw error;
    }
  }

  private region(name: string) {
    const region = this.blueprint.regions.find((r) => r.name === name);
    if (!region)
      throw new Error(
        `unknown region "${name}" — the model has ${this.blueprint.regions.map((r) => r.name).join(", ")}`,
      );
    return region;
  }

  async up(onProgress: (line: string) => void = () => {}): Promise<void> {
    this.progress = onProgress;
    const existing = readState(this.stateDir);
    if (existing?.processes.some((p) => isAlive(p.pid))) {
      throw new Error(
        `the local environment "${this.stack}" is already running (${stateFile(this.stateDir)}) — run 'npm run local -- down' first`,
      );
    }
    if (existing) await this.down();
    this.aborted = false;
    assertOwnStateDir(this.stateDir);
    await assertPortsFree([
      ...this.blueprint.regions.map((r) => ({
        what: `edge of ${r.name}`,
        host: r.loopbackAddress,
        port: this.ports.edge,
      })),
      { what: "dns", host: DNS_HOST, port: this.ports.dns },
      { what: "prometheus", host: DNS_HOST, port: this.ports.prometheus },
      { what: "alertmanager", host: DNS_HOST, port: this.ports.alertmanager },
      ...(this.ctx.tracing
        ? [
            { what: "jaeger otlp", host: DNS_HOST, port: this.ports.jaegerOtlp },
            { what: "jaeger query", host: DNS_HOST, port: this.ports.jaegerQuery },
            { what: "jaeger query grpc", host: DNS_HOST, port: this.ports.jaegerQueryGrpc },
          ]
        : []),
    ]);
    resetStateDir(this.stateDir);
    const active = this.blueprint.rollout.activeColor;
    const routing: RoutingState = {
      activeColor: active,
      versions: { [active]: activeVersion(this.blueprint) },
    };
    writeActiveColor(this.stateDir, active);
    writeState(this.stateDir, {
      stack: this.stack,
      basePort: this.ports.basePort,
      tracing: this.ctx.tracing,
      ownerPid: process.pid,
      startedAt: new Date().toISOString(),
      routing,
      processes: [],
    });
    try {
      await runUpPlan(this.ctx, this);
    } catch (error) {
      await this.down();
      throw error;
    }
  }

  /** Starts every service of the color (in `opts.regions` only, if given: the other regions' are left as they are). */
  async deployColor(
    color: Color,
    version: string,
    opts: { faults?: Faults; regions?: string[] } = {},
  ): Promise<void> {
    const state = this.state();
    const regions = opts.regions?.map((name) => this.region(name)) ?? this.blueprint.regions;
    await this.stopColor(
      color,
      regions.map((r) => r.name),
    );
    const started: ProcessRecord[] = [];
    // Faults go to the services the edge routes to (the gateway) only: injected at every hop they would compound
    // (30% at the gateway and at catalog fail 1 - 0.7 × 0.7 = 51% of catalog requests), so clients see the rate set.
    const routed = new Set(this.blueprint.edge.routes.map((r) => r.service));
    try {
      await settleAll(
        regions.flatMap((region) =>
          this.blueprint.services.map(async (service) => {
            const entry = this.serviceEntry(service.name);
            if (!existsSync(entry)) throw new Error(`${entry} is missing — run 'npm run build' first`);
            const data = dataUrls(state, region.name);
            const spawned = launch.spawnService(this.ctx, {
              service,
              region,
              color,
              version,
              entry,
              data,
              ...(opts.faults && (opts.faults.services?.includes(service.name) ?? routed.has(service.name))
                ? { faults: opts.faults }
                : {}),
            });
            started.push(spawned.rec);
            await this.record(spawned);
            await spawned.listening;
          }),
        ),
      );
    } catch (error) {
      await Promise.all(started.map((rec) => this.stopOne(rec)));
      forgetProcesses(
        this.stateDir,
        started.map((r) => r.name),
      );
      throw error;
    }
  }

  async waitReady(color: Color, timeoutMs = 60_000): Promise<void> {
    const services = this.state().processes.filter((p) => p.role === "service" && p.color === color);
    if (services.length === 0)
      throw new Error(
        `color "${color}" has no running services — call deployColor("${color}", version) first`,
      );
    await Promise.all(services.map((rec) => launch.waitReadyz(rec, timeoutMs)));
  }

  async seed(color: Color): Promise<number> {
    // A fork without the sample catalog has nothing to seed.
    if (!this.blueprint.services.some((s) => s.name === "catalog")) return 0;
    const catalogs = this.state().processes.filter(
      (p) => p.role === "service" && p.service === "catalog" && p.color === color,
    );
    return seedCatalogs(catalogs);
  }

  private edgeConfig(regionName: string, routing: RoutingState): string {
    const dir = launch.edgeDir(this.stateDir, regionName);
    return renderNginxConfig(this.blueprint, this.region(regionName), this.ports, routing, { dir });
  }

  async applyRouting(rollout: RoutingState): Promise<void> {
    const weights = effectiveWeights(rollout);
    const state = this.state();
    for (const color of COLORS) {
      if (weights[color] > 0 && !state.processes.some((p) => p.role === "service" && p.color === color)) {
        throw new Error(
          `routing ${weights[color]}% to "${color}" but it has no running services — deployColor("${color}", version) first`,
        );
      }
    }
    const routing: RoutingState = {
      activeColor: rollout.activeColor,
      versions: { ...rollout.versions },
      ...(rollout.weights ? { weights: rollout.weights } : {}),
    };
    // Consumers follow the color the edges are about to route live traffic to.
    writeActiveColor(this.stateDir, routing.activeColor);
    for (const rec of state.processes.filter((p) => p.role === "edge")) {
      const region = rec.region!;
      const config = this.edgeConfig(region, routing);
      const edge = this.edges.get(region);
      if (edge) await edge.reload(config);
      else await reloadEdgeByPid(rec.pid, launch.edgeDir(this.stateDir, region), config);
    }
    writeState(this.stateDir, { ...this.state(), routing });
  }

  async stopColor(color: Color, regions?: string[]): Promise<void> {
    const recs = (readState(this.stateDir)?.processes ?? []).filter(
      (p) =>
        p.role === "service" &&
        p.color === color &&
        (!regions || (p.region !== undefined && regions.includes(p.region))),
    );
    await Promise.all(recs.map((rec) => this.stopOne(rec)));
    forgetProcesses(
      this.stateDir,
      recs.map((r) => r.name),
    );
  }

  async stopEdge(regionName: string): Promise<void> {
    this.region(regionName);
    const rec = this.state().processes.find((p) => p.role === "edge" && p.region === regionName);
    if (!rec) return;
    await this.stopOne(rec);
    this.edges.delete(regionName);
    forgetProcesses(this.stateDir, [rec.name]);
  }

  async startEdge(regionName: string): Promise<void> {
    const region = this.region(regionName);
    const state = this.state();
    if (state.processes.some((p) => p.role === "edge" && p.region === regionName && isAlive(p.pid))) return;
    const launched = await launch.launchEdge(this.ctx, region, this.edgeConfig(regionName, state.routing));
    await this.record(launched);
    this.edges.set(regionName, launched.edge);
  }

  /** Stops one backing server by PID (drills): `kafka-<region>`, `ferretdb-<region>`, `postgres-<region>`, ... */
  async stopBacking(name: string): Promise<void> {
    const rec = this.backing(name);
    await this.stopOne(rec);
    forgetProcesses(this.stateDir, [rec.name]);
  }

  /** Starts it again on the same address, port and data directory (a PostgreSQL keeps the role its dir has). */
  async startBacking(name: string): Promise<void> {
    const [prefix, ...rest] = name.split("-");
    const region = this.blueprint.regions.find((r) => r.name === rest.join("-"));
    const launchers: Record<string, (r: Region) => Promise<launch.Launched | undefined>> = {
      redis: (r) => launch.launchRedis(this.ctx, r),
      kafka: (r) => launch.launchKafka(this.ctx, r),
      mirrormaker: (r) => launch.launchMirrorMaker(this.ctx, r),
      // The role it has now, not the model's: after a takeover the model's primary region is a standby.
      postgres: async (r) => {
        const roles = await this.databaseRoles();
        const primary = Object.keys(roles).find((name) => name !== r.name && roles[name] === "primary");
        return launch.launchPostgres(this.ctx, r, primary ? this.region(primary) : null);
      },
      ferretdb: (r) => launch.launchMongo(this.ctx, r),
    };
    const start = prefix === undefined ? undefined : launchers[prefix];
    if (!region || !start)
      throw new Error(
        `unknown backing server "${name}" — use ${Object.keys(launchers).join("|")}-<region> (regions: ${this.blueprint.regions.map((r) => r.name).join(", ")})`,
      );
    const launched = await start(region);
    if (launched) await this.record(launched);
  }

  private backing(name: string): ProcessRecord {
    const data = this.state().processes.filter((p) => DATA_ROLES.includes(p.role));
    const rec = data.find((p) => p.name === name);
    if (!rec)
      throw new Error(`no running backing server "${name}" — one of ${data.map((p) => p.name).join(", ")}`);
    return rec;
  }

  /** Region loss: SIGKILL every process of the region at once (each whole process group), nothing drains. */
  async killRegion(regionName: string): Promise<string[]> {
    this.region(regionName);
    const recs = this.state().processes.filter((p) => p.region === regionName);
    // Every process tree (by parent PID: PostgreSQL's backends leave its group) is stopped, then all are killed.
    const killed = await Promise.allSettled(
      recs.map((rec) => {
        this.handles.delete(rec.name);
        return killTree(rec.pid);
      }),
    );
    this.edges.delete(regionName);
    forgetProcesses(
      this.stateDir,
      recs.map((r) => r.name),
    );
    const failed = killed.filter((k): k is PromiseRejectedResult => k.status === "rejected");
    if (failed.length > 0)
      throw new Error(`killing ${regionName}: ${failed.map((f) => (f.reason as Error).message).join("; ")}`);
    return recs.map((r) => r.name);
  }

  /**
   * Cuts every link between regions (packets to each region's peer address are dropped: the other regions'
   * FerretDB, the standby's replication, MirrorMaker) while the edges, DNS and everything within a region stay up;
   * resolves to the function that heals it. `down` heals it too.
   */
  async partition(): Promise<() => Promise<void>> {
    return cut(this.peerAddresses(), partitionComment(this.stateDir));
  }

  private peerAddresses(): string[] {
    return this.blueprint.regions.map((r) => r.peerAddress);
  }

  /** The region whose PostgreSQL accepts writes now (undefined: none does), and each region's role. */
  async databaseRoles(): Promise<Record<string, "primary" | "standby" | "down">> {
    const recs = this.state().processes.filter((p) => p.role === "postgres");
    const roles: Record<string, "primary" | "standby" | "down"> = {};
    for (const r of this.blueprint.regions) {
      const rec = recs.find((p) => p.region === r.name);
      roles[r.name] = rec ? await db.pgRole(rec) : "down";
    }
    return roles;
  }

  /** The takeover a replica-set election does: the region's standby becomes the writable primary. */
  async promoteDatabase(regionName: string): Promise<void> {
    await db.promote(this.dataProcess("postgres", regionName));
  }

  /** Bytes the standbys are behind the writable primary (null: no standby connected or no primary). */
  async replicationLag(): Promise<number | null> {
    const roles = await this.databaseRoles();
    const primary = Object.keys(roles).find((r) => roles[r] === "primary");
    if (!primary) return null;
    return db.replicationLagBytes(this.dataProcess("postgres", primary)).catch(() => null);
  }

  /**
   * Brings a lost region back: its PostgreSQL rejoins as a standby of the current primary (its writes that never
   * reached the survivor are rewound away, as a rolled-back Mongo member's are), then Redis, Kafka, FerretDB,
   * MirrorMaker, the running colors' services and the edge, on their old data dirs. Synchronous replication is turned
   * on again once the standby streams.
   */
  async restoreRegion(regionName: string): Promise<void> {
    const region = this.region(regionName);
    const roles = await this.databaseRoles();
    const primaryName = Object.keys(roles).find((r) => roles[r] === "primary");
    if (!primaryName || primaryName === regionName)
      throw new Error(
        `restoring ${regionName} needs another region's PostgreSQL as primary (roles: ${JSON.stringify(roles)}) — promoteDatabase first`,
      );
    const primary = this.region(primaryName);
    const primaryRec = this.dataProcess("postgres", primaryName);
    await rejoinAsStandby(join(this.stateDir, regionName, "postgres"), {
      host: primary.peerAddress,
      port: this.ports.postgres,
    });
    await this.record(await launch.launchPostgres(this.ctx, region, primary));
    await pollUntil(
      `${regionName}'s standby streaming from ${primaryName}`,
      async () => (await db.replicationLagBytes(primaryRec).catch(() => null)) !== null,
      30_000,
      200,
    );
    await db.setSynchronous(primaryRec, true);
    await settleAll([
      launch.launchRedis(this.ctx, region).then((l) => this.record(l)),
      launch.launchKafka(this.ctx, region).then((l) => this.record(l)),
      launch.launchMongo(this.ctx, region).then((l) => this.record(l)),
    ]);
    const mirror = await launch.launchMirrorMaker(this.ctx, region);
    if (mirror) await this.record(mirror);
    const state = this.state();
    const colors = COLORS.filter((c) => state.processes.some((p) => p.role === "service" && p.color === c));
    for (const color of colors) {
      const version = state.routing.versions[color] ?? activeVersion(this.blueprint);
      await settleAll(
        this.blueprint.services.map((service) => this.startService(service.name, color, region, version)),
      );
    }
    await this.startEdge(regionName);
  }

  private dataProcess(role: ProcessRecord["role"], regionName: string): ProcessRecord {
    const rec = this.state().processes.find((p) => p.role === role && p.region === regionName);
    if (!rec) throw new Error(`${role} of ${regionName} is not running — see 'npm run local -- status'`);
    return rec;
  }

  /** Starts one service instance and waits until it is ready. */
  private async startService(
    serviceName: string,
    color: Color,
    region: Region,
    version: string,
    nodeArgs?: string[],
  ): Promise<void> {
    const service = this.blueprint.services.find((s) => s.name === serviceName)!;
    const launched = launch.spawnService(this.ctx, {
      service,
      color,
      region,
      version,
      entry: this.serviceEntry(service.name),
      data: dataUrls(this.state(), region.name),
      ...(nodeArgs ? { nodeArgs } : {}),
    });
    await this.record(launched);
    await launched.listening;
    await launch.waitReadyz(launched.rec, 60_000);
  }

  /** Every running service process (drills restart them one at a time). */
  services(): ProcessRecord[] {
    return this.state().processes.filter((p) => p.role === "service");
  }

  /**
   * SIGTERM one service process (it drains), then starts the same service, color and region again; `nodeArgs` are
   * Node's own flags for the new process (the benchmark's --cpu-prof), none by default.
   */
  async restartService(name: string, opts: { nodeArgs?: string[] } = {}): Promise<void> {
    const rec = this.services().find((p) => p.name === name);
    if (!rec?.service || !rec.color || !rec.region) throw new Error(`no running service process "${name}"`);
    await this.stopOne(rec);
    forgetProcesses(this.stateDir, [rec.name]);
    await this.startService(
      rec.service,
      rec.color,
      this.region(rec.region),
      rec.version ?? activeVersion(this.blueprint),
      opts.nodeArgs,
    );
  }

  async status(): Promise<ProcessStatus[]> {
    return (readState(this.stateDir)?.processes ?? []).map((p) => ({
      name: p.name,
      pid: p.pid,
      alive: isAlive(p.pid),
      role: p.role,
      url: p.url,
      log: p.log,
    }));
  }

  private async stopOne(rec: ProcessRecord): Promise<void> {
    const handle = this.handles.get(rec.name);
    this.handles.delete(rec.name);
    const drainSeconds = this.blueprint.services.find((s) => s.name === rec.service)?.drainSeconds ?? 10;
    if (handle) await handle.stop();
    else if (rec.role === "postgres") {
      // Fast shutdown (SIGTERM would wait for every client); its backends are not in its group (setsid).
      const backends = descendants(rec.pid);
      await stopPid(rec.pid, 10_000, "SIGINT");
      await killPids(backends);
    } else await stopPid(rec.pid, (drainSeconds + 5) * 1000);
    // A PID recorded by another shell, or a handle whose group outlived it, is checked here too.
    if (isAlive(rec.pid)) await stopPid(rec.pid, 2_000);
  }

  async down(): Promise<void> {
    this.aborted = true;
    // A partition drill that failed half-way must not leave the regions' peer addresses dark.
    await heal(this.peerAddresses(), partitionComment(this.stateDir));
    const state = readState(this.stateDir);
    if (!state) return;
    for (const role of STOP_ORDER) {
      await Promise.all(state.processes.filter((p) => p.role === role).map((rec) => this.stopOne(rec)));
    }
    this.edges.clear();
    removeState(this.stateDir);
  }
}

export function createLocalEnvironment(opts: LocalEnvironmentOptions = {}): LocalEnvironment {
  const stack = opts.stack ?? "local";
  const stateDir = opts.stateDir ?? join(REPO_ROOT, ".local", stack);
  const state = readState(stateDir);
  const basePort = opts.basePort ?? state?.basePort ?? DEFAULT_BASE_PORT;
  const entry =
    opts.serviceEntry ?? ((service: string) => join(REPO_ROOT, "services", service, "dist", "main.js"));
  // A later command (deploy, drill) keeps what `up` chose.
  const tracing = opts.tracing ?? state?.tracing ?? true;
  return new Environment(stack, stateDir, basePort, opts.blueprint ?? loadBlueprint(stack), entry, tracing);
}
