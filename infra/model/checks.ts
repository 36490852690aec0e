import {
  CLOUDFLARE_PLANS,
  DATA_STORES,
  COLORS,
  type Environment,
  type ServiceConfig,
  type StackConfig,
} from "./schema.js";
import { CAPACITY_DEFAULTS } from "./defaults.js";
import type { ConfigProblem } from "./errors.js";
import { MANAGED_ENV, serviceUrlVar } from "./service-env.js";

/** Rules that span several keys; each problem names the key to change and how. */
export function checkCrossFields(config: StackConfig, services: ServiceConfig[]): ConfigProblem[] {
  return [
    ...checkRegions(config),
    ...checkServices(config, services),
    ...checkRollout(config, services),
    ...checkEdge(config, services),
    ...checkDns(config),
    ...checkPlatform(config),
    ...checkData(config),
    ...checkCapacity(config),
    ...checkEnvironment(config),
  ];
}

/** 127.0.1.1 → 127.0.1.2: a region's peer address in the local environment (checked free and valid below). */
export const peerAddressOf = (loopbackAddress: string) =>
  loopbackAddress.replace(/\.(\d+)$/, (_, last: string) => `.${Number(last) + 1}`);

function checkRegions(config: StackConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, number>();
  config.regions.forEach((r, i) => {
    if (seen.has(r.name)) {
      problems.push({
        path: `blueprint:regions[${i}].name`,
        message: `duplicate region name "${r.name}" (also regions[${seen.get(r.name)}]) — region names must be unique`,
      });
    } else seen.set(r.name, i);
    if (config.environment !== "local" && !r.kubeconfig) {
      problems.push({
        path: `blueprint:regions[${i}].kubeconfig`,
        message: `is required for environment "${config.environment}" — set {secretConfigKey}, {stackReference, output} or {context}`,
      });
    }
  });
  const primaries = config.regions.filter((r) => r.primary).map((r) => r.name);
  if (config.regions.length > 1 && primaries.length === 0) {
    problems.push({
      path: "blueprint:regions",
      message: "no region is primary — set primary: true on exactly one region",
    });
  }
  if (primaries.length > 1) {
    problems.push({
      path: "blueprint:regions",
      message: `${primaries.length} regions are primary (${primaries.join(", ")}) — set primary: true on exactly one region`,
    });
  }
  // Each region has two local addresses: its own, and the next one (the peer address its database and Kafka are
  // reached on from the other regions).
  const addresses = new Map<string, number>();
  config.regions.forEach((r, i) => {
    const address = r.loopbackAddress ?? `127.0.${i + 1}.1`;
    const peer = peerAddressOf(address);
    const taken = [address, peer].find((a) => addresses.has(a));
    if (taken !== undefined) {
      problems.push({
        path: `blueprint:regions[${i}].loopbackAddress`,
        message: `${address} (or ${peer}, the next address, which the region also uses) is already used by regions[${addresses.get(taken)}] — give each region its own address, at least two apart`,
      });
    } else if (Number(/\.(\d+)$/.exec(address)![1]) >= 254) {
      problems.push({
        path: `blueprint:regions[${i}].loopbackAddress`,
        message: `${address} must end below .254: the region also uses the next address (${peer})`,
      });
    } else {
      addresses.set(address, i);
      addresses.set(peer, i);
    }
  });
  return problems;
}

