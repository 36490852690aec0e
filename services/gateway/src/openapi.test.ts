import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, test } from "vitest";
import { productApi } from "../../catalog/src/routes/products.js";
import { orderApi } from "../../orders/src/routes/orders.js";
import { openApiDocument } from "@blueprint/service-kit";
import { exposedRoutes } from "./exposure.js";
import { publicDocument, type OpenApiDocument } from "./openapi.js";

// The route definitions only: documents are generated without a database behind the handlers.
const catalog = openApiDocument(
  { title: "catalog", version: "1" },
  productApi({} as never),
) as OpenApiDocument;
const orders = openApiDocument({ title: "orders", version: "1" }, orderApi({} as never)) as OpenApiDocument;
const gateway = publicDocument({ catalog, orders }, exposedRoutes, { title: "public", version: "1" });

async function problems(doc: unknown): Promise<unknown> {
  const result = await new Validator().validate(doc as Parameters<Validator["validate"]>[0]);
  return result.valid ? [] : result.errors;
}

describe("OpenAPI documents", () => {
  test.each([
    ["catalog", catalog],
    ["orders", orders],
    ["gateway", gateway],
  ])("the %s document is valid OpenAPI 3.1", async (_name, doc) => {
    expect(doc.openapi).toBe("3.1.0");
    expect(await problems(doc)).toEqual([]);
  });

  test("the gateway's document has exactly the exposed methods, under /api, and no catalog write", () => {
    const ops = Object.entries(gateway.paths!).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(ops.sort()).toEqual([
      "GET /api/catalog/products",
      "GET /api/catalog/products/{sku}",
      "GET /api/orders/orders/{id}",
      "POST /api/orders/orders",
    ]);
  });

  test("creating an order links to reading it by the id in the answer", () => {
    const created = (
      gateway.paths!["/api/orders/orders"]!.post as { responses: Record<string, { links?: unknown }> }
    ).responses["201"];
    expect(created?.links).toEqual({
      GetOrder: { operationId: "getOrder", parameters: { id: "$response.body#/id" } },
    });
  });

  test("every error answer of every operation is documented with {error: {code, message}}", () => {
    for (const doc of [catalog, orders, gateway])
      for (const [path, item] of Object.entries(doc.paths!))
        for (const [method, op] of Object.entries(item as Record<string, { responses: object }>))
          for (const [status, response] of Object.entries(op.responses))
            if (Number(status) >= 400)
              expect(
                (response as { content: Record<string, { schema: { required: string[] } }> }).content[
                  "application/json"
                ]!.schema.required,
                `${method} ${path} ${status}`,
              ).toEqual(["error"]);
  });

  test("the documents are generated from the schemas the routes validate with", () => {
    const body = (
      orders.paths!["/orders"]!.post as { requestBody: { content: Record<string, { schema: object }> } }
    ).requestBody.content["application/json"]!.schema;
    expect(body).toMatchObject({
      required: ["customerId", "items"],
      additionalProperties: false,
      properties: { items: { minItems: 1, maxItems: 50 } },
    });
  });
});
