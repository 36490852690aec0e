import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OutputMap } from "@pulumi/pulumi/automation/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackConfig } from "../../infra/config/stack-file.js";
import { parseBlueprint, type Blueprint } from "../../infra/model/index.js";
import { exportTargets } from "../../load/lib/export-targets.js";
import { setTimeout as sleep } from "node:timers/promises";
import { prometheusApi } from "../lib/prometheus-api.js";
import { freePort } from "../lib/servers/ports.js";
import { startPrometheus, type RunningServer } from "../lib/servers/index.js";
import { CloudTarget, type StackHandle } from "./cloud-target.js";
import { stubGateway, type StubGateway } from "./testing/stub-gateway.js";

// The cloud target's server-side analysis: real k6 and a real Prometheus (Debian's), scraping a stub gateway (TEST
// DOUBLE: no cluster here) whose /metrics carries the services' series. The region's Prometheus comes from the stack
// config (regions[].prometheusUrl) through the model, as on a cluster.

/** TEST DOUBLE of a deployed stack: only the outputs the gates read. */
function stackOutputs(address: string): StackHandle {
  const regionEndpoints = [
    {
      region: "eu-west",
      address,
      publicHost: "dev.shop.example.com",
      previewHost: "preview.dev.shop.example.com",
      scheme: "http",
    },
  ];
  const outputs: OutputMap = { regionEndpoints: { value: regionEndpoints, secret: false } };
  return { name: "dev", outputs: async () => outputs } as unknown as StackHandle;
}

/** The dev stack's config with eu-west's prometheusUrl set, through the same parse `pulumi up` runs. */
function devWithPrometheus(url: string): Blueprint {
  const raw = readStackConfig("dev") as { regions: Record<string, unknown>[] };
  const bp = parseBlueprint(
    { ...raw, regions: raw.regions.map((r) => ({ ...r, prometheusUrl: url })) },
    "dev",
  );
  // One-second scrapes here (dev's are 15 s): the gate waits one scrape after k6 before it queries.
  return { ...bp, metrics: { ...bp.metrics, scrapeIntervalSeconds: 1 } };
}

describe("cloud target gates with the region's Prometheus (real k6 and Prometheus, stub gateway)", () => {
  let gw: StubGateway;
  let prometheus: RunningServer;
  let target: CloudTarget;

  beforeAll(async () => {
    gw = await stubGateway({ region: "eu-west" });
    prometheus = await startPrometheus({
      host: "127.0.0.1",
      port: await freePort(),
      config: {
        global: { scrape_interval: "1s", evaluation_interval: "1s" },
        scrape_configs: [{ job_name: "gateway", static_configs: [{ targets: [gw.address] }] }],
      },
      rules: { groups: [] },
    });
    // On a cluster Prometheus has long been scraping; here the gates start once it has scraped the stub.
    for (let i = 0; i < 100; i++) {
      const up = await prometheusApi<{ result: unknown[] }>(prometheus.url, "query", {
        query: 'up{job="gateway"} == 1',
      });
      if (up.result.length > 0) break;
      await sleep(200);
    }
    target = new CloudTarget(stackOutputs(gw.address), {
      blueprint: devWithPrometheus(prometheus.url),
      reportDir: mkdtempSync(join(tmpdir(), "cloud-analysis-")),
      targets: { ...exportTargets("dev"), requestsPerSecond: 20, durationSeconds: 4, smokeSeconds: 2 },
    });
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    gw?.close();
  });

  it("when the new color's hop behind the gateway answers 5xx that k6 never sees, then k6 passes and the gate fails naming the route", async () => {
    gw.answers.hiddenErrors = true;
    const [result] = await target.gate("capacity", "preview", { color: "green", version: "1.1.0" });

    expect(result!.serverSide).toBeDefined();
    expect(result!.failedThresholds.filter((t) => !t.startsWith("server-side"))).toEqual([]);
    expect(result!.ok).toBe(false);
    expect(result!.serverSide!.failures).toEqual([
      expect.stringMatching(/^catalog \/products\/:sku: 100\.00% 5xx of \d+ requests \(limit /),
    ]);
  }, 60_000);

  it("when the same release is clean behind the gateway, then the server-side analysis passes with the gateway's routes", async () => {
    gw.answers.hiddenErrors = false;
    const [result] = await target.gate("capacity", "preview", { color: "green", version: "1.1.0" });

    expect(result!.serverSide?.failures).toEqual([]);
    expect(result!.ok).toBe(true);
    expect(result!.serverSide!.candidate.map((r) => `${r.service} ${r.route}`)).toEqual(
      expect.arrayContaining(["gateway /products/:sku"]),
    );
  }, 60_000);
});
