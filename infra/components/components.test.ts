import { describe, expect, it } from "vitest";
import { parseBlueprint, type Blueprint } from "../model/index.js";
import { rawTestBlueprint } from "../model/test-blueprints.js";
import { monitorArgs } from "./cloudflare-load-balancer.js";
import { planRoute53, poolOrder } from "./dns-plan.js";
import { buildGateway, buildHttpRoutes } from "./edge.js";
import { deadLetterTopicOf } from "../../services/lib/src/clients/kafka-handler.js";
import { buildKafka, deadLetterTopic, replicationHost } from "./kafka-cluster.js";
import { buildMongo, remoteVotes } from "./mongo-replica-set.js";
import { buildNetworkPolicies } from "./network-policies.js";
import { healthCheckArgs } from "./route53-failover.js";
import { buildServiceColor, colorReplicas } from "./workload.js";

// Pure builders, called without any engine.

function bp(overrides: Record<string, unknown> = {}, regions = 3): Blueprint {
  return parseBlueprint(
    {
      ...rawTestBlueprint({ regions }),
      rollout: { activeColor: "blue", versions: { blue: "1.0.0", green: "1.1.0" } },
      dns: {
        provider: "route53",
        zone: "example.com",
        healthCheck: { intervalSeconds: 10, failureThreshold: 3 },
      },
      data: {
        mongo: {
          backup: { s3: { bucket: "backups", region: "eu-west-1", credentialsSecret: "mongo-backup-s3" } },
        },
      },
      ...overrides,
    },
    "test",
  );
}

describe("Route53 plan", () => {
  it("when there are three regions with failover, then SECONDARY aliases a latency set of the two others", () => {
    const plan = planRoute53(bp());
    expect(
      plan.map((r) => [
        r.name,
        r.setIdentifier,
        r.failover ?? r.latencyRegion ?? null,
        r.aliasTo ?? r.region ?? null,
      ]),
    ).toEqual([
      ["shop.example.com", "eu-west", "PRIMARY", "eu-west"],
      ["shop.example.com", "secondary", "SECONDARY", "secondary.shop.example.com"],
      ["secondary.shop.example.com", "us-east", "us-east-1", "us-east"],
      ["secondary.shop.example.com", "ap-southeast", "ap-southeast-1", "ap-southeast"],
      ["preview.shop.example.com", undefined, null, null],
    ]);
  });

  it("when there are two regions, then the other region is the SECONDARY itself", () => {
    const plan = planRoute53(bp({}, 2));
    expect(plan.filter((r) => r.failover).map((r) => `${r.failover}:${r.region}`)).toEqual([
      "PRIMARY:eu-west",
      "SECONDARY:us-east",
    ]);
  });

  it("when the policy is latency, then every region has a latency record with its health check", () => {
    const b = bp({
      dns: {
        provider: "route53",
        zone: "example.com",
        policy: "latency",
        healthCheck: { intervalSeconds: 30 },
      },
    });
    const plan = planRoute53(b).filter((r) => r.latencyRegion);
    expect(plan.map((r) => `${r.name} ${r.latencyRegion} ${r.healthCheck}`)).toEqual([
      "shop.example.com eu-west-1 eu-west",
      "shop.example.com us-east-1 us-east",
      "shop.example.com ap-southeast-1 ap-southeast",
    ]);
  });

  it("when the gateway address is an IP, then the health check probes it with the hostname as Host and SNI", () => {
    const tls = bp({
      edge: {
        hostname: "shop.example.com",
        tls: { enabled: true, issuer: { clusterIssuer: "letsencrypt" } },
      },
    });
    expect(healthCheckArgs(tls, "203.0.113.7")).toEqual({
      type: "HTTPS",
      port: 443,
      resourcePath: "/readyz",
      requestInterval: 10,
      failureThreshold: 3,
      ipAddress: "203.0.113.7",
      fqdn: "shop.example.com",
      enableSni: true,
    });
    expect(healthCheckArgs(tls, "lb.elb.example.net").fqdn).toBe("lb.elb.example.net");
  });

  it("when TLS is off at the edge, then the health check probes plain HTTP on port 80", () => {
    expect(healthCheckArgs(bp(), "203.0.113.7")).toMatchObject({ type: "HTTP", port: 80 });
    expect(healthCheckArgs(bp(), "203.0.113.7").enableSni).toBeUndefined();
  });
});

