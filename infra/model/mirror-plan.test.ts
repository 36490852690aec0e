import { describe, expect, it } from "vitest";
import { parseBlueprint, type Blueprint } from "./blueprint.js";
import { rawTestBlueprint } from "./test-blueprints.js";
import {
  IDENTITY_REPLICATION_POLICY,
  mirrorCheckpointConfig,
  mirrorPlan,
  mirrorSourceConfig,
  mirrorWorkerConfig,
  topicsPatternOf,
} from "./mirror-plan.js";

function bp(regions: number, kafka: Record<string, unknown> = {}): Blueprint {
  return parseBlueprint(
    {
      ...rawTestBlueprint({ regions, primary: 1 }),
      data: {
        kafka,
        mongo: {
          backup: { s3: { bucket: "backups", region: "eu-west-1", credentialsSecret: "mongo-backup-s3" } },
        },
      },
    },
    "test",
  );
}

describe("mirror plan", () => {
  it("when there are three regions, then every non-primary region mirrors from the primary and the primary mirrors nothing", () => {
    const b = bp(3);
    expect(b.regions.map((r) => mirrorPlan(b, r) && `${mirrorPlan(b, r)!.source}->${r.name}`)).toEqual([
      "us-east->eu-west",
      undefined,
      "us-east->ap-southeast",
    ]);
  });

  it("when there is one region or mirroring is off, then no region mirrors", () => {
    const single = bp(1);
    expect(mirrorPlan(single, single.regions[0]!)).toBeUndefined();
    const off = bp(3, { mirrorFromPrimary: false });
    expect(off.regions.map((r) => mirrorPlan(off, r))).toEqual([undefined, undefined, undefined]);
  });

  it("when topics are mirrored, then they keep their names and only the model's topics match, not their dead-letter topics", () => {
    const b = bp(2);
    const plan = mirrorPlan(b, b.regions[0]!)!;
    expect(plan.replicationPolicyClass).toBe(IDENTITY_REPLICATION_POLICY);
    expect(plan.topics).toEqual(["orders.events", "catalog.events"]);
    expect(plan.topicsPattern).toBe("orders\\.events|catalog\\.events");
    // MirrorMaker matches whole names (Java's Matcher.matches); JavaScript's test() needs the anchors.
    const whole = new RegExp(`^(?:${plan.topicsPattern})$`);
    expect(
      ["orders.events", "catalog.events", "orders.events.dlq", "ordersXevents"].map((t) => whole.test(t)),
    ).toEqual([true, true, false, false]);
    expect(topicsPatternOf(["a_b-c.d"])).toBe("a_b-c\\.d");
  });

  it("when a consumer group moves regions, then its offsets are synced at the plan's intervals, faster than MirrorMaker's defaults", () => {
    const b = bp(2);
    const plan = mirrorPlan(b, b.regions[0]!)!;
    expect(plan).toMatchObject({ groupsPattern: ".*", syncGroupOffsets: true, syncTopicAcls: false });
    expect(mirrorCheckpointConfig(plan, 3)).toEqual({
      "replication.policy.class": IDENTITY_REPLICATION_POLICY,
      "checkpoints.topic.replication.factor": 3,
      "sync.group.offsets.enabled": "true",
      "refresh.groups.interval.seconds": plan.intervals.refreshGroupsSeconds,
      "emit.checkpoints.interval.seconds": plan.intervals.emitCheckpointsSeconds,
      "sync.group.offsets.interval.seconds": plan.intervals.syncGroupOffsetsSeconds,
    });
    expect(plan.intervals.refreshTopicsSeconds).toBeLessThan(600);
    expect(plan.intervals.emitCheckpointsSeconds).toBeLessThan(60);
    expect(plan.intervals.offsetFlushMs).toBeLessThan(60_000);
  });

  it("when the settings are rendered, then the replication factor is the caller's and the worker flushes at the plan's interval", () => {
    const b = bp(2);
    const plan = mirrorPlan(b, b.regions[0]!)!;
    expect(mirrorSourceConfig(plan, 1)).toMatchObject({
      "replication.policy.class": IDENTITY_REPLICATION_POLICY,
      "replication.factor": 1,
      "offset-syncs.topic.replication.factor": 1,
      "sync.topic.acls.enabled": "false",
    });
    expect(mirrorWorkerConfig(plan, 2)).toEqual({
      "config.storage.replication.factor": 2,
      "offset.storage.replication.factor": 2,
      "status.storage.replication.factor": 2,
      "offset.flush.interval.ms": plan.intervals.offsetFlushMs,
    });
  });

  it("when the region is not the blueprint's, then it throws naming the region", () => {
    const b = bp(2);
    expect(() => mirrorPlan(b, { ...b.regions[0]!, name: "mars" })).toThrow(
      'mirrorPlan: region "mars" is not one of the blueprint\'s regions',
    );
  });
});
