// `npm run bench`: every shipped function's bundle against an inline CallbackFunction (size, what
// the bundle is made of, cold load; bench/functions.ts), then seed 001's handler against
// functions/stream-to-table on dynalite (bench/stream-to-table.ts), then the local runtime's start-up
// and flows next to the handlers called directly (bench/runtime.ts), then seed 000's approach against
// the chunked payment-file path on a 1 GiB file (bench/payment-files.ts), then a day of 1 million raw
// transactions through seed 002's SQL in DuckDB, and its rerun (bench/reporting-sql.ts). Each prints its goals, met
// or NOT met. `npm run bench -- payment-files` (or any of the names below) runs only those named.
import { benchFunctions } from "./functions";
import { benchPaymentFiles } from "./payment-files";
import { benchReportingSql } from "./reporting-sql";
import { benchRuntime } from "./runtime";
import { benchStreamToTable } from "./stream-to-table";

const BENCHES: Record<string, () => Promise<unknown>> = {
    functions: benchFunctions,
    "stream-to-table": benchStreamToTable,
    runtime: benchRuntime,
    "payment-files": benchPaymentFiles,
    "reporting-sql": benchReportingSql,
};

async function main(): Promise<void> {
    const named = process.argv.slice(2);
    const unknown = named.filter((name) => !(name in BENCHES));
    if (unknown.length > 0) throw new Error(`npm run bench -- ${unknown.join(" ")}: no such bench; expected any of ${Object.keys(BENCHES).join(", ")}`);
    for (const [name, bench] of Object.entries(BENCHES)) if (named.length === 0 || named.includes(name)) await bench();
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
