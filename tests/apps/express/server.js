// An Express service as a user instruments it: express-prom-bundle with its default buckets
// (0.003 / 0.03 / 0.1 / 0.3 / 1.5 / 10 s), per-path and per-method labels. Started by perfbook's
// tests: `node server.js` listens on a free 127.0.0.1 port and prints "listening PORT".
//   GET /slow            answers after SLOW_MS (default 2500 ms)
//   GET /api/items/:id   answers after ITEM_MS (default 0; the metrics label it /api/items/#val)
//   GET /health          answers at once
"use strict";
const express = require("express");
const promBundle = require("express-prom-bundle");

const slowMs = Number(process.env.SLOW_MS || 2500);
const itemMs = Number(process.env.ITEM_MS || 0);
const app = express();
app.use(promBundle({ includeMethod: true, includePath: true, includeStatusCode: true }));
app.get("/health", (req, res) => res.send("ok"));
app.get("/slow", (req, res) => setTimeout(() => res.send("slow"), slowMs));
app.get("/api/items/:id", (req, res) => setTimeout(() => res.json({ id: req.params.id }), itemMs));

const server = app.listen(0, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
