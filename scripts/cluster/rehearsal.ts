import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { parse, stringify } from "yaml";
import { loadBlueprint, REPO_ROOT } from "../../infra/config/stack-file.js";
import { blueprintStack, type EngineOptions } from "../../infra/engine.js";
import { edgeNamespace } from "../../infra/components/meta.js";
import type { Blueprint, Color, Region } from "../../infra/model/index.js";
import { MIN_KUBERNETES_VERSION, meetsMinKubernetes } from "../../infra/model/index.js";
import { kubeconfigYaml, startControlPlane, type ControlPlane } from "../lib/servers/control-plane.js";
import { TOOL_VERSIONS } from "../lib/servers/paths.js";
import { replicatedSecretNames } from "../../infra/components/replicated-secrets.js";
import { CloudTarget } from "../pipeline/cloud-target.js";
import { promote, type PromotionResult } from "../pipeline/machine.js";
import { issueOperatorSecrets, removeOperatorSecrets, staleCopies } from "./replicated.js";
import type { GateKind, GateResult, PromotionTarget } from "../pipeline/target.js";
import { TEMPLATE, renderPreviewStack } from "../preview/stack-file.js";
import { ensureCredentials } from "../secrets.js";
import { clusterCrds, installCrds } from "./crds.js";
import { validateWithStrimziModel } from "../../infra/render/strimzi-model.js";
import {
  countByKind,
  deployments,
  leftovers,
  presentOn,
  publicRouteWeights,
  stackObjects,
  strimziObjects,
  type StackObject,
} from "./objects.js";

const run = promisify(execFile);

export interface RehearsalOptions {
  /** The stack file to rehearse (Pulumi.<stack>.yaml); default "rehearsal". */
  stack?: string;
  /** Control planes, backend and the project copy live here. */
  stateDir: string;
  log?: (line: string) => void;
  /** Run the promotion pipeline's cloud target (deploy idle, switch, retire; then a failed gate and its rollback). */
  pipeline?: boolean;
  /** Create and destroy two preview stacks at once on the primary region's control plane. */
  previews?: boolean;
}

export interface TimedStep {
  name: string;
  ms: number;
  summary?: Record<string, number>;
}

/** What the cluster looks like after one pipeline step, per region. */
export interface PipelineSnapshot {
  step: string;
  activeColor: string | undefined;
  versions: Record<string, string>;
  regions: Record<string, { weights: Record<string, number>; deployments: Record<string, string> }>;
}

export interface RehearsalReport {
  stack: string;
  ok: boolean;
  error?: string;
  versions: { pulumi: string; kubernetesProvider: string; kubernetes: string };
  clusters: { region: string; server: string; startMs: number; crds: number; pids: number[] }[];
  crdSources: { name: string; origin: string; count: number }[];
  steps: TimedStep[];
  objects: Record<string, Record<string, number>>;
  objectsOnServer: number;
  /** Strimzi objects of the state, parsed strictly by Strimzi's own API model (their CRDs have open schemas). */
  strimziModel: { validated: number; errors: string[] };
  objectsInState: number;
  deploymentsReady: Record<string, string[]>;
  noChangePreview: Record<string, number>;
  outputs: { regionEndpoints?: unknown; activeColor?: unknown; versions?: unknown };
  pipeline: {
    promotions: { version: string; ok: boolean; rolledBack: boolean; reason?: string }[];
    snapshots: PipelineSnapshot[];
    /** What a plain `pulumi up` from the stale committed stack file said after the first promotion. */
    plainUpRefusal?: string;
    /** A plain `pulumi preview` from that checkout: it plans against the deployed rollout. */
    stalePreview?: Record<string, number>;
  };
  previews: {
    stacks: string[];
    namespaces: string[];
    objectsWhileUp: Record<string, number>;
    /** Image tags of the first PR's Deployments after its update to 1.0.1. */
    updatedImages: string[];
    /** The first PR's Redis Secret is the same after the update (its credentials were not regenerated). */
    credentialsKept: boolean;
    leftAfterDestroy: string[];
  };
  /**
   * The primary's operator-made Secrets (CAs, Mongo TLS) and their copies in the other regions: what was stale after
   * the pipeline's ups copied them, and after they were rotated and `syncSecrets` ran.
   */
  replicatedSecrets: { names: string[]; staleAfterPipeline: string[]; staleAfterRotation: string[] };
  /** The state's objects still on each API server right after destroy (data.retainOnDelete keeps the data tier). */
  retainedAfterDestroy: Record<string, string[]>;
  leftAfterDestroy: Record<string, string[]>;
  /** Each API server's version (kubectl version), against the model's MIN_KUBERNETES_VERSION. */
  serverVersions: Record<string, string>;
}

