import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { readStackConfig } from "./config/stack-file.js";
import { DATA_POD_LABELS, edgeNamespace, type K8sObject } from "./components/meta.js";
import { deployedColors, parseBlueprint, type Blueprint } from "./model/index.js";
import { MOCK_SECRET_PREFIX, mockGatewayAddress, runUnderMockEngine } from "./render/mock-engine.js";
import { renderBlueprint, type StackRender } from "./render/render.js";

// Policies over what the program would create, run under the mock engine (the test double for Pulumi's engine).

function blueprint(stack: string, rollout?: Record<string, unknown>): Blueprint {
  const config = readStackConfig(stack);
  if (rollout) config.rollout = { ...(config.rollout as object), ...rollout };
  return parseBlueprint(config, stack);
}

const TWO_COLORS = { activeColor: "blue", versions: { blue: "1.0.0", green: "1.1.0" } };
const renders: Record<string, { bp: Blueprint; render: StackRender }> = {};
const objects = (name: string) => renders[name]!.render.regions.flatMap((r) => r.objects);
const ofKind = (name: string, kind: string) => objects(name).filter((o) => o.kind === kind);
type Spec = Record<string, any>;
const spec = (o: K8sObject) => o.spec as Spec;

beforeAll(async () => {
  for (const [name, bp] of [
    ["dev", blueprint("dev")],
    ["staging", blueprint("staging", TWO_COLORS)],
    ["prod", blueprint("prod", TWO_COLORS)],
  ] as const) {
    renders[name] = { bp, render: await renderBlueprint(bp) };
  }
});

const STACKS = ["dev", "staging", "prod"];

