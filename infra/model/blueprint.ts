import {
  CAPACITY_DEFAULTS,
  SAMPLE_SERVICES,
  SLO_DEFAULTS,
  defaultImage,
  metricsTimingOf,
  type MetricsTiming,
} from "./defaults.js";
import { BlueprintConfigError, describeZodIssue, type ConfigProblem } from "./errors.js";
import {
  COLORS,
  DATA_STORES,
  stackConfigSchema,
  type Capacity,
  type Slo,
  type Color,
  type Environment,
  type RegionConfig,
  type ServiceConfig,
  type StackConfig,
} from "./schema.js";
import { serviceSchema } from "./schema.js";
import { DISPOSABLE_ENVIRONMENTS, checkCrossFields, peerAddressOf } from "./checks.js";

export type DataStore = (typeof DATA_STORES)[number];

export interface Region extends RegionConfig {
  /** Position in the stack config; DNS failover order for non-primary regions. */
  index: number;
  /** Loopback address of the region's edge in the local environment. */
  loopbackAddress: string;
  /**
   * Local environment only: the second address of the region (the last part of loopbackAddress plus one), the one the
   * other regions reach its database and Kafka on — the inter-region link the partition drill cuts.
   */
  peerAddress: string;
}

/** Seconds the preStop hook sleeps so endpoints and the edge drop the pod before SIGTERM starts the drain. */
export const PRESTOP_SLEEP_SECONDS = 3;
/** Seconds after the drain deadline: the kit's closers get 4 s (services/lib lifecycle), plus 1 s of slack. */
export const CLOSE_CLIENTS_SECONDS = 5;

/** Default SHUTDOWN_DELAY_MS: 5 s, but at most half the drain deadline so requests still get time to finish. */
export function defaultShutdownDelayMs(drainSeconds: number): number {
  return Math.min(5000, drainSeconds * 500);
}

/** Environments whose data outlives a destroy by default (data.retainOnDelete). */
export const PROTECTED_ENVIRONMENTS: readonly Environment[] = ["staging", "prod"];

export interface Service extends Omit<ServiceConfig, "shutdownDelayMs"> {
  /** SHUTDOWN_DELAY_MS, always below drainSeconds × 1000 (the kit refuses to start otherwise). */
  shutdownDelayMs: number;
  /** Seconds of the preStop sleep before SIGTERM (Kubernetes). */
  preStopSeconds: number;
  /** Kubernetes terminationGracePeriodSeconds: preStop sleep + drain deadline + time to close clients. */
  terminationGracePeriodSeconds: number;
  dependsOnData: DataStore[];
  dependsOnServices: string[];
}

export interface Rollout {
  activeColor: Color;
  idleColor: Color;
  versions: Partial<Record<Color, string>>;
  /** Per color, the image digest of each service at that color's version, where known (deploy by digest). */
  digests: Partial<Record<Color, Record<string, string>>>;
  /** Share of public traffic per color, summing to 100. */
  weights: Record<Color, number>;
  rollbackWindowSeconds: number;
}

type MongoConfig = StackConfig["data"]["mongo"];
/** The MongoDB tier with the environment's defaults resolved. */
export interface MongoTier extends Omit<MongoConfig, "membersPerRegion" | "backup"> {
  membersPerRegion: number;
  /** The Percona operator accepts fewer than 3 (or an even number of) members only with unsafeFlags.replsetSize. */
  unsafeReplsetSize: boolean;
  backup: Omit<MongoConfig["backup"], "enabled"> & { enabled: boolean };
}

