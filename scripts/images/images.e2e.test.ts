import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRolloutConfigMap, buildServiceColor } from "../../infra/components/workload.js";
import { loadBlueprint } from "../../infra/config/stack-file.js";
import { ACTIVE_COLOR_PATH, serviceEnv } from "../../infra/model/index.js";
import { freePort, startMongo, startRedis, stopAll, type RunningServer } from "../lib/servers/index.js";
import {
  BASE_IMAGE,
  PODMAN_LIMITS,
  containerLogs,
  buildArgs,
  podman,
  runFlagsFromPodSpec,
  type PodTemplate,
} from "./podman.js";

// Each service image, built for real by podman from services/Dockerfile on the local base image, run the way its
// rendered Deployment runs it (flags derived from the pod spec), answers /livez. Builds use podman's layer cache.
const bp = loadBlueprint("dev");
const region = bp.primaryRegion;
const color = bp.rollout.activeColor;
const TAG = "e2e";
const containers = new Set<string>();
let mongo: RunningServer;
let redis: RunningServer;
let rolloutDir: string;

beforeAll(async () => {
  try {
    await podman(["image", "exists", BASE_IMAGE]);
  } catch {
    throw new Error(`the base image ${BASE_IMAGE} is missing: run 'npm run setup' (step "base image")`);
  }
  // catalog and orders connect to MongoDB before they listen (see scripts/images/README.md); real servers on loopback.
  [mongo, redis] = await Promise.all([startMongo(), startRedis()]);
  // The rollout ConfigMap's data, as the kubelet writes it into the pod's read-only mount.
  rolloutDir = mkdtempSync(join(tmpdir(), "blueprint-images-rollout-"));
  const configMap = buildRolloutConfigMap(bp) as unknown as {
    metadata: { name: string };
    data: Record<string, string>;
  };
  for (const [file, value] of Object.entries(configMap.data)) writeFileSync(join(rolloutDir, file), value);
});

afterAll(async () => {
  // By name, each container this file started, also after a failure.
  for (const name of containers) await podman(["rm", "--force", "--time", "0", name]).catch(() => undefined);
  await stopAll();
  if (rolloutDir) rmSync(rolloutDir, { recursive: true, force: true });
});

async function livez(url: string, deadlineMs: number, container: string): Promise<number> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/livez`, { signal: AbortSignal.timeout(1_000) });
      return res.status;
    } catch {
      const state = (await podman(["inspect", "--format", "{{.State.Status}}", container])).trim();
      if (state === "exited" || Date.now() > until) {
        const logs = await containerLogs(container).catch((e: Error) => e.message);
        throw new Error(`${container} is ${state} and /livez never answered; its last output:\n${logs}`);
      }
      await sleep(250);
    }
  }
}

describe("every service image runs as its pod spec runs it", () => {
  for (const service of bp.services) {
    it(`${service.name}: read-only root, uid 1000, no capabilities, and /livez answers 200`, async () => {
      const image = `localhost/blueprint-${service.name}:${TAG}`;
      await podman(buildArgs(service.name, image, { extraCa: process.env.NODE_EXTRA_CA_CERTS }));

      const deployment = buildServiceColor(bp, region, service, color).find(
        (o) => o.kind === "Deployment",
      ) as unknown as {
        spec: { template: PodTemplate };
      };
      const flags = runFlagsFromPodSpec(deployment.spec.template, service.name, {
        [buildRolloutConfigMap(bp).metadata.name]: rolloutDir,
      });
      expect(flags).toEqual(
        expect.arrayContaining([
          "--read-only",
          "--user",
          "1000:1000",
          "--cap-drop",
          "ALL",
          "no-new-privileges",
        ]),
      );

      const port = await freePort();
      const env = serviceEnv({
        region,
        service,
        color,
        version: bp.rollout.versions[color]!,
        listen: { host: "127.0.0.1", port },
        // Loopback addresses of nothing: /livez must not depend on the other services or on Kafka.
        serviceUrl: () => `http://127.0.0.1:9`,
        data: { redisUrl: redis.url, mongoUrl: mongo.url, kafkaBrokers: ["127.0.0.1:9"] },
        activeColorFile: ACTIVE_COLOR_PATH,
      });
      const name = `blueprint-images-e2e-${service.name}-${process.pid}`;
      containers.add(name);
      await podman(["rm", "--force", "--time", "0", name]).catch(() => undefined);
      await podman([
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        "host",
        ...PODMAN_LIMITS,
        ...flags,
        ...Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
        image,
      ]);

      expect(await livez(`http://127.0.0.1:${port}`, 30_000, name)).toBe(200);
    });
  }
});