describe.each(STACKS)("stack %s", (name) => {
  it("every Deployment has startup, liveness and readiness probes, requests and limits", () => {
    const deployments = ofKind(name, "Deployment");
    expect(deployments.length).toBeGreaterThan(0);
    for (const d of deployments) {
      for (const c of spec(d).template.spec.containers) {
        expect(c.startupProbe?.httpGet?.path, d.metadata.name).toBe("/livez");
        expect(c.livenessProbe?.httpGet?.path, d.metadata.name).toBe("/livez");
        expect(c.readinessProbe?.httpGet?.path, d.metadata.name).toBe("/readyz");
        expect(Object.keys(c.resources.limits)).toEqual(expect.arrayContaining(["cpu", "memory"]));
        expect(Object.keys(c.resources.requests)).toEqual(expect.arrayContaining(["cpu", "memory"]));
      }
      const pod = spec(d).template.spec;
      const container = pod.containers[0];
      const env = Object.fromEntries(container.env.map((e: Spec) => [e.name, e.value]));
      expect(pod.terminationGracePeriodSeconds, d.metadata.name).toBe(
        container.lifecycle.preStop.sleep.seconds + Number(env.DRAIN_SECONDS) + 5,
      );
      expect(Number(env.SHUTDOWN_DELAY_MS)).toBeLessThan(Number(env.DRAIN_SECONDS) * 1000);
    }
  });

  it("every pod we run is hardened (non-root, read-only root, no privilege escalation, drop ALL, seccomp)", () => {
    const workloads = [...ofKind(name, "Deployment"), ...ofKind(name, "StatefulSet")];
    for (const w of workloads) {
      const pod = spec(w).template.spec;
      expect(pod.securityContext.runAsNonRoot, w.metadata.name).toBe(true);
      expect(pod.securityContext.seccompProfile.type).toBe("RuntimeDefault");
      for (const c of pod.containers) {
        expect(c.securityContext, w.metadata.name).toMatchObject({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        });
      }
    }
  });

  it("every service pod reads the active color from the rollout ConfigMap and leaves Kafka topics to Strimzi", () => {
    const { bp } = renders[name]!;
    for (const region of renders[name]!.render.regions) {
      const configMaps = region.objects.filter(
        (o) => o.kind === "ConfigMap" && o.metadata.name === "rollout",
      );
      expect(configMaps.map((c) => c.data)).toEqual([{ "active-color": bp.rollout.activeColor }]);
    }
    for (const d of ofKind(name, "Deployment")) {
      const pod = spec(d).template.spec;
      const container = pod.containers[0];
      const env = Object.fromEntries(container.env.map((e: Spec) => [e.name, e.value]));
      expect(env.ACTIVE_COLOR_FILE, d.metadata.name).toBe("/etc/blueprint/rollout/active-color");
      expect(container.volumeMounts).toContainEqual({
        name: "rollout",
        mountPath: "/etc/blueprint/rollout",
        readOnly: true,
      });
      // optional: a missing ConfigMap leaves an empty directory (consumers fail open), not a pod stuck creating.
      expect(pod.volumes).toContainEqual({ name: "rollout", configMap: { name: "rollout", optional: true } });
      if (env.KAFKA_BROKERS) expect(env.KAFKA_CREATE_TOPICS, d.metadata.name).toBe("false");
    }
  });

  it("no data store is reachable from outside its namespace", () => {
    const { bp } = renders[name]!;
    const peerCidrs = new Set(bp.regions.flatMap((r) => (r.podCidr ? [r.podCidr] : [])));
    const dataSelectors = Object.values(DATA_POD_LABELS);
    const selectsData = (p: K8sObject) =>
      dataSelectors.some(
        (labels) =>
          Object.entries(spec(p).podSelector.matchLabels ?? {}).every(
            ([k, v]) => (labels as Record<string, string>)[k] === v,
          ) && Object.keys(spec(p).podSelector.matchLabels ?? {}).length > 0,
      );
    const dataPolicies = ofKind(name, "NetworkPolicy").filter(selectsData);
    expect(dataPolicies.length).toBeGreaterThan(0);
    const foreignPeers: string[] = [];
    for (const p of dataPolicies) {
      for (const rule of spec(p).ingress ?? []) {
        for (const peer of rule.from ?? []) {
          const ns = peer.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"];
          const allowed =
            (peer.podSelector !== undefined && !peer.namespaceSelector && !peer.ipBlock) ||
            bp.platform.operatorNamespaces.includes(ns) ||
            (peer.ipBlock !== undefined &&
              peerCidrs.has(peer.ipBlock.cidr) &&
              !peer.ipBlock.cidr.startsWith("0.0.0.0"));
          if (!allowed) foreignPeers.push(`${p.metadata.name}: ${JSON.stringify(peer)}`);
        }
      }
    }
    expect(foreignPeers).toEqual([]);
    for (const s of ofKind(name, "Service")) expect(["ClusterIP", undefined]).toContain(spec(s).type);
    const dataPolicyNames = ofKind(name, "NetworkPolicy").map((p) => p.metadata.name);
    expect(dataPolicyNames).toContain("default-deny");
  });

  it("the active color gets weight 100 and the preview host only the idle color", () => {
    const { bp } = renders[name]!;
    const routes = ofKind(name, "HTTPRoute");
    for (const route of routes.filter((r) => r.metadata.name === "public")) {
      for (const rule of spec(route).rules) {
        const weights = Object.fromEntries(
          rule.backendRefs.map((b: Spec) => [b.name.split("-").pop(), b.weight]),
        );
        expect(weights[bp.rollout.activeColor]).toBe(100);
        expect(Object.values(weights).reduce((a: number, b) => a + (b as number), 0)).toBe(100);
      }
    }
    const previews = routes.filter((r) => r.metadata.name === "preview");
    expect(previews.length).toBe(bp.rollout.versions[bp.rollout.idleColor] ? bp.regions.length : 0);
    for (const p of previews) {
      for (const rule of spec(p).rules)
        expect(rule.backendRefs.map((b: Spec) => b.name.split("-").pop())).toEqual([bp.rollout.idleColor]);
    }
  });

  it("NetworkPolicies exist for each allowed path: edge → routed service, service → service (same color), service → data", () => {
    const { bp } = renders[name]!;
    const policies = new Map(
      renders[name]!.render.regions[0]!.objects.filter((o) => o.kind === "NetworkPolicy").map((p) => [
        p.metadata.name,
        spec(p),
      ]),
    );
    const peers = (policy: string, dir: "ingress" | "egress") =>
      ((policies.get(policy)?.[dir] ?? []) as Spec[]).flatMap(
        (rule) => (rule[dir === "ingress" ? "from" : "to"] ?? []) as Spec[],
      );
    const hasPod = (list: Spec[], labels: object) =>
      list.some(
        (p) =>
          expect.objectContaining({ matchLabels: labels }).asymmetricMatch(p.podSelector) &&
          !p.namespaceSelector,
      );
    const routed = new Set(bp.edge.routes.map((r) => r.service));
    for (const color of deployedColors(bp)) {
      for (const svc of bp.services) {
        const ingress = peers(`${svc.name}-${color}-ingress`, "ingress");
        const egress = peers(`${svc.name}-${color}-egress`, "egress");
        if (routed.has(svc.name)) {
          expect(
            ingress.map((p) => p.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"]),
          ).toContain(edgeNamespace(bp.namespace));
        }
        for (const caller of bp.services.filter((s) => s.dependsOnServices.includes(svc.name))) {
          expect(
            hasPod(ingress, { app: caller.name, color }),
            `${caller.name}-${color} → ${svc.name}-${color}`,
          ).toBe(true);
        }
        for (const dep of svc.dependsOnServices) expect(hasPod(egress, { app: dep, color })).toBe(true);
        for (const store of svc.dependsOnData) {
          expect(hasPod(egress, DATA_POD_LABELS[store]), `${svc.name}-${color} → ${store}`).toBe(true);
          const users = peers(`${store}-from-services`, "ingress").flatMap(
            (p) => p.podSelector.matchExpressions[0].values,
          );
          expect(users).toContain(svc.name);
        }
      }
    }
    expect(policies.get("allow-dns")!.podSelector).toEqual({});
    expect(policies.get("default-deny")).toMatchObject({
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
      ingress: [],
      egress: [],
    });
  });

  it("every region has its DNS health check and its record (route53) or pool (cloudflare)", () => {
    const { bp, render } = renders[name]!;
    const named = (type: string) => render.dns.filter((d) => d.type === type).map((d) => d.name);
    for (const region of bp.regions) {
      if (bp.dns.provider === "route53") {
        expect(named("aws:route53/healthCheck:HealthCheck")).toContain(`dns-health-${region.name}`);
        const records = render.dns.filter(
          (d) => d.type === "aws:route53/record:Record" && d.inputs.setIdentifier === region.name,
        );
        expect(records).toHaveLength(1);
        // The mock engine gives every resource the id `<name>-id`: the record uses its own region's check.
        expect(records[0]!.inputs.healthCheckId).toBe(`dns-health-${region.name}-id`);
      } else {
        expect(named("cloudflare:index/loadBalancerPool:LoadBalancerPool")).toContain(
          `dns-pool-${region.name}`,
        );
      }
    }
  });
});

describe("blue-green", () => {
  it("switching the active color changes only routing", async () => {
    const before = await renderBlueprint(blueprint("staging", TWO_COLORS));
    const after = await renderBlueprint(blueprint("staging", { ...TWO_COLORS, activeColor: "green" }));
    const index = (r: StackRender) =>
      new Map(
        r.regions.flatMap((g) =>
          g.objects.map((o) => [`${g.region}/${o.kind}/${o.metadata.name}`, o] as const),
        ),
      );
    const a = index(before);
    const b = index(after);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    const changed = [...a.keys()].filter((k) => JSON.stringify(a.get(k)) !== JSON.stringify(b.get(k)));
    expect(changed.length).toBeGreaterThan(0);
    // Routing: the HTTPRoutes, and the rollout ConfigMap that tells consumers which color is live.
    for (const key of changed) expect(key, key).toMatch(/\/(HTTPRoute\/.*|ConfigMap\/rollout)$/);
    for (const region of after.regions) {
      const configMap = region.objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "rollout");
      expect(configMap!.data).toEqual({ "active-color": "green" });
    }
    expect(changed.some((k) => k.includes("/HTTPRoute/public"))).toBe(true);
  });
});

