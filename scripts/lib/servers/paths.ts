import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root, derived from this file's location (scripts/lib/servers). */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const CACHE_DIR = join(REPO_ROOT, ".cache");
export const TOOLS_BIN = join(CACHE_DIR, "tools", "bin");

/** The pinned tool versions setup.sh installs, from scripts/setup/versions.env (KEY=value lines). */
export const TOOL_VERSIONS: Readonly<Record<string, string>> = Object.fromEntries(
  readFileSync(join(REPO_ROOT, "scripts", "setup", "versions.env"), "utf8")
    .split("\n")
    .map((line) => /^([A-Z0-9_]+)=(\S+)$/.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!, m[2]!]),
);
export const KAFKA_VERSION = TOOL_VERSIONS.KAFKA_VERSION!;
export const KAFKA_LIBS = join(CACHE_DIR, "kafka", KAFKA_VERSION, "libs");
/** Debian's postgresql-<major> keeps initdb, postgres, pg_basebackup and pg_rewind off PATH. */
export const POSTGRES_BIN_DIR = `/usr/lib/postgresql/${TOOL_VERSIONS.POSTGRESQL_MAJOR!}/bin`;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds a binary in the tool cache, PATH, or the sbin dirs a non-root PATH often lacks. */
export function findBinary(name: string): string {
  const dirs = [
    TOOLS_BIN,
    ...(process.env.PATH ?? "").split(delimiter),
    "/usr/sbin",
    "/usr/local/sbin",
    "/sbin",
  ];
  for (const dir of dirs) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  throw new Error(
    `${name} not found (looked in ${TOOLS_BIN}, PATH and /usr/sbin): run 'npm run setup' to install it`,
  );
}
