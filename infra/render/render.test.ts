import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT, stripProject } from "../config/stack-file.js";
import { parseBlueprint } from "../model/index.js";
import { KUBE_SCORE } from "./kube-score.js";
import { renderStack } from "./render-stack.js";
import { summarize } from "./summary.js";
import { createValidator } from "./validate.js";

const root = mkdtempSync(join(tmpdir(), "blueprint-render-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const kubeScoreInstalled = existsSync(KUBE_SCORE);
if (!kubeScoreInstalled)
  console.warn(
    `kube-score is not installed at ${KUBE_SCORE}: its checks are skipped (run \`npm run setup\`)`,
  );

describe.each(["dev", "staging", "prod"])("the %s render", (stack) => {
  it("when validated, then every object matches its schema", async () => {
    const report = await renderStack(stack, { root });
    expect(report.objects).toBeGreaterThan(40);
    expect(report.errors).toEqual([]);
    if (kubeScoreInstalled) expect(report.kubeScore.critical).toEqual([]);
  });
});

describe("the preview stack template", () => {
  it("when filled for a pull request, then every object matches its schema", async () => {
    const text = readFileSync(join(REPO_ROOT, "infra", "stacks", "preview.template.yaml"), "utf8");
    const filled = text.replaceAll("${PR}", "42").replaceAll("${VERSION}", "2.0.0");
    const bp = parseBlueprint(
      stripProject((parse(filled) as { config: Record<string, unknown> }).config),
      "pr-42",
    );
    const report = await renderStack(bp, { root });
    const namespaces = report.render.regions[0]!.objects.filter((o) => o.kind === "Namespace").map(
      (o) => o.metadata.name,
    );
    expect(namespaces).toContain("blueprint-preview-pr-42");
    expect(report.errors).toEqual([]);
    if (kubeScoreInstalled) expect(report.kubeScore.critical).toEqual([]);
  });
});

describe("the validator", () => {
  it("when an object breaks its schema or misspells a custom resource field, then it reports it", async () => {
    const validator = await createValidator();
    const errors = validator.validate([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "bad" },
        spec: { replicas: "two", selector: {}, template: {} },
      },
      {
        apiVersion: "kafka.strimzi.io/v1beta2",
        kind: "KafkaTopic",
        metadata: { name: "t" },
        spec: { partitons: 3 },
      },
      {
        apiVersion: "psmdb.percona.com/v1",
        kind: "PerconaServerMongoDB",
        metadata: { name: "m" },
        spec: { image: "x", replsets: [{ name: "rs0", size: 1, externalNodes: [{ host: "h", votes: 2 }] }] },
      },
      { apiVersion: "example.com/v1", kind: "Unknown", metadata: { name: "u" } },
    ]);
    expect(errors.map((e) => e.object)).toEqual([
      "apps/v1/Deployment /bad",
      "kafka.strimzi.io/v1beta2/KafkaTopic /t",
      "psmdb.percona.com/v1/PerconaServerMongoDB /m",
      "example.com/v1/Unknown /u",
    ]);
    expect(errors[3]!.message).toBe("no schema to validate this kind — add one to infra/render/validate.ts");
  });
});

describe("the render summary", () => {
  it("when kube-score is not installed, then the render fails and says to run npm run setup", async () => {
    const report = await renderStack("dev", { root });
    const missing = { ...report, kubeScore: { available: false, critical: [], warning: [], output: "" } };
    const summary = summarize(missing, 1);
    expect(summary.failed).toBe(true);
    expect(summary.lines).toContain(
      `kube-score: not installed at ${KUBE_SCORE} — run \`npm run setup\` (it installs kube-score)`,
    );
    const clean = { ...report, kubeScore: { available: true, critical: [], warning: [], output: "" } };
    expect(summarize(clean, 1).failed).toBe(report.errors.length > 0);
  });
});

describe("Strimzi objects, checked by Strimzi's own API model", () => {
  const kafka = (spec: Record<string, unknown>) => ({
    apiVersion: "kafka.strimzi.io/v1beta2",
    kind: "KafkaTopic",
    metadata: { name: "orders.events", namespace: "ns" },
    spec,
  });

  it("when a field is unknown to the model or a required one is missing, then validation names it", async () => {
    const { createValidator } = await import("./validate.js");
    const validator = await createValidator();
    const errors = validator.validate([
      kafka({ partitions: 6, replicas: 3 }),
      kafka({ partitions: 6, replica: 3 }),
      {
        ...kafka({}),
        kind: "KafkaNodePool",
        metadata: { name: "pool" },
        spec: { replicas: 1, roles: ["broker"] },
      },
    ]);
    expect(errors.map((e) => `${e.object}: ${e.message}`)).toEqual([
      "kafka.strimzi.io/v1beta2/KafkaTopic ns/orders.events: spec.replica: unknown property",
      "kafka.strimzi.io/v1beta2/KafkaNodePool /pool: spec.storage: required",
    ]);
  });
});
