/** System users the Percona operator expects in `secrets.users`; every region's members share them. */
export const MONGO_SYSTEM_USERS = [
  "BACKUP",
  "DATABASE_ADMIN",
  "CLUSTER_ADMIN",
  "CLUSTER_MONITOR",
  "USER_ADMIN",
] as const;
export type MongoUser = (typeof MONGO_SYSTEM_USERS)[number] | "APP";

/** `DATABASE_ADMIN` → `mongoDatabaseAdminPassword`. */
export function mongoPasswordKey(user: MongoUser): string {
  const words = user.toLowerCase().split("_");
  return `mongo${words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("")}Password`;
}

const USERS = [...MONGO_SYSTEM_USERS, "APP"] as const;

/**
 * The credentials a cluster stack needs, as `secrets:<key>` config (encrypted in the stack's config, secret in its
 * state). `npm run stack:secrets -- --stack <name>` generates the missing ones, so no provider (such as
 * @pulumi/random) is needed, and every region's replica-set members get the same users.
 */
export const CREDENTIAL_KEYS = {
  mongo: Object.fromEntries(USERS.map((u) => [u, mongoPasswordKey(u)])) as Record<MongoUser, string>,
  redis: "redisPassword",
} as const;

/** Every key of CREDENTIAL_KEYS with its `secrets:` namespace, in a stable order. */
export const CREDENTIAL_CONFIG_KEYS: readonly string[] = [
  ...Object.values(CREDENTIAL_KEYS.mongo),
  CREDENTIAL_KEYS.redis,
].map((k) => `secrets:${k}`);
