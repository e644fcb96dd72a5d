import { expect } from "chai";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DuckDBInstance } from "@duckdb/node-api";
import { curatedPartitionPrefix, fallbackReportPrefix, fallbackRunPrefix, rawPartitionPrefix, rejectsPartitionPrefix, reportPrefix } from "../../functions/shared/contract";
import {
    RedshiftStandIn,
    parseAthenaUnload,
    runAthenaFallback,
    runAthenaValidation,
    runGlueJob,
    translateRedshift,
} from "../../local/runtime/reporting/duckdb-stand-ins";
import { EXPECTED_REASONS, ReportingExpectation, generateReportingDay } from "../../local/scenarios/reporting-generator";

const RAW = "raw-bucket";
const LAKE = "lake-bucket";
const DATE = "2026-11-20";

let db: DuckDBInstance;
async function rows(sql: string): Promise<Record<string, unknown>[]> {
    const c = await db.connect();
    try {
        return (await c.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
    } finally {
        c.closeSync();
    }
}
const parquet = (root: string, prefix: string) => `read_parquet('${join(root, LAKE, prefix)}*.parquet', hive_partitioning = false)`;
function hashDir(dir: string): string {
    const h = createHash("sha256");
    for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)));
    return h.digest("hex");
}
async function hashRows(sql: string): Promise<string> {
    return createHash("sha256").update(JSON.stringify(await rows(sql))).digest("hex");
}
const byKey = <T extends Record<string, unknown>>(list: T[], key: (r: T) => string) =>
    Object.fromEntries(list.map((r) => [key(r), { transactions: Number(r.transactions), total_amount: String(r.total_amount) }]));

function newRoot(): string {
    return mkdtempSync(join(tmpdir(), "reporting-spec-"));
}
/** A raw object of the given lines in the day's partition. */
function writeRaw(root: string, name: string, lines: string[], date = DATE): void {
    const dir = join(root, RAW, rawPartitionPrefix(date));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), gzipSync(lines.map((l) => `${l}\n`).join("")));
}

