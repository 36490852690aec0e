import type { Blueprint } from "../../infra/model/index.js";
import type { Color } from "../../infra/model/index.js";
import { DNS_HOST, resolveA } from "./dns-server.js";
import * as launch from "./launchers.js";
import { pollUntil, settleAll } from "./processes.js";
import { SAMPLE_PRODUCTS } from "./seed.js";

/** What the plan needs from the environment: progress steps, the process table and the public operations. */
export interface UpActions {
  step(label: string, fn: () => Promise<unknown>): Promise<void>;
  record(launched: launch.Launched): Promise<void>;
  deployColor(color: Color, version: string): Promise<void>;
  waitReady(color: Color): Promise<void>;
  /** Puts the sample products into every region's catalog of the color; resolves to the number of writes. */
  seed(color: Color): Promise<number>;
  startEdge(region: string): Promise<void>;
}

/** Version of the active color from the model (the model guarantees it has one). */
export const activeVersion = (bp: Blueprint) => bp.rollout.versions[bp.rollout.activeColor] ?? "dev";

/**
 * The order of `up`: the data tier in parallel, the active color, then the edges, and DNS last so its
 * first health checks already find the edges; done when the app name answers the primary region.
 */
export async function runUpPlan(ctx: launch.LaunchContext, a: UpActions): Promise<void> {
  const { bp, ports } = ctx;
  const active = bp.rollout.activeColor;
  const version = activeVersion(bp);
  await settleAll([
    ...bp.regions.map((r) =>
      a.step(`${r.name}: redis on ${r.loopbackAddress}:${ports.redis}`, async () =>
        a.record(await launch.launchRedis(ctx, r)),
      ),
    ),
    a.step(
      `shared: kafka (KRaft) on 127.0.0.1:${ports.kafka}, topics ${bp.data.kafka.topics.map((t) => t.name).join(", ")}`,
      async () => a.record(await launch.launchKafka(ctx)),
    ),
    a.step(`shared: ferretdb on 127.0.0.1:${ports.mongo}`, async () =>
      a.record(await launch.launchMongo(ctx)),
    ),
  ]);
  await a.step(
    `${active}: ${bp.services.map((s) => s.name).join(", ")} at ${version} in ${bp.regions.length} regions`,
    () => a.deployColor(active, version),
  );
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
  const primary = bp.primaryRegion.loopbackAddress;
  await a.step(`dns: ${bp.edge.hostname} → ${primary} (${bp.primaryRegion.name})`, () =>
    pollUntil(
      `${bp.edge.hostname} answering ${primary}`,
      async () => {
        const answer = await resolveA(bp.edge.hostname, ports.dns);
        return answer.includes(primary) || `answer: ${answer.join(",") || "none"}`;
      },
      10_000 + 3_000 * bp.dns.healthCheck.intervalSeconds,
    ),
  );
}
