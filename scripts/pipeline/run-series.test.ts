import { describe, expect, it } from "vitest";
import { alignSeries, runSeriesSection } from "./run-series.js";

describe("the run's time series", () => {
  it("when Prometheus has gaps and NaN, then every step gets a value: 0 where there is none, scaled to one decimal", () => {
    const values: [number, string][] = [
      [1000, "0.25"],
      [1010, "NaN"],
      [1015, "0.5004"],
    ];
    expect(alignSeries(values, 1000, [0, 5, 10, 15], 1000)).toEqual([250, 0, 0, 500.4]);
    expect(alignSeries(undefined, 1000, [0, 5])).toEqual([0, 0]);
  });

  it("when rendered, then one chart per figure, the colors' lines in the model's order", () => {
    const md = runSeriesSection({
      service: "gateway",
      seconds: [0, 5],
      requests: { blue: [10, 0], green: [0, 12] },
      errors: [0, 1],
      p99Ms: [20, 30],
    }).join("\n");
    expect(md).toContain('title "gateway: requests per second by color (blue, green)"');
    expect(md).toContain("  line [10, 0]\n  line [0, 12]");
    expect(md.match(/```mermaid/g)).toHaveLength(3);
  });
});
