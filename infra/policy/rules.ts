// Invariants of the blueprint as pure functions over Kubernetes objects; the policy pack and tests call them.
import { DATA_POD_LABELS, DATA_PORTS, PART_OF } from "../components/meta.js";
import { ROLLOUT_CONFIGMAP } from "../components/workload.js";

// Inputs arrive untyped from the engine, so the rules read them defensively.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

/** Objects this blueprint owns (chart-rendered third-party objects are not held to our pod rules). */
export function isOurs(obj: Obj): boolean {
  return obj?.metadata?.labels?.["app.kubernetes.io/part-of"] === PART_OF;
}

/** Every container of a Deployment has startup, liveness and readiness probes and CPU/memory requests and limits. */
export function probeAndLimitViolations(deployment: Obj): string[] {
  const name = deployment?.metadata?.name ?? "?";
  const containers: Obj[] = deployment?.spec?.template?.spec?.containers ?? [];
  if (containers.length === 0) return [`Deployment ${name} has no containers`];
  return containers.flatMap((c) => {
    const out: string[] = [];
    for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      if (!c[probe]) out.push(`container ${c.name} of ${name} has no ${probe}`);
    }
    for (const kind of ["requests", "limits"]) {
      for (const res of ["cpu", "memory"]) {
        if (!c.resources?.[kind]?.[res])
          out.push(`container ${c.name} of ${name} has no resources.${kind}.${res}`);
      }
    }
    return out;
  });
}

/** Pods run as non-root with a read-only root filesystem, no privilege escalation, all capabilities dropped, seccomp. */
export function podHardeningViolations(workload: Obj): string[] {
  const name = `${workload?.kind ?? "workload"} ${workload?.metadata?.name ?? "?"}`;
  const pod: Obj = workload?.spec?.template?.spec ?? {};
  const out: string[] = [];
  const podCtx = pod.securityContext ?? {};
  if (podCtx.seccompProfile?.type !== "RuntimeDefault")
    out.push(`${name}: pod seccompProfile is not RuntimeDefault`);
  for (const c of (pod.containers ?? []) as Obj[]) {
    const ctx = c.securityContext ?? {};
    if (ctx.runAsNonRoot !== true && podCtx.runAsNonRoot !== true)
      out.push(`${name}/${c.name}: runAsNonRoot is not true`);
    if (ctx.readOnlyRootFilesystem !== true)
      out.push(`${name}/${c.name}: readOnlyRootFilesystem is not true`);
    if (ctx.allowPrivilegeEscalation !== false)
      out.push(`${name}/${c.name}: allowPrivilegeEscalation is not false`);
    if (ctx.privileged === true) out.push(`${name}/${c.name}: privileged`);
    if (!(ctx.capabilities?.drop ?? []).includes("ALL"))
      out.push(`${name}/${c.name}: capabilities.drop does not include ALL`);
  }
  return out;
}

const DATA_PORT_NUMBERS = new Set<number>([...Object.values(DATA_PORTS), 9093, 9094]);

function selectsDataStore(selector: Obj): boolean {
  return (
    Object.values(DATA_POD_LABELS).some((labels) =>
      Object.entries(labels).every(([k, v]) => selector?.[k] === v),
    ) ||
    selector?.["strimzi.io/cluster"] !== undefined ||
    selector?.["app.kubernetes.io/name"] === "percona-server-mongodb"
  );
}

/** No LoadBalancer or NodePort Service in front of a data store (by its pods or its ports). */
export function dataExposureViolations(service: Obj): string[] {
  const type = service?.spec?.type ?? "ClusterIP";
  if (type !== "LoadBalancer" && type !== "NodePort") return [];
  const ports: Obj[] = service?.spec?.ports ?? [];
  const dataPort = ports.some(
    (p) => DATA_PORT_NUMBERS.has(Number(p.port)) || DATA_PORT_NUMBERS.has(Number(p.targetPort)),
  );
  if (selectsDataStore(service?.spec?.selector ?? {}) || dataPort) {
    return [
      `Service ${service?.metadata?.name ?? "?"} exposes a data store as ${type}; data stores stay ClusterIP`,
    ];
  }
  return [];
}

/** In every HTTPRoute rule that splits traffic by weight, the weights sum to 100. */
export function routeWeightViolations(route: Obj): string[] {
  const name = route?.metadata?.name ?? "?";
  return ((route?.spec?.rules ?? []) as Obj[]).flatMap((rule, i) => {
    const refs: Obj[] = rule.backendRefs ?? [];
    if (!refs.some((r) => r.weight !== undefined)) return [];
    const sum = refs.reduce((acc, r) => acc + (r.weight ?? 1), 0);
    return sum === 100 ? [] : [`HTTPRoute ${name} rule ${i}: backend weights sum to ${sum}, not 100`];
  });
}

/** A pod mounting the rollout ConfigMap starts without it (optional), so consumers fail open instead of pods hanging. */
export function rolloutVolumeViolations(workload: Obj): string[] {
  const name = `${workload?.kind ?? "workload"} ${workload?.metadata?.name ?? "?"}`;
  const volumes: Obj[] = workload?.spec?.template?.spec?.volumes ?? [];
  return volumes
    .filter((v) => v.configMap?.name === ROLLOUT_CONFIGMAP && v.configMap?.optional !== true)
    .map(
      (v) =>
        `${name}: volume ${v.name} mounts ConfigMap ${ROLLOUT_CONFIGMAP} without optional: true, so a missing ConfigMap keeps the pod in ContainerCreating`,
    );
}
