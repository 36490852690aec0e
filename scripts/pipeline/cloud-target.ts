import { ConcurrentUpdateError, type OutputMap, type Stack } from "@pulumi/pulumi/automation/index.js";
import { readFileSync } from "node:fs";
import { lookup } from "node:dns/promises";
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import { isIP } from "node:net";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { replicatedSecretUrns } from "../../infra/components/replicated-secrets.js";
import { PROJECT } from "../../infra/config/stack-file.js";
import { blueprintStack, type EngineOptions } from "../../infra/engine.js";
import {
  otherColor,
  type Blueprint,
  type Color,
  type RegionEndpoint,
  type RolloutConfig,
} from "../../infra/model/index.js";
import { targetsOf, type Targets } from "../../load/lib/export-targets.js";
import { gatePlan, runPlan } from "./gate-plan.js";
import { expectationEnv, gateName, runGate } from "./k6.js";
import { withServerSide } from "./server-analysis.js";
import type {
  GateExpectation,
  GateKind,
  GateResult,
  GateVia,
  PromotionTarget,
  TargetOutputs,
} from "./target.js";

/** The part of an Automation API stack the cloud target uses (a real `Stack` in production). */
export type StackHandle = Pick<
  Stack,
  "name" | "getConfig" | "setAllConfigJson" | "up" | "outputs" | "cancel"
>;

export const ROLLOUT_KEY = "blueprint:rollout";

export const ROLLOUT_FROM_KEY = "blueprint:rolloutFrom";

/**
 * `pulumi config --json` shape: objectValue makes the CLI write a YAML map, not a JSON string. `from` is the rollout
 * the stack ran when this change was decided (its outputs): with it, the program's rollout guard lets the change run.
 */
export function rolloutConfigJson(rollout: RolloutConfig, from?: RolloutConfig): string {
  const entry = (v: object) => {
    const clean = JSON.parse(JSON.stringify(v)) as object;
    return { value: JSON.stringify(clean), objectValue: clean, secret: false };
  };
  const fromLive = from && {
    activeColor: from.activeColor,
    versions: from.versions,
    weights: from.weights,
    ...(from.digests ? { digests: from.digests } : {}),
  };
  return JSON.stringify({
    [ROLLOUT_KEY]: entry(rollout),
    ...(fromLive ? { [ROLLOUT_FROM_KEY]: entry(fromLive) } : {}),
  });
}

interface RegionOutput {
  gatewayAddress?: string;
  liveUrl: string;
  previewUrl?: string;
}

export interface CloudTargetOptions {
  blueprint: Blueprint;
  reportDir: string;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
  /** The k6 targets; default the blueprint's capacity figures (tests shorten them). */
  targets?: Targets;
  /**
   * A PEM file of the CAs to trust instead of the system's (a private CA; the tests' self-signed certificate):
   * the readiness probes use it as `ca`, k6 as SSL_CERT_FILE. Certificates are always verified against the hostname.
   */
  caFile?: string;
  /** CrossGuard packs every `pulumi up` runs with (e.g. infra/policy); they need the CLI's Node language host. */
  policyPacks?: string[];
  /** How long an update waits for a stack another update holds (a second release); default 30 minutes. */
  lockWaitMs?: number;
  /** How often it looks again; default 15 s. */
  lockPollMs?: number;
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

