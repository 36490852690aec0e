import { ConfigError } from "./config.js";
import type { RunningService } from "./app.js";

/**
 * The body of every `main.ts`: load config (a ConfigError is printed and exits 1), start, and on SIGTERM/SIGINT
 * drain, run `afterStop` (tracing flushes its last spans) and exit 0. A second signal exits at once.
 */
export async function runMain<C>(
  loadConfig: () => C,
  start: (config: C) => Promise<RunningService>,
  opts: { afterStop?: () => Promise<void> } = {},
): Promise<void> {
  let config: C;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  let running: RunningService;
  try {
    running = await start(config);
  } catch (err) {
    process.stderr.write(`startup failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  }
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(1);
    signalled = true;
    process.stderr.write(`${signal} received: draining\n`);
    running
      .stop()
      .then(() => opts.afterStop?.())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`shutdown failed: ${String(err)}\n`);
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
