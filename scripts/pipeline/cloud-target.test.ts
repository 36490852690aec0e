import { ConcurrentUpdateError, PulumiCommand, type OutputMap } from "@pulumi/pulumi/automation/index.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportTargets } from "../../load/lib/export-targets.js";
import { describe, expect, it } from "vitest";
import { loadBlueprint } from "../../infra/config/stack-file.js";
import {
  CloudTarget,
  explainPulumiError,
  liveRollout,
  rolloutConfigJson,
  type StackHandle,
} from "./cloud-target.js";
import { selfSigned, stubGateway } from "./testing/stub-gateway.js";

// The gates and readiness probes of the cloud target, against stub gateways. The stack is a TEST DOUBLE of its outputs
// only (stackStub): what the real CLI does with the stack (config, up, rollback, a fresh checkout) runs for real in
// cloud-target.int.test.ts and in the cluster rehearsal (scripts/cluster).
const initial = { activeColor: "blue" as const, versions: { blue: "1.0.0" }, rollbackWindowSeconds: 60 };
// `pulumi stack output --json` prints plain values; the Automation API wraps them as {value, secret}.
const outputs = {
  regions: {
    "eu-west": {
      liveUrl: "https://dev.shop.example.com",
      previewUrl: "https://preview.dev.shop.example.com",
    },
  },
};

/** TEST DOUBLE of a deployed stack: its outputs (as `pulumi stack output --json` gives them) and its rollout config. */
function stackStub(plain: Record<string, unknown>, rollout: object | undefined = initial): StackHandle {
  const wrapped: OutputMap = Object.fromEntries(
    Object.entries(plain).map(([k, value]) => [k, { value, secret: false }]),
  );
  return {
    name: "dev",
    outputs: async () => wrapped,
    getConfig: async (key: string) => {
      if (key !== "blueprint:rollout" || !rollout) throw new Error(`configuration key '${key}' not found`);
      return { value: JSON.stringify(rollout), secret: false };
    },
    setAllConfigJson: async () => {
      throw new Error("stackStub has no config to set: CLI behaviour is tested in cloud-target.int.test.ts");
    },
    up: async () => {
      throw new Error("stackStub cannot run up: CLI behaviour is tested in cloud-target.int.test.ts");
    },
  } as unknown as StackHandle;
}

const target = (
  plain: Record<string, unknown> = outputs,
  opts: Partial<ConstructorParameters<typeof CloudTarget>[1]> = {},
) => new CloudTarget(stackStub(plain), { blueprint: loadBlueprint("dev"), reportDir: "/tmp", ...opts });