/** The namespaces a blueprint's stack creates in every region. */
export function stackNamespaces(bp: Blueprint): string[] {
  const own = [bp.namespace, edgeNamespace(bp.namespace)];
  return bp.platform.operators === "stack" ? [...own, bp.platform.operatorNamespace] : own;
}

/** The context a region's kubeconfig names: the rehearsal's cluster of that region takes its name. */
export function clusterName(region: Region): string {
  if (!region.kubeconfig || !("context" in region.kubeconfig))
    throw new Error(
      `regions[${region.index}] "${region.name}": the rehearsal needs kubeconfig.context (it writes that context)`,
    );
  return region.kubeconfig.context;
}

/**
 * The preview template of the rehearsal: the shipped one, with what these clusters lack replaced (one region on the
 * primary's control plane, an external DNS, a configured gateway address), everything else as users get it.
 */
export function rehearsalPreviewTemplate(bp: Blueprint): string {
  const doc = parse(readFileSync(TEMPLATE, "utf8")) as { config: Record<string, Record<string, unknown>> };
  const c = doc.config;
  c["blueprint:regions"] = [
    {
      name: bp.primaryRegion.name,
      kubeconfig: { secretConfigKey: "kubeconfigRehearsal" },
      gatewayAddress: bp.primaryRegion.gatewayAddress,
    },
  ] as never;
  c["blueprint:dns"] = { ...c["blueprint:dns"], provider: "external" };
  return `# The shipped preview template, adapted by scripts/cluster/rehearsal.ts to the rehearsal's clusters.\n${stringify(doc)}`;
}

const hasRoute = (e: unknown) => Array.isArray(e) && e.length > 0;

/**
 * The cluster rehearsal: real control planes (one per region) with the upstream CRDs, then the real Pulumi engine on
 * the same program `infra/index.ts` runs: preview, up, a preview that must change nothing, refresh, the pipeline's
 * cloud target, destroy; and two preview stacks at once. Every process it starts is stopped before it returns.
 */
