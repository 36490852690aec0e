import type { Capacity, Environment, Slo, StackConfigInput } from "./schema.js";

type ServiceInput = NonNullable<StackConfigInput["services"]>[number];

/** Default `imageRegistry`: a placeholder, so every stack that deploys sets its own (the images workflow reads it). */
export const DEFAULT_IMAGE_REGISTRY = "ghcr.io/example";

/** Image repository of a service that sets no `image`: the one the images workflow pushes. */
export function defaultImage(imageRegistry: string, service: string): string {
  return `${imageRegistry}/blueprint-${service}`;
}

/** The three sample services, used when a stack sets no `services`; their image is `defaultImage`. */
export const SAMPLE_SERVICES: ServiceInput[] = [
  {
    name: "gateway",
    port: 8080,
    dependsOn: ["redis", "catalog", "orders"],
  },
  {
    name: "catalog",
    port: 8081,
    dependsOn: ["redis", "mongo", "kafka"],
  },
  {
    name: "orders",
    port: 8082,
    dependsOn: ["redis", "mongo", "kafka"],
  },
];

/** Capacity targets per environment; a stack's `capacity` overrides single fields. */
// `writes`: the gates create real orders (and take real stock) only where the data is the environment's own to
// spend; prod gates run a read-only mix, since about 10% of a capacity gate's requests would be orders.
export const CAPACITY_DEFAULTS: Record<Environment, Capacity> = {
  // One 2-core machine runs every process of the local environment, k6 included, and what else runs on it moves
  // its capacity from run to run. So the gate's rate is not a constant: a breakpoint run on the live release finds
  // the knee first, and the gate runs the new release at 40 % of it (never below 10 req/s, the floor). The ramp
  // overshoots: latency lags the rising rate, so the knee it reports varies (82-114 req/s in one e2e run here), and a
  // gate at half of the highest one (57 req/s) broke p95 on a machine that sustained about 45.
  local: {
    requestsPerSecond: 10,
    p95Ms: 300,
    p99Ms: 800,
    maxErrorRate: 0.01,
    minChecksRate: 0.99,
    durationSeconds: 20,
    smokeSeconds: 5,
    writes: "orders",
    breakpoint: { ceilingRps: 400, seconds: 40, kneeFraction: 0.4 },
  },
  dev: {
    requestsPerSecond: 50,
    p95Ms: 400,
    p99Ms: 1000,
    maxErrorRate: 0.01,
    minChecksRate: 0.99,
    durationSeconds: 60,
    smokeSeconds: 15,
    writes: "orders",
  },
  preview: {
    requestsPerSecond: 50,
    p95Ms: 400,
    p99Ms: 1000,
    maxErrorRate: 0.01,
    minChecksRate: 0.99,
    durationSeconds: 60,
    smokeSeconds: 15,
    writes: "orders",
  },
  staging: {
    requestsPerSecond: 300,
    p95Ms: 300,
    p99Ms: 800,
    maxErrorRate: 0.005,
    minChecksRate: 0.995,
    durationSeconds: 120,
    smokeSeconds: 30,
    writes: "orders",
  },
  prod: {
    requestsPerSecond: 1500,
    p95Ms: 250,
    p99Ms: 600,
    maxErrorRate: 0.001,
    minChecksRate: 0.999,
    durationSeconds: 300,
    smokeSeconds: 60,
    writes: "none",
  },
};

/**
 * Service level objectives per environment; a stack's `slo` overrides single fields. The latency objectives are
 * server-side (the services' own histograms), so below the k6 gates' budgets, which include the edge and network.
 */
export const SLO_DEFAULTS: Record<Environment, Slo> = {
  local: { availability: 0.99, latencyP99Ms: 500 },
  dev: { availability: 0.99, latencyP99Ms: 800 },
  preview: { availability: 0.99, latencyP99Ms: 800 },
  staging: { availability: 0.995, latencyP99Ms: 500 },
  prod: { availability: 0.999, latencyP99Ms: 400 },
};

/**
 * How often the services are scraped, and how time-lapsed the alert rules run. On clusters the rules keep their
 * nominal windows (5 m to 3 d) and `for` durations. The local environment runs them 20x faster: every window and
 * `for` is divided by 20 (a window never below four scrapes, a `for` never below one scrape and 2 s), so its drills,
 * which last seconds, see an alert fire and resolve (a 1 m `for` waits 7 s; the 1 h burn-rate window reads 3 m).
 */
export function metricsTimingOf(environment: Environment): MetricsTiming {
  return environment === "local"
    ? { scrapeIntervalSeconds: 5, alertTimeScale: 20 }
    : { scrapeIntervalSeconds: 15, alertTimeScale: 1 };
}
export interface MetricsTiming {
  scrapeIntervalSeconds: number;
  /** Every range window and `for` of the alert rules is divided by this (1: as written). */
  alertTimeScale: number;
}

/**
 * The oldest Kubernetes the rendered objects run on: the pods' `preStop.sleep` action (PodLifecycleSleepAction) is
 * on by default from 1.30. Older clusters refuse the Deployments. The cluster rehearsal checks its API servers.
 */
export const MIN_KUBERNETES_VERSION = "1.30";

/** Whether a server's gitVersion (v1.34.4, v1.30.2-eks-…) is at least MIN_KUBERNETES_VERSION. */
export function meetsMinKubernetes(gitVersion: string): boolean {
  const [major, minor] = /^v?(\d+)\.(\d+)/.exec(gitVersion)?.slice(1).map(Number) ?? [0, 0];
  const [wantMajor, wantMinor] = MIN_KUBERNETES_VERSION.split(".").map(Number) as [number, number];
  return major! > wantMajor || (major === wantMajor && minor! >= wantMinor);
}