describe("cloud target gates and readiness (stub gateways, stack outputs double)", () => {
  it("when a promotion gates, then every region's gateway from regionEndpoints is gated with the right Host header", async () => {
    const [a, b] = [await stubGateway(), await stubGateway()];
    const endpoint = (region: string, address: string) => ({
      region,
      address,
      publicHost: "dev.shop.example.com",
      previewHost: "preview.dev.shop.example.com",
      scheme: "http",
    });
    const t = target(
      { ...outputs, regionEndpoints: [endpoint("eu-west", a.address), endpoint("us-east", b.address)] },
      {
        reportDir: mkdtempSync(join(tmpdir(), "cloud-gates-")),
        targets: { ...exportTargets("dev"), requestsPerSecond: 10, durationSeconds: 2, smokeSeconds: 2 },
      },
    );
    try {
      await t.waitReady("green");
      const preview = await t.gate("capacity", "preview", { color: "green", version: "1.1.0" });
      const previewHosts = [new Set(a.hosts), new Set(b.hosts)];
      a.hosts.length = b.hosts.length = 0;
      const live = await t.gate("smoke", "live", { color: "green", version: "1.1.0" });

      expect(preview.map((g) => [g.region, g.kind, g.via, g.ok])).toEqual([
        ["eu-west", "capacity", "preview", true],
        ["us-east", "smoke", "preview", true],
      ]);
      expect(previewHosts).toEqual([
        new Set([`preview.dev.shop.example.com:${a.port}`]),
        new Set([`preview.dev.shop.example.com:${b.port}`]),
      ]);
      expect(live.map((g) => [g.region, g.kind, g.via, g.ok])).toEqual([
        ["eu-west", "smoke", "live", true],
        ["us-east", "smoke", "live", true],
      ]);
      for (const g of [...preview, ...live]) expect(g.requests, `${g.region} ${g.kind}`).toBeGreaterThan(0);
      expect(new Set([...a.hosts, ...b.hosts])).toEqual(
        new Set([`dev.shop.example.com:${a.port}`, `dev.shop.example.com:${b.port}`]),
      );
      expect(b.hosts.length).toBeGreaterThan(0);
    } finally {
      a.close();
      b.close();
    }
  }, 60_000);

  /** The outputs of a deployed dev stack whose one region serves https at `address` (the stub gateway). */
  const httpsStack = (address: string) => ({
    ...outputs,
    regionEndpoints: [
      {
        region: "eu-west",
        address,
        publicHost: "dev.shop.example.com",
        previewHost: "preview.dev.shop.example.com",
        scheme: "https",
      },
    ],
  });

  it("when a region's scheme is https, then k6 and the readiness probe reach its address with the hostname as SNI, Host and certificate name", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cloud-tls-"));
    const tls = selfSigned(dir, ["dev.shop.example.com", "preview.dev.shop.example.com"]);
    const gw = await stubGateway({ tls });
    const t = target(httpsStack(gw.address), {
      reportDir: dir,
      targets: { ...exportTargets("dev"), requestsPerSecond: 10, durationSeconds: 2, smokeSeconds: 2 },
      // Trusted instead of the system's CAs; the certificate is still verified against the hostname.
      caFile: tls.certFile,
    });
    try {
      await t.waitReady("green");
      const preview = await t.gate("smoke", "preview", { color: "green", version: "1.1.0" });
      const previewSeen = { hosts: new Set(gw.hosts), serverNames: new Set(gw.serverNames) };
      gw.hosts.length = gw.serverNames.length = 0;
      const live = await t.gate("smoke", "live", { color: "green", version: "1.1.0" });

      expect(preview.map((g) => [g.region, g.ok, g.failedThresholds])).toEqual([["eu-west", true, []]]);
      expect(live.map((g) => [g.region, g.ok, g.failedThresholds])).toEqual([["eu-west", true, []]]);
      expect(preview[0]!.requests).toBeGreaterThan(0);
      expect(previewSeen).toEqual({
        hosts: new Set([`preview.dev.shop.example.com:${gw.port}`]),
        serverNames: new Set(["preview.dev.shop.example.com"]),
      });
      expect({ hosts: new Set(gw.hosts), serverNames: new Set(gw.serverNames) }).toEqual({
        hosts: new Set([`dev.shop.example.com:${gw.port}`]),
        serverNames: new Set(["dev.shop.example.com"]),
      });
    } finally {
      gw.close();
    }
  }, 60_000);

  it("when the gateway's certificate does not name the preview host, then waitReady fails naming the certificate error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cloud-tls-"));
    const tls = selfSigned(dir, ["other.example.com"]);
    const gw = await stubGateway({ tls });
    const t = target(httpsStack(gw.address), { reportDir: dir, readyTimeoutMs: 0, caFile: tls.certFile });
    try {
      await expect(t.waitReady("green")).rejects.toThrow(
        /eu-west: https:\/\/preview\.dev\.shop\.example\.com:\d+\/readyz \(via 127\.0\.0\.1\) did not answer 200 from green in time \(last: Hostname\/IP does not match certificate's altnames/,
      );
    } finally {
      gw.close();
    }
  });

  it("when the preview host answers from another color or its catalog listing fails, then waitReady fails naming the path and what answered", async () => {
    const gw = await stubGateway();
    const t = target(
      {
        ...outputs,
        regionEndpoints: [
          {
            region: "eu-west",
            address: gw.address,
            publicHost: "dev.shop.example.com",
            previewHost: "preview.dev.shop.example.com",
            scheme: "http",
          },
        ],
      },
      { readyTimeoutMs: 0 },
    );
    try {
      gw.answers.color = "blue";
      await expect(t.waitReady("green")).rejects.toThrow(
        `eu-west: http://preview.dev.shop.example.com:${gw.port}/readyz (via 127.0.0.1) did not answer 200 from green in time (last: 200 from x-color blue)`,
      );
      gw.answers.color = "green";
      gw.answers.catalogStatus = 502;
      await expect(t.waitReady("green")).rejects.toThrow(
        `eu-west: http://preview.dev.shop.example.com:${gw.port}/api/catalog/products (via 127.0.0.1) did not answer 200 from green in time (last: 502 from x-color green)`,
      );
      gw.answers.catalogStatus = 200;
      await expect(t.waitReady("green")).resolves.toBeUndefined();
      expect(gw.hosts.at(-1)).toBe(`preview.dev.shop.example.com:${gw.port}`);
    } finally {
      gw.close();
    }
  });

  it("when the stack has no regionEndpoints output, then gating fails saying to run pulumi up", async () => {
    const t = target();
    await expect(t.gate("smoke", "live", { color: "green", version: "1.1.0" })).rejects.toThrow(
      'stack dev has no "regionEndpoints" output — run `pulumi up` with this version of infra/ first',
    );
  });

  it("when outputs are read, then live and preview URLs come from the stack's regions output", async () => {
    const t = target();
    expect(await t.outputs()).toEqual({
      liveUrls: ["https://dev.shop.example.com"],
      previewUrls: ["https://preview.dev.shop.example.com"],
      rollout: initial,
    });
  });

  it("when the stack was never deployed, then the rollout comes from the checkout's config", async () => {
    expect(await target().current()).toEqual(initial);
  });

  it("when live weights split traffic, then the current rollout carries them; at 100/0 it has none", () => {
    const at = (weights: object) =>
      liveRollout({
        activeColor: { value: "blue", secret: false },
        versions: { value: { blue: "1.0.0", green: "1.1.0" }, secret: false },
        weights: { value: weights, secret: false },
      });
    expect(at({ blue: 90, green: 10 })?.weights).toEqual({ blue: 90, green: 10 });
    expect(at({ blue: 100, green: 0 })?.weights).toBeUndefined();
  });

  it("when the deployed colors run by digest, then the current rollout and the recorded starting point keep them", () => {
    const digests = { blue: { gateway: `sha256:${"b".repeat(64)}` } };
    const live = liveRollout({
      activeColor: { value: "blue", secret: false },
      versions: { value: { blue: "1.0.0" }, secret: false },
      digests: { value: digests, secret: false },
    });
    expect(live?.digests).toEqual(digests);
    const json = JSON.parse(rolloutConfigJson({ activeColor: "blue", versions: { blue: "1.1.0" } }, live));
    expect(json["blueprint:rolloutFrom"].objectValue.digests).toEqual(digests);
    expect(
      liveRollout({
        activeColor: { value: "blue", secret: false },
        versions: { value: { blue: "1.0.0" }, secret: false },
        digests: { value: {}, secret: false },
      })?.digests,
    ).toBeUndefined();
  });

  it("when the rollout has undefined fields, then they are dropped from the structured value", () => {
    const json = JSON.parse(
      rolloutConfigJson({ activeColor: "green", versions: { green: "2.0.0" }, weights: undefined }),
    );
    expect(json["blueprint:rollout"].objectValue).toEqual({
      activeColor: "green",
      versions: { green: "2.0.0" },
    });
  });

  it("when the Pulumi CLI is missing, then the error says what to install", async () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      const err = await PulumiCommand.get().catch((e: unknown) => e);
      expect(explainPulumiError(err)).toBe(
        "the Pulumi CLI is not on PATH — install it (https://www.pulumi.com/docs/install/; in CI: pulumi/actions)",
      );
    } finally {
      process.env.PATH = path;
    }
  });

  it("when the stack is locked by another update, then up waits and retries, and refuses when that update changed the rollout", async () => {
    // What the Automation API throws on a 409 (its constructor is not public).
    const locked = () =>
      Object.assign(Object.create(ConcurrentUpdateError.prototype) as Error, {
        message: "[409] Conflict: Another update is currently in progress.",
      });
    const live = {
      activeColor: { value: "blue", secret: false },
      versions: { value: { blue: "1.0.0" }, secret: false },
    };
    const stub = (outputsSeen: OutputMap[], failures: number) => {
      let calls = 0;
      const configs: string[] = [];
      const handle = {
        name: "dev",
        outputs: async () => outputsSeen[Math.min(calls, outputsSeen.length - 1)]!,
        getConfig: async () => ({ value: JSON.stringify(initial), secret: false }),
        setAllConfigJson: async (json: string) => void configs.push(json),
        up: async () => {
          if (calls++ < failures) throw locked();
          return {} as never;
        },
        cancel: async () => {},
      } as unknown as StackHandle;
      return { handle, configs, calls: () => calls };
    };
    const fast = { blueprint: loadBlueprint("dev"), reportDir: "/tmp", lockWaitMs: 60_000, lockPollMs: 1 };

    const waits = stub([live], 2);
    await new CloudTarget(waits.handle, fast).switch({ ...initial, activeColor: "blue" });
    expect(waits.calls()).toBe(3);
    // The change records what ran when it was decided (the program's rollout guard lets it through).
    expect(JSON.parse(waits.configs[0]!)["blueprint:rolloutFrom"].objectValue).toEqual({
      activeColor: "blue",
      versions: { blue: "1.0.0" },
    });

    const moved = stub([live, { ...live, activeColor: { value: "green", secret: false } }], 1);
    await expect(new CloudTarget(moved.handle, fast).switch(initial)).rejects.toThrow(
      /another update changed the rollout of dev while this one waited .* promote again from there/,
    );

    const stuck = stub([live], 99);
    await expect(new CloudTarget(stuck.handle, { ...fast, lockWaitMs: 0 }).switch(initial)).rejects.toThrow(
      "dev stayed locked by another update for 0 min — if no update is running, `pulumi cancel --stack dev` clears a stale lock; then promote again",
    );
  });
});