describe("Cloudflare", () => {
  it("when the primary is not listed first, then it still leads the pool order and the monitor sends the Host", () => {
    const b = bp();
    b.regions.reverse();
    expect(poolOrder(b).map((r) => r.name)).toEqual(["eu-west", "ap-southeast", "us-east"]);
    expect(monitorArgs(b)).toMatchObject({
      path: "/readyz",
      interval: 10,
      consecutiveDown: 3,
      retries: 0,
      header: { Host: ["shop.example.com"] },
    });
  });
});

describe("data tier", () => {
  it("when Mongo spans regions, then the primary lists the others as lower-priority external nodes, at most 7 and an odd number voting, and they run unmanaged", () => {
    const b = bp();
    const primary = buildMongo(b, b.regions[0]!, {} as never)[2]!.spec as Record<string, any>;
    expect(primary.unmanaged).toBe(false);
    expect(primary.multiCluster).toEqual({ enabled: true, DNSSuffix: "svc.clusterset.local" });
    const host = (region: string, i: number) =>
      `mongo-${region}-rs0-${i}.blueprint-prod.svc.clusterset.local`;
    const voter = (region: string, i: number) => ({
      host: host(region, i),
      port: 27017,
      votes: 1,
      priority: 1,
    });
    const nonVoter = (region: string, i: number) => ({
      host: host(region, i),
      port: 27017,
      votes: 0,
      priority: 0,
    });
    // 3 voting members in the primary region + 2 in each other region = 7, MongoDB's maximum.
    expect(primary.replsets[0].externalNodes).toEqual([
      voter("us-east", 0),
      voter("us-east", 1),
      nonVoter("us-east", 2),
      voter("ap-southeast", 0),
      voter("ap-southeast", 1),
      nonVoter("ap-southeast", 2),
    ]);
    expect(primary.replsets[0].size).toBe(3);
    expect(primary.replsets[0].replsetOverrides).toEqual({
      "mongo-eu-west-rs0-0": { priority: 3 },
      "mongo-eu-west-rs0-1": { priority: 3 },
      "mongo-eu-west-rs0-2": { priority: 3 },
    });
    const replica = buildMongo(b, b.regions[1]!, {} as never)[2]!.spec as Record<string, any>;
    expect(replica).toMatchObject({ unmanaged: true, updateStrategy: "OnDelete", users: [] });
    // Two regions of 3: 3 + 2 = 5 voters (6 would be even).
    expect(remoteVotes(3, [3])).toEqual([[true, true, false]]);
    expect(remoteVotes(1, [1])).toEqual([[false]]);
    expect(remoteVotes(3, [3, 3, 3])).toEqual([
      [true, true, false],
      [true, false, false],
      [true, false, false],
    ]);
  });

  it("when backups are on, then the managed site backs up to its bucket daily with PITR, and every site names the PBM image the CRD requires", () => {
    const b = bp();
    const [primary, replica] = [0, 1].map(
      (i) => (buildMongo(b, b.regions[i]!, {} as never)[2]!.spec as Record<string, any>).backup,
    );
    expect(primary).toMatchObject({
      enabled: true,
      image: "percona/percona-backup-mongodb:2.11.0",
      storages: {
        s3: {
          type: "s3",
          s3: { bucket: "backups", region: "eu-west-1", credentialsSecret: "mongo-backup-s3" },
        },
      },
      pitr: { enabled: true },
      tasks: [
        { name: "daily", enabled: true, schedule: "0 3 * * *", keep: 7, storageName: "s3", type: "logical" },
      ],
    });
    expect(replica).toEqual({ enabled: false, image: "percona/percona-backup-mongodb:2.11.0" });
  });

  it("when dev runs one member, then the CR sets the operator's unsafeFlags.replsetSize and keeps no backup", () => {
    const dev = bp({ environment: "dev", data: {} }, 1);
    const spec = buildMongo(dev, dev.regions[0]!, {} as never)[2]!.spec as Record<string, any>;
    expect(spec.replsets[0].size).toBe(1);
    expect(spec.unsafeFlags).toEqual({ replsetSize: true });
    expect(spec.backup).toEqual({ enabled: false, image: "percona/percona-backup-mongodb:2.11.0" });
    expect(
      (buildMongo(bp(), bp().regions[0]!, {} as never)[2]!.spec as Record<string, any>).unsafeFlags,
    ).toBeUndefined();
  });

  it("when there are several regions, then each Kafka cluster, its bootstrap and MirrorMaker's source carry the region's name", () => {
    const b = bp();
    const names = b.regions.map((r) => buildKafka(b, r).find((o) => o.kind === "Kafka")!.metadata.name);
    expect(names).toEqual(["kafka-eu-west", "kafka-us-east", "kafka-ap-southeast"]);
    const pool = buildKafka(b, b.regions[1]!).find((o) => o.kind === "KafkaNodePool")!;
    expect(pool.metadata.labels!["strimzi.io/cluster"]).toBe("kafka-us-east");
    const [source, target] = (buildKafka(b, b.regions[1]!).at(-1)!.spec as Record<string, any>).clusters;
    expect(source.bootstrapServers).toBe(
      "kafka-eu-west-kafka-bootstrap.blueprint-prod.svc.clusterset.local:9094",
    );
    expect(source.tls.trustedCertificates[0].secretName).toBe("kafka-eu-west-cluster-ca-cert");
    expect(target.bootstrapServers).toBe("kafka-us-east-kafka-bootstrap:9092");
    const listeners = (buildKafka(b, b.regions[0]!)[1]!.spec as Record<string, any>).kafka.listeners;
    // The MCS spec's per-pod name carries the cluster id (default the region name); MirrorMaker's bootstrap name is in
    // the brokers' certificate.
    expect(listeners[1].configuration.brokers[0].advertisedHost).toBe(
      "kafka-eu-west-pool-0.eu-west.kafka-eu-west-kafka-brokers.blueprint-prod.svc.clusterset.local",
    );
    expect(listeners[1].configuration.bootstrap.alternativeNames).toEqual([
      source.bootstrapServers.split(":")[0],
    ]);
    expect(replicationHost(b, { ...b.regions[0]!, clusterId: "gke-eu-1" }, 2)).toBe(
      "kafka-eu-west-pool-2.gke-eu-1.kafka-eu-west-kafka-brokers.blueprint-prod.svc.clusterset.local",
    );
    const [deployment] = buildServiceColor(b, b.regions[2]!, b.services[1]!, "blue");
    const env = (deployment!.spec as any).template.spec.containers[0].env as {
      name: string;
      value?: string;
    }[];
    expect(env.find((e) => e.name === "KAFKA_BROKERS")!.value).toBe(
      "kafka-ap-southeast-kafka-bootstrap.blueprint-prod.svc.cluster.local:9092",
    );
  });

  it("when a consumer dead-letters, then the cluster has the topic it writes to", () => {
    expect(deadLetterTopic("orders.events")).toBe(deadLetterTopicOf("orders.events"));
  });

  it("when Kafka is mirrored, then only non-primary regions run MirrorMaker 2 from the primary", () => {
    const b = bp();
    expect(buildKafka(b, b.regions[0]!).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "KafkaNodePool/pool",
      "Kafka/kafka-eu-west",
      "KafkaTopic/orders.events",
      "KafkaTopic/orders.events.dlq",
      "KafkaTopic/catalog.events",
      "KafkaTopic/catalog.events.dlq",
    ]);
    const mm2 = buildKafka(b, b.regions[1]!).at(-1)!;
    expect(mm2.kind).toBe("KafkaMirrorMaker2");
    expect((mm2.spec as Record<string, any>).mirrors[0]).toMatchObject({
      sourceCluster: "eu-west",
      targetCluster: "us-east",
      topicsPattern: "orders\\.events|catalog\\.events",
    });
  });
});

