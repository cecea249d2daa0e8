// A tiny express app: kiln's nodejs example and end-to-end test fixture.
const express = require("express");

const app = express();
const port = Number(process.env.PORT || 8080);

app.get("/", (_req, res) => {
  res.type("text/plain").send("Hello from kiln nodejs\n");
});

app.listen(port, () => {
  console.log(`listening on ${port}`);
});
