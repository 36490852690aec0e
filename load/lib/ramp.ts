// The breakpoint ramp; plain TypeScript, read by k6 (presets.ts) and by Node (scripts/pipeline/breakpoint.ts).

/** The rate a breakpoint run starts at, in requests per second. */
export const BREAKPOINT_START_RPS = 5;

/** A linear ramp from BREAKPOINT_START_RPS to the ceiling (at least 10 req/s) over `seconds`. */
export function breakpointRamp(ceilingRps: number, seconds: number) {
  const ceiling = Math.max(10, Math.ceil(ceilingRps));
  return {
    ceiling,
    /** The planned arrival rate `second` seconds into the run. */
    rateAt: (second: number) =>
      Math.min(ceiling, BREAKPOINT_START_RPS + ((ceiling - BREAKPOINT_START_RPS) * second) / seconds),
  };
}