/** The typed, validated, defaulted blueprint every consumer reads (Pulumi, local, k6, pipeline). */
export interface Blueprint {
  stack: string;
  environment: Environment;
  /** Registry of the images the images workflow pushes (`<imageRegistry>/blueprint-<service>`). */
  imageRegistry: string;
  previewId: string | undefined;
  namespace: string;
  regions: Region[];
  primaryRegion: Region;
  services: Service[];
  /** retainOnDelete and protect resolved per environment: the data tier's resource options (meta.ts dataTierOptions). */
  data: Omit<StackConfig["data"], "mongo" | "retainOnDelete" | "protect"> & {
    mongo: MongoTier;
    retainOnDelete: boolean;
    protect: boolean;
  };
  network: StackConfig["network"];
  /** Who installs the cluster add-ons, and the names this stack uses to reach them. */
  platform: {
    operators: StackConfig["platform"]["operators"];
    gatewayClassName: string;
    /** Where this stack installs its operators (operators: stack). */
    operatorNamespace: string;
    /** Where the operators run, whoever installed them: the NetworkPolicies admit them. */
    operatorNamespaces: string[];
    /** The platform's cert-manager (its ServiceAccount mints the ACME Route53 issuer's tokens). */
    certManager: StackConfig["platform"]["certManager"];
    /** Whether the cluster runs the Prometheus Operator, so the stack creates ServiceMonitors and alert rules. */
    monitoring: StackConfig["platform"]["monitoring"];
    /** Where the platform's Prometheus runs (its pods scrape the services). */
    monitoringNamespace: string;
    /** The trace collector the services send spans to (OTLP/HTTP), and where it runs; no endpoint: tracing off. */
    tracing: { otlpEndpoint?: string; namespace: string; sampleRatio: number };
  };
  edge: StackConfig["edge"] & { previewHostname: string };
  rollout: Rollout;
  /** The deployed rollout a pipeline change started from (`blueprint:rolloutFrom`); see rolloutGuard. */
  rolloutFrom: StackConfig["rolloutFrom"];
  dns: Omit<StackConfig["dns"], "healthCheck"> & {
    healthCheck: StackConfig["dns"]["healthCheck"] & { protocol: "http" | "https" };
  };
  capacity: Capacity;
  /** The environment's service level objectives (SLO_DEFAULTS with the stack's `slo` over them). */
  slo: Slo;
  /** Scrape interval and alert time-lapse of the environment (metricsTimingOf). */
  metrics: MetricsTiming;
}

/**
 * Parses a stack's config (the `blueprint:*` keys without their prefix) into a Blueprint.
 * Throws BlueprintConfigError listing every problem, each naming the key and the fix.
 */
export function parseBlueprint(raw: unknown, stack: string): Blueprint {
  const parsed = stackConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new BlueprintConfigError(
      stack,
      parsed.error.issues.map((issue) => describeZodIssue(issue, raw)),
    );
  }
  const config = parsed.data;
  const base = ((raw as Record<string, unknown>).services ?? SAMPLE_SERVICES) as Record<string, unknown>[];
  const { services, problems: overrideProblems } = applyOverrides(
    base,
    config.serviceOverrides ?? {},
    config.imageRegistry,
  );
  if (overrideProblems.length > 0) throw new BlueprintConfigError(stack, overrideProblems);
  const problems: ConfigProblem[] = checkCrossFields(config, services);
  if (problems.length > 0) throw new BlueprintConfigError(stack, problems);
  return derive(config, services, stack);
}

/** Merges `serviceOverrides` over the services (each key replaces the service's value) and validates the result. */
function applyOverrides(
  base: Record<string, unknown>[],
  overrides: Record<string, Record<string, unknown>>,
  imageRegistry: string,
): { services: ServiceConfig[]; problems: ConfigProblem[] } {
  const names = base.map((s) => String(s.name));
  const problems: ConfigProblem[] = [];
  for (const [name, override] of Object.entries(overrides)) {
    if (!names.includes(name)) {
      problems.push({
        path: `blueprint:serviceOverrides.${name}`,
        message: `"${name}" is not a service — use one of: ${names.join(", ")} (or add it to services)`,
      });
    }
    if ("name" in override) {
      problems.push({
        path: `blueprint:serviceOverrides.${name}.name`,
        message: "a service cannot be renamed by an override — remove name",
      });
    }
  }
  const services = base.map((service) => {
    const name = String(service.name);
    const merged = { image: defaultImage(imageRegistry, name), ...service, ...overrides[name] };
    const result = serviceSchema.safeParse(merged);
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      const where = name in overrides ? ["serviceOverrides", name] : ["services", names.indexOf(name)];
      const located = { ...issue, path: [...where, ...issue.path] } as typeof issue;
      problems.push(describeZodIssue(located, { [where[0]!]: { [where[1]!]: merged } }));
    }
    return undefined;
  });
  return { services: services.filter((s): s is ServiceConfig => s !== undefined), problems };
}

