import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import { POSTGRES_BIN_DIR } from "./paths.js";
import { assertPortFree, freePort } from "./ports.js";
import {
  descendants,
  killPids,
  killTree,
  prepareDir,
  runningServer,
  spawnTracked,
  waitUntilReady,
  type RunningServer,
} from "./process.js";

export interface PostgresOptions {
  host?: string;
  port?: number;
  /** Holds data/ (PGDATA), the log and the unix socket; a temp dir (removed on stop) when omitted. */
  dir?: string;
  /** Extra listen addresses: listen_addresses = host + these. */
  alsoListenOn?: string[];
  /** Start as a streaming standby of that primary (pg_basebackup when dir has no data yet). */
  standbyOf?: { host: string; port: number };
  /** Primary: synchronous_standby_names = '*', so a commit waits for the standby. @default false */
  synchronousStandby?: boolean;
}

export interface RunningPostgres extends RunningServer {
  /** pg_promote(wait) on a standby; resolves when it accepts writes. */
  promote(): Promise<void>;
  role(): Promise<"primary" | "standby">;
  /** SIGSTOP then SIGKILL the postmaster and every descendant (backends setsid(), so not its group); resolves when all are gone. */
  crash(): Promise<void>;
}

type Endpoint = { host: string; port: number };

const run = promisify(execFile);
const bin = (name: string): string => join(POSTGRES_BIN_DIR, name);

// Shared by every node; pg_basebackup and pg_rewind copy it with the data. Per-node settings: -c, postgresql.auto.conf.
const SHARED_CONF = `# Written by scripts/lib/servers/postgres.ts; included from postgresql.conf.
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 256MB
hot_standby = on
hot_standby_feedback = on
# A standby retries its primary twice a second (default 5 s): after the primary restarts, synchronous commits wait
# until the standby is back.
wal_retrieve_retry_interval = 500ms
# pg_rewind needs hint-bit changes in the WAL.
wal_log_hints = on
shared_buffers = 128MB
# FerretDB sends every filter as a prepared \`_jsonb->$1 @> $2\`: a generic plan cannot use the GIN twins
# (ferretdbGinTwins), and PostgreSQL keeps one it judged on a small table until an ANALYZE, so a poll scans the
# whole table meanwhile. Custom plans, always: planning costs far less than a scan.
plan_cache_mode = force_custom_plan
# Each FerretDB pools up to 100 connections (ferretdbUrl); every region's FerretDB may reach the primary.
max_connections = 300
`;

// Loopback only: trust for every role, replication included.
const HBA_CONF = `local all all trust
local replication all trust
host all all 127.0.0.0/8 trust
host replication all 127.0.0.0/8 trust
`;

let pgUser: { uid: number; gid: number } | null | undefined;

/** initdb and postgres refuse root: as root, run them as the `postgres` user the Debian package creates. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (pgUser === undefined) {
    pgUser =
      process.getuid?.() === 0
        ? {
            uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()),
            gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()),
          }
        : null;
  }
  return pgUser ?? undefined;
}

async function runAsServerUser(command: string, args: string[], cwd: string): Promise<string> {
  const user = serverUser();
  try {
    const { stdout, stderr } = await run(bin(command), args, { cwd, ...(user ?? {}), timeout: 120_000 });
    return `${stdout}${stderr}`;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} failed: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

/** Gives dir to the server user (0700) and makes every parent traversable by it (mkdtemp parents are 0700). */
function handOver(dir: string): void {
  const user = serverUser();
  if (!user) return;
  chownSync(dir, user.uid, user.gid);
  chmodSync(dir, 0o700);
  for (let parent = dirname(dir); parent !== dirname(parent); parent = dirname(parent)) {
    const mode = statSync(parent).mode;
    if ((mode & 0o001) === 0) chmodSync(parent, mode | 0o001);
  }
}

function writeServerFile(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  const user = serverUser();
  if (user) chownSync(path, user.uid, user.gid);
}

