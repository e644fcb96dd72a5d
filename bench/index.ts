// `npm run bench`. First compares, for the audit-logger handler, the esbuild bundle this project
// deploys with what an inline `aws.lambda.CallbackFunction` would ship: archive size and cold load
// (require + first call, which writes its audit record to dynalite) in fresh node processes. Then runs seed 001's handler against ours on
// dynalite (bench/stream-to-table.ts).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bundleFunction } from "../components/compute/bundle";
import { functionEntry } from "../components/compute/lambda-function";
import { AUDIT_TABLE_ENV, AUDIT_TABLE_KEY } from "../functions/audit-logger/record";
import { countItems, createHashKeyTable } from "../test/support/dynamo-tables";
import { dynamoClient, startDynaliteProcess, type Emulator } from "../test/support/emulators";
import { unzip, walk, zippedBytes } from "./archive";
import { CLOSURE_FILE, callbackArchive } from "./callback";
import { Sample, Variant, coldLoad, sampleEvent } from "./cold-load";
import { benchStreamToTable } from "./stream-to-table";

const RUNS = 7;
const ROOT = path.resolve(__dirname, "..");

async function main(): Promise<void> {
    // bundleFunction and computeCodePaths both work relative to the project's package.json.
    process.chdir(ROOT);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "event-pipelines-bench-"));
    // Its own process: spawnSync blocks this one's event loop while a child calls the handler.
    const dynamo = await startDynaliteProcess();
    try {
        await run(tmp, dynamo);
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
        await dynamo.stop();
    }
    await benchStreamToTable();
}