function derive(config: StackConfig, services: ServiceConfig[], stack: string): Blueprint {
  const regions: Region[] = config.regions.map((r, index) => ({
    ...r,
    // A single region is the primary one without saying so.
    primary: config.regions.length === 1 ? true : r.primary,
    index,
    loopbackAddress: r.loopbackAddress ?? `127.0.${index + 1}.1`,
    peerAddress: peerAddressOf(r.loopbackAddress ?? `127.0.${index + 1}.1`),
  }));
  const serviceNames = new Set(services.map((s) => s.name));
  const activeColor = config.rollout.activeColor;
  const idleColor: Color = activeColor === "blue" ? "green" : "blue";
  const weights = config.rollout.weights ?? ({ [activeColor]: 100, [idleColor]: 0 } as Record<Color, number>);
  const brokers = config.data.kafka.brokersPerRegion;
  const namespace =
    config.namespace ?? ["blueprint", config.environment, config.previewId].filter(Boolean).join("-");
  return {
    stack,
    environment: config.environment,
    imageRegistry: config.imageRegistry,
    previewId: config.previewId,
    namespace,
    regions,
    primaryRegion: regions.find((r) => r.primary)!,
    services: services.map((s) => ({
      ...s,
      shutdownDelayMs: s.shutdownDelayMs ?? defaultShutdownDelayMs(s.drainSeconds),
      preStopSeconds: PRESTOP_SLEEP_SECONDS,
      terminationGracePeriodSeconds: PRESTOP_SLEEP_SECONDS + s.drainSeconds + CLOSE_CLIENTS_SECONDS,
      dependsOnData: s.dependsOn.filter((d): d is DataStore =>
        (DATA_STORES as readonly string[]).includes(d),
      ),
      dependsOnServices: s.dependsOn.filter((d) => serviceNames.has(d)),
    })),
    data: {
      ...config.data,
      retainOnDelete: config.data.retainOnDelete ?? PROTECTED_ENVIRONMENTS.includes(config.environment),
      protect: config.data.protect ?? config.environment === "prod",
      mongo: mongoTier(config),
      kafka: {
        ...config.data.kafka,
        topics: config.data.kafka.topics.map((t) => ({
          ...t,
          replicationFactor: t.replicationFactor ?? Math.min(3, brokers),
        })),
      },
    },
    network: config.network,
    platform: {
      operators: config.platform.operators,
      // One NGINX Gateway Fabric per stack and cluster when the stack installs it: its own class.
      gatewayClassName:
        config.platform.gatewayClassName ??
        (config.platform.operators === "provided" ? "nginx" : `nginx-${namespace}`),
      operatorNamespace: `${namespace}-operators`,
      operatorNamespaces: config.platform.operatorNamespaces ?? [`${namespace}-operators`],
      certManager: config.platform.certManager,
      monitoring: config.platform.monitoring,
      monitoringNamespace: config.platform.monitoringNamespace,
      tracing: {
        ...config.platform.tracing,
        namespace: config.platform.tracing.namespace ?? config.platform.monitoringNamespace,
      },
    },
    edge: {
      ...config.edge,
      previewHostname: config.edge.previewHostname ?? `preview.${config.edge.hostname}`,
    },
    rollout: {
      activeColor,
      idleColor,
      versions: config.rollout.versions,
      digests: config.rollout.digests,
      weights,
      rollbackWindowSeconds: config.rollout.rollbackWindowSeconds,
    },
    rolloutFrom: config.rolloutFrom,
    dns: {
      ...config.dns,
      healthCheck: {
        ...config.dns.healthCheck,
        protocol: config.dns.healthCheck.protocol ?? (config.edge.tls.enabled ? "https" : "http"),
      },
    },
    capacity: { ...CAPACITY_DEFAULTS[config.environment], ...config.capacity },
    slo: { ...SLO_DEFAULTS[config.environment], ...config.slo },
    metrics: metricsTimingOf(config.environment),
  };
}

function mongoTier(config: StackConfig): MongoTier {
  const disposable = DISPOSABLE_ENVIRONMENTS.includes(config.environment);
  const mongo = config.data.mongo;
  const members = mongo.membersPerRegion ?? (disposable ? 1 : 3);
  return {
    ...mongo,
    membersPerRegion: members,
    unsafeReplsetSize: members < 3 || members % 2 === 0,
    backup: { ...mongo.backup, enabled: mongo.backup.enabled ?? !disposable },
  };
}

/** Colors that have a version, i.e. are deployed. */
export function deployedColors(bp: Blueprint): Color[] {
  return COLORS.filter((c) => bp.rollout.versions[c] !== undefined);
}

/** Name of a service's workload (Deployment, Service, local process) in one color. */
export function workloadName(service: string, color: Color): string {
  return `${service}-${color}`;
}

/**
 * Image reference of a service in a color: `<image>:<version>@<digest>` when the color's digest for the service is
 * known, so the node pulls exactly the image that was pushed (the tag stays for people reading the spec; the
 * runtime resolves the digest), else `<image>:<version>`. Throws if the color has no version.
 */
export function imageRef(bp: Blueprint, service: Service, color: Color): string {
  const version = bp.rollout.versions[color];
  if (!version) throw new Error(`color "${color}" has no version (rollout.versions.${color})`);
  const digest = bp.rollout.digests[color]?.[service.name];
  return digest ? `${service.image}:${version}@${digest}` : `${service.image}:${version}`;
}
