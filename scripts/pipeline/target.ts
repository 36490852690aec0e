import type { Color, RolloutConfig } from "../../infra/model/index.js";
import type { ServerAnalysis } from "./server-analysis.js";

export type GateKind = "capacity" | "smoke";
/** preview: the idle color through the preview host; live: the public host. */
export type GateVia = "preview" | "live";

/** Which release a gate must reach; during a canary step live traffic is split, so headers are not checked. */
export interface GateExpectation {
  color: Color;
  version: string;
  canaryPercent?: number;
  /** The live smoke gate that closes the rollback window (the old color is still deployed to roll back to). */
  endOfWindow?: boolean;
}

/** Figures of one k6 run, read from its summary JSON. */
export interface GateResult {
  kind: GateKind;
  via: GateVia;
  /** The region whose edge/gateway this run went through (targets gate every region). */
  region?: string;
  ok: boolean;
  exitCode: number;
  requests: number;
  requestsPerSecond: number;
  p95Ms: number;
  p99Ms: number;
  errorRate: number;
  checksRate: number;
  failedThresholds: string[];
  /** k6 JSON summary, markdown and HTML dashboard, when written. */
  files: { json?: string; markdown?: string; dashboard?: string };
  /** The services' own metrics over the same window (targets with a Prometheus); `ok` includes its verdict. */
  serverSide?: ServerAnalysis;
}

/** Where the live and preview routes answer after the last change. */
export interface TargetOutputs {
  liveUrls: string[];
  previewUrls: string[];
  rollout: RolloutConfig;
}

/**
 * One environment the promotion state machine drives: the local processes or a Pulumi stack.
 * Every method throws with a reason on failure; the machine turns that into a rollback.
 */
export interface PromotionTarget {
  readonly name: string;
  /** The rollout as currently applied (the starting point of a promotion and the rollback target). */
  current(): Promise<RolloutConfig>;
  deploy(color: Color, version: string, rollout: RolloutConfig): Promise<void>;
  waitReady(color: Color): Promise<void>;
  /**
   * One k6 run per region: `capacity` via preview runs the capacity gate through the primary region and a smoke
   * gate through every other region (every region's edge must reach the new color, the capacity is measured once);
   * any other gate runs in every region. The gate passes only if every run passes.
   */
  gate(kind: GateKind, via: GateVia, expect: GateExpectation): Promise<GateResult[]>;
  switch(rollout: RolloutConfig): Promise<void>;
  retire(color: Color, rollout: RolloutConfig): Promise<void>;
  rollback(previous: RolloutConfig, badColor: Color): Promise<void>;
  outputs(): Promise<TargetOutputs>;
}