async function run(tmp: string, dynamo: Emulator): Promise<void> {
    // A: the deployed artifact, unpacked as Lambda would unpack it (index.js + index.js.map).
    const bundle = await bundleFunction(functionEntry("audit-logger"), { outDir: tmp });
    const bundleDir = path.join(tmp, "bundle");
    fs.mkdirSync(bundleDir);
    const entries = unzip(fs.readFileSync(bundle.zipPath));
    for (const [name, contents] of entries) fs.writeFileSync(path.join(bundleDir, name), contents);
    if (entries.get("index.js")?.length !== bundle.codeBytes) throw new Error("unzipped index.js differs from bundleFunction's codeBytes");
    // The SDK service clients the bundle leaves out, which Lambda's runtime provides (as in test/e2e).
    const sdk = path.dirname(path.dirname(require.resolve("@aws-sdk/client-dynamodb/package.json")));
    fs.mkdirSync(path.join(bundleDir, "node_modules", "@aws-sdk"), { recursive: true });
    for (const client of fs.readdirSync(sdk).filter((d) => d.startsWith("client-"))) {
        fs.symlinkSync(path.join(sdk, client), path.join(bundleDir, "node_modules", "@aws-sdk", client), "dir");
    }
    const bundleRawBytes = [...entries.values()].reduce((n, b) => n + b.length, 0);

    // B: the CallbackFunction archive. Its node_modules/* folders are the project's own, so a
    // symlink gives the same resolution as the archive would, without copying them.
    const callback = await callbackArchive();
    const callbackDir = path.join(tmp, "callback");
    fs.mkdirSync(callbackDir);
    fs.writeFileSync(path.join(callbackDir, CLOSURE_FILE), callback.closureText);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(callbackDir, "node_modules"), "dir");
    const trees = callback.codePaths.map((p) => ({ path: p, ...walk(p) }));
    const closureBytes = Buffer.byteLength(callback.closureText);
    const callbackFiles = 1 + trees.reduce((n, t) => n + t.files, 0);
    const callbackRawBytes = closureBytes + trees.reduce((n, t) => n + t.bytes, 0);
    const callbackZipBytes = await zippedBytes(
        new Map([[CLOSURE_FILE, Buffer.from(callback.closureText)]]),
        trees.flatMap((t) => t.paths),
    );

    // Cold loads: one unmeasured warm-up each (file cache), then rotate which variant goes
    // first in each round so drift on a shared machine hits all alike. The bundle runs with the
    // NODE_OPTIONS its deployed function sets; the third row shows what the source map costs.
    const variants: Variant[] = [
        { label: "esbuild bundle", module: path.join(bundleDir, "index.js"), nodeFlags: ["--enable-source-maps"] },
        { label: "CallbackFunction", module: path.join(callbackDir, CLOSURE_FILE), nodeFlags: [] },
        { label: "esbuild bundle, no source maps", module: path.join(bundleDir, "index.js"), nodeFlags: [] },
    ];
    // The function's environment: its table on dynalite, found through AWS_ENDPOINT_URL_DYNAMODB.
    const auditTable = "audit";
    const client = dynamoClient(dynamo);
    await createHashKeyTable(client, auditTable, AUDIT_TABLE_KEY);
    const env = {
        [AUDIT_TABLE_ENV]: auditTable,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_REGION: dynamo.region,
        AWS_ACCESS_KEY_ID: dynamo.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: dynamo.credentials.secretAccessKey,
    };
    let calls = 0;
    const call = (v: Variant) => coldLoad(v, sampleEvent(++calls), env);
    const samples: Sample[][] = variants.map(() => []);
    variants.forEach((v) => call(v));
    for (let round = 0; round < RUNS; round++) {
        for (let k = 0; k < variants.length; k++) {
            const i = (k + round) % variants.length;
            samples[i].push(call(variants[i]));
        }
    }
    const written = await countItems(client, auditTable);
    client.destroy();
    if (written !== calls) throw new Error(`${calls} calls wrote ${written} audit records, expected one each`);

    // Report.
    console.log(`audit-logger: esbuild bundle vs. inline aws.lambda.CallbackFunction (node ${process.version}, ${os.cpus().length} CPUs)\n`);
    table(
        ["size", "esbuild bundle", "CallbackFunction", "CF / bundle"],
        [
            ["handler code (index.js | __index.js)", bytes(bundle.codeBytes), bytes(closureBytes), "-"],
            ["files shipped", count(entries.size), count(callbackFiles), ratio(callbackFiles, entries.size)],
            ["unzipped, all files", bytes(bundleRawBytes), bytes(callbackRawBytes), ratio(callbackRawBytes, bundleRawBytes)],
            ["zip (deflate)", bytes(bundle.zipBytes), bytes(callbackZipBytes), ratio(callbackZipBytes, bundle.zipBytes)],
        ],
    );
    console.log("\nCallbackFunction code paths (computeCodePaths: package.json dependencies, transitively):");
    table(
        ["path", "files", "bytes"],
        [...trees].sort((a, b) => b.bytes - a.bytes).map((t) => [t.path, count(t.files), bytes(t.bytes)]),
    );

    const stats = samples.map((s) => ({
        total: s.map((x) => x.totalMs),
        require: s.map((x) => x.requireMs),
        call: s.map((x) => x.callMs),
    }));
    console.log(`\ncold load in a fresh node process, ${RUNS} runs each, interleaved (ms; total = require + first call):`);
    table(
        ["variant", "total median", "total min", "require median", "first call median"],
        [
            ...variants.map((v, i) => [
                `${v.label}${v.nodeFlags.length ? ` (${v.nodeFlags.join(" ")})` : ""}`,
                ms(median(stats[i].total)),
                ms(Math.min(...stats[i].total)),
                ms(median(stats[i].require)),
                ms(median(stats[i].call)),
            ]),
            [
                "CF / bundle with source maps",
                ratio(median(stats[1].total), median(stats[0].total)),
                ratio(Math.min(...stats[1].total), Math.min(...stats[0].total)),
                ratio(median(stats[1].require), median(stats[0].require)),
                ratio(median(stats[1].call), median(stats[0].call)),
            ],
        ],
    );
    console.log(`\nEvery run's first call returned { batchItemFailures: [] }, logged its audit line and wrote its record (${written} records for ${calls} calls).`);
}

function table(header: string[], rows: string[][]): void {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    // First column left-aligned (labels), the rest right-aligned (numbers).
    const line = (cells: string[]) =>
        "  " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("   ");
    console.log(line(header));
    console.log(line(widths.map((w) => "-".repeat(w))));
    rows.forEach((r) => console.log(line(r)));
}

const count = (n: number) => n.toLocaleString("en-US");

function bytes(n: number): string {
    const human = n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
    return `${count(n)} B (${human})`;
}

const ms = (n: number) => n.toFixed(1);
const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x`;

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    const mid = s.length >> 1;
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
