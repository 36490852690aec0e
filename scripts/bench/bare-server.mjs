// The benchmark's baseline (scripts/bench): a bare express 5 app answering the same small JSON as /livez, with no middleware.
// Plain JavaScript so no loader runs in it; ETag and X-Powered-By off as in the kit, so only middleware differs.
import express from "express";

const app = express();
app.disable("x-powered-by");
app.set("etag", false);
// /products too, for a gateway pointed at this app instead of a real upstream.
app.get(["/livez", "/products"], (_req, res) => {
  res.json({ status: "alive" });
});
const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
