import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBlueprint, REPO_ROOT } from "../../infra/config/stack-file.js";
import { meetsMinKubernetes } from "../../infra/model/index.js";
import { stopAll } from "../lib/servers/process.js";
import { rehearse, type RehearsalReport } from "./rehearsal.js";
import { writeRehearsalReport } from "./report.js";

// The cluster rehearsal as `npm run cluster` runs it: two real control planes (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok nodes), the upstream CRDs, and the real Pulumi engine and
// Kubernetes provider on the program infra/index.ts runs.
const bp = loadBlueprint("rehearsal");
let report: RehearsalReport;
let stateDir: string;
const lines: string[] = [];

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "blueprint-cluster-e2e-"));
  report = await rehearse({ stateDir, log: (l) => lines.push(l) });
  writeRehearsalReport(report, join(REPO_ROOT, "reports", "cluster-e2e"));
}, 900_000);

afterAll(async () => {
  await stopAll();
  rmSync(stateDir, { recursive: true, force: true });
});

describe("the cluster rehearsal (real engine, real control planes)", () => {
  it("when it has run, then it passed and stopped every process it started", () => {
    expect(report.error, lines.filter((l) => !l.startsWith("    ")).join("\n")).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.clusters.map((c) => c.region)).toEqual(bp.regions.map((r) => r.name));
    expect(report.clusters.flatMap((c) => c.pids).filter(alive)).toEqual([]);
  });

  it("every object of the state is on its region's API server, and every Deployment is at its full size", () => {
    expect(report.objectsInState).toBeGreaterThan(90);
    expect(report.objectsOnServer).toBe(report.objectsInState);
    for (const region of bp.regions) {
      expect(report.objects[region.name]).toMatchObject({
        Deployment: bp.services.length,
        HTTPRoute: 2,
        Kafka: 1,
      });
      expect(report.deploymentsReady[region.name]).toEqual(
        bp.services.map((s) => `${s.name}-blue ${s.replicas.min}/${s.replicas.min}`).sort(),
      );
    }
    // Their CRDs are open: Strimzi's own model parses each Kafka, KafkaNodePool, KafkaTopic and KafkaMirrorMaker2.
    expect(report.strimziModel).toEqual({ validated: expect.any(Number), errors: [] });
    expect(report.strimziModel.validated).toBeGreaterThanOrEqual(4 * bp.regions.length);
    // MirrorMaker 2 runs only in the regions that copy from the primary.
    expect(report.objects[bp.primaryRegion.name]!.KafkaMirrorMaker2).toBeUndefined();
  });

  it("a preview right after up changes nothing, and the outputs are real", () => {
    // Nothing to create, update or delete; `read` is the program's reference to its own outputs (the rollout guard).
    expect(report.noChangePreview).toEqual({ same: expect.any(Number), read: 1 });
    expect(report.outputs.activeColor).toBe("blue");
    expect(report.outputs.versions).toEqual({ blue: "1.0.0" });
    expect(report.outputs.regionEndpoints).toEqual(
      bp.regions.map((r) => ({
        region: r.name,
        address: r.gatewayAddress,
        publicHost: bp.edge.hostname,
        previewHost: bp.edge.previewHostname,
        scheme: "https",
      })),
    );
  });

  it("the pipeline's cloud target switches and retires colors on the API servers, and a failed gate rolls back", () => {
    const at = (step: string) => report.pipeline.snapshots.find((s) => s.step === step)!;
    const gatewayWeights = (step: string) =>
      Object.values(at(step).regions).map((r) =>
        Object.fromEntries(Object.entries(r.weights).filter(([name]) => name.startsWith("gateway-"))),
      );
    const colorsDeployed = (step: string) =>
      Object.values(at(step).regions).map((r) =>
        [...new Set(Object.keys(r.deployments).map((d) => d.split("-").pop()))].sort(),
      );
    const everyRegion = <T>(value: T) => bp.regions.map(() => value);

    expect(report.pipeline.snapshots.map((s) => s.step)).toEqual([
      "deploy 1.1.0 to green",
      "switch to green",
      "retire blue",
      "deploy 1.2.0 to blue",
      "roll back, remove blue",
    ]);
    expect(gatewayWeights("deploy 1.1.0 to green")).toEqual(
      everyRegion({ "gateway-blue": 100, "gateway-green": 0 }),
    );
    expect(colorsDeployed("deploy 1.1.0 to green")).toEqual(everyRegion(["blue", "green"]));
    expect(gatewayWeights("switch to green")).toEqual(
      everyRegion({ "gateway-blue": 0, "gateway-green": 100 }),
    );
    expect(at("switch to green").activeColor).toBe("green");
    expect(colorsDeployed("retire blue")).toEqual(everyRegion(["green"]));
    // The second run starts from a fresh checkout that still says blue 1.0.0: it reads green 1.1.0 from the outputs.
    expect(at("deploy 1.2.0 to blue").versions).toEqual({ blue: "1.2.0", green: "1.1.0" });
    expect(at("roll back, remove blue")).toMatchObject({
      activeColor: "green",
      versions: { green: "1.1.0" },
    });
    expect(colorsDeployed("roll back, remove blue")).toEqual(everyRegion(["green"]));
    expect(gatewayWeights("roll back, remove blue")).toEqual(everyRegion({ "gateway-green": 100 }));
    expect(report.pipeline.plainUpRefusal).toMatch(
      /^.*stack "rehearsal" runs green \(green 1\.1\.0\), but its blueprint:rollout says blue \(blue 1\.0\.0\): this update would undo the last promotion/s,
    );
    // Planned against what runs: nothing to create, update, replace or delete.
    const stale = Object.entries(report.pipeline.stalePreview ?? { none: 1 });
    expect(stale.filter(([op]) => op !== "same" && op !== "read")).toEqual([]);
    expect(report.pipeline.promotions.map((p) => [p.version, p.ok, p.rolledBack])).toEqual([
      ["1.1.0", true, false],
      ["1.2.0", false, true],
    ]);
  });

  it("the API servers are at least the Kubernetes the objects need", () => {
    expect(Object.keys(report.serverVersions)).toEqual(bp.regions.map((r) => r.name));
    for (const v of Object.values(report.serverVersions)) expect(meetsMinKubernetes(v), v).toBe(true);
    expect(meetsMinKubernetes("v1.29.9")).toBe(false);
  });

  it("the edge certificate comes from the stack's own ACME DNS-01 issuer, which the API servers accept", () => {
    for (const region of bp.regions)
      expect(report.objects[region.name]).toMatchObject({
        Issuer: 1,
        ServiceAccount: 1,
        Role: 1,
        RoleBinding: 1,
        Certificate: 1,
      });
  });

  it("the primary's operator-made CAs reach every other region, and a rotation reaches them through the sync", () => {
    expect(report.replicatedSecrets.names).toEqual([
      "mongo-ssl",
      "mongo-ssl-internal",
      `kafka-${bp.primaryRegion.name}-cluster-ca-cert`,
    ]);
    expect(report.replicatedSecrets.staleAfterPipeline).toEqual([]);
    expect(report.replicatedSecrets.staleAfterRotation).toEqual([]);
    expect(report.steps.map((s) => s.name)).toContain(
      "the operators rotate their CAs; sync the copies (targeted pulumi up)",
    );
  });

  it("destroy keeps the data tier (data.retainOnDelete in staging) and deletes the rest", () => {
    expect(bp.data.retainOnDelete).toBe(true);
    const kinds = (region: string) => report.retainedAfterDestroy[region]!.map((o) => o.split(" ")[0]).sort();
    // No Secret: the provider replaces a Secret whose data changes, which a retained one would block. The state is
    // the first up's, when the primary had no TLS Secrets to copy yet: no replica site's PerconaServerMongoDB then.
    for (const region of bp.regions) {
      expect(kinds(region.name)).toEqual([
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "KafkaTopic",
        "KafkaTopic",
        "KafkaTopic",
        "Namespace",
        ...(region.primary ? ["PerconaServerMongoDB"] : []),
      ]);
    }
  });

  it("destroy leaves nothing of the stack, and two preview stacks at once on one cluster leave nothing either", () => {
    expect(report.leftAfterDestroy).toEqual(Object.fromEntries(bp.regions.map((r) => [r.name, []])));
    expect(report.previews.stacks).toEqual(["pr-101", "pr-102"]);
    for (const ns of ["blueprint-preview-pr-101", "blueprint-preview-pr-102"])
      expect(report.previews.objectsWhileUp[ns]).toBeGreaterThan(0);
    expect(report.previews.updatedImages).toEqual(["1.0.1"]);
    expect(report.previews.credentialsKept).toBe(true);
    expect(report.previews.leftAfterDestroy).toEqual([]);
  });
});
