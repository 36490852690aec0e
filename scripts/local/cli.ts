// `npm run local [-- <command>] [options]`: the local environment and its blue-green rehearsal (the one command).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import { runRehearsal } from "../pipeline/rehearsal.js";
import { DRILLS, alertProblems, runDrill, type DrillName } from "./drills.js";
import { createLocalEnvironment, type LocalEnvironment } from "./environment.js";
import { regionLossProblems, runRegionLoss } from "./region-loss.js";
import { assertOwnStateDir, isAlive, readState, stateFile } from "./state.js";

const USAGE = `usage: npm run local [-- <command>] [options]
commands:
  run      (default) up → blue-green rehearsal from scripts/pipeline → report → down
  up       start everything and stay in the foreground until Ctrl-C or 'npm run local -- down'
  drill <name>  up → a failure drill under load → report → down: region-loss (everything of the primary region
           SIGKILLed, the survivor's database promoted, the region brought back), kafka-down, redis-down,
           database-down, sigterm-rolling, partition (the links between regions cut, both edges up)
  status   table of the recorded processes
  down     stop every recorded process by PID
options of drill:
  --seconds <n>       how long the dependency (region-loss: the region) stays down (default 30; region-loss 40,
                      at least its election timeout + 10 s)
options of run:
  --keep              after the rehearsal, stay up until Ctrl-C or 'npm run local -- down'
  --fail-gate         ship a bad release (30% of requests answer 500), expect the rollback
  --fail-server-side  ship a release that fails 5% of order reads (under k6's limit): only the server-side
                      analysis of the gates sees it; expect the rollback
  --no-failover       skip the DNS failover drill
  --canary <p,...>    canary steps before the full switch, e.g. 10,50 (a live smoke gate at each)
  --version <v>       version to promote (default: the live one with its minor part raised)
  --report-dir <dir>  default reports/rehearsal-<time>
options: --base-port <n> (default 18000)  --stack <name> (default local)  --state-dir <dir> (default .local/<stack>)`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  allowNegative: true,
  options: {
    keep: { type: "boolean", default: false },
    "fail-gate": { type: "boolean", default: false },
    "fail-server-side": { type: "boolean", default: false },
    failover: { type: "boolean", default: true },
    canary: { type: "string" },
    version: { type: "string" },
    "report-dir": { type: "string" },
    "base-port": { type: "string" },
    stack: { type: "string", default: "local" },
    "state-dir": { type: "string" },
    seconds: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
const command = positionals[0] ?? "run";
const stack = values.stack;
const stateDir = values["state-dir"] ?? join(REPO_ROOT, ".local", stack);
const basePort = values["base-port"] === undefined ? undefined : Number(values["base-port"]);
const log = (line: string) => process.stdout.write(`${line}\n`);

function printStatus(rows: Awaited<ReturnType<LocalEnvironment["status"]>>): void {
  const width = Math.max(7, ...rows.map((r) => r.name.length));
  log(`${"process".padEnd(width)}  ${"pid".padStart(7)}  alive  url`);
  for (const r of rows)
    log(
      `${r.name.padEnd(width)}  ${String(r.pid).padStart(7)}  ${(r.alive ? "yes" : "NO").padEnd(5)}  ${r.url}`,
    );
}

function printEndpoints(env: LocalEnvironment): void {
  for (const e of env.endpoints)
    log(
      `  ${e.region}: curl -H 'Host: ${e.publicHost}' ${e.edge}/api/catalog/products   (preview: Host ${e.previewHost})`,
    );
  log(`  dns: dig @${env.dns.host} -p ${env.dns.port} ${env.dns.name} +short`);
}

/** Stays in the foreground: the backing servers live as long as this process (Ctrl-C or `down` from another shell ends it). */
async function holdUntilStopped(): Promise<void> {
  log(`running — Ctrl-C here or 'npm run local -- down' in another shell stops everything`);
  for (;;) {
    await sleep(1_000);
    const state = readState(stateDir);
    if (!state || state.ownerPid !== process.pid) {
      log("⏹ the environment was stopped from another shell");
      return;
    }
  }
}

/** The blue-green promotion (and the failover drill) of scripts/pipeline against this environment; writes the report. */
async function rehearse(env: LocalEnvironment): Promise<boolean> {
  const result = await runRehearsal(env, {
    failGate: values["fail-gate"],
    serverSideRegression: values["fail-server-side"],
    failoverDrill: values.failover,
    onProgress: log,
    ...(values.canary ? { canaryPercents: values.canary.split(",").map(Number) } : {}),
    ...(values.version ? { version: values.version } : {}),
    ...(values["report-dir"] ? { reportDir: values["report-dir"] } : {}),
  });
  // The rehearsal's summary already names the report file.
  return result.ok;
}

/** `npm run build` (incremental tsc -b) so the services run the code in the checkout; only `run` and `up` need it. */
function build(): void {
  const started = performance.now();
  log("▶ build: npm run build (services/*/dist) …");
  execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "inherit" });
  log(`✔ build (${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

async function up(env: LocalEnvironment): Promise<void> {
  // Before the build: a --state-dir pointing at someone's directory fails at once, and is never emptied.
  assertOwnStateDir(stateDir);
  const state = readState(stateDir);
  if (state && !isAlive(state.ownerPid)) {
    // The owner was killed without cleanup (SIGKILL, crash): its processes are orphans, restart cleanly.
    log(`⚠ leftovers of pid ${state.ownerPid}, which is gone: stopping them before starting again`);
    await env.down();
  } else if (state?.processes.some((p) => isAlive(p.pid))) {
    // Rehearsing against someone else's environment, or reporting success without rehearsing, would both mislead.
    throw new Error(
      `the local environment "${stack}" is already running (started ${state.startedAt} by pid ${state.ownerPid}) — ` +
        `run 'npm run local -- down' first, or 'npm run local -- status' to see it`,
    );
  }
  build();
  const started = performance.now();
  await env.up(log);
  log(`✔ up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  printStatus(await env.status());
  printEndpoints(env);
}

