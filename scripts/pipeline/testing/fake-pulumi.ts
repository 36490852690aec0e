// Helpers around the fake-pulumi.mjs STAND-IN: a temp PATH entry named `pulumi`, its command log and state.
import {
  copyFileSync,
  existsSync,
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
  /** Another checkout of the repository (as a new CI run makes), sharing the same backend state. */
  freshCheckout(): string;
  /** The config a checkout holds (its stack file), after the `config set-all` commands run in it. */
  checkoutConfig(workDir?: string): Record<string, string>;
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
  symlinkSync(join(import.meta.dirname, "fake-pulumi.mjs"), join(bin, "pulumi"));
  let checkouts = 0;
  const checkout = (into: string) => {
    mkdirSync(into);
    for (const f of ["Pulumi.yaml", ...stacks.map((s) => `Pulumi.${s}.yaml`)])
      copyFileSync(join(REPO_ROOT, f), join(into, f));
    return into;
  };
  checkout(workDir);
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
  const fake: FakePulumi = {
    workDir,
    freshCheckout: () => checkout(join(dir, `work-${++checkouts}`)),
    checkoutConfig: (at = workDir) => {
      const file = join(at, ".fake-pulumi-config.json");
      return existsSync(file)
        ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, string>)
        : fake.state().config;
    },
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
  return fake;
}
