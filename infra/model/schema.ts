import { z } from "zod";
import { DEFAULT_IMAGE_REGISTRY } from "./defaults.js";

// The stack config schema. Every key has a default unless a user must decide it; `.describe()` is the doc
// that `Pulumi.yaml` repeats. No Pulumi or I/O imports here: this module is shared by every consumer.

export const COLORS = ["blue", "green"] as const;
export const ENVIRONMENTS = ["local", "dev", "staging", "prod", "preview"] as const;
export const DATA_STORES = ["redis", "mongo", "kafka"] as const;
export const CLOUDFLARE_PLANS = ["free", "pro", "business", "enterprise"] as const;

const dnsLabel = z
  .string()
  .regex(
    /^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$/,
    "must be a DNS label: lowercase letters, digits and '-', 1-30 chars",
  );
const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "must be a lowercase DNS name");
// An image tag that is also a label value (the Pods carry it as `version`): Kubernetes refuses label values over 63
// characters or not starting and ending with a letter or digit, though image tags may be longer.
const version = z
  .string()
  .regex(
    /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/,
    "must be an image tag that is also a Kubernetes label value: letters, digits, '.', '_', '-', at most 63 characters, starting and ending with a letter or digit",
  );
/** An image's content digest, as a registry reports it (`docker buildx imagetools inspect`, the images stack). */
export const imageDigest = z
  .string()
  .regex(/^sha256:[a-f0-9]{64}$/, "must be an image digest sha256:<64 lowercase hex digits>");
const serviceDigests = z
  .record(z.string(), imageDigest)
  .describe("Digest per service of the color's version: the pod spec then pins <image>:<version>@<digest>.");
const quantity = (what: string) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi)?$/, `must be a Kubernetes ${what} quantity such as 250m or 256Mi`);
const loopback = z
  .string()
  .regex(/^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, "must be a loopback IPv4 address in 127.0.0.0/8");

export const kubeconfigSchema = z.union([
  z.strictObject({
    secretConfigKey: z
      .string()
      .min(1)
      .describe("Key in the `secrets:` config namespace holding the kubeconfig (set with --secret)."),
  }),
  z.strictObject({
    stackReference: z.string().min(1).describe("Stack exporting the cluster, e.g. org/clusters/prod."),
    output: z.string().min(1).describe("Name of the stack output holding the kubeconfig."),
  }),
  z.strictObject({ context: z.string().min(1).describe("Context of the ambient kubeconfig (KUBECONFIG).") }),
]);

export const regionSchema = z.strictObject({
  name: dnsLabel.describe("Region name; used in resource names and DNS set identifiers."),
  primary: z
    .boolean()
    .default(false)
    .describe("Exactly one region is primary (DNS failover PRIMARY, data leader)."),
  kubeconfig: kubeconfigSchema
    .optional()
    .describe("How to reach this region's cluster; required except for local."),
  cloudRegion: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be a cloud region id such as eu-west-1")
    .optional()
    .describe("Cloud region id for latency-based DNS (route53 policy latency)."),
  gatewayAddress: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Public address (IPv4 or hostname) of the region's edge; default: the Gateway's status address.",
    ),
  prometheusUrl: z
    .url({
      protocol: /^https?$/,
      error:
        "must be the http(s) base URL of Prometheus's API, such as https://prometheus.eu-west-1.example.com",
    })
    .optional()
    .describe(
      "Base URL of the HTTP API of the Prometheus that scrapes this region's services, as the pipeline reaches it (for example https://prometheus.eu-west-1.example.com): the gates add their server-side analysis of the new color from it. Unset: that region's gates judge from k6 alone.",
    ),
  podCidr: z
    .string()
    .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, "must be an IPv4 CIDR such as 10.1.0.0/16")
    .optional()
    .describe(
      "Pod CIDR of this region's cluster; other regions' Mongo and MirrorMaker peers are allowed from it.",
    ),
  replicationCidrs: z
    .array(z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, "must be an IPv4 CIDR such as 10.1.0.0/16"))
    .optional()
    .describe(
      "Addresses this region's data peers (Mongo members, Kafka brokers) have as the other regions' NetworkPolicies see them. Default [podCidr]: right for flat pod networking (Cilium ClusterMesh, GKE MCS); with Submariner, clusterset names resolve to ClusterIPs, so add the Service CIDR (or the Globalnet CIDR).",
    ),
  clusterId: dnsLabel
    .optional()
    .describe(
      "The cluster's id in the clusterset (the MCS ClusterProperty cluster.clusterset.k8s.io): per-pod names of an exported headless Service are <pod>.<clusterId>.<service>.<namespace>.svc.clusterset.local. Default: the region name.",
    ),
  loopbackAddress: loopback
    .optional()
    .describe("Local environment only: loopback address of this region's edge; default 127.0.<n>.1."),
  gateRttMs: z
    .number()
    .int()
    .min(0)
    .max(2000)
    .default(0)
    .describe(
      "Round trip from the CI runner that runs the k6 gates to this region's edge: the gates run from the runner, not from the region, so this region's p95 and p99 budgets are the capacity figures plus this. Measure it from your runners.",
    ),
});