/** Rewrites postgresql.auto.conf without `keys`, plus `extra` lines (a copied conf must not carry the primary's). */
function editAutoConf(dataDir: string, keys: string[], extra: string[]): void {
  const path = join(dataDir, "postgresql.auto.conf");
  const kept = existsSync(path)
    ? readFileSync(path, "utf8")
        .split("\n")
        .filter((line) => line !== "" && !keys.some((key) => line.trimStart().startsWith(key)))
    : [];
  writeServerFile(path, [...kept, ...extra, ""].join("\n"));
}

function writeStandbyConfig(dataDir: string, of: Endpoint): void {
  writeServerFile(join(dataDir, "standby.signal"), "");
  editAutoConf(
    dataDir,
    ["primary_conninfo"],
    [`primary_conninfo = 'host=${of.host} port=${of.port} user=replicator application_name=blueprint'`],
  );
}

/** A short-lived superuser connection (trust auth on loopback). */
async function withClient<T>(
  at: Endpoint & { database?: string },
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({
    host: at.host,
    port: at.port,
    user: "postgres",
    database: at.database ?? "postgres",
    connectionTimeoutMillis: 2_000,
  });
  // A server killed mid-query also emits 'error'; the pending query rejects with it anyway.
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const queryOne = <T>(at: Endpoint, sql: string): Promise<T> =>
  withClient(at, async (client) => (await client.query(sql)).rows[0] as T);

async function ensureRoles(at: Endpoint): Promise<void> {
  await withClient(at, async (client) => {
    // A synchronous primary has no standby yet: these commits must not wait for one.
    await client.query("SET synchronous_commit = local");
    const roles = await client.query<{ rolname: string }>("SELECT rolname FROM pg_roles");
    const have = new Set(roles.rows.map((row) => row.rolname));
    if (!have.has("ferretdb")) await client.query("CREATE ROLE ferretdb LOGIN");
    if (!have.has("replicator")) await client.query("CREATE ROLE replicator LOGIN REPLICATION");
    const db = await client.query("SELECT 1 FROM pg_database WHERE datname = 'ferretdb'");
    if (db.rowCount === 0) await client.query("CREATE DATABASE ferretdb OWNER ferretdb");
  });
}

/**
 * Starts PostgreSQL for FerretDB's postgresql handler: a fresh primary (initdb, roles `ferretdb` and `replicator`,
 * database `ferretdb`), or with standbyOf a streaming standby (pg_basebackup when dir has no data yet), resolving
 * once it streams. Without standbyOf, a dir that holds a standby starts as a primary (its recovery ends).
 * url: postgres://ferretdb@host:port/ferretdb?sslmode=disable
 */
export async function startPostgres(opts: PostgresOptions = {}): Promise<RunningPostgres> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? (await freePort(host));
  await assertPortFree("postgres", host, port);
  const { dir, owned } = prepareDir("postgres", opts.dir);
  handOver(dir);
  const dataDir = join(dir, "data");
  if (!existsSync(join(dataDir, "PG_VERSION"))) {
    if (opts.standbyOf) {
      await checkpoint(opts.standbyOf);
      await basebackup(dataDir, opts.standbyOf, dir);
    } else {
      await runAsServerUser(
        "initdb",
        ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
        dir,
      );
      writeServerFile(join(dataDir, "pg_hba.conf"), HBA_CONF);
      writeServerFile(join(dataDir, "blueprint.conf"), SHARED_CONF);
      const conf = join(dataDir, "postgresql.conf");
      writeServerFile(conf, `${readFileSync(conf, "utf8")}\ninclude 'blueprint.conf'\n`);
    }
  }
  if (opts.standbyOf) writeStandbyConfig(dataDir, opts.standbyOf);
  else rmSync(join(dataDir, "standby.signal"), { force: true });
  // Not -c: a command-line setting outranks ALTER SYSTEM, so setSynchronous could not change it. The auto.conf a
  // standby copied from its primary is rewritten here, so each node's setting stays its own.
  editAutoConf(
    dataDir,
    ["synchronous_standby_names"],
    opts.synchronousStandby ? ["synchronous_standby_names = '*'"] : [],
  );
  const user = serverUser();
  const proc = spawnTracked({
    tool: "postgres",
    command: bin("postgres"),
    args: [
      "-D",
      dataDir,
      "-c",
      `port=${port}`,
      "-c",
      `listen_addresses=${[host, ...(opts.alsoListenOn ?? [])].join(",")}`,
      "-c",
      `unix_socket_directories=${dir}`,
    ],
    dir,
    ...(user ? { user } : {}),
    stopSignal: "SIGINT",
  });
  const at = { host, port };
  await waitUntilReady(
    proc,
    async () =>
      opts.standbyOf
        ? (await queryOne<{ status?: string }>(at, "SELECT status FROM pg_stat_wal_receiver"))?.status ===
          "streaming"
        : (await queryOne<{ ok: number }>(at, "SELECT 1 AS ok")).ok === 1,
    30_000,
  );
  if (!opts.standbyOf) await ensureRoles(at);

  const crash = async (): Promise<void> => {
    if (proc.hasExited()) return;
    await killTree(proc.pid);
    await proc.exited;
  };
  const server = runningServer(proc, {
    host,
    port,
    url: `postgres://ferretdb@${host}:${port}/ferretdb?sslmode=disable`,
    dir,
    ownsDir: owned,
    stopTimeoutMs: 10_000,
  });
  return {
    ...server,
    async stop() {
      // Backends outlive a SIGKILLed postmaster for a moment: reap them too.
      const children = proc.hasExited() ? [] : descendants(proc.pid);
      await server.stop();
      await killPids(children);
    },
    promote: () => promotePostgres(at),
    role: () => postgresRole(at),
    crash,
  };
}