describe("secrets", () => {
  it("never appear in plaintext: outputs carry them only as secrets, Secrets are redacted, pods use secretKeyRef", async () => {
    const run = await runUnderMockEngine(blueprint("staging"));
    for (const [key, value] of Object.entries(run.outputs)) {
      const output = pulumi.output(value as pulumi.Input<object>) as pulumi.Output<unknown>;
      const [plain, secret] = await Promise.all([
        new Promise<unknown>((resolve) => output.apply(resolve)),
        (output as unknown as { isSecret: Promise<boolean> }).isSecret,
      ]);
      if (JSON.stringify(plain).includes(MOCK_SECRET_PREFIX)) expect(secret, key).toBe(true);
    }
    expect(JSON.stringify(await new Promise((r) => run.outputs.credentials.apply(r)))).toContain(
      MOCK_SECRET_PREFIX,
    );
    const render = renders.staging!.render;
    expect(JSON.stringify(render)).not.toContain(MOCK_SECRET_PREFIX);
    const env = ofKind("staging", "Deployment").flatMap((d) => spec(d).template.spec.containers[0].env);
    expect(
      env.filter((e: Spec) => /PASSWORD/.test(e.name)).every((e: Spec) => e.valueFrom?.secretKeyRef),
    ).toBe(true);
  });
});

