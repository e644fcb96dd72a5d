// Runs the script named by its first argument in this process, and ends when the process that
// forked it goes away, however that one ended (a signal, a crash): a stand-in never outlives its
// runtime. Plain JavaScript, so it adds no compile step to the child's start.
"use strict";
const path = require("path");

process.on("disconnect", () => process.exit(0));
const script = path.resolve(process.argv[2]);
process.argv.splice(1, 2, script);
require(script);
