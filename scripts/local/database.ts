import {
  postgresRole,
  promotePostgres,
  replicationLag,
  setSynchronous as setPostgresSynchronous,
} from "../lib/servers/index.js";
import type { ProcessRecord } from "./state.js";

// The regions' PostgreSQL servers under FerretDB, as the drills see them from their process records (the handles
// may belong to another shell): who is primary, how far a standby is behind, the takeover and synchronous
// replication on or off.

const at = (rec: ProcessRecord) => ({ host: rec.host, port: rec.port });

/** "primary", "standby", or "down" when it does not answer. */
export async function pgRole(rec: ProcessRecord): Promise<"primary" | "standby" | "down"> {
  return postgresRole(at(rec)).catch(() => "down" as const);
}

/** Bytes the slowest streaming standby has not replayed yet; null when no standby is connected. */
export async function replicationLagBytes(primary: ProcessRecord): Promise<number | null> {
  return (await replicationLag(at(primary))) ?? null;
}

/**
 * Synchronous replication on (every commit waits for a standby: the analog of `w: majority` with both regions
 * voting) or off (a survivor alone must accept writes, as a forced reconfig leaves a one-member majority).
 */
export const setSynchronous = (primary: ProcessRecord, on: boolean): Promise<void> =>
  setPostgresSynchronous(at(primary), on);

/**
 * The takeover: promotes the standby (waits until it accepts writes) and turns synchronous replication off on it,
 * since its standby is gone.
 */
export async function promote(standby: ProcessRecord): Promise<void> {
  await promotePostgres(at(standby));
  await setSynchronous(standby, false);
}