  /** The existing stack `stackName`, its program run inline by the Automation API (infra/engine.ts). */
  static async select(
    stackName: string,
    opts: CloudTargetOptions,
    engine: EngineOptions = {},
  ): Promise<CloudTarget> {
    return new CloudTarget(await blueprintStack(stackName, { ...engine, create: false }), opts);
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
    // The deployed digests (or none): a checkout's stale ones must not pin the live color to old images.
    if (live) return { ...configured, ...live, weights: live.weights, digests: live.digests };
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

  /**
   * Brings every region's copy of the primary's operator-made Secrets (CAs, Mongo TLS) up to date with a `pulumi up`
   * that targets only those copies and keeps the deployed rollout: the scheduled sync between promotions, well
   * inside the operators' renewal windows. Returns the targeted URNs (none for a one-region stack).
   */
  async syncSecrets(): Promise<string[]> {
    const urns = replicatedSecretUrns(this.opts.blueprint, PROJECT);
    if (urns.length > 0) await this.apply(await this.current(), "sync the replicated secrets", urns);
    return urns;
  }

  private async apply(rollout: RolloutConfig, why: string, target?: string[]): Promise<void> {
    const from = liveRollout(await this.stack.outputs());
    await this.stack.setAllConfigJson(rolloutConfigJson(rollout, from));
    this.opts.log?.(`  pulumi up (${why}) on ${this.stack.name}`);
    const waitMs = this.opts.lockWaitMs ?? 30 * 60_000;
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        await this.stack.up({
          onOutput: (out) => this.opts.log?.(`  ${out.trimEnd()}`),
          ...(target ? { target } : {}),
          ...(this.opts.policyPacks?.length ? { policyPacks: this.opts.policyPacks } : {}),
        });
        return;
      } catch (error) {
        if (!(error instanceof ConcurrentUpdateError)) throw error;
        if (Date.now() > deadline)
          throw new Error(
            `${this.stack.name} stayed locked by another update for ${Math.round(waitMs / 60_000)} min — if no update is running, \`pulumi cancel --stack ${this.stack.name}\` clears a stale lock; then promote again`,
          );
        // Another release's update holds the stack: wait for it rather than drop this one, but never apply a plan
        // made against a rollout that update has since changed.
        this.opts.log?.(`  ${this.stack.name} is locked by another update; waiting`);
        await sleep(this.opts.lockPollMs ?? 15_000);
        const now = liveRollout(await this.stack.outputs());
        if (JSON.stringify(now) !== JSON.stringify(from))
          throw new Error(
            `another update changed the rollout of ${this.stack.name} while this one waited (now ${JSON.stringify(now)}) — promote again from there`,
          );
      }
    }
  }

  /** Cancels the stack's running update (a cancelled CI job), so the stack is not left locked. */
  async cancel(): Promise<void> {
    await this.stack.cancel();
  }

  async deploy(color: Color, version: string, rollout: RolloutConfig): Promise<void> {
    await this.apply(rollout, `deploy ${version} to ${color}`);
  }

  /**
   * `pulumi up` already waited for the Deployments; this waits until, in every region, the preview hostname (the
   * idle color through the real edge; https verified against that hostname) answers `/readyz` 200 from `color`
   * (x-color) and `GET /api/catalog/products` 200 from `color`: the gateway's /readyz depends on draining only,
   * so the listing proves the gateway reaches its color's catalog.
   */
  async waitReady(color: Color): Promise<void> {
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 300_000);
    const ca = this.opts.caFile ? readFileSync(this.opts.caFile, "utf8") : undefined;
    for (const e of await this.regionEndpoints()) {
      const route = await routeTo(e, e.previewHost);
      for (const path of ["/readyz", "/api/catalog/products"]) {
        for (;;) {
          const answer = await probe(route, path, ca);
          if (answer.status === 200 && answer.color === color) break;
          if (Date.now() > deadline) {
            const last = answer.error ?? `${answer.status} from x-color ${answer.color ?? "(none)"}`;
            throw new Error(
              `${e.region}: ${route.baseUrl}${path} (via ${route.ip}) did not answer 200 from ${color} in time (last: ${last}) — is ${color} deployed and routed by the preview host?`,
            );
          }
          await sleep(2_000);
        }
      }
    }
  }

  /**
   * Every region's gateway, through its public or preview hostname: k6 requests `${scheme}://<hostname>` with the
   * hostname mapped to the gateway's IP (k6 `hosts`), so SNI, certificate verification and Host are the hostname's.
   * Regions in the stages of gatePlan (the capacity gate alone, then the other regions' smoke gates).
   */
  async gate(kind: GateKind, via: GateVia, expect: GateExpectation): Promise<GateResult[]> {
    return runPlan(gatePlan(kind, await this.regionEndpoints()), async ({ kind: k, endpoint: e }) => {
      const route = await routeTo(e, via === "preview" ? e.previewHost : e.publicHost);
      const name = `${this.stack.name}-${gateName(k, via, expect)}-${e.region}`;
      const targets = this.opts.targets ?? targetsOf(this.opts.blueprint, e.region);
      const started = Date.now();
      const result = await runGate(k, via, {
        script: k === "capacity" ? "02-capacity.ts" : "01-smoke.ts",
        name,
        reportDir: this.opts.reportDir,
        baseUrl: route.baseUrl,
        resolve: { [route.hostname]: route.ip },
        targets,
        env: { ...expectationEnv(expect), ...(this.opts.caFile ? { SSL_CERT_FILE: this.opts.caFile } : {}) },
      });
      const prometheusUrl = this.opts.blueprint.regions.find((r) => r.name === e.region)?.prometheusUrl;
      if (!prometheusUrl) return { ...result, region: e.region };
      return withServerSide(
        { ...result, region: e.region },
        {
          prometheusUrl,
          color: expect.color,
          baselineColor: otherColor(expect.color),
          startedMs: started,
          scrapeIntervalSeconds: this.opts.blueprint.metrics.scrapeIntervalSeconds,
          limits: { maxErrorRatio: targets.maxErrorRate, p99Ms: targets.p99Ms },
          log: this.opts.log,
          name,
        },
      );
    });
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
  const digests = outputs.digests?.value as RolloutConfig["digests"] | undefined;
  return {
    activeColor,
    versions: { ...versions },
    weights: split ? weights : undefined,
    ...(digests && Object.keys(digests).length > 0 ? { digests } : {}),
  };
}