const probeSchema = z.strictObject({
  periodSeconds: z.number().int().min(1).max(300),
  failureThreshold: z.number().int().min(1).max(100),
  timeoutSeconds: z.number().int().min(1).max(60).default(2),
});

const imageRepository = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9./_-]*[a-z0-9])?(:\d+)?(\/[a-z0-9._-]+)*$/,
    "must be an image repository without tag",
  );

/** A service after defaults: `image` is always set (stack files may leave it to `imageRegistry`). */
export const serviceSchema = z.strictObject({
  name: dnsLabel.describe("Service name (gateway, catalog, orders or your own)."),
  image: imageRepository.describe(
    "Image repository, without tag; the tag is the color's version. Default <imageRegistry>/blueprint-<name>.",
  ),
  port: z.number().int().min(1024).max(65535).describe("Container port (non-root, so >= 1024)."),
  replicas: z
    .strictObject({ min: z.number().int().min(1).max(500), max: z.number().int().min(1).max(500) })
    .prefault({ min: 2, max: 6 }),
  targetCpuPercent: z
    .number()
    .int()
    .min(10)
    .max(95)
    .default(70)
    .describe("HorizontalPodAutoscaler CPU target."),
  resources: z
    .strictObject({
      requests: z.strictObject({ cpu: quantity("CPU"), memory: quantity("memory") }),
      limits: z.strictObject({ cpu: quantity("CPU"), memory: quantity("memory") }),
    })
    .prefault({ requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } }),
  probes: z
    .strictObject({
      startup: probeSchema.prefault({ periodSeconds: 2, failureThreshold: 30 }),
      liveness: probeSchema.prefault({ periodSeconds: 10, failureThreshold: 3 }),
      readiness: probeSchema.prefault({ periodSeconds: 2, failureThreshold: 2 }),
    })
    .prefault({}),
  drainSeconds: z
    .number()
    .int()
    .min(1)
    .max(300)
    .default(10)
    .describe("Graceful-shutdown deadline (DRAIN_SECONDS)."),
  shutdownDelayMs: z
    .number()
    .int()
    .min(0)
    .max(299_000)
    .optional()
    .describe(
      "SHUTDOWN_DELAY_MS: time with /readyz 503 before the listener closes; below drainSeconds; default min(5000, drainSeconds x 500).",
    ),
  env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "must be an env var name"), z.string()).default({}),
  dependsOn: z
    .array(z.string())
    .default([])
    .describe("Data stores (redis, mongo, kafka) and services it calls."),
});

const topicSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9._-]{0,200}$/, "must be a Kafka topic name"),
  partitions: z.number().int().min(1).max(1000).default(6),
  replicationFactor: z.number().int().min(1).max(5).optional(),
});

export const dataSchema = z.strictObject({
  retainOnDelete: z
    .boolean()
    .optional()
    .describe(
      "Destroying the stack (or dropping a region) leaves the app namespace and the MongoDB and Kafka objects, so their volumes and data survive. Default true in staging and prod.",
    ),
  protect: z
    .boolean()
    .optional()
    .describe(
      "Pulumi refuses to delete the app namespace and the MongoDB and Kafka objects until `pulumi state unprotect`. Default true in prod.",
    ),
  redis: z
    .strictObject({
      image: z.string().default("docker.io/library/redis:8.2-alpine"),
      memoryMb: z.number().int().min(32).max(65536).default(256),
    })
    .prefault({}),
  mongo: z
    .strictObject({
      version: z.string().default("8.0.12-4").describe("Percona Server for MongoDB image tag."),
      membersPerRegion: z
        .number()
        .int()
        .min(1)
        .max(7)
        .optional()
        .describe(
          "Members of the replica set in each region; default 3 (staging, prod), 1 (dev, preview: no failover, allowed by the operator's unsafeFlags.replsetSize).",
        ),
      storageGb: z.number().int().min(1).max(16384).default(10),
      backup: z
        .strictObject({
          enabled: z
            .boolean()
            .optional()
            .describe(
              "Default true in staging and prod; dev and preview keep no backup (their data is disposable).",
            ),
          schedule: z.string().default("0 3 * * *").describe("Cron schedule of the daily logical backup."),
          keep: z.number().int().min(1).max(365).default(7).describe("Backups kept."),
          pitr: z.boolean().default(true).describe("Point-in-time recovery (oplog slices) between backups."),
          s3: z
            .strictObject({
              bucket: z.string().min(3).max(63),
              region: z.string().min(1),
              prefix: z.string().optional(),
              endpointUrl: z.url().optional().describe("For S3-compatible stores (GCS, MinIO); default AWS."),
              credentialsSecret: dnsLabel.describe(
                "Secret in the app namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (made by the platform, e.g. External Secrets).",
              ),
            })
            .optional()
            .describe("Object storage the backups go to (Percona Backup for MongoDB)."),
        })
        .prefault({}),
    })
    .prefault({}),
  kafka: z
    .strictObject({
      version: z.string().default("4.1.0").describe("Kafka version deployed by Strimzi."),
      brokersPerRegion: z.number().int().min(1).max(15).default(3),
      storageGb: z.number().int().min(1).max(16384).default(20),
      topics: z.array(topicSchema).default([
        { name: "orders.events", partitions: 6 },
        { name: "catalog.events", partitions: 6 },
      ]),
      mirrorFromPrimary: z
        .boolean()
        .default(true)
        .describe("MirrorMaker 2 from the primary to the other regions."),
    })
    .prefault({}),
});

export const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";
const awsRoleArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/,
    "must be an IAM role ARN, arn:aws:iam::<account>:role/<name>",
  );

/**
 * The edge certificate's issuer. ACME with DNS-01 only: HTTP-01 cannot work for a name served from several regions
 * (the CA's request for the token reaches whichever region DNS answers) and its solver route would land in a namespace
 * no listener admits.
 */
