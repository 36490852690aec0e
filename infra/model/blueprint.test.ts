import { describe, expect, it } from "vitest";
import { BlueprintConfigError, deployedColors, imageRef, parseBlueprint, workloadName } from "./index.js";
import { canary, deployToIdle, retireIdle, switchColors } from "./rollout.js";
import { loadBlueprint, readStackConfig } from "../config/stack-file.js";

function base(): Record<string, any> {
  return {
    environment: "staging",
    regions: [
      { name: "eu-west", primary: true, cloudRegion: "eu-west-1", kubeconfig: { context: "eu" } },
      { name: "us-east", cloudRegion: "us-east-1", kubeconfig: { context: "us" } },
    ],
    edge: { hostname: "shop.example.com" },
    rollout: { activeColor: "blue", versions: { blue: "1.0.0" } },
    dns: { provider: "route53", zone: "example.com", healthCheck: { intervalSeconds: 10 } },
    data: {
      mongo: {
        backup: { s3: { bucket: "backups", region: "eu-west-1", credentialsSecret: "mongo-backup-s3" } },
      },
    },
  };
}

function problemsOf(config: unknown): string[] {
  try {
    parseBlueprint(config, "test");
  } catch (error) {
    expect(error).toBeInstanceOf(BlueprintConfigError);
    return (error as BlueprintConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error("expected the config to be rejected");
}

describe("a valid stack config", () => {
  it("gets defaults for everything a user need not set", () => {
    const bp = parseBlueprint(base(), "staging");
    expect(bp.namespace).toBe("blueprint-staging");
    expect(bp.primaryRegion.name).toBe("eu-west");
    expect(bp.services.map((s) => `${s.name}:${s.port}`)).toEqual([
      "gateway:8080",
      "catalog:8081",
      "orders:8082",
    ]);
    // preStop sleep 3 s + drainSeconds 10 + 5 s for the kit's closers.
    expect(bp.services[0]!.terminationGracePeriodSeconds).toBe(18);
    expect(bp.services[0]!.shutdownDelayMs).toBe(5000);
    expect(bp.services[0]!.dependsOnServices).toEqual(["catalog", "orders"]);
    expect(bp.rollout).toMatchObject({
      activeColor: "blue",
      idleColor: "green",
      weights: { blue: 100, green: 0 },
    });
    expect(bp.edge.previewHostname).toBe("preview.shop.example.com");
    expect(bp.data.kafka.topics.map((t) => t.replicationFactor)).toEqual([3, 3]);
    expect(bp.capacity.requestsPerSecond).toBe(300);
    expect(deployedColors(bp)).toEqual(["blue"]);
    expect(imageRef(bp, bp.services[1]!, "blue")).toBe("ghcr.io/example/blueprint-catalog:1.0.0");
    expect(workloadName("orders", "green")).toBe("orders-green");
  });

  it("makes a single region primary without saying so", () => {
    const config = base();
    config.regions = [{ name: "solo", kubeconfig: { context: "x" } }];
    config.dns.policy = "failover";
    expect(parseBlueprint(config, "t").primaryRegion.name).toBe("solo");
  });

  it("when drainSeconds is short, then the default shutdown delay is half of it and the grace period follows", () => {
    const config = base();
    config.services = [{ name: "api", image: "r/api", port: 8080, drainSeconds: 4 }];
    config.edge.routes = [{ path: "/", service: "api" }];
    const [api] = parseBlueprint(config, "t").services;
    expect(api).toMatchObject({
      shutdownDelayMs: 2000,
      preStopSeconds: 3,
      terminationGracePeriodSeconds: 12,
    });
  });

  it("when the health check protocol is not set, then it follows edge.tls.enabled", () => {
    expect(parseBlueprint(base(), "t").dns.healthCheck.protocol).toBe("http");
    const tls = base();
    tls.edge.tls = { enabled: true, issuer: { clusterIssuer: "letsencrypt" } };
    expect(parseBlueprint(tls, "t").dns.healthCheck.protocol).toBe("https");
  });

  it("when every region's gateway address is IPv4, then a route53 hostname may be the zone apex (A records)", () => {
    const config = base();
    config.edge.hostname = "example.com";
    config.regions.forEach(
      (r: Record<string, unknown>, i: number) => (r.gatewayAddress = `203.0.113.${i + 1}`),
    );
    expect(parseBlueprint(config, "t").edge.hostname).toBe("example.com");
  });

  it("when the local stack sets no capacity, then its gate rate comes from a breakpoint run, at 40 % of the knee and at least 10 req/s", () => {
    expect(readStackConfig("local").capacity).toBeUndefined();
    expect(loadBlueprint("local").capacity).toMatchObject({
      requestsPerSecond: 10,
      p95Ms: 300,
      p99Ms: 800,
      breakpoint: { ceilingRps: 400, kneeFraction: 0.4 },
    });
  });

  it("when serviceOverrides name a sample service, then only the keys given replace its values", () => {
    const config = {
      ...base(),
      serviceOverrides: { gateway: { replicas: { min: 3, max: 20 }, drainSeconds: 20 } },
    };
    const [gateway, catalog] = parseBlueprint(config, "t").services;
    expect(gateway).toMatchObject({
      name: "gateway",
      image: "ghcr.io/example/blueprint-gateway",
      port: 8080,
      replicas: { min: 3, max: 20 },
      drainSeconds: 20,
      terminationGracePeriodSeconds: 28,
      dependsOnServices: ["catalog", "orders"],
    });
    expect(catalog!.replicas).toEqual({ min: 2, max: 6 });
  });

  it("when imageRegistry is set, then every service without its own image runs <imageRegistry>/blueprint-<name>", () => {
    const config = {
      ...base(),
      imageRegistry: "registry.example.com:5000/shop",
      serviceOverrides: { orders: { image: "docker.io/acme/orders" } },
    };
    const bp = parseBlueprint(config, "t");
    expect(bp.imageRegistry).toBe("registry.example.com:5000/shop");
    expect(bp.services.map((s) => s.image)).toEqual([
      "registry.example.com:5000/shop/blueprint-gateway",
      "registry.example.com:5000/shop/blueprint-catalog",
      "docker.io/acme/orders",
    ]);
    const own: Record<string, any> = { ...base(), imageRegistry: "ghcr.io/acme" };
    own.services = [{ name: "api", port: 8080 }];
    own.edge.routes = [{ path: "/", service: "api" }];
    expect(parseBlueprint(own, "t").services[0]!.image).toBe("ghcr.io/acme/blueprint-api");
  });

  it("when a stack that deploys images is read, then it sets imageRegistry and its sample images use it", () => {
    for (const stack of ["dev", "staging", "prod"]) {
      const registry = readStackConfig(stack).imageRegistry;
      expect(registry, stack).toEqual(expect.any(String));
      expect(
        loadBlueprint(stack).services.map((s) => s.image),
        stack,
      ).toEqual(["gateway", "catalog", "orders"].map((n) => `${registry}/blueprint-${n}`));
    }
  });

  it("when the environment is local, then FAULT_* env vars are accepted (bad-release rehearsals)", () => {
    const config = {
      ...base(),
      environment: "local",
      regions: [{ name: "eu-west" }],
      dns: { provider: "powerdns", zone: "example.com" },
      serviceOverrides: { orders: { env: { FAULT_ERROR_RATE: "0.5" } } },
    };
    expect(parseBlueprint(config, "t").services[2]!.env).toEqual({ FAULT_ERROR_RATE: "0.5" });
  });

  it("merges capacity overrides over the environment defaults", () => {
    const config = { ...base(), capacity: { requestsPerSecond: 42 } };
    expect(parseBlueprint(config, "t").capacity).toMatchObject({ requestsPerSecond: 42, p95Ms: 300 });
  });

  it("merges slo overrides over the environment defaults", () => {
    const config = { ...base(), slo: { latencyP99Ms: 250 } };
    expect(parseBlueprint(config, "t").slo).toEqual({ availability: 0.995, latencyP99Ms: 250 });
  });

  it.each(["local", "dev", "staging", "prod"])("stack file Pulumi.%s.yaml is valid", (stack) => {
    expect(loadBlueprint(stack).stack).toBe(stack);
  });
});

describe("an invalid stack config fails with the key and the fix", () => {
  it("when a region's address or the next one (its peer address) is another region's, then the key names it", () => {
    const config = base();
    config.regions[0].loopbackAddress = "127.0.5.1";
    config.regions[1].loopbackAddress = "127.0.5.2";
    expect(problemsOf(config)).toEqual([
      "blueprint:regions[1].loopbackAddress: 127.0.5.2 (or 127.0.5.3, the next address, which the region also uses) is already used by regions[0] — give each region its own address, at least two apart",
    ]);
    config.regions[1].loopbackAddress = "127.0.5.254";
    expect(problemsOf(config)).toEqual([
      "blueprint:regions[1].loopbackAddress: 127.0.5.254 must end below .254: the region also uses the next address (127.0.5.255)",
    ]);
    config.regions[1].loopbackAddress = "127.0.5.3";
    expect(parseBlueprint(config, "staging").regions.map((r) => r.peerAddress)).toEqual([
      "127.0.5.2",
      "127.0.5.4",
    ]);
  });

  const cases: [string, (c: Record<string, any>) => void, string[]][] = [
    [
      "unknown keys",
      (c) => {
        c.regions[0].zone = "a";
        c.colour = "blue";
      },
      [
        'blueprint:regions[0]: unknown key "zone" — remove or fix the spelling (every key is documented in Pulumi.yaml)',
        'blueprint: unknown key "colour" — remove or fix the spelling (every key is documented in Pulumi.yaml)',
      ],
    ],
    [
      "missing required keys",
      (c) => {
        delete c.edge;
        delete c.dns;
      },
      [
        "blueprint:edge: is required — set it in the stack config",
        "blueprint:dns: is required — set it in the stack config",
      ],
    ],
    [
      "wrong types",
      (c) => (c.regions[0].primary = "yes"),
      ["blueprint:regions[0].primary: expected boolean, got string"],
    ],
    ["impossible numbers", (c) => (c.dns.ttlSeconds = 0), ["blueprint:dns.ttlSeconds: must be >= 1 (got 0)"]],
    [
      "duplicate region names",
      (c) => (c.regions[1].name = "eu-west"),
      [
        'blueprint:regions[1].name: duplicate region name "eu-west" (also regions[0]) — region names must be unique',
      ],
    ],
    [
      "no primary region",
      (c) => (c.regions[0].primary = false),
      ["blueprint:regions: no region is primary — set primary: true on exactly one region"],
    ],
    [
      "two primary regions",
      (c) => (c.regions[1].primary = true),
      [
        "blueprint:regions: 2 regions are primary (eu-west, us-east) — set primary: true on exactly one region",
      ],
    ],
    [
      "active color without a version",
      (c) => (c.rollout.activeColor = "green"),
      [
        'blueprint:rollout.versions.green: the active color "green" has no version — set rollout.versions.green to the image tag to serve',
      ],
    ],
    [
      "weights that do not sum to 100 and traffic to a color without version",
      (c) => (c.rollout.weights = { blue: 80, green: 10 }),
      [
        "blueprint:rollout.weights: blue + green must be 100 (got 80 + 10 = 90)",
        'blueprint:rollout.weights.green: 10% of traffic goes to "green" but it has no version — set rollout.versions.green or its weight to 0',
      ],
    ],
    [
      "replicas min above max",
      (c) => {
        c.services = [{ name: "api", image: "r/api", port: 8080, replicas: { min: 5, max: 3 } }];
        c.edge.routes = [{ path: "/", service: "api" }];
      },
      ["blueprint:services[0].replicas: min (5) is greater than max (3) — raise max or lower min"],
    ],
    [
      "requests above limits",
      (c) => {
        c.services = [
          {
            name: "api",
            image: "r/api",
            port: 8080,
            resources: { requests: { cpu: "2", memory: "64Mi" }, limits: { cpu: "500m", memory: "1Gi" } },
          },
        ];
        c.edge.routes = [{ path: "/", service: "api" }];
      },
      [
        "blueprint:services[0].resources.requests.cpu: 2 exceeds limits.cpu 500m — requests must not exceed limits",
      ],
    ],
    [
      "a shutdown delay that does not fit in the drain deadline",
      (c) => {
        c.services = [{ name: "api", image: "r/api", port: 8080, drainSeconds: 2, shutdownDelayMs: 2000 }];
        c.edge.routes = [{ path: "/", service: "api" }];
      },
      [
        "blueprint:services[0].shutdownDelayMs: 2000 ms is not below drainSeconds (2 s) — the service would refuse to start (SHUTDOWN_DELAY_MS must be below DRAIN_SECONDS); lower shutdownDelayMs or raise drainSeconds",
      ],
    ],
    [
      "a service override for a service that does not exist",
      (c) => (c.serviceOverrides = { payments: { replicas: { min: 1, max: 1 } } }),
      [
        'blueprint:serviceOverrides.payments: "payments" is not a service — use one of: gateway, catalog, orders (or add it to services)',
      ],
    ],
    [
      "a service override with a misspelled key or a bad value",
      (c) => (c.serviceOverrides = { orders: { replica: 2, port: 80 } }),
      [
        "blueprint:serviceOverrides.orders.port: must be >= 1024 (got 80)",
        'blueprint:serviceOverrides.orders: unknown key "replica" — remove or fix the spelling (every key is documented in Pulumi.yaml)',
      ],
    ],
    [
      "a service override that breaks a cross-field rule",
      (c) => (c.serviceOverrides = { catalog: { replicas: { min: 4, max: 2 } } }),
      [
        "blueprint:serviceOverrides.catalog.replicas: min (4) is greater than max (2) — raise max or lower min",
      ],
    ],
    [
      "an image registry with a trailing slash",
      (c) => (c.imageRegistry = "ghcr.io/acme/"),
      [
        "blueprint:imageRegistry: must be a registry host with an optional path and no trailing '/', such as ghcr.io/my-org",
      ],
    ],
    [
      "fault injection outside the local environment, in services or in serviceOverrides",
      (c) => {
        c.services = [
          { name: "api", image: "r/api", port: 8080, env: { FAULT_DELAY_MS: "200", LOG_LEVEL: "info" } },
          { name: "web", image: "r/web", port: 8081 },
        ];
        c.serviceOverrides = { web: { env: { FAULT_ERROR_RATE: "0.1" } } };
        c.edge.routes = [{ path: "/", service: "api" }];
      },
      [
        'blueprint:services[0].env.FAULT_DELAY_MS: fault injection runs only in the local environment (this stack is "staging") — remove FAULT_DELAY_MS from env; rehearse bad releases with the local environment',
        'blueprint:serviceOverrides.web.env.FAULT_ERROR_RATE: fault injection runs only in the local environment (this stack is "staging") — remove FAULT_ERROR_RATE from env; rehearse bad releases with the local environment',
      ],
    ],
    [
      "unknown dependency and route target",
      (c) => {
        c.services = [{ name: "api", image: "r/api", port: 8080, dependsOn: ["payments"] }];
        c.edge.routes = [{ path: "/", service: "web" }];
      },
      [
        'blueprint:services[0].dependsOn[0]: "payments" is neither a data store (redis, mongo, kafka) nor a service (api)',
        'blueprint:edge.routes[0].service: "web" is not a service — use one of: api',
      ],
    ],
    [
      "hostname outside the zone",
      (c) => (c.edge.hostname = "shop.example.org"),
      [
        'blueprint:edge.hostname: "shop.example.org" is not inside dns.zone "example.com" — use a name under the zone or change the zone',
      ],
    ],
    [
      "route53 interval it cannot run",
      (c) => (c.dns.healthCheck.intervalSeconds = 15),
      [
        "blueprint:dns.healthCheck.intervalSeconds: Route53 health checks run every 10 or 30 seconds (got 15) — use 10 or 30",
      ],
    ],
    [
      "TLS without an issuer",
      (c) => (c.edge.tls = { enabled: true }),
      [
        "blueprint:edge.tls.issuer: is required when edge.tls.enabled — set {acme: {email: you@example.com}} (ACME with DNS-01 through dns.provider) or {clusterIssuer: <name>} (the platform's)",
      ],
    ],
    [
      "an ACME Route53 issuer without the role cert-manager assumes",
      (c) => (c.edge.tls = { enabled: true, issuer: { acme: { email: "ops@example.com" } } }),
      [
        "blueprint:edge.tls.issuer.acme.route53.roleArn: is required for a Route53 DNS-01 solver — set the IAM role (route53:ChangeResourceRecordSets and route53:GetChange on the zone) that cert-manager assumes with the issuer's ServiceAccount token",
      ],
    ],
    [
      "an ACME issuer with external DNS and no DNS-01 API",
      (c) => {
        c.dns.provider = "external";
        c.edge.tls = { enabled: true, issuer: { acme: { email: "ops@example.com" } } };
      },
      [
        "blueprint:edge.tls.issuer.acme.dns01: is required with dns.provider external — name the DNS API that solves the DNS-01 challenge (route53 or cloudflare), or use {clusterIssuer: <name>}",
      ],
    ],
    [
      "cloudflare without its plan",
      (c) => (c.dns.provider = "cloudflare"),
      [
        "blueprint:dns.cloudflare.plan: is required with dns.provider cloudflare — set the zone's plan (free, pro, business, enterprise): the shortest monitor interval and TTL Cloudflare accepts depend on it",
      ],
    ],
    [
      "cloudflare intervals and TTLs below the plan's minimum",
      (c) => {
        c.dns.provider = "cloudflare";
        c.dns.cloudflare = { plan: "pro" };
        c.dns.ttlSeconds = 30;
        c.dns.healthCheck.intervalSeconds = 15;
      },
      [
        "blueprint:dns.healthCheck.intervalSeconds: Cloudflare pro monitors run at most every 60 seconds (got 15) — use 60 or more, or a plan that allows shorter",
        "blueprint:dns.ttlSeconds: Cloudflare pro zones take a TTL of at least 60 seconds (got 30) — use 60 or more",
      ],
    ],
    [
      "cloudflare settings with another DNS provider",
      (c) => (c.dns.cloudflare = { plan: "pro" }),
      [
        "blueprint:dns.cloudflare: only used with dns.provider cloudflare (got route53) — remove dns.cloudflare",
      ],
    ],
    [
      "an https health check without TLS at the edge",
      (c) => (c.dns.healthCheck.protocol = "https"),
      [
        "blueprint:dns.healthCheck.protocol: is https but edge.tls.enabled is false, so every health check would fail — set dns.healthCheck.protocol: http or edge.tls.enabled: true",
      ],
    ],
    [
      "a route53 hostname at the zone apex without IPv4 gateway addresses",
      (c) => {
        c.edge.hostname = "example.com";
        c.regions[0].gatewayAddress = "203.0.113.10";
      },
      [
        'blueprint:edge.hostname: "example.com" is the apex of dns.zone, where Route53 cannot hold the CNAME written for a gateway with a hostname address — use a name under the zone (e.g. www.example.com) or set every regions[].gatewayAddress to an IPv4 address',
      ],
    ],
    [
      "a region's Prometheus URL that is not http(s)",
      (c) => (c.regions[0].prometheusUrl = "prometheus.monitoring:9090"),
      [
        "blueprint:regions[0].prometheusUrl: must be the http(s) base URL of Prometheus's API, such as https://prometheus.eu-west-1.example.com",
      ],
    ],
    [
      "latency policy without cloud regions",
      (c) => {
        c.dns.policy = "latency";
        delete c.regions[1].cloudRegion;
      },
      [
        "blueprint:regions[1].cloudRegion: is required when dns.policy is latency with route53 — set the AWS region id, e.g. eu-west-1",
      ],
    ],
    [
      "a cluster region without kubeconfig",
      (c) => delete c.regions[0].kubeconfig,
      [
        'blueprint:regions[0].kubeconfig: is required for environment "staging" — set {secretConfigKey}, {stackReference, output} or {context}',
      ],
    ],
    [
      "a kubeconfig of no known form",
      (c) => (c.regions[0].kubeconfig = { file: "~/.kube/config" }),
      [
        "blueprint:regions[0].kubeconfig: must be one of {secretConfigKey}, {stackReference, output} or {context}",
      ],
    ],
    [
      "powerdns outside the local environment",
      (c) => (c.dns.provider = "powerdns"),
      [
        'blueprint:dns.provider: "powerdns" is the local environment\'s server — use route53, cloudflare or external for "staging"',
      ],
    ],
    [
      "a replication factor above the brokers",
      (c) => (c.data.kafka = { brokersPerRegion: 1, topics: [{ name: "t", replicationFactor: 3 }] }),
      [
        "blueprint:data.kafka.topics[0].replicationFactor: 3 exceeds data.kafka.brokersPerRegion (1) — lower it or add brokers",
      ],
    ],
    [
      "a version tag Kubernetes refuses as a label value",
      (c) => (c.rollout.versions.blue = "1.0.0-"),
      [
        "blueprint:rollout.versions.blue: must be an image tag that is also a Kubernetes label value: letters, digits, '.', '_', '-', at most 63 characters, starting and ending with a letter or digit",
      ],
    ],
    [
      "a version tag longer than a label value may be",
      (c) => (c.rollout.versions.blue = `1.${"0".repeat(62)}`),
      [
        "blueprint:rollout.versions.blue: must be an image tag that is also a Kubernetes label value: letters, digits, '.', '_', '-', at most 63 characters, starting and ending with a letter or digit",
      ],
    ],
    [
      "a one-member Mongo replica set outside dev and preview",
      (c) => (c.data.mongo.membersPerRegion = 1),
      [
        'blueprint:data.mongo.membersPerRegion: the Percona operator refuses a replica set of 1 member(s) in "staging" (it needs an odd number of at least 3) — set 3 or 5',
      ],
    ],
    [
      "an even Mongo replica set",
      (c) => (c.data.mongo.membersPerRegion = 4),
      [
        'blueprint:data.mongo.membersPerRegion: the Percona operator refuses a replica set of 4 member(s) in "staging" (it needs an odd number of at least 3) — set 3 or 5',
      ],
    ],
    [
      "backups on without object storage",
      (c) => delete c.data.mongo.backup.s3,
      [
        'blueprint:data.mongo.backup.s3: backups are on in "staging" and need object storage — set data.mongo.backup.s3 {bucket, region, credentialsSecret}, or data.mongo.backup.enabled: false',
      ],
    ],
    [
      "a p99 below the p95",
      (c) => (c.capacity = { p95Ms: 500, p99Ms: 100 }),
      ["blueprint:capacity.p99Ms: 100 is below capacity.p95Ms (500) — a p99 cannot be lower than the p95"],
    ],
    [
      "a breakpoint run outside the local environment",
      (c) => (c.capacity = { breakpoint: { ceilingRps: 500, seconds: 60, kneeFraction: 0.5 } }),
      [
        'blueprint:capacity.breakpoint: is for the local environment only — the pipeline would ramp this "staging" stack\'s live release until it fails. Remove it and set capacity.requestsPerSecond from a breakpoint run you start on purpose (k6 run load/04-breakpoint.ts, load/README.md)',
      ],
    ],
    [
      "an availability objective of 100 %",
      (c) => (c.slo = { availability: 1 }),
      ["blueprint:slo.availability: must be < 1 (got 1)"],
    ],
    [
      "a preview stack without its id",
      (c) => (c.environment = "preview"),
      ["blueprint:previewId: is required for preview stacks — set it to the pull request id, e.g. pr-42"],
    ],
  ];

  it.each(cases)("when the config has %s", (_name, mutate, expected) => {
    const config = base();
    mutate(config);
    expect(problemsOf(config)).toEqual(expected);
  });

  it("lists every problem in one error message", () => {
    const config = base();
    config.regions[1].name = "eu-west";
    config.rollout.activeColor = "green";
    expect(() => parseBlueprint(config, "prod")).toThrow(
      /^Invalid blueprint config for stack "prod" \(2 problem\(s\)\):\n {2}- blueprint:regions\[1\]\.name/,
    );
  });
});

describe("rollout transitions used by the pipeline", () => {
  const live = { activeColor: "blue" as const, versions: { blue: "1.0.0" } };

  it("deploys to the idle color without moving traffic, then switches, then retires the old color", () => {
    const deployed = deployToIdle(live, "1.1.0");
    expect(deployed).toMatchObject({ activeColor: "blue", versions: { blue: "1.0.0", green: "1.1.0" } });
    const switched = switchColors(deployed);
    expect(switched.activeColor).toBe("green");
    expect(retireIdle(switched).versions).toEqual({ green: "1.1.0" });
  });

  it("refuses to switch to a color without a version", () => {
    expect(() => switchColors(live)).toThrow('cannot switch to "green": it has no version');
  });

  it("sets canary weights that the model accepts", () => {
    const c = canary(deployToIdle(live, "1.1.0"), 10);
    expect(c.weights).toEqual({ blue: 90, green: 10 });
    expect(parseBlueprint({ ...base(), rollout: c }, "t").rollout.weights).toEqual({ blue: 90, green: 10 });
  });
});

describe("deploy by digest", () => {
  const digest = `sha256:${"a1".repeat(32)}`;

  it("when a color's digest of a service is known, then the pod spec pins <image>:<version>@<digest>", () => {
    const config = base();
    config.rollout.digests = { blue: { catalog: digest } };
    const bp = parseBlueprint(config, "t");
    expect(imageRef(bp, bp.services[1]!, "blue")).toBe(`ghcr.io/example/blueprint-catalog:1.0.0@${digest}`);
    // A service without one runs by tag.
    expect(imageRef(bp, bp.services[2]!, "blue")).toBe("ghcr.io/example/blueprint-orders:1.0.0");
  });

  it("when a digest is not sha256:<64 lowercase hex>, names a service the model lacks, or its color has no version, then each is refused naming the key", () => {
    const config = base();
    config.rollout.digests = {
      blue: { catalog: "sha256:ABC", payments: digest },
      green: { orders: digest },
    };
    expect(problemsOf(config)).toEqual([
      "blueprint:rollout.digests.blue.catalog: must be an image digest sha256:<64 lowercase hex digits>",
    ]);
    config.rollout.digests.blue.catalog = digest;
    expect(problemsOf(config)).toEqual([
      'blueprint:rollout.digests.blue.payments: no service is named "payments" — digests are keyed by services[].name (gateway, catalog, orders)',
      'blueprint:rollout.digests.green: "green" has digests but no version — set rollout.versions.green to the tag they were pushed with, or remove them',
    ]);
  });

  it("when a new version goes to the idle color, then its digests replace the old ones, and a version without digests drops them", () => {
    const live = {
      activeColor: "blue" as const,
      versions: { blue: "1.0.0", green: "0.9.0" },
      digests: { blue: { catalog: digest }, green: { catalog: `sha256:${"0".repeat(64)}` } },
    };
    const next = `sha256:${"b2".repeat(32)}`;
    expect(deployToIdle(live, "1.1.0", { catalog: next }).digests).toEqual({
      blue: { catalog: digest },
      green: { catalog: next },
    });
    expect(deployToIdle(live, "1.1.0").digests).toEqual({ blue: { catalog: digest } });
    expect(retireIdle(switchColors(deployToIdle(live, "1.1.0", { catalog: next }))).digests).toEqual({
      green: { catalog: next },
    });
  });
});

describe("a region's podCidr", () => {
  it("when it is not a CIDR, then the key and the expected form are named", () => {
    const config = base();
    config.regions[1].podCidr = "10.0.0.0";
    expect(problemsOf(config)).toEqual([
      "blueprint:regions[1].podCidr: must be an IPv4 CIDR such as 10.1.0.0/16",
    ]);
  });

  it("when it is a CIDR, then the region carries it", () => {
    const config = base();
    config.regions[0].podCidr = "10.1.0.0/16";
    expect(parseBlueprint(config, "t").regions[0]!.podCidr).toBe("10.1.0.0/16");
  });
});
