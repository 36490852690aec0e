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

/** Starts Debian's prometheus with its TSDB in `dir`; resolves once /-/ready answers 200. url: http://host:port */
export async function startPrometheus(opts: PrometheusOptions): Promise<RunningServer> {
  const { host, port } = opts;
  await assertPortFree("prometheus", host, port);
  const { dir, owned } = prepareDir("prometheus", opts.dir);
  writeFileSync(join(dir, "rules.yml"), stringify(opts.rules));
  writeFileSync(
    join(dir, "prometheus.yml"),
    stringify({ ...opts.config, rule_files: [join(dir, "rules.yml")] }),
  );
  const proc = spawnTracked({
    tool: "prometheus",
    command: findBinary("prometheus"),
    args: [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=${host}:${port}`,
      "--storage.tsdb.retention.time=1d",
    ],
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