export async function rehearse(opts: RehearsalOptions): Promise<RehearsalReport> {
  const log = opts.log ?? (() => {});
  const stackName = opts.stack ?? "rehearsal";
  const bp = loadBlueprint(stackName);
  const versions = TOOL_VERSIONS;
  const report: RehearsalReport = {
    stack: stackName,
    ok: false,
    versions: {
      pulumi: versions.PULUMI_VERSION!,
      kubernetesProvider: `${versions.PULUMI_KUBERNETES_VERSION} (${versions.PULUMI_KUBERNETES_MODULE})`,
      kubernetes: versions.KUBERNETES_VERSION!,
    },
    clusters: [],
    crdSources: [],
    steps: [],
    objects: {},
    objectsOnServer: 0,
    objectsInState: 0,
    strimziModel: { validated: 0, errors: [] },
    deploymentsReady: {},
    noChangePreview: {},
    outputs: {},
    pipeline: { promotions: [], snapshots: [] },
    previews: {
      stacks: [],
      namespaces: [],
      objectsWhileUp: {},
      updatedImages: [],
      credentialsKept: false,
      leftAfterDestroy: [],
    },
    replicatedSecrets: { names: replicatedSecretNames(bp), staleAfterPipeline: [], staleAfterRotation: [] },
    retainedAfterDestroy: {},
    leftAfterDestroy: {},
    serverVersions: {},
  };
  const timed = async <T>(name: string, fn: () => Promise<T>, summary?: (r: T) => Record<string, number>) => {
    const started = Date.now();
    log(`▶ ${name}`);
    const result = await fn();
    const step: TimedStep = {
      name,
      ms: Date.now() - started,
      ...(summary ? { summary: summary(result) } : {}),
    };
    report.steps.push(step);
    log(`✔ ${name} (${(step.ms / 1000).toFixed(1)} s)`);
    return result;
  };
  const clusters = new Map<string, ControlPlane>();
  try {
    // One control plane per region, as the model lists them; pod IPs from each region's podCidr.
    await timed(`start ${bp.regions.length} control planes`, async () => {
      let i = 0;
      for (const region of bp.regions) {
        const started = Date.now();
        const cluster = await startControlPlane({
          name: clusterName(region),
          dir: join(opts.stateDir, "clusters", region.name),
          serviceCidr: `10.${96 + i++}.0.0/16`,
          ...(region.podCidr ? { podCidr: region.podCidr } : {}),
        });
        clusters.set(region.name, cluster);
        const version = JSON.parse(await cluster.kubectl(["version", "-o", "json"])) as {
          serverVersion: { gitVersion: string };
        };
        report.serverVersions[region.name] = version.serverVersion.gitVersion;
        if (!meetsMinKubernetes(version.serverVersion.gitVersion))
          throw new Error(
            `${region.name} runs Kubernetes ${version.serverVersion.gitVersion}, older than the ${MIN_KUBERNETES_VERSION} the objects need`,
          );
        report.clusters.push({
          region: region.name,
          server: cluster.server,
          startMs: Date.now() - started,
          crds: 0,
          pids: Object.values(cluster.pids),
        });
      }
    });
    const sources = clusterCrds();
    report.crdSources = sources.map((s) => ({ name: s.name, origin: s.origin, count: s.crds.length }));
    await timed("install the CRDs (the platform's part)", async () => {
      for (const c of report.clusters) c.crds = await installCrds(clusters.get(c.region)!, sources);
    });
    const kubeconfigFile = join(opts.stateDir, "kubeconfig");
    writeFileSync(kubeconfigFile, kubeconfigYaml([...clusters.values()].map((c) => c.access)), {
      mode: 0o600,
    });
    // A project copy: the pipeline writes blueprint:rollout and the credentials into its stack file, as a CI
    // checkout would, never into this repository's.
    const workDir = join(opts.stateDir, "project");
    // The CLI checks that the project's `main` (infra/) exists, even for an inline program.
    mkdirSync(join(workDir, "infra"), { recursive: true });
    for (const f of ["Pulumi.yaml", `Pulumi.${stackName}.yaml`])
      copyFileSync(join(REPO_ROOT, f), join(workDir, f));
    const engine: EngineOptions = {
      workDir,
      env: {
        PULUMI_BACKEND_URL: `file://${join(opts.stateDir, "backend")}`,
        PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString("hex"),
        PULUMI_HOME: join(opts.stateDir, "pulumi-home"),
        KUBECONFIG: kubeconfigFile,
      },
    };
    mkdirSync(join(opts.stateDir, "backend"), { recursive: true });
    const stack = await blueprintStack(stackName, engine);
    await ensureCredentials(stack);
    // The stack file as it would be committed (credentials encrypted in it): the pipeline's second run starts from it.
    const committed = readFileSync(join(workDir, `Pulumi.${stackName}.yaml`), "utf8");
    const output = (line: string) => log(`    ${line.trimEnd()}`);
    await timed(
      "pulumi preview",
      () => stack.preview({ onOutput: output }),
      (r) => r.changeSummary as Record<string, number>,
    );
    await timed(
      "pulumi up",
      () => stack.up({ onOutput: output }),
      (r) => r.summary.resourceChanges as Record<string, number>,
    );
    const state = await stack.exportStack();
    const objects = stackObjects(state);
    const strimzi = strimziObjects(state);
    for (const [obj, errors] of validateWithStrimziModel(strimzi))
      report.strimziModel.errors.push(...errors.map((e) => `${obj.kind} ${obj.metadata.name}: ${e}`));
    report.strimziModel.validated = strimzi.length;
    if (report.strimziModel.errors.length > 0)
      throw new Error(`Strimzi's model refuses: ${report.strimziModel.errors.join("; ")}`);
    report.objects = countByKind(objects);
    report.objectsInState = objects.length;
    await timed("check every object on the API servers", async () => {
      for (const [region, cluster] of clusters) {
        const mine = objects.filter((o) => o.region === region);
        const present = await presentOn(cluster, mine);
        report.objectsOnServer += present.length;
        if (present.length !== mine.length)
          throw new Error(
            `${region}: ${mine.length - present.length} of the stack's objects are not on the API server`,
          );
        report.deploymentsReady[region] = (await deployments(cluster, bp.namespace)).map(
          (d) => `${d.name} ${d.ready}/${d.replicas}`,
        );
      }
    });
    const outs = await stack.outputs();
    report.outputs = {
      regionEndpoints: outs.regionEndpoints?.value,
      activeColor: outs.activeColor?.value,
      versions: outs.versions?.value,
    };
    if (!hasRoute(outs.regionEndpoints?.value)) throw new Error("the stack exported no regionEndpoints");
    const again = await timed(
      "pulumi preview (after up: must change nothing)",
      () => stack.preview({ onOutput: output, diff: true }),
      (r) => r.changeSummary as Record<string, number>,
    );
    report.noChangePreview = again.changeSummary as Record<string, number>;
    // `read` is the program's reference to its own outputs (the rollout guard), re-read by every run.
    const changed = Object.entries(report.noChangePreview).filter(
      ([op, n]) => op !== "same" && op !== "read" && n > 0,
    );
    if (changed.length > 0)
      throw new Error(
        `the preview after up wants changes: ${changed.map(([op, n]) => `${op} ${n}`).join(", ")}`,
      );
    await timed(
      "pulumi refresh",
      () => stack.refresh({ onOutput: output }),
      (r) => r.summary.resourceChanges as Record<string, number>,
    );
    const primary = clusters.get(bp.primaryRegion.name)!;
    if (opts.pipeline !== false) {
      // The operators' CA and TLS Secrets appear in the primary after the first up; the pipeline's ups copy them.
      await issueOperatorSecrets(primary, bp, 1);
      const ctx = { stackName, bp, engine, clusters, report, log };
      await rehearsePipeline(ctx, () => writeFileSync(join(workDir, `Pulumi.${stackName}.yaml`), committed));
      await rehearseSecretRotation(ctx, timed);
    }
    await removeOperatorSecrets(primary, bp);
    await timed(
      "pulumi destroy",
      () => stack.destroy({ onOutput: output }),
      (r) => r.summary.resourceChanges as Record<string, number>,
    );
    for (const [region, cluster] of clusters) {
      const mine = objects.filter((o) => o.region === region);
      // What data.retainOnDelete keeps (the app namespace and the data tier), decommissioned by hand afterwards.
      report.retainedAfterDestroy[region] = await presentOn(cluster, mine);
      if (bp.data.retainOnDelete)
        await cluster.kubectl(["delete", "namespace", bp.namespace, "--ignore-not-found", "--timeout=180s"]);
      report.leftAfterDestroy[region] = [
        ...(await presentOn(cluster, mine)),
        ...(await leftovers(cluster, stackNamespaces(bp))),
      ];
    }
    await stack.workspace.removeStack(stackName);
    if (opts.previews !== false)
      await rehearsePreviews(bp, workDir, engine, clusters.get(bp.primaryRegion.name)!, report, log, timed);
    const left = [...Object.values(report.leftAfterDestroy).flat(), ...report.previews.leftAfterDestroy];
    if (left.length > 0) throw new Error(`left on the API servers after destroy: ${left.join(", ")}`);
    report.ok = true;
  } catch (error) {
    report.error = error instanceof Error ? error.message : String(error);
    log(`✖ ${report.error}`);
  } finally {
    for (const cluster of clusters.values()) await cluster.stop();
  }
  return report;
}

