import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { describe, expect, test } from "vitest";
import { DEAD_LETTERS_METRIC, RETRIES_METRIC } from "./clients/kafka-handler.js";

const dir = fileURLToPath(new URL("../alerts/", import.meta.url));
const rulesFile = `${dir}consumer.rules.yml`;
const promtool = spawnSync("promtool", ["--version"]).status === 0;

interface Rule {
  alert?: string;
  expr?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (): Rule[] =>
  (parse(readFileSync(rulesFile, "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

describe("consumer alert rules", () => {
  test("every rule is an alert with an expression, a severity and a summary", () => {
    expect(rules().length).toBeGreaterThan(0);
    for (const rule of rules()) {
      expect(rule.alert).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(rule.expr).toMatch(/\bconsumer_[a-z_]+\b/);
      expect(["warning", "critical"]).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary).toMatch(/\w+ \w+/);
    }
  });

  test("the rules alert on the metrics the consumer registers, by group and topic", () => {
    const exprs = rules().map((r) => r.expr ?? "");
    for (const metric of [DEAD_LETTERS_METRIC, RETRIES_METRIC])
      expect(exprs.some((e) => e.includes(`${metric}[`) && e.includes("by (group, topic, region)"))).toBe(
        true,
      );
    expect(exprs).toContain("max by (group, topic, region) (consumer_lag_messages) > 1000");
  });

  // promtool ships in Debian's prometheus package (scripts/setup/setup.sh installs it).
  test.skipIf(!promtool)(
    "promtool accepts the rules, and its rule tests see one dead letter fire the alert",
    () => {
      execFileSync("promtool", ["check", "rules", rulesFile], { stdio: "pipe" });
      execFileSync("promtool", ["test", "rules", "consumer.rules.test.yml"], { cwd: dir, stdio: "pipe" });
    },
  );
});
