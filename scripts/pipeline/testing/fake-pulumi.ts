// Helpers around the fake-pulumi.mjs STAND-IN: a temp PATH entry named `pulumi`, its command log and state.
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../../infra/config/stack-file.js";

export interface FakePulumi {
  workDir: string;
  commands(): string[][];
  state(): { config: Record<string, string>; outputs: Record<string, unknown>; removed?: string[] };
  setState(state: object): void;
  restore(): void;
}

/** Puts the stand-in first on PATH and a copy of Pulumi.yaml plus the given stack files in a temp workDir. */
export function installFakePulumi(stacks: string[] = []): FakePulumi {
  const dir = mkdtempSync(join(tmpdir(), "fake-pulumi-"));
  const bin = join(dir, "bin");
  const workDir = join(dir, "work");
  mkdirSync(bin);
  mkdirSync(workDir);
  symlinkSync(join(import.meta.dirname, "fake-pulumi.mjs"), join(bin, "pulumi"));
  for (const f of ["Pulumi.yaml", ...stacks.map((s) => `Pulumi.${s}.yaml`)])
    copyFileSync(join(REPO_ROOT, f), join(workDir, f));
  const log = join(dir, "commands.jsonl");
  const stateFile = join(dir, "state.json");
  writeFileSync(log, "");
  const saved = {
    PATH: process.env.PATH,
    log: process.env.FAKE_PULUMI_LOG,
    state: process.env.FAKE_PULUMI_STATE,
  };
  process.env.PATH = `${bin}:${process.env.PATH}`;
  process.env.FAKE_PULUMI_LOG = log;
  process.env.FAKE_PULUMI_STATE = stateFile;
  return {
    workDir,
    commands: () =>
      readFileSync(log, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]),
    state: () => JSON.parse(readFileSync(stateFile, "utf8")),
    setState: (state) => writeFileSync(stateFile, JSON.stringify(state)),
    restore: () => {
      process.env.PATH = saved.PATH;
      process.env.FAKE_PULUMI_LOG = saved.log;
      process.env.FAKE_PULUMI_STATE = saved.state;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
