#!/usr/bin/env node
// STAND-IN for the Pulumi CLI (not installable here): records every command the Automation API issues to
// $FAKE_PULUMI_LOG (one JSON argv per line) and answers the few it needs from $FAKE_PULUMI_STATE. No engine runs.
// Like the real CLI, config lives in the checkout (the working directory; state.config is what the committed
// Pulumi.<stack>.yaml holds) and outputs live in the backend ($FAKE_PULUMI_STATE): a successful `up` exports the
// rollout as infra/index.ts does (activeColor, versions of deployed colors, weights).
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
appendFileSync(process.env.FAKE_PULUMI_LOG, `${JSON.stringify(args)}\n`);
const stateFile = process.env.FAKE_PULUMI_STATE;
const state = existsSync(stateFile)
  ? JSON.parse(readFileSync(stateFile, "utf8"))
  : { config: {}, outputs: {} };
const save = () => writeFileSync(stateFile, JSON.stringify(state));
const checkoutFile = join(process.cwd(), ".fake-pulumi-config.json");
const config = existsSync(checkoutFile)
  ? JSON.parse(readFileSync(checkoutFile, "utf8"))
  : { ...state.config };
const saveConfig = () => writeFileSync(checkoutFile, JSON.stringify(config));
const [a, b] = args;
const flag = (name) => args[args.indexOf(name) + 1];

if (a === "version") {
  process.stdout.write("v3.248.0\n");
} else if (a === "stack" && b === "select") {
  if (state.missingStacks?.includes(flag("--stack"))) {
    process.stderr.write(`error: no stack named '${flag("--stack")}' found\n`);
    process.exit(255);
  }
} else if (a === "config" && b === "set-all" && args.includes("--json")) {
  for (const [key, v] of Object.entries(JSON.parse(flag("--json")))) config[key] = v.value;
  saveConfig();
} else if (a === "config" && b === "set") {
  config[args[2]] = args[args.indexOf("--") + 1];
  if (args.includes("--secret")) config.secretKeys = [...new Set([...(config.secretKeys ?? []), args[2]])];
  saveConfig();
} else if (a === "config" && b === "get") {
  const value = config[args[2]];
  if (value === undefined) {
    process.stderr.write(`error: configuration key '${args[2]}' not found for stack\n`);
    process.exit(255);
  }
  process.stdout.write(JSON.stringify({ value, secret: false }));
} else if (a === "up") {
  if (state.failUp) {
    process.stderr.write("error: update failed (injected by the stand-in)\n");
    process.exit(255);
  }
  const rollout = config["blueprint:rollout"] && JSON.parse(config["blueprint:rollout"]);
  if (rollout) {
    const active = rollout.activeColor ?? "blue";
    const idle = active === "blue" ? "green" : "blue";
    state.outputs = {
      ...state.outputs,
      activeColor: active,
      versions: rollout.versions ?? {},
      weights: rollout.weights ?? { [active]: 100, [idle]: 0 },
    };
    save();
  }
  process.stdout.write("Updating (stand-in)\nResources:\n    0 changes\n");
} else if (a === "stack" && b === "output") {
  process.stdout.write(JSON.stringify(state.outputs));
} else if (a === "stack" && b === "history") {
  process.stdout.write(
    JSON.stringify([
      {
        version: 1,
        kind: "update",
        startTime: new Date().toISOString(),
        message: "",
        environment: {},
        config: {},
        result: "succeeded",
      },
    ]),
  );
} else if (a === "stack" && b === "rm") {
  state.removed = [...(state.removed ?? []), flag("--stack") ?? args[2]];
  save();
}
