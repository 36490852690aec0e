import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { get } from "node:https";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { assertPortFree, freePort } from "./ports.js";
import { CACHE_DIR, findBinary } from "./paths.js";
import { prepareDir, spawnTracked, waitUntilReady, type ManagedProcess } from "./process.js";

const run = promisify(execFile);

/** Upstream manifests scripts/setup/setup.sh takes from the projects' module zips and Maven Central. */
export const UPSTREAM_DIR = join(CACHE_DIR, "upstream");

export interface ControlPlaneOptions {
  /** Names the cluster, its kubeconfig context and its log files. */
  name: string;
  /** Working directory (etcd data, certificates, logs); a temp dir when omitted. */
  dir?: string;
  host?: string;
  /** kwok nodes to register, spread over `zones`. */
  nodes?: number;
  zones?: string[];
  /** Service ClusterIP range, distinct per cluster so that two regions never hand out the same addresses. */
  serviceCidr?: string;
  /** kwok's pod IP range. */
  podCidr?: string;
}

export interface ControlPlane {
  name: string;
  server: string;
  /** A kubeconfig with one context named after the cluster (certificate verified, bearer token). */
  kubeconfigFile: string;
  kubeconfig: string;
  context: string;
  /** What a kubeconfig entry for this cluster needs (kubeconfigYaml combines several clusters). */
  access: { name: string; server: string; caData: string; token: string };
  dir: string;
  pids: Record<string, number>;
  /** kubectl against this cluster; resolves with stdout, rejects with the command's stderr. */
  kubectl(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

function writeServiceAccountKeys(dir: string): { pub: string; key: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pub = join(dir, "sa.pub");
  const key = join(dir, "sa.key");
  writeFileSync(pub, publicKey.export({ type: "spki", format: "pem" }));
  writeFileSync(key, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  return { pub, key };
}

/** GET /readyz with the CA the API server generated in --cert-dir; true on 200. */
function apiReady(server: string, token: string, ca: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = get(
      `${server}/readyz`,
      { ca: readFileSync(ca), headers: { authorization: `Bearer ${token}` }, timeout: 2_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.once("timeout", () => req.destroy(new Error("timeout")));
    req.once("error", reject);
  });
}

export function kubeconfigYaml(
  clusters: { name: string; server: string; caData: string; token: string }[],
): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: clusters.map((c) => ({
      name: c.name,
      cluster: { server: c.server, "certificate-authority-data": c.caData },
    })),
    users: clusters.map((c) => ({ name: `${c.name}-admin`, user: { token: c.token } })),
    contexts: clusters.map((c) => ({
      name: c.name,
      context: { cluster: c.name, user: `${c.name}-admin` },
    })),
    "current-context": clusters[0]?.name ?? "",
  });
}

/** The kwok Node objects: schedulable fake nodes with room for many pods, labelled with a zone each. */
export function kwokNodes(count: number, zones: string[]): object[] {
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: `kwok-node-${i}`,
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/hostname": `kwok-node-${i}`,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node-role.kubernetes.io/worker": "",
        "topology.kubernetes.io/zone": zones[i % zones.length]!,
        type: "kwok",
      },
    },
    status: {
      allocatable: { cpu: "32", memory: "128Gi", pods: "110", "ephemeral-storage": "500Gi" },
      capacity: { cpu: "32", memory: "128Gi", pods: "110", "ephemeral-storage": "500Gi" },
    },
  }));
}

