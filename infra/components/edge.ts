import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Blueprint, Color } from "../model/index.js";
import { acmeDns01, deployedColors } from "../model/index.js";
import { createObject } from "./k8s-object.js";
import { PINS, commonLabels, edgeNamespace, type K8sObject } from "./meta.js";

export const GATEWAY_NAME = "edge";
export const TLS_SECRET = "edge-tls";
const GW_API = "gateway.networking.k8s.io/v1";

/** The GatewayClass: the stack's own NGINX Gateway Fabric's, or the platform's (platform.gatewayClassName). */
export function gatewayClassName(bp: Blueprint): string {
  return bp.platform.gatewayClassName;
}

export const NGF_RELEASE = "ngf";
/** Replicas of NGF's control plane (leader-elected) and of the nginx data plane it provisions for the Gateway. */
export const EDGE_REPLICAS = 2;

export function ngfValues(bp: Blueprint): Record<string, unknown> {
  return {
    nginxGateway: {
      gatewayClassName: gatewayClassName(bp),
      gatewayControllerName: `gateway.nginx.org/${bp.namespace}`,
      replicas: EDGE_REPLICAS,
    },
    nginx: { replicas: EDGE_REPLICAS, service: { type: "LoadBalancer", externalTrafficPolicy: "Local" } },
  };
}

/**
 * The edge stays up through a node drain: at most one pod down of the nginx data plane NGF provisions for the Gateway
 * (its pods carry the Gateway API's gateway-name label) and, when this stack installs NGF, of its control plane (the
 * chart has no PodDisruptionBudget of its own).
 */
export function buildEdgeDisruptionBudgets(bp: Blueprint): K8sObject[] {
  const ns = edgeNamespace(bp.namespace);
  const pdb = (name: string, matchLabels: Record<string, string>): K8sObject => ({
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name, namespace: ns, labels: commonLabels("edge", "disruption-budget") },
    spec: { maxUnavailable: 1, selector: { matchLabels } },
  });
  return [
    pdb("edge-nginx", { "gateway.networking.k8s.io/gateway-name": GATEWAY_NAME }),
    ...(bp.platform.operators === "stack"
      ? [
          pdb("edge-controller", {
            "app.kubernetes.io/name": "nginx-gateway-fabric",
            "app.kubernetes.io/instance": NGF_RELEASE,
          }),
        ]
      : []),
  ];
}

export const ACME_ISSUER = "edge-acme";
/** The ServiceAccount whose token cert-manager exchanges for the Route53 role (IRSA-style web identity). */
export const ACME_DNS01_ACCOUNT = "edge-acme-dns01";

function issuerRef(bp: Blueprint): Record<string, string> {
  const issuer = bp.edge.tls.issuer!;
  return "clusterIssuer" in issuer
    ? { group: "cert-manager.io", kind: "ClusterIssuer", name: issuer.clusterIssuer }
    : { group: "cert-manager.io", kind: "Issuer", name: ACME_ISSUER };
}

/**
 * The stack's own ACME Issuer in the edge namespace, solving DNS-01 through Route53 or Cloudflare (never HTTP-01: one
 * name served from several regions cannot pass it). Route53 authenticates with a ServiceAccount token cert-manager
 * requests for the issuer's own account (cert-manager's `auth.kubernetes`), so no static AWS key exists; a Role
 * lets the platform's cert-manager mint that token and nothing else. Cloudflare reads a scoped API token from a
 * Secret the platform makes.
 */
export function buildAcmeIssuer(bp: Blueprint): K8sObject[] {
  const issuer = bp.edge.tls.issuer;
  if (!issuer || !("acme" in issuer)) return [];
  const ns = edgeNamespace(bp.namespace);
  const labels = commonLabels("edge", "certificate-issuer");
  const { acme } = issuer;
  const solver = acmeDns01(bp)!;
  const dns01 =
    solver === "route53"
      ? {
          route53: {
            region: acme.route53!.region,
            role: acme.route53!.roleArn,
            ...(bp.dns.provider === "route53" && bp.dns.zoneId ? { hostedZoneID: bp.dns.zoneId } : {}),
            auth: { kubernetes: { serviceAccountRef: { name: ACME_DNS01_ACCOUNT } } },
          },
        }
      : { cloudflare: { apiTokenSecretRef: { name: acme.cloudflare.tokenSecret, key: "api-token" } } };
  const out: K8sObject[] = [
    {
      apiVersion: "cert-manager.io/v1",
      kind: "Issuer",
      metadata: { name: ACME_ISSUER, namespace: ns, labels },
      spec: {
        acme: {
          email: acme.email,
          server: acme.server,
          privateKeySecretRef: { name: `${ACME_ISSUER}-account` },
          solvers: [{ selector: { dnsZones: [bp.dns.zone] }, dns01 }],
        },
      },
    },
  ];
  if (solver === "route53") {
    const { namespace: cmNamespace, serviceAccount } = bp.platform.certManager;
    out.push(
      {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: ACME_DNS01_ACCOUNT, namespace: ns, labels },
        automountServiceAccountToken: false,
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: `${ACME_DNS01_ACCOUNT}-token`, namespace: ns, labels },
        rules: [
          {
            apiGroups: [""],
            resources: ["serviceaccounts/token"],
            resourceNames: [ACME_DNS01_ACCOUNT],
            verbs: ["create"],
          },
        ],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: `${ACME_DNS01_ACCOUNT}-token`, namespace: ns, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: `${ACME_DNS01_ACCOUNT}-token` },
        subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace: cmNamespace }],
      },
    );
  }
  return out;
}