describe("glue/sql transform, validate, fallback, load and report (DuckDB stand-ins)", function () {
    const roots: string[] = [];
    let root: string;
    let expected: ReportingExpectation;

    before(async () => {
        db = await DuckDBInstance.create(":memory:");
        root = newRoot();
        roots.push(root);
        expected = generateReportingDay({
            root,
            rawBucket: RAW,
            date: DATE,
            count: 400,
            seed: 42,
            duplicatesRatio: 0.1,
            bad: { notJson: 4, missingId: 2, badTime: 4, badAmount: 5, tooManyDecimals: 3, badCurrency: 4, badType: 3 },
            late: 4,
        });
    });
    after(() => {
        db.closeSync();
        for (const r of roots) rmSync(r, { recursive: true, force: true });
    });

    describe("the Glue job over a generated day", () => {
        let result: Awaited<ReturnType<typeof runGlueJob>>;
        before(async () => {
            result = await runGlueJob({ db, root, rawBucket: RAW, lakeBucket: LAKE, date: DATE });
        });

        it("accounts for every raw row: the generator's counts, per reason", () => {
            expect(result.rawRows).to.equal(expected.rawRows);
            expect(result.curatedRows).to.equal(expected.curatedRows);
            expect(result.rejectedRows).to.equal(expected.rejectedRows);
            expect(result.rawRows).to.equal(result.curatedRows + result.rejectedRows);
            expect(result.rejectsByReason).to.deep.equal(expected.rejectsByReason);
            expect(result.curatedKeys).to.deep.equal([`${curatedPartitionPrefix(DATE)}part-00000.parquet`]);
        });

        it("keeps the latest record of a duplicated event_id and rejects the other as a duplicate", async () => {
            const curated = await rows(`SELECT event_id, CAST(amount AS VARCHAR) AS amount FROM ${parquet(root, curatedPartitionPrefix(DATE))}`);
            expect(Object.fromEntries(curated.map((r) => [r.event_id, r.amount]))).to.deep.equal(expected.winners);
            const dups = await rows(`SELECT event_id FROM ${parquet(root, rejectsPartitionPrefix(DATE))} WHERE reason = '${EXPECTED_REASONS.duplicate}'`);
            expect(dups.length).to.be.greaterThan(10);
            for (const d of dups) expect(expected.winners).to.have.property(String(d.event_id));
        });

        it("rejects events of another day written in this partition", async () => {
            const late = await rows(`SELECT event_time FROM ${parquet(root, rejectsPartitionPrefix(DATE))} WHERE reason = 'event date is not ${DATE}: a record in the wrong partition'`);
            expect(late).to.have.length(4);
            for (const r of late) expect(String(r.event_time).slice(0, 10)).not.to.equal(DATE);
        });

        it("writes typed, normalised curated columns plus dt, and rejects with the values as sent", async () => {
            const types = await rows(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM ${parquet(root, curatedPartitionPrefix(DATE))})`);
            expect(types.map((t) => `${t.column_name} ${t.column_type}`)).to.deep.equal([
                "event_id VARCHAR",
                "event_time TIMESTAMP",
                "account_id VARCHAR",
                "amount DECIMAL(18,2)",
                "currency VARCHAR",
                "type VARCHAR",
                "source VARCHAR",
                "dt VARCHAR",
            ]);
            const odd = await rows(`SELECT count(*) AS n FROM ${parquet(root, curatedPartitionPrefix(DATE))} WHERE currency <> upper(trim(currency)) OR type <> lower(trim(type)) OR source <> lower(trim(source)) OR dt <> '${DATE}'`);
            expect(Number(odd[0].n)).to.equal(0);
            const rejectCols = await rows(`SELECT column_name FROM (DESCRIBE SELECT * FROM ${parquet(root, rejectsPartitionPrefix(DATE))})`);
            expect(rejectCols.map((c) => c.column_name)).to.deep.equal(["event_id", "event_time", "account_id", "amount", "currency", "type", "source", "reason", "dt"]);
        });
    });

    it("gives each kind of bad line its one reason, and normalises what is merely messy", async () => {
        const r = newRoot();
        roots.push(r);
        const ok = { event_id: "e1", event_time: `${DATE}T10:15:00.123Z`, account_id: "a1", amount: "12.34", currency: "EUR", type: "credit", source: "pos" };
        const cases: [string, string | null][] = [
            [JSON.stringify(ok), null],
            [JSON.stringify({ ...ok, event_id: " e2 ", currency: " usd", type: "Debit ", source: " WEB", amount: "-0.5" }), null],
            [JSON.stringify({ ...ok, event_id: "e3", amount: 7.25 }), null], // a JSON number still reads as a string
            ["this is not json", EXPECTED_REASONS.notJson],
            ["{}", EXPECTED_REASONS.notJson],
            ["[1, 2]", EXPECTED_REASONS.notJson],
            [JSON.stringify({ ...ok, event_id: "" }), EXPECTED_REASONS.missingId],
            [JSON.stringify({ ...ok, event_id: "e4", event_time: `${DATE}T10:15:00+02:00` }), EXPECTED_REASONS.badTime],
            [JSON.stringify({ ...ok, event_id: "e5", event_time: `${DATE}T24:30:00Z` }), EXPECTED_REASONS.badTime],
            [JSON.stringify({ ...ok, event_id: "e6", event_time: "2026-11-19T23:59:59.999Z" }), `event date is not ${DATE}: a record in the wrong partition`],
            [JSON.stringify({ ...ok, event_id: "e7", account_id: " " }), "missing account_id"],
            [JSON.stringify({ ...ok, event_id: "e8", amount: "12.345" }), EXPECTED_REASONS.tooManyDecimals],
            [JSON.stringify({ ...ok, event_id: "e9", amount: "1e2" }), EXPECTED_REASONS.badAmount],
            [JSON.stringify({ ...ok, event_id: "e10", amount: "5." }), EXPECTED_REASONS.badAmount],
            [JSON.stringify({ ...ok, event_id: "e11", amount: "1-2" }), EXPECTED_REASONS.badAmount],
            [JSON.stringify({ ...ok, event_id: "e12", amount: "99999999999999999" }), EXPECTED_REASONS.badAmount],
            [JSON.stringify({ ...ok, event_id: "e13", currency: "E1R" }), EXPECTED_REASONS.badCurrency],
            [JSON.stringify({ ...ok, event_id: "e14", type: "transfer" }), EXPECTED_REASONS.badType],
            [JSON.stringify({ ...ok, event_id: "e15", source: "" }), "missing source"],
            [JSON.stringify({ ...ok, event_id: "e16", account_id: "x".repeat(257) }), "a field is longer than 256 characters"],
            // A later valid resend wins; an invalid later resend does not shadow the valid record.
            [JSON.stringify({ ...ok, event_id: "d1", event_time: `${DATE}T01:00:00Z`, amount: "1.00" }), EXPECTED_REASONS.duplicate],
            [JSON.stringify({ ...ok, event_id: "d1", event_time: `${DATE}T02:00:00Z`, amount: "2.00" }), null],
            [JSON.stringify({ ...ok, event_id: "d1", event_time: `${DATE}T03:00:00Z`, amount: "three" }), EXPECTED_REASONS.badAmount],
        ];
        writeRaw(r, "part-00000.gz", [...cases.map((c) => c[0]), "", "   "]);
        const result = await runGlueJob({ db, root: r, rawBucket: RAW, lakeBucket: LAKE, date: DATE });
        expect(result.rawRows).to.equal(cases.length); // blank lines are not records
        const rejects = await rows(`SELECT event_id, amount, reason FROM ${parquet(r, rejectsPartitionPrefix(DATE))}`);
        const curated = await rows(`SELECT event_id, currency, type, source, CAST(amount AS VARCHAR) AS amount FROM ${parquet(r, curatedPartitionPrefix(DATE))} ORDER BY event_id`);
        const wantedReasons = cases.filter((c) => c[1]).map((c) => c[1]).sort();
        expect(rejects.map((x) => x.reason).sort()).to.deep.equal(wantedReasons);
        expect(curated).to.deep.equal([
            { event_id: "d1", currency: "EUR", type: "credit", source: "pos", amount: "2.00" },
            { event_id: "e1", currency: "EUR", type: "credit", source: "pos", amount: "12.34" },
            { event_id: "e2", currency: "USD", type: "debit", source: "web", amount: "-0.50" },
            { event_id: "e3", currency: "EUR", type: "credit", source: "pos", amount: "7.25" },
        ]);
        expect(rejects.find((x) => x.event_id === "d1" && x.reason === EXPECTED_REASONS.duplicate)?.amount).to.equal("1.00");
    });

    it("fails a day with no raw object, as Spark does; handles an empty day: empty Parquet outputs, and a validation of zeros that reconciles", async () => {
        const r = newRoot();
        roots.push(r);
        let missing: Error | undefined;
        await runGlueJob({ db, root: r, rawBucket: RAW, lakeBucket: LAKE, date: DATE }).catch((e: Error) => (missing = e));
        expect(missing?.message).to.equal(`local stand-in (glue): Path does not exist: s3://${RAW}/raw/dt=${DATE}/ (no raw object for ${DATE})`);
        expect(existsSync(join(r, LAKE, curatedPartitionPrefix(DATE))), "nothing written").to.equal(false);
        writeRaw(r, "part-00000.gz", []);
        const empty = await runGlueJob({ db, root: r, rawBucket: RAW, lakeBucket: LAKE, date: DATE });
        expect([empty.rawRows, empty.curatedRows, empty.rejectedRows]).to.deep.equal([0, 0, 0]);
        expect(existsSync(join(r, LAKE, curatedPartitionPrefix(DATE), "part-00000.parquet"))).to.equal(true);
        expect(await runAthenaValidation({ db, root: r, rawBucket: RAW, lakeBucket: LAKE, date: DATE })).to.deep.equal({ raw_rows: "0", curated_rows: "0", rejected_rows: "0", reconciled: "true" });
    });

    it("refuses a --date that is not a calendar day, before reading anything", async () => {
        let error: Error | undefined;
        await runGlueJob({ db, root, rawBucket: RAW, lakeBucket: LAKE, date: "2026-02-30" }).catch((e: Error) => (error = e));
        expect(error?.message).to.match(/^local stand-in \(glue\): --date "2026-02-30"/);
    });

    it("a rerun writes byte-identical output and replaces the day, never appends", async () => {
        const r = newRoot();
        roots.push(r);
        generateReportingDay({ root: r, rawBucket: RAW, date: DATE, count: 300, seed: 9, duplicatesRatio: 0.2, bad: { notJson: 2, badType: 2 }, late: 2 });
        await runGlueJob({ db, root: r, rawBucket: RAW, lakeBucket: LAKE, date: DATE });
        const dirs = [curatedPartitionPrefix(DATE), rejectsPartitionPrefix(DATE)].map((p) => join(r, LAKE, p));
        const first = dirs.map(hashDir);
        const firstRows = await hashRows(`SELECT * FROM ${parquet(r, curatedPartitionPrefix(DATE))}`);
        writeFileSync(join(dirs[0], "part-99999-stale.parquet"), "left by an earlier run");
        const again = await runGlueJob({ db, root: r, rawBucket: RAW, lakeBucket: LAKE, date: DATE });
        expect(dirs.map(hashDir)).to.deep.equal(first);
        expect(await hashRows(`SELECT * FROM ${parquet(r, curatedPartitionPrefix(DATE))}`)).to.equal(firstRows);
        expect(readdirSync(dirs[0])).to.deep.equal(["part-00000.parquet"]);
        // Fewer raw objects now: the day shrinks to them (replaced, not appended to).
        rmSync(join(r, RAW, rawPartitionPrefix(DATE), "part-00002.gz"));
        const smaller = await runGlueJob({ db, root: r, rawBucket: RAW, lakeBucket: LAKE, date: DATE });
        expect(smaller.rawRows).to.be.lessThan(again.rawRows);
        expect(Number((await rows(`SELECT count(*) AS n FROM ${parquet(r, curatedPartitionPrefix(DATE))}`))[0].n)).to.equal(smaller.curatedRows);
    });

    describe("Athena: validation and fallback", () => {
        it("reconciles the day: raw = curated + rejected, as strings", async () => {
            const v = await runAthenaValidation({ db, root, rawBucket: RAW, lakeBucket: LAKE, date: DATE });
            expect(v).to.deep.equal({ raw_rows: String(expected.rawRows), curated_rows: String(expected.curatedRows), rejected_rows: String(expected.rejectedRows), reconciled: "true" });
        });

        it("counts only the day's partition of raw", async () => {
            const r = newRoot();
            roots.push(r);
            writeRaw(r, "a.gz", ['{"event_id":"x"}', '{"event_id":"y"}']);
            writeRaw(r, "b.gz", ['{"event_id":"z"}'], "2026-11-21");
            await runGlueJob({ db, root: r, rawBucket: RAW, lakeBucket: LAKE, date: DATE });
            await runGlueJob({ db, root: r, rawBucket: RAW, lakeBucket: LAKE, date: "2026-11-21" });
            const v = await runAthenaValidation({ db, root: r, rawBucket: RAW, lakeBucket: LAKE, date: DATE });
            expect(v).to.deep.equal({ raw_rows: "2", curated_rows: "0", rejected_rows: "2", reconciled: "true" });
        });

        it("says 'false' when a curated row goes missing", async () => {
            const r = newRoot();
            roots.push(r);
            generateReportingDay({ root: r, rawBucket: RAW, date: DATE, count: 50, seed: 3 });
            await runGlueJob({ db, root: r, rawBucket: RAW, lakeBucket: LAKE, date: DATE });
            const file = join(r, LAKE, curatedPartitionPrefix(DATE), "part-00000.parquet");
            await rows(`COPY (SELECT * FROM read_parquet('${file}') ORDER BY event_id LIMIT 49) TO '${file}.tmp' (FORMAT PARQUET)`);
            rmSync(file);
            writeFileSync(file, readFileSync(`${file}.tmp`));
            rmSync(`${file}.tmp`);
            const v = await runAthenaValidation({ db, root: r, rawBucket: RAW, lakeBucket: LAKE, date: DATE });
            expect(v.reconciled).to.equal("false");
            expect(Number(v.raw_rows)).to.equal(Number(v.curated_rows) + Number(v.rejected_rows) + 1);
        });

        it("writes the fallback report from raw, equal to the generator's lenient totals; a second UNLOAD to it is refused, another run's goes beside it", async () => {
            const f = await runAthenaFallback({ db, root, rawBucket: RAW, lakeBucket: LAKE, date: DATE, run: "exec-1" });
            expect(f.location).to.equal(`s3://${LAKE}/${fallbackRunPrefix(DATE, "exec-1")}`);
            expect(f.location).to.equal(`s3://${LAKE}/${fallbackReportPrefix(DATE)}run=exec-1/`);
            const written = await rows(`SELECT * FROM read_json('${join(root, LAKE, fallbackRunPrefix(DATE, "exec-1"))}*.gz', format = 'newline_delimited', columns = {report_date: 'VARCHAR', currency: 'VARCHAR', type: 'VARCHAR', transactions: 'BIGINT', total_amount: 'VARCHAR'})`);
            const key = (x: Record<string, unknown>) => `${x.currency}|${x.type}`;
            expect(byKey(written, key)).to.deep.equal(expected.fallback);
            expect(byKey(f.rows, key)).to.deep.equal(expected.fallback);
            for (const w of written) expect(w.report_date).to.equal(DATE);
            let error: Error | undefined;
            await runAthenaFallback({ db, root, rawBucket: RAW, lakeBucket: LAKE, date: DATE, run: "exec-1" }).catch((e: Error) => (error = e));
            expect(error?.message).to.match(/^local stand-in \(athena\): UNLOAD destination .* is not empty/);
            const second = await runAthenaFallback({ db, root, rawBucket: RAW, lakeBucket: LAKE, date: DATE, run: "exec-2" });
            expect(byKey(second.rows, key)).to.deep.equal(expected.fallback);
        });

        it("parses the UNLOAD it translates, and refuses other shapes", () => {
            const u = parseAthenaUnload("-- c\nUNLOAD (SELECT ')' AS x FROM t) TO 's3://b/k/' WITH (format = 'JSON', compression = 'GZIP')");
            expect(u).to.deep.equal({ select: "SELECT ')' AS x FROM t", to: "s3://b/k/", properties: { format: "JSON", compression: "GZIP" } });
            expect(() => parseAthenaUnload("SELECT 1")).to.throw(/not an UNLOAD/);
        });
    });

    describe("Redshift: load and report", () => {
        let cluster: RedshiftStandIn;
        before(async () => {
            cluster = await RedshiftStandIn.open({ databaseFile: join(root, "cluster", "dev.duckdb"), root, lakeBucket: LAKE });
        });
        after(() => cluster.close());

        const factHash = async () => createHash("sha256").update(JSON.stringify(await cluster.query("SELECT * FROM fact_transactions ORDER BY event_id"))).digest("hex");

        it("loads the day into the fact table; loading it again changes nothing", async () => {
            await cluster.runStage("load", DATE);
            const once = await factHash();
            const [n] = await cluster.query("SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM fact_transactions");
            expect([Number(n.n), Number(n.ids)]).to.deep.equal([expected.curatedRows, expected.curatedRows]);
            await cluster.runStage("load", DATE);
            expect(await factHash()).to.equal(once);
            // The staging table lived in its session only.
            const temp = await cluster.query("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'staging_transactions'");
            expect(Number(temp[0].n)).to.equal(0);
        });

        it("builds the day's report tables equal to the generator's totals, and UNLOADs them; a rerun replaces them", async () => {
            await cluster.runStage("report", DATE);
            await cluster.runStage("report", DATE);
            const report = await cluster.reportRows(DATE);
            expect(byKey(report.byType, (x) => `${x.type}|${x.currency}`)).to.deep.equal(expected.byTypeCurrency);
            expect(byKey(report.bySource, (x) => `${x.source}|${x.currency}`)).to.deep.equal(expected.bySourceCurrency);
            for (const [folder, list] of [["by_type", report.byType], ["by_source", report.bySource]] as const) {
                const dir = join(root, LAKE, reportPrefix(DATE), folder);
                expect(readdirSync(dir)).to.deep.equal(["000.parquet"]);
                const unloaded = await rows(`SELECT * EXCLUDE (report_date, transactions, total_amount), CAST(report_date AS VARCHAR) AS report_date, CAST(transactions AS INTEGER) AS transactions, CAST(total_amount AS VARCHAR) AS total_amount FROM read_parquet('${dir}/000.parquet', hive_partitioning = false)`);
                expect(unloaded).to.deep.equal(list);
            }
        });

        it("rolls the whole batch back when a statement fails", async () => {
            const before = await factHash();
            let error: Error | undefined;
            await cluster.batchExecute(["DELETE FROM fact_transactions", "SELECT no_such_column FROM fact_transactions"]).catch((e: Error) => (error = e));
            expect(error).to.be.instanceOf(Error);
            expect(await factHash()).to.equal(before);
        });
    });

    describe("Redshift translation (the only statements rewritten for DuckDB)", () => {
        it("COPY … FORMAT AS PARQUET becomes an INSERT from read_parquet of the prefix's objects", () => {
            const t = translateRedshift(`COPY staging_transactions FROM 's3://${LAKE}/${curatedPartitionPrefix(DATE)}' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET`, root);
            expect(t).to.deep.equal({ sql: `INSERT INTO staging_transactions SELECT * FROM read_parquet(['${join(root, LAKE, curatedPartitionPrefix(DATE), "part-00000.parquet")}'], hive_partitioning = false)`, translated: "COPY" });
        });

        it("UNLOAD ('…') becomes COPY (…) TO one Parquet file, quotes undoubled, CLEANPATH / ALLOWOVERWRITE honoured", () => {
            const t = translateRedshift("UNLOAD ('SELECT * FROM t WHERE d = ''x''') TO 's3://lake-bucket/reports/a/' IAM_ROLE 'r' FORMAT AS PARQUET CLEANPATH PARALLEL OFF", "/r");
            expect(t).to.deep.equal({ sql: "COPY (SELECT * FROM t WHERE d = 'x') TO '/r/lake-bucket/reports/a/000.parquet' (FORMAT PARQUET)", clean: "/r/lake-bucket/reports/a/", mustBeEmpty: undefined, writes: "/r/lake-bucket/reports/a/", translated: "UNLOAD" });
            const overwrite = translateRedshift("UNLOAD ('SELECT 1') TO 's3://lake-bucket/reports/b/' IAM_ROLE 'r' FORMAT AS PARQUET ALLOWOVERWRITE PARALLEL OFF", "/r");
            expect([overwrite.clean, overwrite.mustBeEmpty, overwrite.writes]).to.deep.equal([undefined, undefined, "/r/lake-bucket/reports/b/"]);
            const plain = translateRedshift("UNLOAD ('SELECT 1') TO 's3://lake-bucket/reports/c/' IAM_ROLE 'r' FORMAT AS PARQUET", "/r");
            expect(plain.mustBeEmpty).to.equal("/r/lake-bucket/reports/c/");
        });

        it("passes other statements through as written, and refuses options it would drop", () => {
            expect(translateRedshift("-- why\nDELETE FROM t WHERE a = '--x'", "/r")).to.deep.equal({ sql: "DELETE FROM t WHERE a = '--x'" });
            expect(() => translateRedshift("COPY t FROM 's3://lake-bucket/k/' IAM_ROLE 'r' FORMAT AS PARQUET MAXERROR 10", "/r")).to.throw(/only IAM_ROLE and FORMAT AS PARQUET/);
            expect(() => translateRedshift("UNLOAD ('SELECT 1') TO 's3://lake-bucket/k/' IAM_ROLE 'r' FORMAT AS CSV", "/r")).to.throw(/left untranslated/);
            expect(() => translateRedshift("COPY t FROM 'file:///etc/' FORMAT AS PARQUET", "/r")).to.throw(/not an s3:\/\/bucket\/key URI/);
        });
    });
});
