import {
  canary,
  deployToIdle,
  otherColor,
  retireIdle,
  switchColors,
  type Color,
  type RolloutConfig,
} from "../../infra/model/index.js";
import type { GateKind, GateResult, GateVia, PromotionTarget } from "./target.js";

export interface StepRecord {
  name: string;
  ok: boolean;
  durationMs: number;
  error?: string;
}

export interface PromotionResult {
  ok: boolean;
  target: string;
  version: string;
  /** Why the promotion failed; undefined when it succeeded. */
  reason?: string;
  rolledBack: boolean;
  steps: StepRecord[];
  gates: GateResult[];
  before: RolloutConfig;
  after: RolloutConfig;
}

export interface PromotionOptions {
  version: string;
  log?: (line: string) => void;
  /** Waits out the rollback window; tests pass a clock that does not sleep. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** Canary steps before the full switch, e.g. [10, 50]: that share of live traffic, then a smoke gate on live. */
  canaryPercents?: number[];
  /** The new version's image digests per service (images.yml): the idle color runs them, pinned by digest. */
  digests?: Record<string, string>;
}

export class GateFailedError extends Error {
  constructor(readonly gate: GateResult) {
    super(
      `${gate.kind} gate via ${gate.via} failed (${gate.exitCode === 0 && gate.serverSide && !gate.serverSide.ok ? "k6 passed; the server-side analysis did not" : `k6 exit ${gate.exitCode}`})${gate.region ? ` in ${gate.region}` : ""}: ${gate.failedThresholds.join("; ") || "no summary"} ` +
        `— ${gate.requestsPerSecond.toFixed(1)} req/s, p95 ${gate.p95Ms.toFixed(0)} ms, errors ${(gate.errorRate * 100).toFixed(2)}%`,
    );
    this.name = "GateFailedError";
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The blue-green promotion: deploy idle → wait ready → capacity gate via preview → switch → smoke on live →
 * rollback window closed by a second live smoke gate → retire the old color. A failure before the retire step
 * (that last gate included) restores the previous rollout.
 */
export async function promote(target: PromotionTarget, opts: PromotionOptions): Promise<PromotionResult> {
  const log = opts.log ?? (() => {});
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  const steps: StepRecord[] = [];
  const gates: GateResult[] = [];

  async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const started = now();
    log(`▶ ${target.name}: ${name}`);
    try {
      const value = await fn();
      const durationMs = now() - started;
      steps.push({ name, ok: true, durationMs });
      log(`✔ ${target.name}: ${name} (${(durationMs / 1000).toFixed(1)} s)`);
      return value;
    } catch (err) {
      const durationMs = now() - started;
      const error = err instanceof Error ? err.message : String(err);
      steps.push({ name, ok: false, durationMs, error });
      log(`✖ ${target.name}: ${name} (${(durationMs / 1000).toFixed(1)} s): ${error}`);
      throw err;
    }
  }

  async function gate(
    kind: GateKind,
    via: GateVia,
    color: Color,
    extra: { canaryPercent?: number; endOfWindow?: boolean } = {},
  ): Promise<void> {
    const expect = { color, version: opts.version, ...extra };
    const results = await target.gate(kind, via, expect);
    gates.push(...results);
    if (results.length === 0) throw new Error(`${kind} gate via ${via}: the target ran no gate`);
    const failed = results.find((r) => !r.ok);
    if (failed) throw new GateFailedError(failed);
  }

  const percents = opts.canaryPercents ?? [];
  if (percents.some((p, i) => !Number.isInteger(p) || p < 1 || p > 99 || (i > 0 && p <= percents[i - 1]!))) {
    throw new Error(
      `canary percents must be integers from 1 to 99 in rising order (got ${percents.join(",")})`,
    );
  }
  const before = await step("read current rollout", () => target.current());
  const active = before.activeColor ?? "blue";
  const idle = otherColor(active);
  const base = { target: target.name, version: opts.version, steps, gates, before };
  if (before.versions?.[active] === opts.version && !before.weights) {
    log(`= ${target.name}: ${opts.version} is already live on ${active}; nothing to do`);
    return { ...base, ok: true, rolledBack: false, after: before };
  }

  const deployed = deployToIdle(before, opts.version, opts.digests);
  const switched = switchColors(deployed);
  try {
    await step(`deploy ${opts.version} to ${idle}`, () => target.deploy(idle, opts.version, deployed));
    await step(`wait until ${idle} is ready`, () => target.waitReady(idle));
    await step("capacity gate via preview", () => gate("capacity", "preview", idle));
    for (const percent of percents) {
      await step(`canary: ${percent}% of live traffic to ${idle}`, () =>
        target.switch(canary(deployed, percent)),
      );
      await step(`smoke gate on live at ${percent}%`, () =>
        gate("smoke", "live", idle, { canaryPercent: percent }),
      );
    }
    await step(`switch live traffic to ${idle}`, () => target.switch(switched));
    await step("smoke gate on live", () => gate("smoke", "live", idle));
    // The old color stays deployed for the window; a live smoke gate at its end decides whether to keep the release.
    const windowSeconds = before.rollbackWindowSeconds ?? 300;
    await step(`keep ${active} for the rollback window (${windowSeconds} s)`, () =>
      sleep(windowSeconds * 1000),
    );
    await step("smoke gate on live at the end of the rollback window", () =>
      gate("smoke", "live", idle, { endOfWindow: true }),
    );
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    try {
      await step(`roll back to ${active} ${before.versions?.[active] ?? ""}`.trim(), () =>
        target.rollback(before, idle),
      );
    } catch (rollbackErr) {
      const why = rollbackErr instanceof Error ? rollbackErr.message : String(rollbackErr);
      return {
        ...base,
        ok: false,
        reason: `${reason}; rollback failed too: ${why}`,
        rolledBack: false,
        after: deployed,
      };
    }
    return { ...base, ok: false, reason, rolledBack: true, after: before };
  }

  const retired = retireIdle(switched);
  try {
    await step(`retire ${active}`, () => target.retire(active, retired));
  } catch (err) {
    // The new release is live and passed its smoke gate: a failed clean-up is reported, not rolled back.
    const reason = `retiring ${active} failed: ${err instanceof Error ? err.message : String(err)}`;
    return { ...base, ok: false, reason, rolledBack: false, after: switched };
  }
  return { ...base, ok: true, rolledBack: false, after: retired };
}