/** Synthetic gate result: kwok runs no container, so no request can be served; the gates are proved by `npm run local`. */
function noDataPlaneGate(kind: GateKind, via: "preview" | "live", region: string, fail: boolean): GateResult {
  return {
    kind,
    via,
    region,
    ok: !fail,
    exitCode: fail ? 99 : 0,
    requests: 0,
    requestsPerSecond: 0,
    p95Ms: 0,
    p99Ms: 0,
    errorRate: 0,
    checksRate: 1,
    failedThresholds: fail ? ["rehearsal: this gate is failed on purpose to drive the rollback"] : [],
    files: {},
  };
}

/**
 * The pipeline's cloud target (the real CLI: every step a `pulumi up` of blueprint:rollout) wrapped so that what
 * needs a data plane is replaced: waitReady reads the Deployments of the color from the API servers, and a gate
 * is a synthetic result (failed on purpose for `failGate`). After each step it records what the API servers hold.
 */
class RehearsalTarget implements PromotionTarget {
  readonly name: string;

  constructor(
    private readonly cloud: CloudTarget,
    private readonly stack: Stack,
    private readonly bp: Blueprint,
    private readonly clusters: Map<string, ControlPlane>,
    private readonly snapshots: PipelineSnapshot[],
    private readonly failGate?: GateKind,
  ) {
    this.name = cloud.name;
  }

