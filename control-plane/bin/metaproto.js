#!/usr/bin/env node
// Runs the compiled CLI (./build.sh build compiles control-plane/ into build/cp/).
const path = require("path");
const main = path.join(__dirname, "..", "..", "build", "cp", "control-plane", "cli", "main.js");
let program;
try {
  program = require(main).program;
} catch (err) {
  if (err.code !== "MODULE_NOT_FOUND" || !String(err.message).includes(main)) throw err;
  process.stderr.write(`metaproto: the control plane is not compiled (${main} is missing): run ./build.sh build\n`);
  process.exit(1);
}
program().parseAsync(process.argv).catch((err) => {
  process.stderr.write(`metaproto: ${err.message}\n`);
  process.exitCode = 1;
});
