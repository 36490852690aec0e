import type { Color, StackConfigInput } from "./schema.js";

/** The part of the stack config a promotion changes; the pipeline writes it back as `blueprint:rollout`. */
export type RolloutConfig = NonNullable<StackConfigInput["rollout"]>;

export function otherColor(color: Color): Color {
  return color === "blue" ? "green" : "blue";
}

/** Step 1 of a promotion: the idle color gets the new version; live traffic does not move. */
export function deployToIdle(rollout: RolloutConfig, version: string): RolloutConfig {
  const active = rollout.activeColor ?? "blue";
  const idle = otherColor(active);
  return {
    ...rollout,
    activeColor: active,
    versions: { ...rollout.versions, [idle]: version },
    weights: undefined,
  };
}

/** Step 2: the idle color becomes active (weights 100/0); the old color stays deployed for the rollback window. */
export function switchColors(rollout: RolloutConfig): RolloutConfig {
  const next = otherColor(rollout.activeColor ?? "blue");
  if (!rollout.versions?.[next]) throw new Error(`cannot switch to "${next}": it has no version`);
  return { ...rollout, activeColor: next, weights: undefined };
}

/** Canary step: a share of public traffic to the idle color. */
export function canary(rollout: RolloutConfig, idlePercent: number): RolloutConfig {
  const active = rollout.activeColor ?? "blue";
  const idle = otherColor(active);
  if (!Number.isInteger(idlePercent) || idlePercent < 0 || idlePercent > 100) {
    throw new Error(`canary percent must be an integer 0..100 (got ${idlePercent})`);
  }
  return {
    ...rollout,
    weights: { [active]: 100 - idlePercent, [idle]: idlePercent } as Record<Color, number>,
  };
}

/** After the rollback window: the old color is removed. */
export function retireIdle(rollout: RolloutConfig): RolloutConfig {
  const idle = otherColor(rollout.activeColor ?? "blue");
  const versions = { ...rollout.versions };
  delete versions[idle];
  return { ...rollout, versions, weights: undefined };
}
