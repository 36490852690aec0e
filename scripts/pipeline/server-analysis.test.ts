import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { analysisQueries, judge, type RouteFigures } from "./server-analysis.js";

const dir = mkdtempSync(join(tmpdir(), "blueprint-analysis-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const limits = { maxErrorRatio: 0.01, p99Ms: 800, minRequests: 20 };
const route = (service: string, path: string, requests: number, errorRatio: number, p99Ms?: number) =>
  ({ service, route: path, requests, errorRatio, p99Ms }) satisfies RouteFigures;

describe("the server-side analysis's queries (promtool on the services' series)", () => {
  it("when green's order reads fail 5% in region-a, then the queries give that route's requests, 5xx and p99, green and region-a only", () => {
    const labels = (color: string, region: string, status: string) =>
      `service="orders",region="${region}",color="${color}",method="GET",route="/orders/:id",status="${status}"`;
    // Per 15 s step: 95 answers 200 and 5 answer 500 (a second), each under 100 ms; blue and region-b are busy too.
    const series = [
      { series: `http_requests_total{${labels("green", "region-a", "200")}}`, values: "0+95x8" },
      { series: `http_requests_total{${labels("green", "region-a", "500")}}`, values: "0+5x8" },
      { series: `http_requests_total{${labels("blue", "region-a", "500")}}`, values: "0+100x8" },
      { series: `http_requests_total{${labels("green", "region-b", "500")}}`, values: "0+100x8" },
      {
        series: `http_requests_total{service="orders",region="region-a",color="green",method="GET",route="/readyz",status="503"}`,
        values: "0+100x8",
      },
      ...["0.1", "+Inf"].map((le) => ({
        series: `http_request_duration_seconds_bucket{${labels("green", "region-a", "200")},le="${le}"}`,
        values: "0+95x8",
      })),
    ];
    const q = analysisQueries("green", "region-a", 60);
    const at = "2m";
    writeFileSync(join(dir, "empty.yml"), stringify({ groups: [] }));
    writeFileSync(
      join(dir, "test.yml"),
      stringify({
        rule_files: ["empty.yml"],
        evaluation_interval: "15s",
        tests: [
          {
            interval: "15s",
            input_series: series,
            promql_expr_test: [
              // increase() over 60 s of 15 s samples: 4 steps of 100, extrapolated to the window's edges.
              {
                expr: q.requests,
                eval_time: at,
                exp_samples: [{ labels: '{service="orders",route="/orders/:id"}', value: 400 }],
              },
              {
                expr: q.errors,
                eval_time: at,
                exp_samples: [{ labels: '{service="orders",route="/orders/:id"}', value: 20 }],
              },
              {
                expr: q.p99,
                eval_time: at,
                exp_samples: [{ labels: '{service="orders",route="/orders/:id"}', value: 0.099 }],
              },
            ],
          },
        ],
      }),
    );
    expect(execFileSync("promtool", ["test", "rules", "test.yml"], { cwd: dir, encoding: "utf8" })).toContain(
      "SUCCESS",
    );
  });
});

describe("the server-side verdict", () => {
  it("when one route's 5xx share is over the limit while the rest is clean, then that route fails, naming its figures", () => {
    const failures = judge(
      [route("orders", "/orders/:id", 120, 0.05, 40), route("catalog", "/products/:sku", 700, 0, 30)],
      [],
      limits,
    );
    expect(failures).toEqual(["orders /orders/:id: 5.00% 5xx of 120 requests (limit 1.00%)"]);
  });

  it("when live is as bad on the same route in the same window, then the new color is held to live plus the limit", () => {
    const candidate = [route("orders", "/orders/:id", 120, 0.05, 900)];
    expect(judge(candidate, [route("orders", "/orders/:id", 300, 0.045, 700)], limits)).toEqual([]);
    expect(judge(candidate, [route("orders", "/orders/:id", 300, 0.01, 500)], limits)).toEqual([
      "orders /orders/:id: 5.00% 5xx of 120 requests (limit 2.00%; live 1.00%)",
      "orders /orders/:id: p99 900 ms (limit 800 ms; live 500 ms)",
    ]);
  });

  it("when a route saw too few requests to tell, then it is not judged", () => {
    expect(judge([route("gateway", "/api/orders{/*rest}", 19, 1, 5000)], [], limits)).toEqual([]);
  });
});
