import { describe, expect, it } from "vitest";
import { CREDENTIAL_CONFIG_KEYS } from "../infra/model/index.js";
import { deployedCredentials, ensureCredentials, generatePassword } from "./secrets.js";

/** A stack as ensureCredentials sees it: its config and its outputs (a test double of those two only). */
function stackOf(config: Record<string, string>, credentials?: object) {
  const set: Record<string, { value: string; secret?: boolean }> = {};
  return {
    set,
    stack: {
      getAllConfig: async () =>
        Object.fromEntries(Object.entries(config).map(([k, v]) => [k, { value: v, secret: true }])),
      setConfig: async (key: string, value: { value: string; secret?: boolean }) => void (set[key] = value),
      outputs: async () => (credentials ? { credentials: { value: credentials, secret: true } } : {}),
    },
  };
}

describe("stack credentials", () => {
  it("when a stack was never deployed, then each missing credential is generated as a secret, 32 alphanumerics", async () => {
    const { stack, set } = stackOf({ "secrets:redisPassword": "kept" });
    const made = await ensureCredentials(stack as never);
    expect(made).toEqual(CREDENTIAL_CONFIG_KEYS.filter((k) => k !== "secrets:redisPassword"));
    for (const key of made)
      expect(set[key]).toEqual({ value: expect.stringMatching(/^[A-Za-z0-9]{32}$/), secret: true });
    expect(new Set(made.map((k) => set[k]!.value)).size).toBe(made.length);
    expect(generatePassword()).not.toBe(generatePassword());
  });

  it("when the checkout lacks them but the stack is deployed (a preview's rewritten stack file), then the deployed ones are kept", async () => {
    const deployed = {
      mongo: {
        BACKUP: "b",
        DATABASE_ADMIN: "d",
        CLUSTER_ADMIN: "c",
        CLUSTER_MONITOR: "m",
        USER_ADMIN: "u",
        APP: "a",
      },
      redis: { "eu-west": "r" },
    };
    const { stack, set } = stackOf({}, deployed);
    await ensureCredentials(stack as never);
    expect(Object.fromEntries(Object.entries(set).map(([k, v]) => [k, v.value]))).toEqual(
      deployedCredentials({ credentials: { value: deployed, secret: true } }),
    );
    expect(set["secrets:mongoAppPassword"]!.value).toBe("a");
    expect(set["secrets:redisPassword"]!.value).toBe("r");
  });
});
