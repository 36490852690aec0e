import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { assertPortFree } from "./ports.js";
import { findBinary } from "./paths.js";
import { prepareDir, runningServer, spawnTracked, waitUntilReady, type RunningServer } from "./process.js";

export interface PrometheusOptions {
  host: string;
  port: number;
  dir?: string;
  /** prometheus.yml as an object; `rule_files` are written beside it from `rules`. */
  config: Record<string, unknown>;
  /** Rule groups, written to rules.yml and loaded by the config. */
  rules: { groups: unknown[] };
}

export interface AlertmanagerOptions {
  host: string;
  port: number;
  dir?: string;
  /** alertmanager.yml as an object. */
  config: Record<string, unknown>;
}

/** Starts Debian's prometheus with its TSDB in `dir`; resolves once /-/ready answers 200. url: http://host:port */
export function startPrometheus(opts: PrometheusOptions): Promise<RunningServer> {
  return startDaemon("prometheus", "prometheus", opts, (dir) => {
    writeFileSync(join(dir, "rules.yml"), stringify(opts.rules));
    writeFileSync(
      join(dir, "prometheus.yml"),
      stringify({ ...opts.config, rule_files: [join(dir, "rules.yml")] }),
    );
    return [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      "--storage.tsdb.retention.time=1d",
    ];
  });
}

/**
 * Starts Debian's prometheus-alertmanager alone (its gossip port off), its silences and notification log in `dir`;
 * resolves once /-/ready answers 200. url: http://host:port
 */
export function startAlertmanager(opts: AlertmanagerOptions): Promise<RunningServer> {
  return startDaemon("alertmanager", "prometheus-alertmanager", opts, (dir) => {
    writeFileSync(join(dir, "alertmanager.yml"), stringify(opts.config));
    return [
      `--config.file=${join(dir, "alertmanager.yml")}`,
      `--storage.path=${join(dir, "data")}`,
      // An empty address turns the HA gossip off (it would listen on 0.0.0.0:9094).
      "--cluster.listen-address=",
    ];
  });
}

/** The Prometheus project's daemons share their shape: files written into `dir`, a listen flag, /-/ready. */
async function startDaemon(
  tool: string,
  binary: string,
  opts: { host: string; port: number; dir?: string },
  prepare: (dir: string) => string[],
): Promise<RunningServer> {
  const { host, port } = opts;
  await assertPortFree(tool, host, port);
  const { dir, owned } = prepareDir(tool, opts.dir);
  const proc = spawnTracked({
    tool,
    command: findBinary(binary),
    args: [...prepare(dir), `--web.listen-address=${host}:${port}`],
    dir,
  });
  const url = `http://${host}:${port}`;
  await waitUntilReady(
    proc,
    async () =>
      (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).catch(() => null))?.ok === true,
    30_000,
  );
  return runningServer(proc, { host, port, url, dir, ownsDir: owned, stopTimeoutMs: 10_000 });
}