describe("blue-green workloads", () => {
  it("when green is idle with a version, then it runs the service's full replicas and calls only green services", () => {
    const b = bp();
    const gateway = b.services[0]!;
    expect(colorReplicas(b, gateway, "green")).toEqual({ min: 2, max: 6 });
    expect(colorReplicas(b, gateway, "blue")).toEqual({ min: 2, max: 6 });
    const hpa = buildServiceColor(b, b.regions[0]!, gateway, "green").find(
      (o) => o.kind === "HorizontalPodAutoscaler",
    );
    expect(hpa!.spec).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
    const [deployment] = buildServiceColor(b, b.regions[0]!, gateway, "green");
    const env = Object.fromEntries(
      ((deployment!.spec as any).template.spec.containers[0].env as { name: string; value?: string }[]).map(
        (e) => [e.name, e.value],
      ),
    );
    expect(env).toMatchObject({
      COLOR: "green",
      SERVICE_VERSION: "1.1.0",
      CATALOG_URL: "http://catalog-green.blueprint-prod.svc.cluster.local:8081",
      ORDERS_URL: "http://orders-green.blueprint-prod.svc.cluster.local:8082",
      DRAIN_SECONDS: "10",
      SHUTDOWN_DELAY_MS: "5000",
    });
    const pod = (deployment!.spec as any).template.spec;
    expect(pod.containers[0].lifecycle.preStop.sleep.seconds).toBe(3);
    // preStop 3 s + drain deadline 10 s + 5 s: the kit's closers finish by DRAIN_SECONDS + 4 s after SIGTERM.
    expect(pod.terminationGracePeriodSeconds).toBe(18);
  });

  it("when a color has no version, then it runs no replicas and cannot be built", () => {
    const b = bp({ rollout: { activeColor: "blue", versions: { blue: "1.0.0" } } });
    expect(colorReplicas(b, b.services[1]!, "green")).toEqual({ min: 0, max: 0 });
    expect(() => buildServiceColor(b, b.regions[0]!, b.services[1]!, "green")).toThrow(
      'color "green" has no version (rollout.versions.green)',
    );
  });

  it("when a stack still sets rollout.idleReplicas, then it is rejected as an unknown key", () => {
    expect(() =>
      bp({ rollout: { activeColor: "blue", versions: { blue: "1.0.0" }, idleReplicas: 1 } }),
    ).toThrow('blueprint:rollout: unknown key "idleReplicas"');
  });

  it("when a canary sends 10% to green, then the public route carries 90/10 and the preview host still only green", () => {
    const b = bp({
      rollout: {
        activeColor: "blue",
        versions: { blue: "1.0.0", green: "1.1.0" },
        weights: { blue: 90, green: 10 },
      },
    });
    const [pub, preview] = buildHttpRoutes(b);
    expect((pub!.spec as any).rules[0].backendRefs.map((r: any) => `${r.name}=${r.weight}`)).toEqual([
      "gateway-blue=90",
      "gateway-green=10",
    ]);
    expect((preview!.spec as any).hostnames).toEqual(["preview.shop.example.com"]);
    expect((preview!.spec as any).rules[0].backendRefs.map((r: any) => r.name)).toEqual(["gateway-green"]);
  });
});

