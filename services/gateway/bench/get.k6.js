// One GET per iteration against TARGET at a fixed concurrency; the summary goes to OUT as JSON.
import http from "k6/http";
import { check } from "k6";

export const options = {
  vus: Number(__ENV.VUS || 32),
  duration: __ENV.DURATION || "10s",
  summaryTrendStats: ["avg", "p(50)", "p(95)", "p(99)", "max"],
  thresholds: { http_req_failed: ["rate<0.01"] },
};

export function setup() {
  const res = http.get(__ENV.TARGET);
  if (res.status !== 200) throw new Error(`${__ENV.TARGET} answered ${res.status}; is the server up?`);
}

export default function () {
  check(http.get(__ENV.TARGET), { "status is 200": (r) => r.status === 200 });
}

export function handleSummary(data) {
  return { [__ENV.OUT]: JSON.stringify(data) };
}
