import { otherColor, type Color, type RolloutConfig } from "../../infra/model/index.js";
import type { LocalEnvironment } from "../local/environment.js";
import type { Faults } from "../local/service-env.js";
import { targetsOf } from "../../load/lib/export-targets.js";
import { gateRate, runBreakpoint, type BreakpointResult } from "./breakpoint.js";
import { gatePlan, runPlan } from "./gate-plan.js";
import { expectationEnv, gateName, runGate } from "./k6.js";
import { probeLiveDuring, sampleLive, type ProbeCounts } from "./live-probe.js";
import { withServerSide } from "./server-analysis.js";
import type {
  GateExpectation,
  GateKind,
  GateResult,
  GateVia,
  PromotionTarget,
  TargetOutputs,
} from "./target.js";

export interface LocalTargetOptions {
  reportDir: string;
  /** Faults for every color this target deploys (the deliberately bad release of the rollback drill). */
  faults?: Faults;
  log?: (line: string) => void;
}

/** The promotion target of the local environment: processes, nginx edges and k6 on loopback. */
export class LocalTarget implements PromotionTarget {
  readonly name: string;
  /** Requests and errors seen on the live host while the edges switched colors. */
  switchProbe: ProbeCounts | undefined;
  /** The breakpoint run on the live release that set the capacity gate's rate (capacity.breakpoint). */
  breakpoint: (BreakpointResult & { gateRps: number }) | undefined;
  private rollout: RolloutConfig | undefined;

  constructor(
    private readonly env: LocalEnvironment,
    private readonly opts: LocalTargetOptions,
  ) {
    this.name = `local/${env.blueprint.stack}`;
  }

  /** The live color and version as the edges really answer them, with the model's rollback window. */
  async current(): Promise<RolloutConfig> {
    if (this.rollout) return structuredClone(this.rollout);
    const [primary] = await sampleLive(this.env);
    if (!primary?.color || !primary.version) {
      throw new Error(
        `the primary edge does not answer live traffic (status ${primary?.status ?? "none"}) — is the local environment up?`,
      );
    }
    const { rollbackWindowSeconds } = this.env.blueprint.rollout;
    this.rollout = {
      activeColor: primary.color,
      versions: { [primary.color]: primary.version },
      rollbackWindowSeconds,
    };
    return structuredClone(this.rollout);
  }

  async deploy(color: Color, version: string, rollout: RolloutConfig): Promise<void> {
    await this.env.deployColor(color, version, this.opts.faults ? { faults: this.opts.faults } : {});
    // The preview host follows the idle color's version: regenerate the edges so it routes to the new color.
    await this.env.applyRouting(routing(rollout));
    this.rollout = structuredClone(rollout);
  }

  async waitReady(color: Color): Promise<void> {
    await this.env.waitReady(color, 60_000);
  }

  /** Every region, in the stages of gatePlan: the capacity gate alone, then the other regions' smoke gates. */
  async gate(kind: GateKind, via: GateVia, expect: GateExpectation): Promise<GateResult[]> {
    if (this.env.endpoints.length === 0) throw new Error("the local environment has no region endpoints");
    const targets = targetsOf(this.env.blueprint);
    if (kind === "capacity" && targets.breakpoint) {
      this.breakpoint ??= await this.measureKnee(targets);
      targets.requestsPerSecond = this.breakpoint.gateRps;
    }
    const prometheus = (await this.env.status()).find((p) => p.role === "prometheus" && p.alive);
    return runPlan(gatePlan(kind, this.env.endpoints), async ({ kind: k, endpoint: e }) => {
      const name = `${gateName(k, via, expect)}-${e.region}`;
      const started = Date.now();
      const result = await runGate(k, via, {
        script: k === "capacity" ? "02-capacity.ts" : "01-smoke.ts",
        name,
        reportDir: this.opts.reportDir,
        baseUrl: e.edge,
        host: via === "preview" ? e.previewHost : e.publicHost,
        targets,
        env: expectationEnv(expect),
        onOutput: (text) => logLines(this.opts.log, `k6 ${name}`, text),
      });
      if (!prometheus) return { ...result, region: e.region };
      return withServerSide(
        { ...result, region: e.region },
        {
          prometheusUrl: prometheus.url,
          color: expect.color,
          baselineColor: otherColor(expect.color),
          startedMs: started,
          scrapeIntervalSeconds: this.env.blueprint.metrics.scrapeIntervalSeconds,
          limits: { maxErrorRatio: targets.maxErrorRate, p99Ms: targets.p99Ms },
          log: this.opts.log,
          name,
        },
      );
    });
  }

  /**
   * The knee of the release that serves now, on the primary region's live host: what this machine carries today,
   * with whatever else runs on it. The new release must then hold kneeFraction of it.
   */
  private async measureKnee(
    targets: ReturnType<typeof targetsOf>,
  ): Promise<BreakpointResult & { gateRps: number }> {
    const [primary] = this.env.endpoints;
    const result = await runBreakpoint({
      name: `breakpoint-${primary!.region}`,
      reportDir: this.opts.reportDir,
      baseUrl: primary!.edge,
      host: primary!.publicHost,
      targets,
      ...(this.opts.log ? { log: this.opts.log } : {}),
    });
    const gateRps = gateRate(result.kneeRps, targets);
    this.opts.log?.(
      `  breakpoint: knee ${result.kneeRps} req/s (${result.reason}); capacity gate at ${gateRps} req/s`,
    );
    return { ...result, gateRps };
  }

  async switch(rollout: RolloutConfig): Promise<void> {
    const { counts } = await probeLiveDuring(this.env, () => this.env.applyRouting(routing(rollout)));
    this.switchProbe = counts;
    this.rollout = structuredClone(rollout);
  }

  async retire(color: Color, rollout: RolloutConfig): Promise<void> {
    await this.env.applyRouting(routing(rollout));
    await this.env.stopColor(color);
    this.rollout = structuredClone(rollout);
  }

  async rollback(previous: RolloutConfig, badColor: Color): Promise<void> {
    const restored = previous.versions?.[badColor];
    if (restored) await this.env.deployColor(badColor, restored);
    await this.env.applyRouting(routing(previous));
    if (!restored) await this.env.stopColor(badColor);
    this.rollout = structuredClone(previous);
  }

  async outputs(): Promise<TargetOutputs> {
    return {
      liveUrls: this.env.endpoints.map((e) => `${e.edge} (Host: ${e.publicHost})`),
      previewUrls: this.env.endpoints.map((e) => `${e.edge} (Host: ${e.previewHost})`),
      rollout: await this.current(),
    };
  }
}

function routing(rollout: RolloutConfig) {
  const activeColor = rollout.activeColor ?? "blue";
  return {
    activeColor,
    versions: { ...rollout.versions },
    ...(rollout.weights ? { weights: rollout.weights } : {}),
  };
}

function logLines(log: ((line: string) => void) | undefined, prefix: string, text: string): void {
  if (!log) return;
  for (const line of text.split("\n")) if (line.includes("level=error")) log(`  ${prefix}: ${line.trim()}`);
}
