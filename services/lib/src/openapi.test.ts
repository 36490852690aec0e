import type { AddressInfo } from "node:net";
import express, { type ErrorRequestHandler } from "express";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { toAppError } from "./error-handler.js";
import { apiRouter, defineRoute, openApiDocument } from "./openapi.js";

const id = z.string().regex(/^\d{1,6}$/);
const routes = [
  defineRoute({
    operationId: "getThing",
    method: "get",
    path: "/things/:id",
    summary: "one thing",
    params: z.strictObject({ id }),
    responses: { 200: { description: "the thing" }, 400: { description: "bad id" } },
    async handler({ params }, _req, res) {
      res.json({ id: params.id });
    },
  }),
];
const errors: ErrorRequestHandler = (err, _req, res, _next) => {
  const e = toAppError(err);
  res.status(e.status).json({ error: { code: e.code, message: e.message } });
};
let server: ReturnType<express.Express["listen"]>;
let url: string;
beforeAll(async () => {
  server = express().use(apiRouter(routes)).use(errors).listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe("routes declared once", () => {
  test("the router validates with the schema the document describes", async () => {
    const doc = openApiDocument({ title: "t", version: "1" }, routes) as {
      paths: Record<string, { get: { parameters: { name: string; schema: { pattern: string } }[] } }>;
    };
    expect(doc.paths["/things/{id}"]!.get.parameters[0]).toMatchObject({
      name: "id",
      schema: { pattern: "^\\d{1,6}$" },
    });
    expect((await fetch(`${url}/things/12`)).status).toBe(200);
    const bad = await fetch(`${url}/things/x1`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain("id");
  });

  test("when a known path is asked with another method, then 405 with Allow, not 404", async () => {
    const res = await fetch(`${url}/things/12`, { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("METHOD_NOT_ALLOWED");
    expect((await fetch(`${url}/nothing`, { method: "DELETE" })).status).toBe(404);
  });
});