  current() {
    return this.cloud.current();
  }

  private async snapshot(step: string): Promise<void> {
    const outs = await this.stack.outputs();
    const regions: PipelineSnapshot["regions"] = {};
    for (const [region, cluster] of this.clusters) {
      const deps = await deployments(cluster, this.bp.namespace);
      regions[region] = {
        weights: await publicRouteWeights(cluster, this.bp.namespace),
        deployments: Object.fromEntries(
          deps.map((d) => [d.name, `${d.image.split(":").pop()} ${d.ready}/${d.replicas}`]),
        ),
      };
    }
    this.snapshots.push({
      step,
      activeColor: outs.activeColor?.value as string | undefined,
      versions: (outs.versions?.value ?? {}) as Record<string, string>,
      regions,
    });
  }

  async deploy(color: Color, version: string, rollout: Parameters<PromotionTarget["deploy"]>[2]) {
    await this.cloud.deploy(color, version, rollout);
    await this.snapshot(`deploy ${version} to ${color}`);
  }

  async waitReady(color: Color): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (const [region, cluster] of this.clusters) {
      for (;;) {
        const mine = (await deployments(cluster, this.bp.namespace)).filter((d) =>
          d.name.endsWith(`-${color}`),
        );
        if (mine.length === this.bp.services.length && mine.every((d) => d.ready === d.replicas)) break;
        if (Date.now() > deadline)
          throw new Error(`${region}: the ${color} Deployments did not become ready`);
        await sleep(1_000);
      }
    }
  }

  async gate(kind: GateKind, via: "preview" | "live"): Promise<GateResult[]> {
    return [...this.clusters.keys()].map((region) =>
      noDataPlaneGate(kind, via, region, kind === this.failGate),
    );
  }

  async switch(rollout: Parameters<PromotionTarget["switch"]>[0]) {
    await this.cloud.switch(rollout);
    await this.snapshot(`switch to ${rollout.activeColor}`);
  }

  async retire(color: Color, rollout: Parameters<PromotionTarget["retire"]>[1]) {
    await this.cloud.retire(color, rollout);
    await this.snapshot(`retire ${color}`);
  }

  async rollback(previous: Parameters<PromotionTarget["rollback"]>[0], badColor: Color) {
    await this.cloud.rollback(previous, badColor);
    await this.snapshot(`roll back, remove ${badColor}`);
  }

  outputs() {
    return this.cloud.outputs();
  }
}