async function main(): Promise<number> {
  if (values.help || !["run", "up", "drill", "status", "down"].includes(command)) {
    log(USAGE);
    return values.help ? 0 : 2;
  }
  const canary = values.canary?.split(",").map(Number) ?? [];
  if (canary.some((p) => !Number.isInteger(p) || p < 1 || p > 99)) {
    log(`--canary takes percents from 1 to 99 separated by commas, e.g. 10,50 (got ${values.canary})`);
    return 2;
  }
  const drill = positionals[1] as DrillName | "region-loss" | undefined;
  if (command === "drill" && (!drill || !(drill === "region-loss" || DRILLS.includes(drill)))) {
    log(`drill needs one of region-loss, ${DRILLS.join(", ")} (got ${drill ?? "none"})`);
    return 2;
  }
  const outageSeconds = Number(values.seconds ?? (drill === "region-loss" ? 40 : 30));
  if (!Number.isInteger(outageSeconds) || outageSeconds < 1 || outageSeconds > 600) {
    log(`--seconds takes a whole number of seconds from 1 to 600 (got ${values.seconds})`);
    return 2;
  }
  const env = createLocalEnvironment({ stack, stateDir, ...(basePort === undefined ? {} : { basePort }) });
  if (command === "status") {
    const rows = await env.status();
    if (rows.length === 0) {
      log(`the local environment "${stack}" is not running (no ${stateFile(stateDir)})`);
      return 0;
    }
    printStatus(rows);
    const owner = readState(stateDir)?.ownerPid ?? 0;
    log(
      `owner (the 'up' process): pid ${owner}, ${isAlive(owner) ? "alive" : "GONE — run 'npm run local -- down'"}`,
    );
    return rows.every((r) => r.alive) && isAlive(owner) ? 0 : 1;
  }
  if (command === "down") {
    const rows = await env.status();
    const started = performance.now();
    await env.down();
    const left = rows.filter((r) => isAlive(r.pid));
    if (left.length > 0)
      throw new Error(`still running after down: ${left.map((r) => `${r.name} (${r.pid})`).join(", ")}`);
    log(`✔ down: ${rows.length} processes stopped in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  }

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`\n⏹ ${signal}: stopping every process of the local environment …`);
    void env.down().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  await up(env);
  if (command === "up") {
    await holdUntilStopped();
    await env.down();
    return 0;
  }
  let ok = false;
  try {
    if (command === "drill") {
      const reportDir = values["report-dir"] ?? join(REPO_ROOT, "reports", `drill-${drill}-${Date.now()}`);
      if (drill === "region-loss") {
        const report = await runRegionLoss(env, { outageSeconds, reportDir, log });
        log(`report: ${report.files!.markdown}`);
        const problems = [...regionLossProblems(report), ...alertProblems(report.alerts)];
        ok = problems.length === 0;
        for (const problem of problems) log(`✖ ${problem}`);
      } else {
        const report = await runDrill(env, drill!, { outageSeconds, reportDir, log });
        log(`report: ${report.files!.markdown}`);
        const problems = [
          ...(report.ordersLost.length > 0 ? [`orders lost: ${report.ordersLost.join(", ")}`] : []),
          ...alertProblems(report.alerts),
        ];
        ok = problems.length === 0;
        for (const problem of problems) log(`✖ ${problem}`);
      }
    } else ok = await rehearse(env);
  } finally {
    if (values.keep && !stopping) await holdUntilStopped();
    stopping = true;
    const downStarted = performance.now();
    await env.down();
    log(
      `✔ down in ${((performance.now() - downStarted) / 1000).toFixed(1)} s — no process of the local environment is left`,
    );
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`✖ ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