const tlsIssuerSchema = z.union([
  z.strictObject({
    clusterIssuer: dnsLabel.describe("A cert-manager ClusterIssuer the platform runs (any solver)."),
  }),
  z.strictObject({
    acme: z.strictObject({
      email: z.email().describe("ACME account e-mail (expiry notices)."),
      server: z.url().default(LETS_ENCRYPT).describe("ACME directory; default Let's Encrypt production."),
      dns01: z
        .enum(["route53", "cloudflare"])
        .optional()
        .describe(
          "The DNS API that solves the DNS-01 challenge; default dns.provider (required with external).",
        ),
      route53: z
        .strictObject({
          roleArn: awsRoleArn.describe(
            "IAM role cert-manager assumes with the issuer's ServiceAccount token (route53:ChangeResourceRecordSets on the zone).",
          ),
          region: z
            .string()
            .default("us-east-1")
            .describe("AWS region of the STS endpoint (Route53 is global)."),
        })
        .optional(),
      cloudflare: z
        .strictObject({
          tokenSecret: dnsLabel
            .default("cloudflare-dns01")
            .describe(
              "Secret in the edge namespace with key api-token: a Cloudflare API token with Zone:DNS:Edit on the zone only (made by the platform, e.g. External Secrets).",
            ),
        })
        .prefault({}),
    }),
  }),
]);

const routeSchema = z.strictObject({
  path: z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, "must be an absolute URL path"),
  match: z.enum(["prefix", "exact"]).default("prefix"),
  service: z.string(),
});

export const edgeSchema = z.strictObject({
  hostname: hostname.describe("Public hostname of the app (the DNS failover name)."),
  previewHostname: hostname
    .optional()
    .describe("Hostname routed to the idle color; default preview.<hostname>."),
  tls: z
    .strictObject({
      enabled: z.boolean().default(false),
      issuer: tlsIssuerSchema
        .optional()
        .describe(
          "Who issues the edge certificate; required when enabled (no default: it needs an e-mail or a name).",
        ),
    })
    .prefault({}),
  routes: z
    .array(routeSchema)
    .min(1)
    .default([
      { path: "/api", match: "prefix", service: "gateway" },
      { path: "/readyz", match: "exact", service: "gateway" },
    ]),
});

const weightsSchema = z.strictObject({
  blue: z.number().int().min(0).max(100),
  green: z.number().int().min(0).max(100),
});

export const rolloutSchema = z.strictObject({
  activeColor: z.enum(COLORS).default("blue"),
  versions: z.strictObject({ blue: version.optional(), green: version.optional() }).prefault({}),
  digests: z
    .strictObject({ blue: serviceDigests.optional(), green: serviceDigests.optional() })
    .prefault({})
    .describe(
      "Per color, the repo digest of each service's image at that color's version (the images stack's `digests` output); a service without one runs by tag.",
    ),
  weights: weightsSchema.optional().describe("Canary weights; default 100 to the active color."),
  rollbackWindowSeconds: z.number().int().min(0).max(86400).default(300),
});

export const dnsSchema = z.strictObject({
  provider: z
    .enum(["route53", "cloudflare", "external", "powerdns"])
    .describe(
      "external: the records are made outside this stack (external-dns, a DNS stack, the platform team) from its regionEndpoints output; powerdns is the local environment's server.",
    ),
  zone: hostname.describe("DNS zone that holds the hostname."),
  zoneId: z
    .string()
    .optional()
    .describe("Route53 hosted zone id or Cloudflare zone id; default: looked up by name."),
  policy: z.enum(["failover", "latency"]).default("failover"),
  cloudflare: z
    .strictObject({
      plan: z
        .enum(CLOUDFLARE_PLANS)
        .describe("The zone's plan: it sets the minimum monitor interval and record TTL Cloudflare accepts."),
    })
    .optional()
    .describe("cloudflare only, and required then."),
  ttlSeconds: z.number().int().min(1).max(86400).default(60),
  healthCheck: z
    .strictObject({
      path: z
        .string()
        .regex(/^\/[A-Za-z0-9._~/-]*$/, "must be an absolute URL path")
        .default("/readyz"),
      intervalSeconds: z.number().int().min(1).max(3600).default(30),
      failureThreshold: z.number().int().min(1).max(10).default(3),
      protocol: z
        .enum(["http", "https"])
        .optional()
        .describe("Default: https when edge.tls.enabled, else http."),
    })
    .prefault({}),
});

