import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { gatePlan, runPlan } from "./gate-plan.js";

describe("gate plan", () => {
  it("when a capacity gate is planned, then the primary runs it alone and the other regions' smoke gates follow together", () => {
    expect(gatePlan("capacity", ["a", "b", "c"])).toEqual([
      [{ kind: "capacity", endpoint: "a" }],
      [
        { kind: "smoke", endpoint: "b" },
        { kind: "smoke", endpoint: "c" },
      ],
    ]);
    expect(gatePlan("capacity", ["a"])).toEqual([[{ kind: "capacity", endpoint: "a" }]]);
  });

  it("when a smoke gate is planned, then every region runs it at once", () => {
    expect(gatePlan("smoke", ["a", "b"])).toEqual([
      [
        { kind: "smoke", endpoint: "a" },
        { kind: "smoke", endpoint: "b" },
      ],
    ]);
  });

  it("when there are no endpoints, then planning fails saying so", () => {
    expect(() => gatePlan("smoke", [])).toThrow("no region endpoints to gate");
  });

  it("when a plan runs, then no run of a stage overlaps the previous stage and results keep plan order", async () => {
    const events: string[] = [];
    const results = await runPlan(gatePlan("capacity", ["a", "b", "c"]), async (g) => {
      events.push(`start ${g.endpoint}`);
      await sleep(g.kind === "capacity" ? 30 : 5);
      events.push(`end ${g.endpoint}`);
      return `${g.kind}-${g.endpoint}`;
    });
    expect(results).toEqual(["capacity-a", "smoke-b", "smoke-c"]);
    expect(events.slice(0, 2)).toEqual(["start a", "end a"]);
    expect(events.slice(2, 4).sort()).toEqual(["start b", "start c"]);
  });
});