/** The value of a Pulumi secret as the engine receives it; fails when the value is not marked secret. */
function secretValue(v: unknown): unknown {
  expect(v).toMatchObject({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" });
  return (v as { value: unknown }).value;
}

describe("the program", () => {
  it("when regions read kubeconfigs from a stack reference, then every Kubernetes resource goes through its region's provider", async () => {
    const run = await runUnderMockEngine(blueprint("prod"));
    const providers = run.resources.filter((r) => r.type === "pulumi:providers:kubernetes");
    expect(providers.map((p) => [p.name, secretValue(p.inputs.kubeconfig)])).toEqual([
      ["k8s-eu-west", "mock kubeconfig kubeconfigEuWest"],
      ["k8s-us-east", "mock kubeconfig kubeconfigUsEast"],
      ["k8s-ap-southeast", "mock kubeconfig kubeconfigApSoutheast"],
    ]);
    const refs = run.resources
      .filter((r) => r.type === "pulumi:pulumi:StackReference")
      .map((r) => r.inputs.name);
    expect(refs).toEqual(["example/clusters/prod", "example/clusters/prod", "example/clusters/prod"]);
    const k8s = run.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
    expect(k8s.length).toBeGreaterThan(100);
    for (const r of k8s) expect(r.provider?.split("::")[3], `${r.type} ${r.name}`).toBe(`k8s-${r.region}`);
  });

  it("when the program runs, then regionEndpoints lists every region in model order with its gateway address, hosts and scheme", async () => {
    const prod = await runUnderMockEngine(blueprint("prod"));
    const endpoints = await new Promise((resolve) => prod.outputs.regionEndpoints.apply(resolve));
    expect(endpoints).toEqual(
      ["eu-west", "us-east", "ap-southeast"].map((region, i) => ({
        region,
        address: mockGatewayAddress(i),
        publicHost: "shop.example.com",
        previewHost: "preview.shop.example.com",
        scheme: "https",
      })),
    );
    const config = readStackConfig("dev");
    (config.regions as Record<string, unknown>[])[0]!.gatewayAddress = "lb-1.elb.example.net";
    const dev = await runUnderMockEngine(parseBlueprint(config, "dev"));
    expect(await new Promise((resolve) => dev.outputs.regionEndpoints.apply(resolve))).toEqual([
      {
        region: "eu-west",
        address: "lb-1.elb.example.net",
        publicHost: "dev.shop.example.com",
        previewHost: "preview.dev.shop.example.com",
        scheme: "http",
      },
    ]);
  });

  it("when a region names a secret config key, then its provider gets that secret as kubeconfig", async () => {
    const run = await runUnderMockEngine(blueprint("staging"));
    const providers = run.resources.filter((r) => r.type === "pulumi:providers:kubernetes");
    expect(providers.map((p) => secretValue(p.inputs.kubeconfig))).toEqual([
      "mock kubeconfig for eu-west",
      "mock kubeconfig for us-east",
    ]);
  });

  it("when the environment is local, then it refuses before creating any resource", async () => {
    const config = readStackConfig("local");
    const bp = parseBlueprint(config, "local");
    await expect(runUnderMockEngine(bp)).rejects.toThrow(
      'the "local" environment runs as processes on loopback — use `npm run local`, not `pulumi up`',
    );
  });
});