/** How to reach a region's gateway under one of its hostnames. */
export interface GatewayRoute {
  hostname: string;
  /** The IP the hostname is mapped to: the address itself, or what a hostname address (an AWS ELB) resolves to. */
  ip: string;
  port: number | undefined;
  /** `${scheme}://<hostname>[:port]`: the URL k6 and the probes request. */
  baseUrl: string;
}

/** Maps `hostname` to the region's gateway address (`IP`, `hostname`, either with `:port`; `[IPv6]:port`). */
export async function routeTo(e: RegionEndpoint, hostname: string): Promise<GatewayRoute> {
  const m = e.address.match(/^(?:\[([0-9a-fA-F:]+)\]|([^:[\]]+)|([0-9a-fA-F:]+))(?::(\d+))?$/);
  const bare = m?.[1] ?? m?.[2] ?? m?.[3];
  if (!m || !bare || (m[3] && m[4]))
    throw new Error(
      `${e.region}: gateway address ${JSON.stringify(e.address)} is not an IP or hostname[:port]`,
    );
  const port = m[4] ? Number(m[4]) : undefined;
  let ip = bare;
  if (!isIP(bare)) {
    try {
      ({ address: ip } = await lookup(bare));
    } catch (err) {
      throw new Error(
        `${e.region}: cannot resolve the gateway address ${bare}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  return { hostname, ip, port, baseUrl: `${e.scheme}://${hostname}${port ? `:${port}` : ""}` };
}

export interface ProbeAnswer {
  status: number;
  color: string | undefined;
  error?: string;
}

/**
 * One GET of `path` under `route.hostname`, connected to `route.ip` (fetch cannot pin an address): Host and SNI are
 * the hostname, and an https certificate is verified against it. Status 0 when there is no answer.
 */
export function probe(route: GatewayRoute, path: string, ca?: string): Promise<ProbeAnswer> {
  return new Promise((resolve) => {
    const https = route.baseUrl.startsWith("https:");
    const options = {
      host: route.ip,
      port: route.port ?? (https ? 443 : 80),
      path,
      headers: { host: route.port ? `${route.hostname}:${route.port}` : route.hostname },
      timeout: 5_000,
      ...(https ? { servername: route.hostname, rejectUnauthorized: true, ...(ca ? { ca } : {}) } : {}),
    };
    const req = (https ? httpsGet : httpGet)(options, (res) => {
      res.resume();
      const color = res.headers["x-color"];
      resolve({ status: res.statusCode ?? 0, color: Array.isArray(color) ? color[0] : color });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve({ status: 0, color: undefined, error: err.message }));
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

/** Runs a pipeline CLI's main when its module is the entry point: exits with its code, or 1 with the explained error. */
export function runMain(moduleUrl: string, main: () => Promise<number>): void {
  if (moduleUrl !== pathToFileURL(process.argv[1] ?? "").href) return;
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`✖ ${explainPulumiError(err)}\n`);
      process.exit(1);
    },
  );
}
