import { describe, expect, it } from "vitest";
import { toAppError } from "./error-handler.js";

const serverError = (code: number, message: string) =>
  Object.assign(new Error(message), { name: "MongoServerError", code });

describe("toAppError: a database without a writable primary is a 503, a bug is a 500", () => {
  it.each([
    [
      "the driver cannot reach it",
      Object.assign(new Error("connect ECONNREFUSED"), { name: "MongoNetworkError" }),
    ],
    ["MongoDB during an election (NotWritablePrimary)", serverError(10107, "not primary")],
    ["MongoDB stepping down (PrimarySteppedDown)", serverError(189, "primary stepped down")],
    [
      "FerretDB with no writable PostgreSQL behind it",
      serverError(
        1,
        "[msg_insert.go:168 handler.(*Handler).MsgInsert] failed to connect to `user=ferretdb database=ferretdb`: read only connection",
      ),
    ],
  ])("when %s, then 503 DEPENDENCY_UNAVAILABLE", (_what, err) => {
    const e = toAppError(err);
    expect([e.status, e.code, e.operational]).toEqual([503, "DEPENDENCY_UNAVAILABLE", true]);
  });

  it.each([
    ["another server error", serverError(2, "BadValue")],
    ["an InternalError that is not about the backend", serverError(1, "unexpected nil")],
    ["a TypeError", new TypeError("x is undefined")],
  ])("when %s, then a non-operational 500", (_what, err) => {
    const e = toAppError(err);
    expect([e.status, e.code, e.operational]).toEqual([500, "INTERNAL", false]);
  });
});
