import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MONGO_SYSTEM_USERS, type Blueprint, type MongoUser, type Region } from "../model/index.js";
import { createObject, operatorDependency } from "./k8s-object.js";
import {
  DATA_PORTS,
  PINS,
  clustersetHost,
  commonLabels,
  dataTierOptions,
  mongoClusterName,
  type K8sObject,
} from "./meta.js";
import { MONGO_APP_SECRET, MONGO_APP_USER } from "./workload.js";

export type MongoPasswords = Record<MongoUser, unknown>;

const PRIMARY_PRIORITY = 3;
const REMOTE_PRIORITY = 1;

/** The operator's TLS Secrets: made by the primary region's operator, replicated to the others (replicated-secrets.ts). */
export const MONGO_TLS_SECRETS = { ssl: "mongo-ssl", sslInternal: "mongo-ssl-internal" } as const;

export function psmdbValues(bp: Blueprint): Record<string, unknown> {
  return { watchNamespace: bp.namespace, watchAllNamespaces: false, replicaCount: 1 };
}

/** MongoDB allows at most 7 voting members, and an election needs an odd number of them. */
export const MAX_VOTERS = 7;

/**
 * Which remote members vote, per remote region: the primary region's members all do; remote ones join while there
 * is room under MAX_VOTERS, dealt to the regions in turn (member 0 of each, then member 1, ...) so that losing any one
 * remote region costs as few votes as possible; one more is made non-voting (votes 0, priority 0) when the count
 * would be even.
 */
export function remoteVotes(primaryMembers: number, remoteMembers: number[]): boolean[][] {
  const total = remoteMembers.reduce((a, b) => a + b, 0);
  const room = Math.max(0, Math.min(total, MAX_VOTERS - primaryMembers));
  let voting = (primaryMembers + room) % 2 === 0 ? room - 1 : room;
  const out = remoteMembers.map((n) => Array.from({ length: n }, () => false));
  for (let i = 0; voting > 0 && i < Math.max(0, ...remoteMembers); i++) {
    for (let r = 0; voting > 0 && r < out.length; r++) {
      if (i < out[r]!.length) {
        out[r]![i] = true;
        voting--;
      }
    }
  }
  return out;
}

/**
 * Backups by Percona Backup for MongoDB to object storage, on the managed site only (an unmanaged site's CR still
 * names the image: the CRD requires it). dev and preview keep none unless data.mongo.backup.enabled says so.
 */
export function mongoBackup(bp: Blueprint, managed: boolean): Record<string, unknown> {
  const b = bp.data.mongo.backup;
  if (!managed || !b.enabled || !b.s3) return { enabled: false, image: PINS.pbmImage };
  return {
    enabled: true,
    image: PINS.pbmImage,
    storages: {
      s3: {
        type: "s3",
        s3: {
          bucket: b.s3.bucket,
          region: b.s3.region,
          credentialsSecret: b.s3.credentialsSecret,
          ...(b.s3.prefix ? { prefix: b.s3.prefix } : {}),
          ...(b.s3.endpointUrl ? { endpointUrl: b.s3.endpointUrl } : {}),
        },
      },
    },
    pitr: { enabled: b.pitr },
    tasks: [
      {
        name: "daily",
        enabled: true,
        schedule: b.schedule,
        keep: b.keep,
        storageName: "s3",
        type: "logical",
      },
    ],
  };
}

/** Member hostnames of a region's replica set as the other regions see them (MCS clusterset DNS). */
export function memberHosts(bp: Blueprint, region: Region): string[] {
  const cluster = mongoClusterName(region.name);
  return Array.from({ length: bp.data.mongo.membersPerRegion }, (_, i) =>
    clustersetHost(`${cluster}-rs0-${i}`, bp.namespace),
  );
}

/**
 * One replica set `rs0` spanning the regions (Percona cross-site replication): the primary region's CR is
 * managed and lists the other regions' members in `replsets[].externalNodes` with a lower priority; the other
 * regions run `unmanaged: true` members that join it. Members are exposed as ClusterIP Services and reached
 * across clusters through `multiCluster` (MCS, DNS suffix svc.clusterset.local).
 */
