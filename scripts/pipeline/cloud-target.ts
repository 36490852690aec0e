import { LocalWorkspace, type OutputMap, type Stack } from "@pulumi/pulumi/automation/index.js";
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import type { Blueprint, Color, RolloutConfig } from "../../infra/model/index.js";
import { targetsOf } from "../../load/lib/export-targets.js";
import { expectationEnv, gateName, runGate } from "./k6.js";
import type {
  GateExpectation,
  GateKind,
  GateResult,
  GateVia,
  PromotionTarget,
  TargetOutputs,
} from "./target.js";

/** The part of an Automation API stack the cloud target uses (a real `Stack` in production). */
export type StackHandle = Pick<Stack, "name" | "getConfig" | "setAllConfigJson" | "up" | "outputs">;

export const ROLLOUT_KEY = "blueprint:rollout";

/** `pulumi config --json` shape: objectValue makes the CLI write a YAML map, not a JSON string. */
export function rolloutConfigJson(rollout: RolloutConfig): string {
  const clean = JSON.parse(JSON.stringify(rollout)) as RolloutConfig;
  return JSON.stringify({
    [ROLLOUT_KEY]: { value: JSON.stringify(clean), objectValue: clean, secret: false },
  });
}

interface RegionOutput {
  gatewayAddress?: string;
  liveUrl: string;
  previewUrl?: string;
}

/** Contract C3: the stack output `regionEndpoints`, one per region in model order. */
export interface RegionEndpoint {
  region: string;
  /** The region's gateway address (IP or hostname). */
  address: string;
  publicHost: string;
  previewHost: string;
  scheme: "http" | "https";
}

export interface CloudTargetOptions {
  blueprint: Blueprint;
  reportDir: string;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
  /** The k6 targets; default the blueprint's capacity figures (tests shorten them). */
  targets?: object;
}

/**
 * The promotion target of a Pulumi stack: every change sets `blueprint:rollout` in the checkout, then `pulumi up`;
 * the starting point is read back from the stack's outputs (see `current`).
 */
export class CloudTarget implements PromotionTarget {
  readonly name: string;

  constructor(
    private readonly stack: StackHandle,
    private readonly opts: CloudTargetOptions,
  ) {
    this.name = `pulumi/${stack.name}`;
  }

  static async select(
    stackName: string,
    opts: CloudTargetOptions,
    workDir = REPO_ROOT,
  ): Promise<CloudTarget> {
    return new CloudTarget(await LocalWorkspace.selectStack({ stackName, workDir }), opts);
  }

  /**
   * The rollout the deployed stack runs, from its outputs (activeColor, versions, weights of infra/index.ts): the
   * checkout's Pulumi.<stack>.yaml is not committed back by CI, so only the backend knows what the last run made
   * live. The checkout's config gives the fields the outputs lack (the rollback window), and is the
   * whole answer only for a stack that was never deployed.
   */
  async current(): Promise<RolloutConfig> {
    const configured = await this.configuredRollout();
    const live = liveRollout(await this.stack.outputs());
    if (live) return { ...configured, ...live, weights: live.weights };
    if (Object.keys(configured).length === 0)
      throw new Error(
        `stack ${this.stack.name} has neither a deployed rollout (outputs activeColor/versions) nor ${ROLLOUT_KEY} — set it in Pulumi.${this.stack.name}.yaml`,
      );
    return configured;
  }

  private async configuredRollout(): Promise<RolloutConfig> {
    let value: string;
    try {
      ({ value } = await this.stack.getConfig(ROLLOUT_KEY));
    } catch (err) {
      if (/not found/.test(err instanceof Error ? err.message : String(err))) return {};
      throw err;
    }
    try {
      return JSON.parse(value) as RolloutConfig;
    } catch {
      throw new Error(
        `${ROLLOUT_KEY} of stack ${this.stack.name} is not an object (got ${value}) — set it in Pulumi.${this.stack.name}.yaml`,
      );
    }
  }

  private async apply(rollout: RolloutConfig, why: string): Promise<void> {
    await this.stack.setAllConfigJson(rolloutConfigJson(rollout));
    this.opts.log?.(`  pulumi up (${why}) on ${this.stack.name}`);
    await this.stack.up({ onOutput: (out) => this.opts.log?.(`  ${out.trimEnd()}`) });
  }

  async deploy(color: Color, version: string, rollout: RolloutConfig): Promise<void> {
    await this.apply(rollout, `deploy ${version} to ${color}`);
  }

