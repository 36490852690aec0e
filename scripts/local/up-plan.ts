import type { Blueprint, Region } from "../../infra/model/index.js";
import type { Color } from "../../infra/model/index.js";
import { ferretdbGinTwins } from "../lib/servers/index.js";
import { DNS_HOST, resolveA } from "./dns-server.js";
import * as launch from "./launchers.js";
import { pollUntil, settleAll } from "./processes.js";
import { SAMPLE_PRODUCTS } from "./seed.js";

/** What the plan needs from the environment: progress steps, the process table and the public operations. */
export interface UpActions {
  step(label: string, fn: () => Promise<unknown>): Promise<void>;
  record(launched: launch.Launched): Promise<void>;
  deployColor(color: Color, version: string, opts?: { regions?: string[] }): Promise<void>;
  waitReady(color: Color): Promise<void>;
  /** Puts the sample products into every region's catalog of the color; resolves to the number of writes. */
  seed(color: Color): Promise<number>;
  startEdge(region: string): Promise<void>;
}

/** Version of the active color from the model (the model guarantees it has one). */
export const activeVersion = (bp: Blueprint) => bp.rollout.versions[bp.rollout.activeColor] ?? "dev";

/**
 * The order of `up`: each region's data tier (in two parallel stages), the active color, then the edges, and DNS last so its
 * first health checks already find the edges; done when the app name answers the primary region.
 */
export async function runUpPlan(ctx: launch.LaunchContext, a: UpActions): Promise<void> {
  const { bp, ports } = ctx;
  const active = bp.rollout.activeColor;
  const version = activeVersion(bp);
  const others = bp.regions.filter((r) => !r.primary);
  const primary = bp.primaryRegion;
  // Stage 1: what depends on nothing; the standbys copy the primary PostgreSQL, FerretDB and MirrorMaker need theirs.
  await settleAll([
    ...bp.regions.map((r) =>
      a.step(`${r.name}: redis on ${r.loopbackAddress}:${ports.redis}`, async () =>
        a.record(await launch.launchRedis(ctx, r)),
      ),
    ),
    ...bp.regions.map((r) =>
      a.step(
        `${r.name}: kafka (KRaft) on ${r.loopbackAddress}:${ports.kafka}, topics ${bp.data.kafka.topics.map((t) => t.name).join(", ")}`,
        async () => a.record(await launch.launchKafka(ctx, r)),
      ),
    ),
    a.step(
      `${primary.name}: postgresql (primary) on ${primary.loopbackAddress}:${ports.postgres}`,
      async () => a.record(await launch.launchPostgres(ctx, primary)),
    ),
    ...(ctx.tracing
      ? [
          a.step(
            `jaeger on ${DNS_HOST}: OTLP ${ports.jaegerOtlp}, query ${ports.jaegerQuery} (the services' traces)`,
            async () => a.record(await launch.launchJaeger(ctx)),
          ),
        ]
      : []),
  ]);
  const ferretdb = (r: Region) =>
    a.step(`${r.name}: ferretdb on ${r.loopbackAddress}:${ports.mongo}`, async () =>
      a.record(await launch.launchMongo(ctx, r)),
    );
  await settleAll([
    ...others.map((r) =>
      a.step(
        `${r.name}: postgresql (standby of ${primary.name}) on ${r.loopbackAddress}:${ports.postgres}`,
        async () => a.record(await launch.launchPostgres(ctx, r)),
      ),
    ),
    ferretdb(primary),
    ...others.map((r) =>
      a.step(`${r.name}: mirrormaker 2 from ${primary.name}`, async () => {
        const launched = await launch.launchMirrorMaker(ctx, r);
        if (launched) await a.record(launched);
      }),
    ),
  ]);
  const names = bp.services.map((s) => s.name).join(", ");
  // The primary region's services create every collection and index first; only then do the other regions'
  // FerretDBs start. FerretDB caches the collection list per process, so one that had loaded it before would never
  // see them (its first write fails "relation already exists").
  await a.step(`${active}: ${names} at ${version} in ${primary.name} (they create the schema)`, async () => {
    await a.deployColor(active, version, { regions: [primary.name] });
    await a.waitReady(active);
  });
  await a.step(
    `${primary.name}: postgresql GIN twins of FerretDB's field indexes (its equality filters are jsonb @>, which a btree cannot serve)`,
    () => ferretdbGinTwins({ host: primary.loopbackAddress, port: ports.postgres }),
  );
  if (others.length > 0) {
    await settleAll(others.map(ferretdb));
    await a.step(`${active}: ${names} at ${version} in ${others.map((r) => r.name).join(", ")}`, () =>
      a.deployColor(active, version, { regions: others.map((r) => r.name) }),
    );
  }
  await a.step(`${active}: every service answers /readyz 200`, () => a.waitReady(active));
  await a.step(
    `catalog: ${SAMPLE_PRODUCTS.length} sample products (${SAMPLE_PRODUCTS.map((p) => p.sku).join(", ")}) into each region's catalog`,
    () => a.seed(active),
  );
  for (const r of bp.regions) {
    await a.step(`${r.name}: edge (nginx) on ${r.loopbackAddress}:${ports.edge}`, () => a.startEdge(r.name));
  }
  await a.step(`dns: powerdns on ${DNS_HOST}:${ports.dns}`, async () =>
    a.record(await launch.launchDns(ctx)),
  );
  await a.step(`alertmanager on ${DNS_HOST}:${ports.alertmanager}: the alerts, grouped`, async () =>
    a.record(await launch.launchAlertmanager(ctx)),
  );
  await a.step(
    `prometheus on ${DNS_HOST}:${ports.prometheus}: every service port, the stack's SLO, saga and availability rules (time-lapsed ${bp.metrics.alertTimeScale}x)`,
    async () => a.record(await launch.launchPrometheus(ctx)),
  );
  const address = primary.loopbackAddress;
  await a.step(`dns: ${bp.edge.hostname} → ${address} (${primary.name})`, () =>
    pollUntil(
      `${bp.edge.hostname} answering ${address}`,
      async () => {
        const answer = await resolveA(bp.edge.hostname, ports.dns);
        return answer.includes(address) || `answer: ${answer.join(",") || "none"}`;
      },
      10_000 + 3_000 * bp.dns.healthCheck.intervalSeconds,
    ),
  );
}