/** The takeover: promotes the standby at `at`; resolves once it accepts writes (pg_promote waits up to 30 s). */
export async function promotePostgres(at: Endpoint): Promise<void> {
  const { promoted } = await queryOne<{ promoted: boolean }>(at, "SELECT pg_promote(true, 30) AS promoted");
  if (!promoted) throw new Error(`postgres ${at.host}:${at.port} did not finish promotion within 30 s`);
}

/** Whether the server at `at` accepts writes; throws when it does not answer. */
export async function postgresRole(at: Endpoint): Promise<"primary" | "standby"> {
  const row = await queryOne<{ standby: boolean }>(at, "SELECT pg_is_in_recovery() AS standby");
  return row.standby ? "standby" : "primary";
}

const checkpoint = (at: Endpoint): Promise<unknown> => withClient(at, (client) => client.query("CHECKPOINT"));

async function basebackup(dataDir: string, of: Endpoint, cwd: string): Promise<void> {
  rmSync(dataDir, { recursive: true, force: true });
  await runAsServerUser(
    "pg_basebackup",
    [
      "-h",
      of.host,
      "-p",
      String(of.port),
      "-U",
      "replicator",
      "-D",
      dataDir,
      "--checkpoint=fast",
      "-R",
      "-X",
      "stream",
    ],
    cwd,
  );
}

/** Turns the old data dir of a failed primary into a standby of `of`: pg_rewind (after CHECKPOINT on `of`), falling back to pg_basebackup; writes standby.signal + primary_conninfo. Does not start it. */
export async function rejoinAsStandby(
  dir: string,
  of: Endpoint,
): Promise<{ rejoinedBy: "pg_rewind" | "pg_basebackup" | "already a standby" }> {
  handOver(dir);
  const dataDir = join(dir, "data");
  if (existsSync(join(dataDir, "standby.signal"))) {
    writeStandbyConfig(dataDir, of);
    return { rejoinedBy: "already a standby" };
  }
  // pg_rewind reads the new timeline's history from the control file, which only a checkpoint updates.
  await checkpoint(of);
  let rejoinedBy: "pg_rewind" | "pg_basebackup" = "pg_rewind";
  try {
    if (!existsSync(join(dataDir, "PG_VERSION"))) throw new Error("no data dir to rewind");
    await runAsServerUser(
      "pg_rewind",
      ["-D", dataDir, `--source-server=host=${of.host} port=${of.port} user=postgres dbname=postgres`],
      dir,
    );
  } catch {
    rejoinedBy = "pg_basebackup";
    await basebackup(dataDir, of, dir);
  }
  writeStandbyConfig(dataDir, of);
  return { rejoinedBy };
}