export function buildMongo(bp: Blueprint, region: Region, passwords: MongoPasswords): K8sObject[] {
  const ns = bp.namespace;
  const name = mongoClusterName(region.name);
  const labels = commonLabels("mongo", "database");
  const multiRegion = bp.regions.length > 1;
  const users: K8sObject = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "mongo-users", namespace: ns, labels },
    type: "Opaque",
    stringData: Object.fromEntries(
      MONGO_SYSTEM_USERS.flatMap((u) => [
        [`MONGODB_${u}_USER`, u.toLowerCase().replaceAll("_", "")],
        [`MONGODB_${u}_PASSWORD`, passwords[u]],
      ]),
    ),
  };
  const app: K8sObject = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: MONGO_APP_SECRET.name, namespace: ns, labels },
    type: "Opaque",
    stringData: { [MONGO_APP_SECRET.key]: passwords.APP },
  };
  const replset: Record<string, unknown> = {
    name: "rs0",
    size: bp.data.mongo.membersPerRegion,
    expose: { enabled: true, type: "ClusterIP" },
    affinity: { antiAffinityTopologyKey: "kubernetes.io/hostname" },
    podDisruptionBudget: { maxUnavailable: 1 },
    resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } },
    volumeSpec: {
      persistentVolumeClaim: { resources: { requests: { storage: `${bp.data.mongo.storageGb}Gi` } } },
    },
  };
  if (multiRegion && region.primary) {
    const remote = bp.regions.filter((r) => !r.primary).map((r) => memberHosts(bp, r));
    const votes = remoteVotes(
      bp.data.mongo.membersPerRegion,
      remote.map((hosts) => hosts.length),
    ).flat();
    replset.externalNodes = remote
      .flat()
      .map((host, i) =>
        votes[i]
          ? { host, port: DATA_PORTS.mongo, votes: 1, priority: REMOTE_PRIORITY }
          : { host, port: DATA_PORTS.mongo, votes: 0, priority: 0 },
      );
    replset.replsetOverrides = Object.fromEntries(
      Array.from({ length: bp.data.mongo.membersPerRegion }, (_, i) => [
        `${name}-rs0-${i}`,
        { priority: PRIMARY_PRIORITY },
      ]),
    );
  }
  const managed = !multiRegion || region.primary;
  const cr: K8sObject = {
    apiVersion: "psmdb.percona.com/v1",
    kind: "PerconaServerMongoDB",
    metadata: { name, namespace: ns, labels },
    spec: {
      crVersion: PINS.psmdbCrVersion,
      image: `percona/percona-server-mongodb:${bp.data.mongo.version}`,
      // Replica sites must not elect, generate users or certificates: the primary region owns the set.
      unmanaged: !managed,
      updateStrategy: managed ? "SmartUpdate" : "OnDelete",
      ...(multiRegion ? { multiCluster: { enabled: true, DNSSuffix: "svc.clusterset.local" } } : {}),
      upgradeOptions: { apply: "disabled" },
      secrets: { users: "mongo-users", ...MONGO_TLS_SECRETS },
      ...(bp.data.mongo.unsafeReplsetSize ? { unsafeFlags: { replsetSize: true } } : {}),
      users: managed
        ? [
            {
              name: MONGO_APP_USER,
              db: "admin",
              passwordSecretRef: { name: MONGO_APP_SECRET.name, key: MONGO_APP_SECRET.key },
              roles: [
                { name: "readWrite", db: "catalog" },
                { name: "readWrite", db: "orders" },
              ],
            },
          ]
        : [],
      replsets: [replset],
      sharding: { enabled: false },
      backup: mongoBackup(bp, managed),
    },
  };
  return [users, app, cr];
}

export interface MongoReplicaSetArgs {
  blueprint: Blueprint;
  region: Region;
  provider: k8s.Provider;
  /** Shared across regions: the members of one replica set authenticate with the same users. */
  passwords: MongoPasswords;
  dependsOn: pulumi.Input<pulumi.Resource>[];
  /**
   * False in a replica region while the primary's TLS Secrets are not copied yet (a first `up`): Percona's replica
   * site must find them before its cluster object exists, or its operator would make a CA of its own.
   */
  createCluster?: boolean;
}

/** Percona Operator for MongoDB (pinned chart) and this region's members of the replica set. */
export class MongoReplicaSet extends pulumi.ComponentResource {
  readonly host: string;

  constructor(name: string, args: MongoReplicaSetArgs, opts: pulumi.ComponentResourceOptions) {
    super("blueprint:data:MongoReplicaSet", name, {}, opts);
    const { blueprint: bp, provider } = args;
    const operator = operatorDependency(bp, `${name}-operator`, PINS.psmdbChart, psmdbValues(bp), {
      parent: this,
      provider,
      dependsOn: args.dependsOn,
    });
    const roles = ["users", "app-user", "cluster"];
    const objects = buildMongo(bp, args.region, args.passwords);
    if (args.createCluster === false) {
      objects.pop();
      pulumi.log.warn(
        `${args.region.name}: no PerconaServerMongoDB yet — the primary's TLS Secrets are not there to copy; the next \`pulumi up\` creates it`,
      );
    }
    objects.forEach((obj, i) =>
      createObject(`${name}-${roles[i]}`, obj, {
        parent: this,
        provider,
        dependsOn: operator,
        // Not its Secrets: the provider replaces a Secret whose data changes (a password rotation), which a kept
        // old Secret of the same name would block; they are made again from config on the next `up`.
        ...(obj.kind === "Secret" ? {} : dataTierOptions(bp)),
      }),
    );
    this.host = `${mongoClusterName(args.region.name)}-rs0.${bp.namespace}.svc.cluster.local`;
    this.registerOutputs({ host: this.host });
  }
}
