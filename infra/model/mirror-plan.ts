import type { Blueprint, Region } from "./blueprint.js";

/** Keeps a mirrored topic's name in the target (no `<source>.` prefix), so consumers need no per-region config. */
export const IDENTITY_REPLICATION_POLICY = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy";

/** How often MirrorMaker 2 looks again and writes again; the clusters and the local environment use the same numbers. */
export interface MirrorIntervals {
  /** New topics (and partitions) matching topicsPattern start being copied within this (refresh.topics.interval.seconds). */
  refreshTopicsSeconds: number;
  /** New consumer groups matching groupsPattern start being checkpointed within this (refresh.groups.interval.seconds). */
  refreshGroupsSeconds: number;
  /** Checkpoints (a group's offsets translated to the target) are written this often (emit.checkpoints.interval.seconds). */
  emitCheckpointsSeconds: number;
  /** Translated offsets are committed to the target's groups this often (sync.group.offsets.interval.seconds). */
  syncGroupOffsetsSeconds: number;
  /**
   * Connect's task commit (offset.flush.interval.ms, default 60 s): also when the offset syncs held back by
   * offset.lag.max are written, so a quiet topic's consumer offsets translate exactly and not to the last sync.
   */
  offsetFlushMs: number;
}

/** MirrorMaker 2 of one region: one direction, from the primary (source) into this region (target). */
export interface MirrorPlan {
  /** Region names, which are also the cluster aliases. */
  source: string;
  target: string;
  /** The model's topics, in its order; only these are copied (not their regional dead-letter topics). */
  topics: string[];
  /** Java regex MirrorMaker matches whole topic names against. */
  topicsPattern: string;
  groupsPattern: string;
  replicationPolicyClass: string;
  sourceTasksMax: number;
  checkpointTasksMax: number;
  /** Each region's ACLs are its own. */
  syncTopicAcls: boolean;
  /** Consumers that move to the target region resume near where they were in the source. */
  syncGroupOffsets: boolean;
  intervals: MirrorIntervals;
}

/** Shorter than MirrorMaker's defaults (600/600/60/60 s, 60 s flush): cheap admin calls, fresher offsets on failover. */
export const MIRROR_INTERVALS: Readonly<MirrorIntervals> = {
  refreshTopicsSeconds: 10,
  refreshGroupsSeconds: 5,
  emitCheckpointsSeconds: 5,
  syncGroupOffsetsSeconds: 5,
  offsetFlushMs: 5_000,
};

/** Java regex of exactly these names (a topic name's only regex metacharacter is "."). */
export function topicsPatternOf(topics: readonly string[]): string {
  return topics.map((t) => t.replaceAll(".", "\\.")).join("|");
}

/** undefined for the primary region, a single-region blueprint, or bp.data.kafka.mirrorFromPrimary === false. */
export function mirrorPlan(bp: Blueprint, region: Region): MirrorPlan | undefined {
  if (!bp.data.kafka.mirrorFromPrimary || bp.regions.length < 2 || region.primary) return undefined;
  if (!bp.regions.some((r) => r.name === region.name))
    throw new Error(`mirrorPlan: region "${region.name}" is not one of the blueprint's regions`);
  const topics = bp.data.kafka.topics.map((t) => t.name);
  return {
    source: bp.primaryRegion.name,
    target: region.name,
    topics,
    topicsPattern: topicsPatternOf(topics),
    groupsPattern: ".*",
    replicationPolicyClass: IDENTITY_REPLICATION_POLICY,
    sourceTasksMax: 2,
    checkpointTasksMax: 1,
    syncTopicAcls: false,
    syncGroupOffsets: true,
    intervals: { ...MIRROR_INTERVALS },
  };
}

export type MirrorConfig = Record<string, string | number>;

// The connector and worker settings, named once: Strimzi's KafkaMirrorMaker2 and the local mm2.properties both use
// them. Replication factors differ per use site (three brokers per cluster, one locally).

/** MirrorSourceConnector: copies the records and writes offset syncs. */
export function mirrorSourceConfig(plan: MirrorPlan, replicationFactor: number): MirrorConfig {
  return {
    "replication.policy.class": plan.replicationPolicyClass,
    "replication.factor": replicationFactor,
    "offset-syncs.topic.replication.factor": replicationFactor,
    "sync.topic.acls.enabled": String(plan.syncTopicAcls),
    "refresh.topics.interval.seconds": plan.intervals.refreshTopicsSeconds,
  };
}

/** MirrorCheckpointConnector: translates the source's consumer group offsets into the target. */
export function mirrorCheckpointConfig(plan: MirrorPlan, replicationFactor: number): MirrorConfig {
  return {
    "replication.policy.class": plan.replicationPolicyClass,
    "checkpoints.topic.replication.factor": replicationFactor,
    "sync.group.offsets.enabled": String(plan.syncGroupOffsets),
    "refresh.groups.interval.seconds": plan.intervals.refreshGroupsSeconds,
    "emit.checkpoints.interval.seconds": plan.intervals.emitCheckpointsSeconds,
    "sync.group.offsets.interval.seconds": plan.intervals.syncGroupOffsetsSeconds,
  };
}

/** The Connect worker on the target cluster: its internal topics and task commit. */
export function mirrorWorkerConfig(plan: MirrorPlan, replicationFactor: number): MirrorConfig {
  return {
    "config.storage.replication.factor": replicationFactor,
    "offset.storage.replication.factor": replicationFactor,
    "status.storage.replication.factor": replicationFactor,
    "offset.flush.interval.ms": plan.intervals.offsetFlushMs,
  };
}
