import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import {
  activeColorFile,
  dataUrls,
  forgetProcesses,
  isAlive,
  readState,
  requireState,
  resetStateDir,
  STATE_DIR_MARKER,
  upsertProcess,
  writeActiveColor,
  writeState,
  type LocalState,
} from "./state.js";

const state: LocalState = {
  stack: "local",
  basePort: 18000,
  ownerPid: process.pid,
  startedAt: "2026-01-01T00:00:00.000Z",
  routing: { activeColor: "blue", versions: { blue: "1.0.0" } },
  processes: [
    {
      name: "redis-region-a",
      role: "redis",
      pid: 1,
      host: "127.0.1.1",
      port: 18079,
      url: "redis://127.0.1.1:18079",
      log: "r.log",
      region: "region-a",
    },
    {
      name: "kafka-region-a",
      role: "kafka",
      pid: 2,
      host: "127.0.1.1",
      port: 18092,
      url: "127.0.1.1:18092",
      log: "k.log",
      region: "region-a",
    },
  ],
};

describe("local state", () => {
  it("when a process has exited, then it no longer counts as alive", async () => {
    const child = spawn("true");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(isAlive(child.pid!)).toBe(false);
    expect(isAlive(process.pid)).toBe(true);
  });

  it("processes are added, replaced by name and forgotten in state.json", () => {
    const dir = mkdtempSync(join(tmpdir(), "local-state-"));
    try {
      expect(() => requireState(dir, "local")).toThrow(
        `the local environment "local" is not running (no ${dir}/state.json)`,
      );
      writeState(dir, state);
      upsertProcess(readState(dir)!, dir, { ...state.processes[1]!, pid: 3 });
      expect(readState(dir)!.processes.map((p) => [p.name, p.pid])).toEqual([
        ["redis-region-a", 1],
        ["kafka-region-a", 3],
      ]);
      forgetProcesses(dir, ["kafka-region-a"]);
      expect(readState(dir)!.processes.map((p) => p.name)).toEqual(["redis-region-a"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("when a data store is not running, then dataUrls names it and how to start it", () => {
    expect(() => dataUrls(state, "region-a")).toThrow(
      "mongo of region-a is not running — run 'npm run local -- up' first",
    );
    expect(() => dataUrls(state, "region-b")).toThrow("redis of region-b is not running");
  });

  it("when the active color is written twice, then the file holds only the last color", () => {
    const dir = mkdtempSync(join(tmpdir(), "active-color-"));
    writeActiveColor(dir, "blue");
    writeActiveColor(dir, "green");
    expect(readFileSync(activeColorFile(dir), "utf8").trim()).toBe("green");
    expect(activeColorFile(dir)).toBe(join(dir, "active-color"));
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("state dir reset", () => {
  it("when the state dir holds files the environment did not write, then up refuses it and deletes nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "state-dir-"));
    writeFileSync(join(dir, "thesis.tex"), "precious");
    mkdirSync(join(dir, "src"));
    expect(() => resetStateDir(dir)).toThrow(
      `state dir ${dir} is not empty and was not created by the local environment (no ${STATE_DIR_MARKER} or state.json in it): refusing to empty it — pass a new or empty directory to --state-dir`,
    );
    expect([existsSync(join(dir, "thesis.tex")), existsSync(join(dir, "src"))]).toEqual([true, true]);
  });

  it("when the state dir is new, empty, or one the environment created, then it is emptied and marked", () => {
    const fresh = join(mkdtempSync(join(tmpdir(), "state-dir-")), "new");
    resetStateDir(fresh);
    expect(existsSync(join(fresh, STATE_DIR_MARKER))).toBe(true);
    // A later up (after down removed state.json) finds the marker and empties the old logs.
    mkdirSync(join(fresh, "region-a"));
    writeFileSync(join(fresh, "region-a", "edge.log"), "old");
    resetStateDir(fresh);
    expect([existsSync(join(fresh, "region-a")), existsSync(join(fresh, STATE_DIR_MARKER))]).toEqual([
      false,
      true,
    ]);
    // A state dir of an earlier version (state.json, no marker) is still the environment's own.
    const older = mkdtempSync(join(tmpdir(), "state-dir-"));
    writeState(older, state);
    resetStateDir(older);
    expect([existsSync(join(older, "state.json")), existsSync(join(older, STATE_DIR_MARKER))]).toEqual([
      false,
      true,
    ]);
  });

  it("when the state dir lies inside .local/ (the default state dirs), then it is the environment's even without a marker", () => {
    const ownedRoot = mkdtempSync(join(tmpdir(), "local-root-"));
    const dir = join(ownedRoot, "local");
    mkdirSync(join(dir, "region-a"), { recursive: true });
    writeFileSync(join(dir, "region-a", "edge.log"), "from an earlier version");
    resetStateDir(dir, ownedRoot);
    expect([existsSync(join(dir, "region-a")), existsSync(join(dir, STATE_DIR_MARKER))]).toEqual([
      false,
      true,
    ]);
    const sibling = `${ownedRoot}-sibling`;
    mkdirSync(sibling);
    writeFileSync(join(sibling, "precious"), "x");
    expect(() => resetStateDir(sibling, ownedRoot)).toThrow("refusing to empty it");
    writeFileSync(join(ownedRoot, "precious"), "x");
    expect(() => resetStateDir(ownedRoot, ownedRoot)).toThrow("refusing to empty it");
  });

  it("when the state dir is a file, then up refuses it", () => {
    const file = join(mkdtempSync(join(tmpdir(), "state-dir-")), "f");
    writeFileSync(file, "x");
    expect(() => resetStateDir(file)).toThrow(`state dir ${file} is not a directory`);
  });
});
