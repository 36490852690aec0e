// The baseline: a bare express 5 app answering the same small JSON as /livez, with no middleware at all.
import express from "express";

const app = express();
app.get("/livez", (_req, res) => {
  res.json({ status: "alive" });
});
const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === "object" && address ? address.port : ""}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