  /**
   * `pulumi up` already waited for the Deployments; this waits until every region's gateway answers /readyz 200
   * on the preview host (the new color through the real edge).
   */
  async waitReady(color: Color): Promise<void> {
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 300_000);
    for (const e of await this.regionEndpoints()) {
      const url = `${e.scheme}://${e.address}/readyz`;
      let last = "no answer";
      for (;;) {
        const status = await httpStatus(url, e.previewHost);
        if (status === 200) break;
        last = String(status);
        if (Date.now() > deadline)
          throw new Error(
            `${e.region}: ${url} (Host ${e.previewHost}) did not answer 200 in time (last: ${last}) — is ${color} deployed?`,
          );
        await sleep(2_000);
      }
    }
  }

  /** Every region's gateway, with the preview or public Host header (see PromotionTarget.gate for the plan). */
  async gate(kind: GateKind, via: GateVia, expect: GateExpectation): Promise<GateResult[]> {
    const [primary, ...others] = await this.regionEndpoints();
    const plan: [GateKind, RegionEndpoint][] =
      kind === "capacity"
        ? [[kind, primary!], ...others.map((e): [GateKind, RegionEndpoint] => ["smoke", e])]
        : [primary!, ...others].map((e): [GateKind, RegionEndpoint] => [kind, e]);
    return Promise.all(
      plan.map(async ([k, e]) => {
        const result = await runGate(k, via, {
          script: k === "capacity" ? "02-capacity.ts" : "01-smoke.ts",
          name: `${this.stack.name}-${gateName(k, via, expect)}-${e.region}`,
          reportDir: this.opts.reportDir,
          baseUrl: `${e.scheme}://${e.address}`,
          host: via === "preview" ? e.previewHost : e.publicHost,
          targets: this.opts.targets ?? targetsOf(this.opts.blueprint),
          env: expectationEnv(expect),
        });
        return { ...result, region: e.region };
      }),
    );
  }

  async switch(rollout: RolloutConfig): Promise<void> {
    await this.apply(rollout, `switch live traffic to ${rollout.activeColor}`);
  }

  async retire(color: Color, rollout: RolloutConfig): Promise<void> {
    await this.apply(rollout, `retire ${color}`);
  }

  async rollback(previous: RolloutConfig, badColor: Color): Promise<void> {
    await this.apply(previous, `roll back, remove ${badColor}`);
  }

  async outputs(): Promise<TargetOutputs> {
    const regions = await this.regionOutputs();
    return {
      liveUrls: regions.map((r) => r.liveUrl),
      previewUrls: regions.flatMap((r) => (r.previewUrl ? [r.previewUrl] : [])),
      rollout: await this.current(),
    };
  }

  private async regionEndpoints(): Promise<RegionEndpoint[]> {
    const out = await this.stack.outputs();
    const endpoints = out.regionEndpoints?.value as RegionEndpoint[] | undefined;
    if (!Array.isArray(endpoints) || endpoints.length === 0)
      throw new Error(
        `stack ${this.stack.name} has no "regionEndpoints" output — run \`pulumi up\` with this version of infra/ first`,
      );
    for (const e of endpoints) {
      if (!e.address || !e.publicHost || !e.previewHost || !["http", "https"].includes(e.scheme))
        throw new Error(
          `stack ${this.stack.name}: regionEndpoints entry ${JSON.stringify(e)} lacks an address, hosts or scheme — is the region's gateway deployed?`,
        );
    }
    return endpoints;
  }

  private async regionOutputs(): Promise<RegionOutput[]> {
    const out = await this.stack.outputs();
    const regions = out.regions?.value as Record<string, RegionOutput> | undefined;
    if (!regions)
      throw new Error(`stack ${this.stack.name} has no "regions" output — run a first \`pulumi up\``);
    return Object.values(regions);
  }
}

/**
 * The rollout a deployed stack exports (infra/index.ts: activeColor, versions, weights); undefined before the
 * first `up`. Weights of 100/0 are the plain blue-green state, not a canary split, and come back as undefined.
 */
export function liveRollout(outputs: OutputMap): RolloutConfig | undefined {
  const activeColor = outputs.activeColor?.value as Color | undefined;
  const versions = outputs.versions?.value as RolloutConfig["versions"] | undefined;
  if (!activeColor || !versions) return undefined;
  const weights = outputs.weights?.value as Record<Color, number> | undefined;
  const split = weights && (weights[activeColor] ?? 100) < 100;
  return { activeColor, versions: { ...versions }, weights: split ? weights : undefined };
}

/** One GET with a Host header (fetch forbids setting Host); 0 when there is no answer. */
function httpStatus(url: string, host: string): Promise<number> {
  return new Promise((resolve) => {
    const get = url.startsWith("https:") ? httpsGet : httpGet;
    const req = get(url, { headers: { host }, timeout: 5_000, servername: host }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(0));
  });
}

/** The Automation API's errors for a missing CLI are raw spawn output; say what to install instead. */
export function explainPulumiError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  if (/ENOENT: pulumi|spawn pulumi ENOENT/.test(text)) {
    return "the Pulumi CLI is not on PATH — install it (https://www.pulumi.com/docs/install/; in CI: pulumi/actions)";
  }
  return text.trim();
}
