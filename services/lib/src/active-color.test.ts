import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, test } from "vitest";
import { ActiveColorWatcher, readActiveColor } from "./active-color.js";

const dir = mkdtempSync(join(tmpdir(), "active-color-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content?: string) => {
  const path = join(dir, name);
  if (content !== undefined) writeFileSync(path, content);
  return path;
};

describe("readActiveColor", () => {
  test("when the file names this color (with whitespace), then this color consumes", async () => {
    expect(await readActiveColor(file("a", " blue\n"), "blue")).toMatchObject({
      consuming: true,
      activeColor: "blue",
    });
  });

  test("when the file names the other color, then this color pauses", async () => {
    expect(await readActiveColor(file("b", "green\n"), "blue")).toEqual({
      consuming: false,
      activeColor: "green",
      reason: "file says green (this is blue): paused",
    });
  });

  test("when the variable is unset, the file is missing, empty or names no color, then it fails open", async () => {
    const cases = [
      [undefined, "ACTIVE_COLOR_FILE unset: consuming"],
      [file("missing"), `${file("missing")} unreadable (ENOENT): consuming`],
      [dir, `${dir} unreadable (EISDIR): consuming`],
      [file("empty", ""), `${file("empty")} says "", not blue or green: consuming`],
      [file("upper", "GREEN"), `${file("upper")} says "GREEN", not blue or green: consuming`],
    ] as const;
    for (const [path, reason] of cases)
      expect(await readActiveColor(path, "blue"), String(path)).toEqual({
        consuming: true,
        activeColor: undefined,
        reason,
      });
  });
});

describe("ActiveColorWatcher", () => {
  test("when the file flips, then listeners hear each change of consuming once and transitions are logged", async () => {
    const path = file("flip", "green");
    const lines: { msg: string; consuming: boolean }[] = [];
    const logger = pino({ level: "info" }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const watcher = new ActiveColorWatcher({ file: path, color: "blue", logger, pollMs: 20 });
    const heard: boolean[] = [];
    watcher.onChange((open) => heard.push(open));
    await watcher.ready;
    expect(watcher.open).toBe(false);

    const until = async (want: boolean) => {
      for (let i = 0; i < 100 && watcher.open !== want; i++) await new Promise((r) => setTimeout(r, 10));
    };
    writeFileSync(path, "blue");
    await until(true);
    // The same color again, and a broken file: fail open, so consuming stays true and nobody is told.
    writeFileSync(path, "blue\n");
    writeFileSync(path, "purple");
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(path, "green");
    await until(false);
    watcher.stop();

    expect(heard).toEqual([true, false]);
    expect(lines.map((l) => l.msg)).toEqual([
      "file says green (this is blue): paused",
      "file says blue (this is blue): consuming",
      `${path} says "purple", not blue or green: consuming`,
      "file says green (this is blue): paused",
    ]);
  });

  test("when it is stopped, then it no longer reads the file nor calls listeners", async () => {
    const path = file("stopped", "blue");
    const watcher = new ActiveColorWatcher({
      file: path,
      color: "blue",
      logger: pino({ level: "silent" }),
      pollMs: 10,
    });
    const heard: boolean[] = [];
    watcher.onChange((open) => heard.push(open));
    await watcher.ready;
    watcher.stop();
    writeFileSync(path, "green");
    await new Promise((r) => setTimeout(r, 80));
    expect(heard).toEqual([]);
    expect(watcher.open).toBe(true);
  });
});