describe("network policies", () => {
  it("when Mongo spans regions, then services using it may reach the other regions' members and nothing else outside", () => {
    const b = bp();
    const egress = buildNetworkPolicies(b, b.regions[1]!).find(
      (p) => p.metadata.name === "orders-blue-egress",
    )!;
    const cidrs = (egress.spec as any).egress.flatMap((r: any) =>
      r.to.filter((t: any) => t.ipBlock).map((t: any) => `${t.ipBlock.cidr}:${r.ports[0].port}`),
    );
    expect(cidrs).toEqual(["10.1.0.0/16:27017", "10.3.0.0/16:27017"]);
    const gateway = buildNetworkPolicies(b, b.regions[1]!).find(
      (p) => p.metadata.name === "gateway-blue-egress",
    )!;
    expect(JSON.stringify(gateway)).not.toContain("ipBlock");
  });

  it("when a region names replication CIDRs (Submariner's ClusterIPs) and DNS listens on NodeLocal DNSCache, then the policies admit exactly those", () => {
    const base = bp();
    const b = bp({
      regions: base.regions.map((r, i) => ({
        name: r.name,
        primary: r.primary,
        cloudRegion: r.cloudRegion,
        podCidr: r.podCidr,
        kubeconfig: r.kubeconfig,
        ...(i === 0 ? { replicationCidrs: ["10.1.0.0/16", "10.201.0.0/16"] } : {}),
      })),
      network: { dnsCidrs: ["169.254.20.10/32"] },
    });
    const policies = buildNetworkPolicies(b, b.regions[1]!);
    const egress = policies.find((p) => p.metadata.name === "orders-blue-egress")!;
    const cidrs = (egress.spec as any).egress.flatMap((r: any) =>
      r.to.filter((t: any) => t.ipBlock).map((t: any) => `${t.ipBlock.cidr}:${r.ports[0].port}`),
    );
    expect(cidrs).toEqual(["10.1.0.0/16:27017", "10.201.0.0/16:27017", "10.3.0.0/16:27017"]);
    const dns = (policies.find((p) => p.metadata.name === "allow-dns")!.spec as any).egress[0].to;
    expect(dns.map((t: any) => t.ipBlock?.cidr ?? t.podSelector.matchLabels["k8s-app"])).toEqual([
      "kube-dns",
      "169.254.20.10/32",
    ]);
  });
});