export const platformSchema = z.strictObject({
  certManager: z
    .strictObject({
      namespace: dnsLabel.default("cert-manager"),
      serviceAccount: dnsLabel.default("cert-manager"),
    })
    .prefault({})
    .describe(
      "Where the platform's cert-manager runs: an ACME Route53 issuer lets its ServiceAccount request tokens for the issuer's own.",
    ),
  operators: z
    .enum(["stack", "provided"])
    .default("stack")
    .describe(
      "stack: this stack installs the Gateway API CRDs, NGINX Gateway Fabric and the Strimzi and Percona operators (Helm charts). provided: the cluster's platform (or a cluster add-ons stack) already runs them, and this stack creates only its namespaces and namespaced objects.",
    ),
  gatewayClassName: dnsLabel
    .optional()
    .describe("provided only: the platform's GatewayClass (NGINX Gateway Fabric); default nginx."),
  monitoring: z
    .enum(["prometheus-operator", "none"])
    .default("prometheus-operator")
    .describe(
      "prometheus-operator: the cluster runs the Prometheus Operator (its ServiceMonitor and PrometheusRule CRDs), and this stack creates a ServiceMonitor and the SLO alert rules per service. none: no monitoring objects (a cluster without the operator would refuse them).",
    ),
  monitoringNamespace: dnsLabel
    .default("monitoring")
    .describe(
      "Where the platform's Prometheus runs: the NetworkPolicies admit it to the services' metrics port.",
    ),
  tracing: z
    .strictObject({
      otlpEndpoint: z
        .url({ protocol: /^https?$/ })
        .optional()
        .describe(
          "OTLP/HTTP base URL of the platform's trace collector (an OpenTelemetry Collector, Jaeger or Tempo), e.g. http://otel-collector.monitoring:4318: the services send their spans to <url>/v1/traces. Unset: tracing is off.",
        ),
      namespace: dnsLabel
        .optional()
        .describe(
          "Where that collector runs: the NetworkPolicies let the services reach it on the URL's port. Default platform.monitoringNamespace.",
        ),
      sampleRatio: z
        .number()
        .min(0)
        .max(1)
        .default(1)
        .describe(
          "Share (0-1) of incoming requests and messages that start a trace; a traced caller's decision is kept.",
        ),
    })
    .prefault({}),
  operatorNamespaces: z
    .array(dnsLabel)
    .min(1)
    .optional()
    .describe(
      "provided only, and required then: the namespaces the platform's Strimzi and Percona operators run in (the NetworkPolicies admit their traffic to the data pods), e.g. [strimzi, psmdb].",
    ),
});

export const capacitySchema = z.strictObject({
  requestsPerSecond: z.number().positive().max(1_000_000),
  p95Ms: z.number().positive().max(60_000),
  p99Ms: z.number().positive().max(60_000),
  maxErrorRate: z.number().min(0).max(1),
  minChecksRate: z.number().min(0).max(1),
  durationSeconds: z.number().int().min(5).max(3600),
  smokeSeconds: z.number().int().min(1).max(600),
  writes: z
    .enum(["orders", "none"])
    .describe(
      "orders: the gates' mix creates orders (10%), which take stock; none: a read-only mix, for environments whose data is real (prod) where a gate must not change business data.",
    ),
  breakpoint: z
    .strictObject({
      ceilingRps: z
        .number()
        .positive()
        .max(1_000_000)
        .describe("The rate the ramp ends at if nothing breaks first."),
      seconds: z.number().int().min(10).max(600).describe("Length of the ramp from 5 req/s to the ceiling."),
      kneeFraction: z
        .number()
        .gt(0)
        .max(1)
        .describe(
          "The capacity gate runs at this share of the knee (the highest rate before p95, p99 or errors broke).",
        ),
    })
    .optional()
    .describe(
      "Local environment only: before the capacity gate, a breakpoint run (load/04-breakpoint.ts) ramps the gates' mix on the live release until p95, p99 or errors break, and the gate's rate becomes kneeFraction of that knee, but never below requestsPerSecond (the floor).",
    ),
});