/** Bytes the standby is behind (pg_stat_replication on the primary, replay lag); undefined if no standby connected. */
export async function replicationLag(primary: Endpoint): Promise<number | undefined> {
  const row = await queryOne<{ lag: string | null } | undefined>(
    primary,
    "SELECT max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)) AS lag FROM pg_stat_replication WHERE replay_lsn IS NOT NULL",
  );
  return row?.lag == null ? undefined : Number(row.lag);
}

/**
 * FerretDB v1 on PostgreSQL pushes an equality filter down as `_jsonb->'field' @> value`, while the indexes it
 * creates are btree on `(_jsonb->'field')`, which cannot serve `@>`: every `{_id}` lookup and every poll of a flag
 * scans the whole table. This gives each single-field index FerretDB made (a compound index: its first field) a
 * GIN twin on the same expression, which serves `@>`, so those filters cost O(matches). Run it on the primary
 * once the services created their collections. Only a custom plan can use an expression index for FerretDB's
 * prepared `_jsonb->$1`, hence `plan_cache_mode = force_custom_plan` in SHARED_CONF. `fastupdate = off`: GIN's pending list would be scanned whole by every lookup until
 * a vacuum, so a poll would again cost O(recent writes). The twins replicate to the standbys with the WAL. Resolves
 * to the indexes created.
 */
export async function ferretdbGinTwins(primary: Endpoint): Promise<string[]> {
  return withClient({ ...primary, database: "ferretdb" }, async (client) => {
    const { rows } = await client.query<{ schemaname: string; tablename: string; indexdef: string }>(
      `SELECT schemaname, tablename, indexdef FROM pg_indexes
        WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND indexdef LIKE '%USING btree%_jsonb -> %'`,
    );
    const wanted = new Map<string, string>();
    for (const r of rows) {
      const field = /USING btree \(\(\(_jsonb -> '([^']+)'::text\)\)/.exec(r.indexdef)?.[1];
      if (!field || r.tablename.startsWith("_ferretdb_")) continue;
      const name = `${r.tablename}_${createHash("sha1").update(field).digest("hex").slice(0, 8)}_gin`;
      const table = `${quoteIdent(r.schemaname)}.${quoteIdent(r.tablename)}`;
      wanted.set(
        name,
        `CREATE INDEX IF NOT EXISTS ${quoteIdent(name)} ON ${table} USING gin ((_jsonb -> ${quoteLiteral(field)})) WITH (fastupdate = off)`,
      );
    }
    for (const sql of wanted.values()) await client.query(sql);
    return [...wanted.keys()];
  });
}

const quoteIdent = (s: string) => `"${s.replaceAll('"', '""')}"`;
const quoteLiteral = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** libpq multi-host URL FerretDB uses: the first writable host wins. */
export function ferretdbUrl(hosts: Endpoint[]): string {
  const list = hosts.map((h) => `${h.host}:${h.port}`).join(",");
  // pool_max_conns: more than its clients can ask at once (the services' drivers pool 20 each, two colors). FerretDB
  // v1.24 deadlocks when its pool runs dry: a goroutine holding the metadata registry's write lock waits for a
  // connection while the connections' holders wait for that lock (seen at 20 under POST /orders at c=50).
  return `postgres://ferretdb@${list}/ferretdb?target_session_attrs=read-write&sslmode=disable&pool_max_conns=100`;
}

/** ALTER SYSTEM synchronous_standby_names ('*' or '') and pg_reload_conf; resolves once new sessions see it. */
export async function setSynchronous(primary: Endpoint, on: boolean): Promise<void> {
  const want = on ? "*" : "";
  await withClient(primary, async (client) => {
    await client.query(`ALTER SYSTEM SET synchronous_standby_names = '${want}'`);
    await client.query("SELECT pg_reload_conf()");
  });
  const deadline = Date.now() + 5_000;
  for (;;) {
    const row = await queryOne<{ synchronous_standby_names: string }>(
      primary,
      "SHOW synchronous_standby_names",
    );
    if (row.synchronous_standby_names === want) return;
    if (Date.now() > deadline)
      throw new Error(`postgres ${primary.host}:${primary.port} did not reload synchronous_standby_names`);
    await sleep(20);
  }
}