/** The copies after the pipeline, then a rotation of every source and the scheduled sync (a targeted up). */
async function rehearseSecretRotation(
  { stackName, bp, engine, clusters, report, log }: PipelineContext,
  timed: <T>(name: string, fn: () => Promise<T>) => Promise<T>,
): Promise<void> {
  const result = report.replicatedSecrets;
  result.staleAfterPipeline = await staleCopies(clusters, bp);
  if (result.staleAfterPipeline.length > 0)
    throw new Error(`after the pipeline, copies are stale: ${result.staleAfterPipeline.join("; ")}`);
  await issueOperatorSecrets(clusters.get(bp.primaryRegion.name)!, bp, 2);
  const cloud = await CloudTarget.select(
    stackName,
    { blueprint: bp, reportDir: "", log: (l) => log(`    ${l}`) },
    engine,
  );
  await timed("the operators rotate their CAs; sync the copies (targeted pulumi up)", () =>
    cloud.syncSecrets(),
  );
  result.staleAfterRotation = await staleCopies(clusters, bp);
  if (result.staleAfterRotation.length > 0)
    throw new Error(`after the rotation and sync, copies are stale: ${result.staleAfterRotation.join("; ")}`);
}

interface PipelineContext {
  stackName: string;
  bp: Blueprint;
  engine: EngineOptions;
  clusters: Map<string, ControlPlane>;
  report: RehearsalReport;
  log: (line: string) => void;
}

async function rehearsePipeline(
  { stackName, bp, engine, clusters, report, log }: PipelineContext,
  freshCheckout: () => void,
): Promise<void> {
  const runOne = async (version: string, failGate?: GateKind): Promise<PromotionResult> => {
    const started = Date.now();
    log(`▶ pipeline: promote ${version}${failGate ? ` (its ${failGate} gate fails)` : ""}`);
    const cloud = await CloudTarget.select(
      stackName,
      { blueprint: bp, reportDir: "", log: (l) => log(`    ${l}`) },
      engine,
    );
    const stack = await blueprintStack(stackName, { ...engine, create: false });
    const target = new RehearsalTarget(cloud, stack, bp, clusters, report.pipeline.snapshots, failGate);
    const result = await promote(target, { version, log: (l) => log(`    ${l}`), sleep: async () => {} });
    report.pipeline.promotions.push({
      version,
      ok: result.ok,
      rolledBack: result.rolledBack,
      ...(result.reason ? { reason: result.reason } : {}),
    });
    report.steps.push({
      name: `pipeline: promote ${version}${failGate ? " (gate fails, rolls back)" : ""}`,
      ms: Date.now() - started,
    });
    log(
      `${result.ok === !failGate ? "✔" : "✖"} pipeline: promote ${version}: ${result.ok ? "live" : `failed (${result.reason})`}`,
    );
    return result;
  };
  const good = await runOne("1.1.0");
  if (!good.ok) throw new Error(`pipeline: promoting 1.1.0 failed: ${good.reason}`);
  // CI never commits the stack file back: the next run's checkout still says blue 1.0.0, and the promotion must
  // start from what the stack's outputs say is live (green 1.1.0), deploying 1.2.0 to blue.
  freshCheckout();
  // A plain `pulumi up` from that checkout must refuse to switch traffic back and delete green.
  const plain = await blueprintStack(stackName, { ...engine, create: false });
  const refusal = await plain.up().then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  report.pipeline.plainUpRefusal = /would undo the last promotion/.exec(refusal ?? "") ? refusal : undefined;
  log(
    `${report.pipeline.plainUpRefusal ? "✔" : "✖"} pipeline: a plain pulumi up from the stale stack file is refused`,
  );
  if (!report.pipeline.plainUpRefusal)
    throw new Error(
      `pipeline: a plain pulumi up from a stale checkout was not refused: ${refusal ?? "it ran"}`,
    );
  // A PR's plan from the same checkout plans against what runs: nothing to change.
  report.pipeline.stalePreview = (await plain.preview()).changeSummary as Record<string, number>;
  const bad = await runOne("1.2.0", "capacity");
  if (bad.before.activeColor !== "green" || bad.before.versions?.green !== "1.1.0")
    throw new Error(
      `pipeline: a fresh checkout's promotion started from ${JSON.stringify(bad.before)}, not green 1.1.0`,
    );
  if (bad.ok || !bad.rolledBack) throw new Error("pipeline: a failed capacity gate did not roll back");
}