export const sloSchema = z.strictObject({
  availability: z
    .number()
    .gt(0.5)
    .lt(1)
    .describe(
      "Share of each route's requests answered without a 5xx over the 30-day SLO window, e.g. 0.999; the alerts page on its multi-window burn rates.",
    ),
  latencyP99Ms: z
    .number()
    .positive()
    .max(60_000)
    .describe(
      "Each route's server-side p99 latency objective; an alert fires when it is over it for 5 and 30 minutes.",
    ),
});

export const stackConfigSchema = z.strictObject({
  environment: z.enum(ENVIRONMENTS),
  previewId: z
    .string()
    .regex(/^[a-z0-9-]{1,20}$/, "must be a short id such as pr-123")
    .optional()
    .describe("Preview stacks only: pull-request id used in names."),
  namespace: dnsLabel
    .optional()
    .describe("Kubernetes namespace; default blueprint-<environment>[-<previewId>]."),
  regions: z.array(regionSchema).min(1, "needs at least one region"),
  imageRegistry: z
    .string()
    .regex(
      /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?(\/[a-z0-9._-]+)*$/,
      "must be a registry host with an optional path and no trailing '/', such as ghcr.io/my-org",
    )
    .default(DEFAULT_IMAGE_REGISTRY)
    .describe(
      "Registry the images workflow pushes to; a service without `image` runs <imageRegistry>/blueprint-<name>.",
    ),
  services: z
    .array(serviceSchema.extend({ image: serviceSchema.shape.image.optional() }))
    .min(1)
    .optional()
    .describe("Default: the three sample services."),
  serviceOverrides: z
    .record(dnsLabel, z.record(z.string(), z.unknown()))
    .optional()
    .describe(
      "Per service name, keys that replace that service's value as a whole (replicas, resources, ...); merged over `services` or the sample services.",
    ),
  data: dataSchema.prefault({}),
  platform: platformSchema.prefault({}),
  network: z
    .strictObject({
      dnsCidrs: z
        .array(
          z
            .string()
            .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, "must be an IPv4 CIDR such as 169.254.20.10/32"),
        )
        .default([])
        .describe(
          "DNS servers pods may query besides the kube-dns pods, e.g. [169.254.20.10/32] with NodeLocal DNSCache (its link-local address is not a pod).",
        ),
    })
    .prefault({}),
  edge: edgeSchema,
  rollout: rolloutSchema.prefault({}),
  rolloutFrom: z
    .strictObject({
      activeColor: z.enum(COLORS),
      versions: z.strictObject({ blue: version.optional(), green: version.optional() }),
      weights: weightsSchema.optional(),
      digests: z
        .strictObject({ blue: serviceDigests.optional(), green: serviceDigests.optional() })
        .optional(),
    })
    .optional()
    .describe(
      "Written by the pipeline with each rollout change: the rollout the stack ran when the change was decided. A rollout change without it (or from another starting point) is refused, so a plain `pulumi up` from a stale checkout never undoes a promotion.",
    ),
  dns: dnsSchema,
  capacity: capacitySchema.partial().optional().describe("Overrides of the environment's capacity targets."),
  slo: sloSchema.partial().optional().describe("Overrides of the environment's service level objectives."),
});

export type StackConfigInput = z.input<typeof stackConfigSchema>;
export type StackConfig = z.output<typeof stackConfigSchema>;
export type Color = (typeof COLORS)[number];
export type Environment = (typeof ENVIRONMENTS)[number];
export type ServiceConfig = z.output<typeof serviceSchema>;
export type RegionConfig = z.output<typeof regionSchema>;
export type Capacity = z.output<typeof capacitySchema>;
export type Slo = z.output<typeof sloSchema>;