describe("tracing", () => {
  const containerEnv = (b: Blueprint) => {
    const [deployment] = buildServiceColor(b, b.regions[0]!, b.services[2]!, "blue");
    return Object.fromEntries(
      ((deployment!.spec as any).template.spec.containers[0].env as { name: string; value?: string }[]).map(
        (e) => [e.name, e.value],
      ),
    );
  };
  const collectorRules = (b: Blueprint) =>
    (
      buildNetworkPolicies(b, b.regions[0]!).find((p) => p.metadata.name === "orders-blue-egress")!
        .spec as any
    ).egress
      .filter((r: any) => r.to.some((t: any) => t.namespaceSelector))
      .map(
        (r: any) =>
          `${r.to[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"]}:${r.ports[0].port}`,
      );

  it("when the platform names an OTLP collector, then every pod sends it spans and may reach it on its port", () => {
    const b = bp({
      platform: { tracing: { otlpEndpoint: "http://otel-collector.observability:4318", sampleRatio: 0.1 } },
    });
    expect(containerEnv(b)).toMatchObject({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector.observability:4318",
      TRACE_SAMPLE_RATIO: "0.1",
    });
    // The collector's namespace defaults to the monitoring namespace; one named explicitly wins.
    expect(collectorRules(b)).toEqual(["monitoring:4318"]);
    const elsewhere = bp({
      platform: { tracing: { otlpEndpoint: "https://otlp.example.com", namespace: "observability" } },
    });
    expect(collectorRules(elsewhere)).toEqual(["observability:443"]);
  });

  it("when no collector is named, then tracing is off: no OTLP variable and no egress for it", () => {
    const b = bp();
    expect(containerEnv(b)).not.toHaveProperty("OTEL_EXPORTER_OTLP_ENDPOINT");
    expect(collectorRules(b)).toEqual([]);
  });

  it("when the endpoint is not an http(s) URL or the ratio is out of range, then the stack fails naming the key", () => {
    expect(() => bp({ platform: { tracing: { otlpEndpoint: "grpc://collector:4317" } } })).toThrow(
      /blueprint:platform\.tracing\.otlpEndpoint/,
    );
    expect(() => bp({ platform: { tracing: { sampleRatio: 2 } } })).toThrow(
      /blueprint:platform\.tracing\.sampleRatio/,
    );
  });
});