/**
 * The Gateway in the edge namespace; routes attach from the app namespace only. `waitForAddress`: the DNS records
 * need the address, so `pulumi up` waits until the Gateway has one (not when the region's address is configured).
 */
export function buildGateway(bp: Blueprint, waitForAddress = true): K8sObject[] {
  const ns = edgeNamespace(bp.namespace);
  const labels = commonLabels("edge", "gateway");
  const allowedRoutes = {
    namespaces: {
      from: "Selector",
      selector: { matchLabels: { "kubernetes.io/metadata.name": bp.namespace } },
    },
  };
  const listeners: Record<string, unknown>[] = [{ name: "http", protocol: "HTTP", port: 80, allowedRoutes }];
  const out: K8sObject[] = [];
  if (bp.edge.tls.enabled) {
    listeners.push({
      name: "https",
      protocol: "HTTPS",
      port: 443,
      tls: { mode: "Terminate", certificateRefs: [{ kind: "Secret", name: TLS_SECRET }] },
      allowedRoutes,
    });
    out.push(...buildAcmeIssuer(bp));
    out.push({
      apiVersion: "cert-manager.io/v1",
      kind: "Certificate",
      metadata: { name: TLS_SECRET, namespace: ns, labels },
      spec: {
        secretName: TLS_SECRET,
        dnsNames: [bp.edge.hostname, bp.edge.previewHostname],
        issuerRef: issuerRef(bp),
        privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
      },
    });
  }
  out.unshift({
    apiVersion: GW_API,
    kind: "Gateway",
    metadata: {
      name: GATEWAY_NAME,
      namespace: ns,
      labels,
      ...(waitForAddress
        ? { annotations: { "pulumi.com/waitFor": "jsonpath={.status.addresses[0].value}" } }
        : {}),
    },
    spec: { gatewayClassName: gatewayClassName(bp), listeners },
  });
  return out;
}

function backends(
  bp: Blueprint,
  service: string,
  colors: Color[],
  weighted: boolean,
): Record<string, unknown>[] {
  const port = bp.services.find((s) => s.name === service)!.port;
  return colors.map((color) => ({
    kind: "Service",
    name: `${service}-${color}`,
    port,
    ...(weighted ? { weight: bp.rollout.weights[color] } : {}),
  }));
}

/**
 * Public host → every deployed color with the rollout weights; preview host → the idle color only; the DNS
 * health path for any Host (health checkers probe the address, not the name) → the live colors.
 */
export function buildHttpRoutes(bp: Blueprint): K8sObject[] {
  const ns = bp.namespace;
  const labels = commonLabels("edge", "route");
  const parentRefs = [
    { group: "gateway.networking.k8s.io", kind: "Gateway", name: GATEWAY_NAME, namespace: edgeNamespace(ns) },
  ];
  const live = deployedColors(bp);
  const idle = bp.rollout.idleColor;
  const rules = (colors: Color[], weighted: boolean) =>
    bp.edge.routes.map((r) => ({
      matches: [{ path: { type: r.match === "exact" ? "Exact" : "PathPrefix", value: r.path } }],
      backendRefs: backends(bp, r.service, colors, weighted),
    }));
  const route = (name: string, spec: Record<string, unknown>): K8sObject => ({
    apiVersion: GW_API,
    kind: "HTTPRoute",
    metadata: { name, namespace: ns, labels },
    spec: { parentRefs, ...spec },
  });
  const out = chunked("public", rules(live, true)).map(([name, r]) =>
    route(name, { hostnames: [bp.edge.hostname], rules: r }),
  );
  if (bp.rollout.versions[idle]) {
    out.push(
      ...chunked("preview", rules([idle], false)).map(([name, r]) =>
        route(name, { hostnames: [bp.edge.previewHostname], rules: r }),
      ),
    );
  }
  const healthService =
    bp.edge.routes.find((r) => r.path === bp.dns.healthCheck.path)?.service ?? bp.edge.routes[0]!.service;
  out.push(
    route("health", {
      rules: [
        {
          matches: [{ path: { type: "Exact", value: bp.dns.healthCheck.path } }],
          backendRefs: backends(bp, healthService, live, true),
        },
      ],
    }),
  );
  return out;
}