function checkServices(config: StackConfig, services: ServiceConfig[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const names = services.map((s) => s.name);
  const where = config.services ? "blueprint:services" : "blueprint:services (default)";
  services.forEach((s, i) => {
    const overridden = config.serviceOverrides?.[s.name] ?? {};
    // A problem in a key set by serviceOverrides is reported there, where the user has to fix it.
    const key = (k: string) =>
      k in overridden ? `blueprint:serviceOverrides.${s.name}.${k}` : `${where}[${i}].${k}`;
    const at = `${where}[${i}]`;
    if (names.indexOf(s.name) !== i) {
      problems.push({
        path: `${at}.name`,
        message: `duplicate service name "${s.name}" — service names must be unique`,
      });
    }
    if (s.replicas.min > s.replicas.max) {
      problems.push({
        path: key("replicas"),
        message: `min (${s.replicas.min}) is greater than max (${s.replicas.max}) — raise max or lower min`,
      });
    }
    for (const kind of ["cpu", "memory"] as const) {
      const req = s.resources.requests[kind];
      const lim = s.resources.limits[kind];
      if (toBase(req) > toBase(lim)) {
        problems.push({
          path: `${key("resources")}.requests.${kind}`,
          message: `${req} exceeds limits.${kind} ${lim} — requests must not exceed limits`,
        });
      }
    }
    if (s.shutdownDelayMs !== undefined && s.shutdownDelayMs >= s.drainSeconds * 1000) {
      problems.push({
        path: key("shutdownDelayMs"),
        message: `${s.shutdownDelayMs} ms is not below drainSeconds (${s.drainSeconds} s) — the service would refuse to start (SHUTDOWN_DELAY_MS must be below DRAIN_SECONDS); lower shutdownDelayMs or raise drainSeconds`,
      });
    }
    const managed = new Set<string>([
      ...MANAGED_ENV,
      ...s.dependsOn.filter((d) => names.includes(d)).map(serviceUrlVar),
    ]);
    for (const name of Object.keys(s.env)) {
      if (managed.has(name)) {
        problems.push({
          path: `${key("env")}.${name}`,
          message: `is set by the blueprint for every instance (serviceEnv) — remove it from env; change the model key behind it instead (port, drainSeconds, shutdownDelayMs, dependsOn, rollout)`,
        });
      }
      // Fault injection rehearses a bad release; outside local it would fail real requests in every pod.
      if (name.startsWith("FAULT_") && config.environment !== "local") {
        problems.push({
          path: `${key("env")}.${name}`,
          message: `fault injection runs only in the local environment (this stack is "${config.environment}") — remove ${name} from env; rehearse bad releases with the local environment`,
        });
      }
    }
    s.dependsOn.forEach((d, j) => {
      if (d === s.name) {
        problems.push({
          path: `${key("dependsOn")}[${j}]`,
          message: `a service cannot depend on itself — remove "${d}"`,
        });
      } else if (!(DATA_STORES as readonly string[]).includes(d) && !names.includes(d)) {
        problems.push({
          path: `${key("dependsOn")}[${j}]`,
          message: `"${d}" is neither a data store (${DATA_STORES.join(", ")}) nor a service (${names.join(", ")})`,
        });
      }
    });
  });
  return problems;
}

function checkRollout(config: StackConfig, services: ServiceConfig[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { activeColor, versions, weights, digests } = config.rollout;
  for (const color of COLORS) {
    const names = Object.keys(digests[color] ?? {});
    if (names.length > 0 && !versions[color]) {
      problems.push({
        path: `blueprint:rollout.digests.${color}`,
        message: `"${color}" has digests but no version — set rollout.versions.${color} to the tag they were pushed with, or remove them`,
      });
    }
    for (const name of names.filter((n) => !services.some((s) => s.name === n))) {
      problems.push({
        path: `blueprint:rollout.digests.${color}.${name}`,
        message: `no service is named "${name}" — digests are keyed by services[].name (${services.map((s) => s.name).join(", ")})`,
      });
    }
  }
  if (!versions[activeColor]) {
    problems.push({
      path: `blueprint:rollout.versions.${activeColor}`,
      message: `the active color "${activeColor}" has no version — set rollout.versions.${activeColor} to the image tag to serve`,
    });
  }
  if (weights) {
    const sum = weights.blue + weights.green;
    if (sum !== 100) {
      problems.push({
        path: "blueprint:rollout.weights",
        message: `blue + green must be 100 (got ${weights.blue} + ${weights.green} = ${sum})`,
      });
    }
    for (const color of COLORS) {
      if (weights[color] > 0 && !versions[color]) {
        problems.push({
          path: `blueprint:rollout.weights.${color}`,
          message: `${weights[color]}% of traffic goes to "${color}" but it has no version — set rollout.versions.${color} or its weight to 0`,
        });
      }
    }
  }
  return problems;
}

function checkEdge(config: StackConfig, services: ServiceConfig[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const names = services.map((s) => s.name);
  config.edge.routes.forEach((r, i) => {
    if (!names.includes(r.service)) {
      problems.push({
        path: `blueprint:edge.routes[${i}].service`,
        message: `"${r.service}" is not a service — use one of: ${names.join(", ")}`,
      });
    }
  });
  const preview = config.edge.previewHostname;
  if (preview && preview === config.edge.hostname) {
    problems.push({
      path: "blueprint:edge.previewHostname",
      message: "must differ from edge.hostname — the preview host routes to the idle color",
    });
  }
  for (const [key, host] of [
    ["hostname", config.edge.hostname],
    ["previewHostname", preview],
  ] as const) {
    if (host && host !== config.dns.zone && !host.endsWith(`.${config.dns.zone}`)) {
      problems.push({
        path: `blueprint:edge.${key}`,
        message: `"${host}" is not inside dns.zone "${config.dns.zone}" — use a name under the zone or change the zone`,
      });
    }
  }
  problems.push(...checkTlsIssuer(config));
  return problems;
}

/** The DNS API that solves the edge certificate's DNS-01 challenge: acme.dns01, else dns.provider when it is one. */
export function acmeDns01(config: Pick<StackConfig, "edge" | "dns">): "route53" | "cloudflare" | undefined {
  const issuer = config.edge.tls.issuer;
  if (!issuer || !("acme" in issuer)) return undefined;
  const { provider } = config.dns;
  return issuer.acme.dns01 ?? (provider === "route53" || provider === "cloudflare" ? provider : undefined);
}

function checkTlsIssuer(config: StackConfig): ConfigProblem[] {
  const { enabled, issuer } = config.edge.tls;
  if (!enabled) return [];
  if (!issuer)
    return [
      {
        path: "blueprint:edge.tls.issuer",
        message:
          "is required when edge.tls.enabled — set {acme: {email: you@example.com}} (ACME with DNS-01 through dns.provider) or {clusterIssuer: <name>} (the platform's)",
      },
    ];
  if (!("acme" in issuer)) return [];
  const solver = acmeDns01(config);
  if (!solver)
    return [
      {
        path: "blueprint:edge.tls.issuer.acme.dns01",
        message: `is required with dns.provider ${config.dns.provider} — name the DNS API that solves the DNS-01 challenge (route53 or cloudflare), or use {clusterIssuer: <name>}`,
      },
    ];
  if (solver === "route53" && !issuer.acme.route53)
    return [
      {
        path: "blueprint:edge.tls.issuer.acme.route53.roleArn",
        message:
          "is required for a Route53 DNS-01 solver — set the IAM role (route53:ChangeResourceRecordSets and route53:GetChange on the zone) that cert-manager assumes with the issuer's ServiceAccount token",
      },
    ];
  return [];
}

function checkPlatform(config: StackConfig): ConfigProblem[] {
  const { operators, gatewayClassName, operatorNamespaces } = config.platform;
  if (operators === "provided")
    return operatorNamespaces
      ? []
      : [
          {
            path: "blueprint:platform.operatorNamespaces",
            message:
              "is required with operators: provided — list the namespaces the platform's Strimzi and Percona operators run in, e.g. [strimzi, psmdb]",
          },
        ];
  return (
    [
      ["gatewayClassName", gatewayClassName],
      ["operatorNamespaces", operatorNamespaces],
    ] as const
  )
    .filter(([, value]) => value !== undefined)
    .map(([key]) => ({
      path: `blueprint:platform.${key}`,
      message: `only used when the platform provides the operators — set platform.operators: provided, or remove platform.${key}`,
    }));
}

function checkDns(config: StackConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { provider, policy, healthCheck } = config.dns;
  const local = config.environment === "local";
  if (local !== (provider === "powerdns")) {
    problems.push({
      path: "blueprint:dns.provider",
      message: local
        ? `the local environment uses "powerdns" (got "${provider}") — set dns.provider: powerdns`
        : `"powerdns" is the local environment's server — use route53, cloudflare or external for "${config.environment}"`,
    });
  }
  if (provider === "route53" && ![10, 30].includes(healthCheck.intervalSeconds)) {
    problems.push({
      path: "blueprint:dns.healthCheck.intervalSeconds",
      message: `Route53 health checks run every 10 or 30 seconds (got ${healthCheck.intervalSeconds}) — use 10 or 30`,
    });
  }
  problems.push(...checkCloudflare(config));
  if (healthCheck.protocol === "https" && !config.edge.tls.enabled) {
    problems.push({
      path: "blueprint:dns.healthCheck.protocol",
      message:
        "is https but edge.tls.enabled is false, so every health check would fail — set dns.healthCheck.protocol: http or edge.tls.enabled: true",
    });
  }
  const ipv4 = (a: string | undefined) => a !== undefined && /^\d{1,3}(\.\d{1,3}){3}$/.test(a);
  if (
    provider === "route53" &&
    config.edge.hostname === config.dns.zone &&
    !config.regions.every((r) => ipv4(r.gatewayAddress))
  ) {
    problems.push({
      path: "blueprint:edge.hostname",
      message: `"${config.edge.hostname}" is the apex of dns.zone, where Route53 cannot hold the CNAME written for a gateway with a hostname address — use a name under the zone (e.g. www.${config.dns.zone}) or set every regions[].gatewayAddress to an IPv4 address`,
    });
  }
  if (provider === "route53" && policy === "latency") {
    config.regions.forEach((r, i) => {
      if (!r.cloudRegion) {
        problems.push({
          path: `blueprint:regions[${i}].cloudRegion`,
          message:
            "is required when dns.policy is latency with route53 — set the AWS region id, e.g. eu-west-1",
        });
      }
    });
  }
  return problems;
}

type CloudflarePlan = (typeof CLOUDFLARE_PLANS)[number];
/** Cloudflare Load Balancing's shortest monitor interval per plan (its monitor docs); Free is as Pro. */
export const CLOUDFLARE_MIN_INTERVAL: Record<CloudflarePlan, number> = {
  free: 60,
  pro: 60,
  business: 10,
  enterprise: 5,
};
/** Cloudflare's shortest TTL of a DNS-only record: 60 s, 30 s on Enterprise zones. */
export const CLOUDFLARE_MIN_TTL: Record<CloudflarePlan, number> = {
  free: 60,
  pro: 60,
  business: 60,
  enterprise: 30,
};

function checkCloudflare(config: StackConfig): ConfigProblem[] {
  const { provider, cloudflare, healthCheck, ttlSeconds } = config.dns;
  if (provider !== "cloudflare")
    return cloudflare
      ? [
          {
            path: "blueprint:dns.cloudflare",
            message: `only used with dns.provider cloudflare (got ${provider}) — remove dns.cloudflare`,
          },
        ]
      : [];
  if (!cloudflare)
    return [
      {
        path: "blueprint:dns.cloudflare.plan",
        message: `is required with dns.provider cloudflare — set the zone's plan (${CLOUDFLARE_PLANS.join(", ")}): the shortest monitor interval and TTL Cloudflare accepts depend on it`,
      },
    ];
  const problems: ConfigProblem[] = [];
  const minInterval = CLOUDFLARE_MIN_INTERVAL[cloudflare.plan];
  if (healthCheck.intervalSeconds < minInterval) {
    problems.push({
      path: "blueprint:dns.healthCheck.intervalSeconds",
      message: `Cloudflare ${cloudflare.plan} monitors run at most every ${minInterval} seconds (got ${healthCheck.intervalSeconds}) — use ${minInterval} or more, or a plan that allows shorter`,
    });
  }
  const minTtl = CLOUDFLARE_MIN_TTL[cloudflare.plan];
  if (ttlSeconds < minTtl) {
    problems.push({
      path: "blueprint:dns.ttlSeconds",
      message: `Cloudflare ${cloudflare.plan} zones take a TTL of at least ${minTtl} seconds (got ${ttlSeconds}) — use ${minTtl} or more`,
    });
  }
  return problems;
}

/** dev and preview may run a one-member replica set (no failover), which the Percona operator allows only with unsafeFlags. */
export const DISPOSABLE_ENVIRONMENTS: readonly Environment[] = ["dev", "preview", "local"];

function checkMongo(config: StackConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const disposable = DISPOSABLE_ENVIRONMENTS.includes(config.environment);
  const members = config.data.mongo.membersPerRegion;
  if (!disposable && members !== undefined && (members < 3 || members % 2 === 0)) {
    problems.push({
      path: "blueprint:data.mongo.membersPerRegion",
      message: `the Percona operator refuses a replica set of ${members} member(s) in "${config.environment}" (it needs an odd number of at least 3) — set 3 or 5`,
    });
  }
  const backup = config.data.mongo.backup;
  if ((backup.enabled ?? !disposable) && !backup.s3) {
    problems.push({
      path: "blueprint:data.mongo.backup.s3",
      message: `backups are on in "${config.environment}" and need object storage — set data.mongo.backup.s3 {bucket, region, credentialsSecret}, or data.mongo.backup.enabled: false`,
    });
  }
  return problems;
}

function checkData(config: StackConfig): ConfigProblem[] {
  const brokers = config.data.kafka.brokersPerRegion;
  return [
    ...checkMongo(config),
    ...config.data.kafka.topics.flatMap((t, i) =>
      t.replicationFactor !== undefined && t.replicationFactor > brokers
        ? [
            {
              path: `blueprint:data.kafka.topics[${i}].replicationFactor`,
              message: `${t.replicationFactor} exceeds data.kafka.brokersPerRegion (${brokers}) — lower it or add brokers`,
            },
          ]
        : [],
    ),
  ];
}

function checkCapacity(config: StackConfig): ConfigProblem[] {
  const c = { ...CAPACITY_DEFAULTS[config.environment], ...config.capacity };
  const problems: ConfigProblem[] = [];
  if (c.p99Ms < c.p95Ms) {
    problems.push({
      path: "blueprint:capacity.p99Ms",
      message: `${c.p99Ms} is below capacity.p95Ms (${c.p95Ms}) — a p99 cannot be lower than the p95`,
    });
  }
  if (c.breakpoint && config.environment !== "local") {
    // A breakpoint ramps the live release until it breaks: on a cluster that is an outage by design.
    problems.push({
      path: "blueprint:capacity.breakpoint",
      message: `is for the local environment only — the pipeline would ramp this "${config.environment}" stack's live release until it fails. Remove it and set capacity.requestsPerSecond from a breakpoint run you start on purpose (k6 run load/04-breakpoint.ts, load/README.md)`,
    });
  }
  if (c.breakpoint && c.breakpoint.ceilingRps <= c.requestsPerSecond) {
    problems.push({
      path: "blueprint:capacity.breakpoint.ceilingRps",
      message: `${c.breakpoint.ceilingRps} is not above capacity.requestsPerSecond (${c.requestsPerSecond}), the gate's floor — raise the ceiling or lower the floor`,
    });
  }
  return problems;
}

function checkEnvironment(config: StackConfig): ConfigProblem[] {
  const isPreview = config.environment === "preview";
  if (isPreview && !config.previewId) {
    return [
      {
        path: "blueprint:previewId",
        message: "is required for preview stacks — set it to the pull request id, e.g. pr-42",
      },
    ];
  }
  if (!isPreview && config.previewId) {
    return [
      {
        path: "blueprint:previewId",
        message: `is only for preview stacks — remove it from this "${config.environment}" stack`,
      },
    ];
  }
  return [];
}

const UNITS: Record<string, number> = { m: 0.001, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** Kubernetes quantity to a plain number (cores or bytes) for comparisons. */
export function toBase(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi)?$/.exec(quantity);
  if (!m) return Number.NaN;
  return Number(m[1]) * (m[2] ? UNITS[m[2]]! : 1);
}