describe("edge routes", () => {
  it("when there are more than 16 routes, then they spill into further HTTPRoutes (Gateway API allows 16 rules each)", () => {
    const services = Array.from({ length: 20 }, (_, i) => ({
      name: `s${i}`,
      image: `ghcr.io/x/s${i}`,
      port: 9000 + i,
    }));
    const b = bp({
      services,
      edge: {
        hostname: "shop.example.com",
        routes: services.map((s) => ({ path: `/${s.name}`, service: s.name })),
      },
    });
    const routes = buildHttpRoutes(b).map((r) => `${r.metadata.name}:${(r.spec as any).rules.length}`);
    expect(routes).toEqual(["public:16", "public-2:4", "preview:16", "preview-2:4", "health:1"]);
  });
});

describe("edge certificate", () => {
  const acme = (extra: Record<string, unknown> = {}) => ({
    hostname: "shop.example.com",
    tls: { enabled: true, issuer: { acme: { email: "ops@example.com", ...extra } } },
  });
  const kinds = (b: Blueprint) => buildGateway(b).map((o) => `${o.kind}/${o.metadata.name}`);

  it("when the stack issues through ACME on Route53, then DNS-01 authenticates with the issuer's own ServiceAccount token", () => {
    const roleArn = "arn:aws:iam::123456789012:role/dns01";
    const b = bp({ edge: acme({ route53: { roleArn } }), dns: { ...bp().dns, zoneId: "Z123" } });
    expect(kinds(b)).toEqual([
      "Gateway/edge",
      "Issuer/edge-acme",
      "ServiceAccount/edge-acme-dns01",
      "Role/edge-acme-dns01-token",
      "RoleBinding/edge-acme-dns01-token",
      "Certificate/edge-tls",
    ]);
    const objects = buildGateway(b);
    const issuer = objects.find((o) => o.kind === "Issuer")!.spec as any;
    expect(issuer.acme.solvers).toEqual([
      {
        selector: { dnsZones: ["example.com"] },
        dns01: {
          route53: {
            region: "us-east-1",
            role: roleArn,
            hostedZoneID: "Z123",
            auth: { kubernetes: { serviceAccountRef: { name: "edge-acme-dns01" } } },
          },
        },
      },
    ]);
    expect(JSON.stringify(issuer)).not.toContain("http01");
    // Only the platform's cert-manager may mint that account's tokens.
    expect(objects.find((o) => o.kind === "RoleBinding")).toMatchObject({
      subjects: [{ kind: "ServiceAccount", name: "cert-manager", namespace: "cert-manager" }],
    });
    expect(objects.find((o) => o.kind === "Certificate")!.spec).toMatchObject({
      issuerRef: { kind: "Issuer", name: "edge-acme" },
    });
  });

  it("when DNS is Cloudflare, then DNS-01 reads the scoped token Secret and no RBAC is made", () => {
    const b = bp({
      edge: acme(),
      dns: { provider: "cloudflare", zone: "example.com", cloudflare: { plan: "business" } },
    });
    expect(kinds(b)).toEqual(["Gateway/edge", "Issuer/edge-acme", "Certificate/edge-tls"]);
    expect((buildGateway(b)[1]!.spec as any).acme.solvers[0].dns01).toEqual({
      cloudflare: { apiTokenSecretRef: { name: "cloudflare-dns01", key: "api-token" } },
    });
  });

  it("when the platform names a ClusterIssuer, then the stack makes no issuer of its own", () => {
    const b = bp({
      edge: { hostname: "shop.example.com", tls: { enabled: true, issuer: { clusterIssuer: "le" } } },
    });
    expect(kinds(b)).toEqual(["Gateway/edge", "Certificate/edge-tls"]);
    expect(buildGateway(b)[1]!.spec).toMatchObject({ issuerRef: { kind: "ClusterIssuer", name: "le" } });
  });
});
