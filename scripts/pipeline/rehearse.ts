// `npm run rehearse [-- --fail-gate] [--failover] [--canary 10,50] [--base-port N] [--stack local]`: up → rehearsal → report → down.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import { createLocalEnvironment } from "../local/environment.js";
import { runRehearsal } from "./rehearsal.js";

const { values } = parseArgs({
  options: {
    "fail-gate": { type: "boolean", default: false },
    failover: { type: "boolean", default: false },
    "base-port": { type: "string" },
    stack: { type: "string", default: "local" },
    "report-dir": { type: "string" },
    canary: { type: "string" },
  },
});
const log = (line: string) => process.stdout.write(`${line}\n`);
// Its own ports (20000 up) and state dir, so a rehearsal can run beside `npm run local` (18000 up).
const REHEARSAL_BASE_PORT = 20000;
const basePort = values["base-port"] === undefined ? REHEARSAL_BASE_PORT : Number(values["base-port"]);
const env = createLocalEnvironment({
  stack: values.stack,
  stateDir: join(REPO_ROOT, ".local", `${values.stack}-rehearsal`),
  basePort,
});
const stop = () => void env.down().finally(() => process.exit(130));
process.once("SIGINT", stop);
process.once("SIGTERM", stop);

let ok = false;
try {
  await env.up(log);
  const result = await runRehearsal(env, {
    failGate: values["fail-gate"],
    failoverDrill: values.failover,
    ...(values.canary ? { canaryPercents: values.canary.split(",").map(Number) } : {}),
    onProgress: log,
    ...(values["report-dir"] ? { reportDir: values["report-dir"] } : {}),
  });
  ok = result.ok;
} catch (err) {
  log(`✖ ${err instanceof Error ? err.message : String(err)}`);
} finally {
  await env.down();
}
process.exit(ok ? 0 : 1);
