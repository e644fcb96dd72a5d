// `npm run bench`: every shipped function's bundle against an inline CallbackFunction (size, what
// the bundle is made of, cold load; bench/functions.ts), then seed 001's handler against
// functions/stream-to-table on dynalite (bench/stream-to-table.ts), then the local runtime's start-up
// and flows next to the handlers called directly (bench/runtime.ts). Each prints its goals, met or NOT met.
import { benchFunctions } from "./functions";
import { benchRuntime } from "./runtime";
import { benchStreamToTable } from "./stream-to-table";

async function main(): Promise<void> {
    await benchFunctions();
    await benchStreamToTable();
    await benchRuntime();
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
