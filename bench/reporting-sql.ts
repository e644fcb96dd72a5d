import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { curatedPartitionPrefix, rejectsPartitionPrefix } from "../functions/shared/contract";
import { runGlueJob } from "../local/runtime/reporting/duckdb-stand-ins";
import type { ReportingGeneratorOptions } from "../local/scenarios/reporting-generator";

// One generated day of 1,000,000 raw events through the transform SQL in DuckDB (the Glue
// stand-in), twice: throughput, the process's peak RSS (sampled, DuckDB's native memory included),
// the rerun's time, and whether the rerun wrote the same rows (a hash over them in a fixed order).

const GOALS = { rowsPerSecond: 100_000, peakRssBytes: 1024 ** 3 };
const DATE = "2026-11-20";

/** Samples RSS every 20 ms; DuckDB's native buffers count, not only the JS heap. */
function rssSampler(): { peak: () => number; stop: () => void } {
    let peak = process.memoryUsage.rss();
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
    return { peak: () => Math.max(peak, process.memoryUsage.rss()), stop: () => clearInterval(timer) };
}

async function outputHash(db: DuckDBInstance, root: string, lake: string): Promise<string> {
    const c = await db.connect();
    try {
        const h = createHash("sha256");
        for (const [prefix, order] of [
            [curatedPartitionPrefix(DATE), "event_id"],
            [rejectsPartitionPrefix(DATE), "ALL"],
        ] as const) {
            // Hashed in DuckDB, one aggregate per output: a million rows never cross into JS.
            const sql = `SELECT count(*) AS n, sum(hash(t)) AS h FROM (SELECT * FROM read_parquet('${join(root, lake, prefix)}*.parquet', hive_partitioning = false) ORDER BY ${order}) AS t`;
            const [row] = (await c.runAndReadAll(sql)).getRowObjectsJson();
            h.update(`${prefix}:${row.n}:${row.h}`);
        }
        return h.digest("hex");
    } finally {
        c.closeSync();
    }
}

export interface ReportingSqlBench {
    rows: number;
    generateSeconds: number;
    firstSeconds: number;
    rerunSeconds: number;
    rowsPerSecond: number;
    peakRssBytes: number;
    rerunIdentical: boolean;
    goalsMet: boolean;
}

export async function benchReportingSql(count = 1_000_000): Promise<ReportingSqlBench> {
    const root = mkdtempSync(join(tmpdir(), "bench-reporting-"));
    const sampler = rssSampler();
    const db = await DuckDBInstance.create(":memory:");
    try {
        const lake = "lake-bucket";
        let t = performance.now();
        // ~2% of rows broken in all the ways the transform knows, plus 5% duplicates and late rows.
        const per = Math.floor(count / 500);
        const options: ReportingGeneratorOptions = {
            root,
            rawBucket: "raw-bucket",
            date: DATE,
            count,
            seed: 2002,
            duplicatesRatio: 0.05,
            bad: { notJson: per, missingId: per, badTime: per, badAmount: per, tooManyDecimals: per, badCurrency: per, badType: per },
            late: per,
            files: 8,
        };
        // Generated in a child process, so the peak RSS below is the transform's, not the generator's heap.
        const child = spawnSync(
            process.execPath,
            ["-r", "ts-node/register/transpile-only", "-e", `const e = require(${JSON.stringify(join(__dirname, "../local/scenarios/reporting-generator"))}).generateReportingDay(${JSON.stringify(options)}); process.stdout.write(JSON.stringify({ rawRows: e.rawRows, curatedRows: e.curatedRows, rejectedRows: e.rejectedRows }))`],
            { encoding: "utf8", maxBuffer: 1 << 20 },
        );
        if (child.status !== 0) throw new Error(`bench: the generator failed: ${child.stderr}`);
        const expected = JSON.parse(child.stdout) as { rawRows: number; curatedRows: number; rejectedRows: number };
        const generateSeconds = (performance.now() - t) / 1000;

        t = performance.now();
        const first = await runGlueJob({ db, root, rawBucket: "raw-bucket", lakeBucket: lake, date: DATE });
        const firstSeconds = (performance.now() - t) / 1000;
        const firstHash = await outputHash(db, root, lake);

        t = performance.now();
        const rerun = await runGlueJob({ db, root, rawBucket: "raw-bucket", lakeBucket: lake, date: DATE });
        const rerunSeconds = (performance.now() - t) / 1000;
        const rerunIdentical = (await outputHash(db, root, lake)) === firstHash && rerun.curatedRows === first.curatedRows && rerun.rejectedRows === first.rejectedRows;

        const rowsPerSecond = first.rawRows / firstSeconds;
        const peakRssBytes = sampler.peak();
        const reconciled = first.rawRows === expected.rawRows && first.curatedRows === expected.curatedRows && first.rejectedRows === expected.rejectedRows;
        const checks = [
            [`throughput ≥ ${GOALS.rowsPerSecond.toLocaleString("en-US")} rows/s`, rowsPerSecond >= GOALS.rowsPerSecond],
            [`peak RSS ≤ ${(GOALS.peakRssBytes / 1024 ** 2).toFixed(0)} MiB`, peakRssBytes <= GOALS.peakRssBytes],
            ["rerun identical", rerunIdentical],
            ["counts equal the generator's", reconciled],
        ] as const;
        const mib = (b: number) => `${(b / 1024 ** 2).toFixed(0)} MiB`;
        console.log(`reporting SQL (DuckDB Glue stand-in), ${first.rawRows.toLocaleString("en-US")} raw rows → ${first.curatedRows.toLocaleString("en-US")} curated + ${first.rejectedRows.toLocaleString("en-US")} rejected`);
        console.log(`  generate  ${generateSeconds.toFixed(1)} s (not measured against a goal)`);
        console.log(`  transform ${firstSeconds.toFixed(2)} s  ${Math.round(rowsPerSecond).toLocaleString("en-US")} rows/s`);
        console.log(`  rerun     ${rerunSeconds.toFixed(2)} s  identical: ${rerunIdentical}`);
        console.log(`  peak RSS  ${mib(peakRssBytes)} (process, sampled every 20 ms)`);
        for (const [goal, met] of checks) console.log(`  ${met ? "goal met    " : "goal NOT met"}  ${goal}`);
        const goalsMet = checks.every(([, met]) => met);
        console.log(goalsMet ? "  goals met" : "  goals NOT met");
        return { rows: first.rawRows, generateSeconds, firstSeconds, rerunSeconds, rowsPerSecond, peakRssBytes, rerunIdentical, goalsMet };
    } finally {
        sampler.stop();
        db.closeSync();
        rmSync(root, { recursive: true, force: true });
    }
}
