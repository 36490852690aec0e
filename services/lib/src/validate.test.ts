import { describe, expect, test } from "vitest";
import { z } from "zod";
import { AppError } from "./errors.js";
import { findOperatorKey, parseInput } from "./validate.js";

const schema = z.strictObject({
  sku: z.string(),
  items: z.array(z.strictObject({ quantity: z.number().int() })),
});

function errorOf(input: unknown): AppError {
  try {
    parseInput(schema, input, "body");
  } catch (err) {
    return err as AppError;
  }
  throw new Error("expected a validation error");
}

describe("findOperatorKey", () => {
  test.each([
    [{ sku: { $gt: "" } }, "$gt"],
    [{ items: [{ nested: [{ "a.b": 1 }] }] }, "a.b"],
    [[{ $where: "1" }], "$where"],
  ])("when %j is scanned, then %s is found", (input, found) => {
    expect(findOperatorKey(input)).toBe(found);
  });

  test("when a value (not a key) contains $ or ., then it is allowed", () => {
    expect(findOperatorKey({ sku: "$gt.x", items: ["$ne"] })).toBeUndefined();
  });

  test("when the input is nested 100000 deep, then the scan does not overflow the stack", () => {
    let deep: unknown = { $gt: 1 };
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findOperatorKey(deep)).toBe("$gt");
  });
});

describe("parseInput", () => {
  test("when an operator key is sent, then 400 FORBIDDEN_KEY names it", () => {
    const err = errorOf({ sku: { $gt: "" }, items: [] });
    expect([err.status, err.code]).toEqual([400, "FORBIDDEN_KEY"]);
    expect(err.message).toContain('"$gt"');
  });

  test("when fields are unknown or of the wrong type, then 400 lists each field", () => {
    const err = errorOf({ sku: 5, items: [{ quantity: "2", extra: true }], admin: true });
    expect([err.status, err.code]).toEqual([400, "VALIDATION_FAILED"]);
    const fields = (err.details as { field: string }[]).map((d) => d.field).sort();
    expect(fields).toEqual(["admin", "items.0.extra", "items.0.quantity", "sku"]);
  });
});
