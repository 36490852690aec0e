// TEST DOUBLE: an in-memory PromotionTarget for the state machine's unit tests. Real runs use LocalTarget or CloudTarget.
import type { Color, RolloutConfig } from "../../../infra/model/index.js";
import type {
  GateExpectation,
  GateKind,
  GateResult,
  GateVia,
  PromotionTarget,
  TargetOutputs,
} from "../target.js";

export interface InMemoryFaults {
  deploy?: boolean;
  waitReady?: boolean;
  gate?: Partial<Record<GateKind, boolean>>;
  /** Only the live smoke gate at the end of the rollback window fails (a release that regresses once live). */
  windowGate?: boolean;
  switch?: boolean;
  retire?: boolean;
}

export class InMemoryTarget implements PromotionTarget {
  readonly name = "in-memory";
  readonly calls: string[] = [];
  /** What answers on the public host, like the edge's x-color / x-service-version headers. */
  running: Partial<Record<Color, string>>;
  rollout: RolloutConfig;

  constructor(
    initial: RolloutConfig,
    private readonly faults: InMemoryFaults = {},
  ) {
    this.rollout = structuredClone(initial);
    this.running = { ...initial.versions };
  }

  live(): { color: Color; version: string | undefined } {
    const color = this.rollout.activeColor ?? "blue";
    return { color, version: this.running[color] };
  }

  async current(): Promise<RolloutConfig> {
    this.calls.push("current");
    return structuredClone(this.rollout);
  }

  async deploy(color: Color, version: string, rollout: RolloutConfig): Promise<void> {
    this.calls.push(`deploy ${color} ${version}`);
    if (this.faults.deploy) throw new Error("deploy failed (injected)");
    this.running[color] = version;
    this.rollout = structuredClone(rollout);
  }

  async waitReady(color: Color): Promise<void> {
    this.calls.push(`waitReady ${color}`);
    if (this.faults.waitReady) throw new Error(`${color} never became ready (injected)`);
  }

  async gate(kind: GateKind, via: GateVia, expect: GateExpectation): Promise<GateResult[]> {
    const canary = expect.canaryPercent === undefined ? "" : ` canary ${expect.canaryPercent}%`;
    const window = expect.endOfWindow ? " end of window" : "";
    this.calls.push(`gate ${kind} ${via} ${expect.color} ${expect.version}${canary}${window}`);
    const ok = !this.faults.gate?.[kind] && !(this.faults.windowGate && expect.endOfWindow);
    const result: GateResult = {
      kind,
      via,
      ok,
      exitCode: ok ? 0 : 99,
      requests: 1000,
      requestsPerSecond: 50,
      p95Ms: 20,
      p99Ms: 40,
      errorRate: ok ? 0 : 0.3,
      checksRate: ok ? 1 : 0.7,
      failedThresholds: ok ? [] : ["http_req_failed: rate<=0.01"],
      files: {},
    };
    return [result];
  }

  async switch(rollout: RolloutConfig): Promise<void> {
    const weights = rollout.weights ? ` ${rollout.weights.blue}/${rollout.weights.green}` : "";
    this.calls.push(`switch ${rollout.activeColor}${weights}`);
    if (this.faults.switch) throw new Error("edge reload failed (injected)");
    this.rollout = structuredClone(rollout);
  }

  async retire(color: Color, rollout: RolloutConfig): Promise<void> {
    this.calls.push(`retire ${color}`);
    if (this.faults.retire) throw new Error("scale-down failed (injected)");
    delete this.running[color];
    this.rollout = structuredClone(rollout);
  }

  async rollback(previous: RolloutConfig, badColor: Color): Promise<void> {
    this.calls.push(`rollback ${badColor}`);
    this.rollout = structuredClone(previous);
    const restored = previous.versions?.[badColor];
    if (restored) this.running[badColor] = restored;
    else delete this.running[badColor];
  }

  async outputs(): Promise<TargetOutputs> {
    return {
      liveUrls: ["memory://live"],
      previewUrls: ["memory://preview"],
      rollout: structuredClone(this.rollout),
    };
  }
}