/** Files of an upstream directory that setup.sh filled; a clear error when setup has not run. */
export function upstreamFiles(sub: string, suffix = ".yaml"): string[] {
  const dir = join(UPSTREAM_DIR, sub);
  if (!existsSync(join(UPSTREAM_DIR, ".complete")))
    throw new Error(`${UPSTREAM_DIR} is not complete: run 'npm run setup' to take the upstream manifests`);
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * A real Kubernetes control plane on loopback: etcd, kube-apiserver (token auth, its own serving certificate, RBAC
 * and the default admission plugins), kube-controller-manager and kube-scheduler, with kwok playing the kubelets
 * of `nodes` fake nodes (pods are scheduled and reported Running and Ready; no container runs). Every process is
 * started in its own group and stopped by PID.
 */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const host = opts.host ?? "127.0.0.1";
  const { dir } = prepareDir(`cluster-${opts.name}`, opts.dir);
  const procs: ManagedProcess[] = [];
  const stop = async () => {
    // Clients first, then the API server, etcd last.
    const [etcdProc, apiProc, ...clients] = procs;
    await Promise.all(clients.map((p) => p.stop(5_000)));
    if (apiProc) await apiProc.stop(5_000);
    if (etcdProc) await etcdProc.stop(5_000);
  };
  try {
    const [etcdPort, peerPort, apiPort] = [await freePort(host), await freePort(host), await freePort(host)];
    await assertPortFree("kube-apiserver", host, apiPort);
    const etcd = spawnTracked({
      tool: `etcd-${opts.name}`,
      command: findBinary("etcd"),
      args: [
        "--name=default",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=http://${host}:${etcdPort}`,
        `--advertise-client-urls=http://${host}:${etcdPort}`,
        `--listen-peer-urls=http://${host}:${peerPort}`,
        `--initial-advertise-peer-urls=http://${host}:${peerPort}`,
        `--initial-cluster=default=http://${host}:${peerPort}`,
        // A rehearsal cluster: durability is not the point, a 2-core machine's disk is.
        "--unsafe-no-fsync",
        "--log-level=warn",
      ],
      dir,
    });
    procs.push(etcd);
    const token = randomBytes(24).toString("hex");
    writeFileSync(join(dir, "tokens.csv"), `${token},admin,admin-uid,system:masters\n`, { mode: 0o600 });
    const sa = writeServiceAccountKeys(dir);
    const certDir = join(dir, "pki");
    mkdirSync(certDir, { recursive: true });
    const server = `https://${host}:${apiPort}`;
    const apiserver = spawnTracked({
      tool: `kube-apiserver-${opts.name}`,
      command: findBinary("kube-apiserver"),
      args: [
        `--etcd-servers=http://${host}:${etcdPort}`,
        `--bind-address=${host}`,
        `--advertise-address=${host}`,
        `--secure-port=${apiPort}`,
        `--cert-dir=${certDir}`,
        `--token-auth-file=${join(dir, "tokens.csv")}`,
        "--authorization-mode=RBAC",
        `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
        `--service-account-key-file=${sa.pub}`,
        `--service-account-signing-key-file=${sa.key}`,
        `--service-cluster-ip-range=${opts.serviceCidr ?? "10.96.0.0/16"}`,
        // Loopback cannot be the `kubernetes` Service's endpoint; nothing in the cluster dials the API by it.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
      ],
      dir,
    });
    procs.push(apiserver);
    const ca = join(certDir, "apiserver.crt");
    await waitUntilReady(
      apiserver,
      async () => existsSync(ca) && (await apiReady(server, token, ca)),
      60_000,
    );
    const caData = readFileSync(ca).toString("base64");
    const access = { name: opts.name, server, caData, token };
    const kubeconfig = kubeconfigYaml([access]);
    const kubeconfigFile = join(dir, "kubeconfig");
    writeFileSync(kubeconfigFile, kubeconfig, { mode: 0o600 });
    const kubectl = async (args: string[], input?: string): Promise<string> => {
      const child = run(findBinary("kubectl"), [`--kubeconfig=${kubeconfigFile}`, ...args], {
        maxBuffer: 64 * 1024 * 1024,
      });
      if (input !== undefined) {
        child.child.stdin?.end(input);
      }
      try {
        return (await child).stdout;
      } catch (error) {
        const e = error as { stderr?: string; message: string };
        throw new Error(`kubectl ${args.join(" ")} (${opts.name}): ${(e.stderr || e.message).trim()}`);
      }
    };
    const clientArgs = [`--kubeconfig=${kubeconfigFile}`, "--leader-elect=false", "--secure-port=0"];
    procs.push(
      spawnTracked({
        tool: `kube-controller-manager-${opts.name}`,
        command: findBinary("kube-controller-manager"),
        args: [
          ...clientArgs,
          `--root-ca-file=${ca}`,
          `--service-account-private-key-file=${sa.key}`,
          "--use-service-account-credentials=false",
          `--service-cluster-ip-range=${opts.serviceCidr ?? "10.96.0.0/16"}`,
        ],
        dir,
      }),
      spawnTracked({
        tool: `kube-scheduler-${opts.name}`,
        command: findBinary("kube-scheduler"),
        args: clientArgs,
        dir,
      }),
    );
    const stages = upstreamFiles("kwok-stages").flatMap((f) => ["--config", f]);
    const kwok = spawnTracked({
      tool: `kwok-${opts.name}`,
      command: findBinary("kwok"),
      args: [
        `--kubeconfig=${kubeconfigFile}`,
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        `--cidr=${opts.podCidr ?? "10.244.0.1/16"}`,
        `--node-ip=${host}`,
        `--server-address=${host}:${await freePort(host)}`,
        // kwok renews each node's Lease as a kubelet does; without it the node lifecycle controller marks the nodes
        // unreachable after its grace period and every pod NotReady.
        "--node-lease-duration-seconds=40",
        ...stages,
      ],
      dir,
    });
    procs.push(kwok);
    const nodes = kwokNodes(opts.nodes ?? 3, opts.zones ?? ["zone-a", "zone-b", "zone-c"]);
    await kubectl(
      ["apply", "--server-side", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: nodes }),
    );
    await waitUntilReady(
      kwok,
      async () => {
        const out = await kubectl([
          "get",
          "nodes",
          "-o",
          "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Ready')].status}{'\\n'}{end}",
        ]);
        const ready = out.split("\n").filter((s) => s === "True").length;
        return ready === nodes.length;
      },
      60_000,
    );
    return {
      name: opts.name,
      server,
      kubeconfig,
      kubeconfigFile,
      context: opts.name,
      access,
      dir,
      pids: Object.fromEntries(procs.map((p) => [p.tool, p.pid])),
      kubectl,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