async function rehearsePreviews(
  bp: Blueprint,
  workDir: string,
  engine: EngineOptions,
  cluster: ControlPlane,
  report: RehearsalReport,
  log: (line: string) => void,
  timed: <T>(name: string, fn: () => Promise<T>) => Promise<T>,
): Promise<void> {
  const template = join(workDir, "preview.template.yaml");
  writeFileSync(template, rehearsalPreviewTemplate(bp));
  const prs = [101, 102];
  const cli = (args: string[]) =>
    run(process.execPath, ["--import", "tsx", join(REPO_ROOT, "scripts", "preview", "cli.ts"), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...engine.env },
      maxBuffer: 64 * 1024 * 1024,
    }).catch((error: { stderr?: string; stdout?: string; message: string }) => {
      throw new Error(
        `preview ${args.join(" ")}: ${(error.stderr || error.message).trim().split("\n").slice(-5).join(" | ")}`,
      );
    });
  // Two pull requests at once, as two CI jobs would run them: two processes, one cluster, one backend.
  // allSettled: when one fails, the other still ends before the clusters are stopped.
  const all = async (runs: Promise<unknown>[]) => {
    const failed = (await Promise.allSettled(runs)).find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  };
  await timed(`preview:create for PRs ${prs.join(" and ")} at once`, () =>
    all(
      prs.map((pr) =>
        cli([
          "create",
          `--pr=${pr}`,
          "--version=1.0.0",
          `--kubeconfig=${cluster.kubeconfigFile}`,
          `--template=${template}`,
          `--work-dir=${workDir}`,
        ]),
      ),
    ),
  );
  report.previews.stacks = prs.map((pr) => `pr-${pr}`);
  // Each preview's namespaces as the model derives them from the template it was made from.
  const previews = prs.map((pr) => renderPreviewStack(pr, "1.0.0", { template }).blueprint);
  const namespaces = previews.flatMap(stackNamespaces);
  report.previews.namespaces = namespaces;
  for (const ns of namespaces.filter((n) => !n.endsWith("-edge"))) {
    const out = await cluster.kubectl(["get", "deployments,services,httproutes", "-n", ns, "-o", "name"]);
    report.previews.objectsWhileUp[ns] = out.split("\n").filter(Boolean).length;
  }
  const redisSecret = () =>
    cluster.kubectl(["get", "secret", "redis-auth", "-n", previews[0]!.namespace, "-o", "jsonpath={.data}"]);
  const before = await redisSecret();
  // A new push to an open PR updates its preview in place (the rollout guard lets it through), keeping its
  // credentials although its stack file is written anew.
  await timed(`preview:create again for PR ${prs[0]} with a new version`, () =>
    cli([
      "create",
      `--pr=${prs[0]}`,
      "--version=1.0.1",
      `--kubeconfig=${cluster.kubeconfigFile}`,
      `--template=${template}`,
      `--work-dir=${workDir}`,
    ]),
  );
  report.previews.credentialsKept = before.length > 0 && (await redisSecret()) === before;
  report.previews.updatedImages = [
    ...new Set((await deployments(cluster, previews[0]!.namespace)).map((d) => d.image.split(":").pop()!)),
  ];
  await timed(`preview:destroy for PRs ${prs.join(" and ")} at once`, () =>
    all(prs.map((pr) => cli(["destroy", `--pr=${pr}`, `--work-dir=${workDir}`]))),
  );
  report.previews.leftAfterDestroy = await leftovers(cluster, namespaces);
}

export type { StackObject };
