import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, TOOL_VERSIONS } from "../lib/servers/paths.js";

const exec = promisify(execFile);

/** Global flags this machine's podman needs (no systemd cgroups; runc, not crun); setup's base-image.sh passes the same. */
export const PODMAN_GLOBAL = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"];
/** The runtime may not raise rlimits here, so every RUN step and container gets limits it can set. */
export const PODMAN_LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];
export const DOCKERFILE = join(REPO_ROOT, "services", "Dockerfile");
/** The base image setup.sh imports (a debootstrap rootfs plus this machine's Node 20). */
export const BASE_IMAGE = TOOL_VERSIONS.BASE_IMAGE!;

/** The last lines a container wrote, stdout and stderr both (podman logs replays each on its own stream). */
export async function containerLogs(name: string, lines = 20): Promise<string> {
  const { stdout, stderr } = await exec("podman", [...PODMAN_GLOBAL, "logs", "--tail", String(lines), name]);
  return `${stdout}${stderr}`;
}

/** Runs podman with the global flags; rejects with podman's stderr in the message. */
export async function podman(args: string[], timeoutMs = 600_000): Promise<string> {
  try {
    const { stdout } = await exec("podman", [...PODMAN_GLOBAL, ...args], {
      cwd: REPO_ROOT,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `podman ${args.join(" ")} failed: ${e.stderr?.trim().split("\n").slice(-15).join("\n") || e.message}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * `podman build` arguments for one service's target of services/Dockerfile, FROM the local base image. The build
 * joins the host network (npm ci reaches the registry from there); `extraCa` is a CA bundle passed as the
 * Dockerfile's `extra_ca` build secret, for a TLS-intercepting proxy.
 */
export function buildArgs(service: string, tag: string, opts: { extraCa?: string } = {}): string[] {
  return [
    "build",
    "--file",
    DOCKERFILE,
    "--ignorefile",
    `${DOCKERFILE}.dockerignore`,
    "--target",
    service,
    "--build-arg",
    `NODE_IMAGE=${BASE_IMAGE}`,
    ...(opts.extraCa ? ["--secret", `id=extra_ca,src=${opts.extraCa}`] : []),
    "--network",
    "host",
    ...PODMAN_LIMITS,
    "--tag",
    tag,
    REPO_ROOT,
  ];
}

interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}
export interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string; medium?: string };
  configMap?: { name: string };
}
/** The parts of a rendered Deployment's pod template that decide how its container runs. */
export interface PodTemplate {
  spec: {
    securityContext?: SecurityContext;
    containers: {
      name: string;
      securityContext?: SecurityContext;
      volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
    }[];
    volumes?: Volume[];
  };
}

/** `64Mi` → `64m`: a Kubernetes binary quantity as a tmpfs size. */
function tmpfsSize(quantity: string): string {
  const m = /^(\d+)(Ki|Mi|Gi)$/.exec(quantity);
  if (!m)
    throw new Error(
      `emptyDir sizeLimit ${quantity}: only Ki, Mi and Gi quantities are mapped to a tmpfs size`,
    );
  return `${m[1]}${m[2]![0]!.toLowerCase()}`;
}

/**
 * `podman run` flags that run a container the way its rendered pod spec does: the user, a read-only root with a
 * tmpfs only where the pod mounts an emptyDir, the capabilities, no privilege escalation, the runtime's default
 * seccomp profile. A ConfigMap volume is bound read-only from `configMapDirs[<ConfigMap name>]`, a directory the
 * caller filled with the ConfigMap's data. Throws on anything in the spec it cannot reproduce, so a new field in the
 * pod spec is never silently dropped from the test.
 */
export function runFlagsFromPodSpec(
  template: PodTemplate,
  containerName: string,
  configMapDirs: Record<string, string> = {},
): string[] {
  const container = template.spec.containers.find((c) => c.name === containerName);
  if (!container) throw new Error(`the pod spec has no container ${containerName}`);
  const sc: SecurityContext = { ...template.spec.securityContext, ...container.securityContext };
  const flags: string[] = [];
  if (sc.runAsUser === undefined) throw new Error(`${containerName}: no runAsUser in the pod spec`);
  if (sc.runAsNonRoot && sc.runAsUser === 0)
    throw new Error(`${containerName}: runAsNonRoot with runAsUser 0`);
  flags.push("--user", `${sc.runAsUser}:${sc.runAsGroup ?? sc.runAsUser}`);
  if (sc.privileged) flags.push("--privileged");
  // podman's --read-only adds tmpfs on /tmp, /var/tmp and /run by default; Kubernetes adds none.
  if (sc.readOnlyRootFilesystem) flags.push("--read-only", "--read-only-tmpfs=false");
  for (const cap of sc.capabilities?.drop ?? []) flags.push("--cap-drop", cap);
  for (const cap of sc.capabilities?.add ?? []) flags.push("--cap-add", cap);
  if (sc.allowPrivilegeEscalation === false) flags.push("--security-opt", "no-new-privileges");
  const seccomp = sc.seccompProfile?.type ?? "RuntimeDefault";
  if (seccomp === "Unconfined") flags.push("--security-opt", "seccomp=unconfined");
  else if (seccomp !== "RuntimeDefault")
    throw new Error(`${containerName}: seccompProfile ${seccomp} is not mapped`);
  for (const mount of container.volumeMounts ?? []) {
    const volume = template.spec.volumes?.find((v) => v.name === mount.name);
    if (volume?.emptyDir) {
      if (volume.emptyDir.medium && volume.emptyDir.medium !== "Memory")
        throw new Error(`${containerName}: emptyDir medium ${volume.emptyDir.medium} is not mapped`);
      const size = volume.emptyDir.sizeLimit ? `,size=${tmpfsSize(volume.emptyDir.sizeLimit)}` : "";
      flags.push("--tmpfs", `${mount.mountPath}:rw${size}`);
    } else if (volume?.configMap) {
      const dir = configMapDirs[volume.configMap.name];
      if (!dir)
        throw new Error(`${containerName}: no directory given for ConfigMap ${volume.configMap.name}`);
      flags.push("--volume", `${dir}:${mount.mountPath}:ro`);
    } else {
      throw new Error(`${containerName}: volume ${mount.name} is neither an emptyDir nor a ConfigMap`);
    }
  }
  return flags;
}