/** Gateway API allows at most 16 rules per HTTPRoute; more routes spill into `<name>-2`, `<name>-3`, ... */
export const MAX_RULES_PER_ROUTE = 16;

function chunked<T>(name: string, rules: T[]): [string, T[]][] {
  const out: [string, T[]][] = [];
  for (let i = 0; i < rules.length; i += MAX_RULES_PER_ROUTE) {
    out.push([
      i === 0 ? name : `${name}-${i / MAX_RULES_PER_ROUTE + 1}`,
      rules.slice(i, i + MAX_RULES_PER_ROUTE),
    ]);
  }
  return out;
}

export interface EdgeArgs {
  blueprint: Blueprint;
  provider: k8s.Provider;
  /** Address for DNS when known up front (regions[].gatewayAddress); otherwise the Gateway's status address. */
  address?: string;
  dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** Gateway API CRDs, NGINX Gateway Fabric (pinned OCI chart), the Gateway, its certificate and the routes. */
export class Edge extends pulumi.ComponentResource {
  readonly address: pulumi.Output<string>;

  constructor(name: string, args: EdgeArgs, opts: pulumi.ComponentResourceOptions) {
    super("blueprint:edge:Edge", name, {}, opts);
    const { blueprint: bp, provider } = args;
    // With platform.operators: provided, the CRDs and the controller are the cluster's, not this stack's.
    const installs = bp.platform.operators === "stack";
    const crds = installs
      ? [
          new k8s.yaml.v2.ConfigFile(
            `${name}-gateway-api-crds`,
            { file: PINS.gatewayApiCrds },
            { parent: this, provider },
          ),
        ]
      : [];
    const ngf = installs
      ? [
          // A Helm release, not helm.v4.Chart: NGF makes its server-tls and agent-tls Secrets in a pre-install hook
          // Job, which only a release runs; without them its Deployment never starts and the Gateway gets no address.
          new k8s.helm.v3.Release(
            `${name}-ngf`,
            {
              name: NGF_RELEASE,
              chart: PINS.ngfChart.chart,
              version: PINS.ngfChart.version,
              namespace: edgeNamespace(bp.namespace),
              values: ngfValues(bp),
              // The Gateway API CRDs are the ConfigFile's above.
              skipCrds: true,
            },
            { parent: this, provider, dependsOn: [...crds, ...args.dependsOn] },
          ),
        ]
      : [];
    const [gateway, ...rest] = buildGateway(bp, !args.address);
    const gw = new k8s.apiextensions.CustomResource(
      `${name}-gateway`,
      // `status` is listed so the provider reports it back as an output (the address for DNS).
      { ...(gateway as k8s.apiextensions.CustomResourceArgs), status: undefined },
      { parent: this, provider, dependsOn: [...ngf, ...args.dependsOn] },
    );
    for (const obj of rest)
      createObject(`${name}-certificate`, obj, {
        parent: this,
        provider,
        dependsOn: [...crds, ...args.dependsOn],
      });
    for (const obj of buildEdgeDisruptionBudgets(bp))
      createObject(`${name}-pdb-${obj.metadata.name}`, obj, {
        parent: this,
        provider,
        dependsOn: args.dependsOn,
      });
    for (const obj of buildHttpRoutes(bp)) {
      createObject(`${name}-route-${obj.metadata.name}`, obj, { parent: this, provider, dependsOn: [gw] });
    }
    const status = (gw as unknown as Record<string, unknown>)["status"] as pulumi.Output<
      { addresses?: { value: string }[] } | undefined
    >;
    this.address = args.address
      ? pulumi.output(args.address)
      : status.apply((s) => {
          const value = s?.addresses?.[0]?.value;
          if (!value)
            throw new Error(
              `Gateway ${GATEWAY_NAME} has no address yet — set regions[].gatewayAddress or check NGINX Gateway Fabric`,
            );
          return value;
        });
    this.registerOutputs({ address: this.address });
  }
}
