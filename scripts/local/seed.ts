import type { ProcessRecord } from "./state.js";

/** The products the sample shop starts with; the k6 gates read the list and order from it. */
export const SAMPLE_PRODUCTS = [
  { sku: "sample-espresso", name: "Espresso beans 1 kg", priceCents: 2490 },
  { sku: "sample-grinder", name: "Hand grinder", priceCents: 8900 },
  { sku: "sample-kettle", name: "Gooseneck kettle", priceCents: 5900 },
  { sku: "sample-filter", name: "Paper filters (100)", priceCents: 690 },
  { sku: "sample-mug", name: "Stoneware mug", priceCents: 1490 },
].map((p) => ({ ...p, stock: 10_000_000 }));

/**
 * catalog writes are internal (the gateway does not proxy them), so the sample products are PUT to each
 * region's catalog directly. Seeding twice, or every region over the shared database, is safe: a product that
 * exists keeps its stock (catalog answers 409 STOCK_IS_A_DELTA to a PUT that would set it), and gets only its name
 * and price.
 */
export async function seedCatalogs(
  catalogs: Pick<ProcessRecord, "name" | "url">[],
  products = SAMPLE_PRODUCTS,
): Promise<number> {
  if (catalogs.length === 0) throw new Error("no catalog is running to seed the sample products into");
  let writes = 0;
  for (const catalog of catalogs) {
    for (const { sku, ...body } of products) {
      const url = `${catalog.url}/products/${sku}`;
      const put = (fields: object) =>
        fetch(url, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(fields),
          signal: AbortSignal.timeout(10_000),
        }).catch((err: Error) => err);
      let res = await put(body);
      if (!(res instanceof Error) && res.status === 409) {
        const { stock: _stock, ...fields } = body;
        res = await put(fields);
      }
      if (res instanceof Error || (res.status !== 200 && res.status !== 201)) {
        const why = res instanceof Error ? res.message : `${res.status} ${(await res.text()).slice(0, 200)}`;
        throw new Error(`seeding ${sku} into ${catalog.name} (PUT ${url}) failed: ${why}`);
      }
      writes += 1;
    }
  }
  return writes;
}
