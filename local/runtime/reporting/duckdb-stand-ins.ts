import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import {
    RAW_TRANSACTION_COLUMNS,
    REPORTING_PREFIXES,
    VALIDATION_COLUMNS,
    curatedPartitionPrefix,
    fallbackReportPrefix, fallbackRunPrefix,
    rawPartitionPrefix,
    rejectsPartitionPrefix,
    reportDate,
} from "../../../functions/shared/contract";
import { renderSql, sqlFiles } from "../../../glue/sql-files";

// DuckDB stand-ins for the reporting pipeline's Glue job, Athena queries and Redshift cluster. They
// run the very files under glue/sql, on a local tree that mirrors S3 (`<root>/<bucket>/<key>`), so a
// runtime can sync that tree with an S3 emulator. Where DuckDB lacks a statement (Redshift COPY and
// UNLOAD, Athena UNLOAD) the translation is small, explicit and exported, so tests can pin it.

const LABEL = "local stand-in";

// ---- the S3 mirror -----------------------------------------------------------------------------

/** The local path of `s3://bucket/key` under `root`. Refuses anything but an s3:// URI. */
export function localPathOf(root: string, uri: string): string {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/.exec(uri);
    if (!m) throw new Error(`${LABEL}: ${JSON.stringify(uri)} is not an s3://bucket/key URI`);
    if (m[2].split("/").includes("..")) throw new Error(`${LABEL}: ${JSON.stringify(uri)} climbs out of its bucket`);
    return join(root, m[1], m[2]);
}

/**
 * The data files directly in a folder, sorted. Names starting with `_` or `.` are skipped, as Spark,
 * Hive and Athena skip them (`_SUCCESS`, `_errors`, editor files).
 */
function dataFilesIn(dir: string): string[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
        .filter((f) => !f.startsWith("_") && !f.startsWith(".") && statSync(join(dir, f)).isFile())
        .sort()
        .map((f) => join(dir, f));
}

/** Every data file under a folder, at any depth, skipping `_`/`.` names at every level. */
function dataFilesUnder(dir: string): string[] {
    if (!existsSync(dir)) return [];
    const out: string[] = [];
    for (const f of readdirSync(dir).sort()) {
        if (f.startsWith("_") || f.startsWith(".")) continue;
        const p = join(dir, f);
        if (statSync(p).isDirectory()) out.push(...dataFilesUnder(p));
        else out.push(p);
    }
    return out;
}

/** A SQL string literal (DuckDB): quotes doubled. */
function lit(value: string): string {
    return `'${value.replace(/'/g, "''")}'`;
}

function listLiteral(files: string[]): string {
    return `[${files.map(lit).join(", ")}]`;
}

/** The text without `--` comments (outside string literals), trimmed: the shape the translations match on. */
export function stripSqlComments(sql: string): string {
    let out = "";
    for (let i = 0; i < sql.length; i++) {
        const ch = sql[i];
        if (ch === "'") {
            const end = endOfLiteral(sql, i);
            out += sql.slice(i, end);
            i = end - 1;
        } else if (ch === "-" && sql[i + 1] === "-") {
            while (i < sql.length && sql[i] !== "\n") i++;
            out += "\n";
        } else out += ch;
    }
    return out.trim();
}

/** The index just past the string literal opening at `start` ('' is an escaped quote). */
function endOfLiteral(sql: string, start: number): number {
    for (let i = start + 1; i < sql.length; i++) {
        if (sql[i] === "'") {
            if (sql[i + 1] === "'") i++;
            else return i + 1;
        }
    }
    throw new Error(`${LABEL}: unterminated string literal at ${start}`);
}

async function withConnection<T>(db: DuckDBInstance | undefined, run: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const instance = db ?? (await DuckDBInstance.create(":memory:"));
    const connection = await instance.connect();
    try {
        return await run(connection);
    } finally {
        connection.closeSync();
        if (!db) instance.closeSync();
    }
}

/** Rows of a query as plain objects, DuckDB values rendered as JSON-safe strings/numbers. */
async function rowsOf(c: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
    const reader = await c.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
}

// ---- raw records, as the Glue job and the raw catalog table see them ------------------------------

/**
 * A SELECT of the raw records in `files`: one row per non-blank line, every field read as a string.
 * A line that is not a JSON object becomes a row of NULLs, as Spark's PERMISSIVE JSON reader does,
 * so it is counted and rejected rather than lost. Blank lines are skipped (Spark skips them too).
 * Lines are read whole (delimiter NUL, no quoting): no character of a broken line can split it.
 */
export function rawRecordsSelect(files: string[], dtExpression: string): string {
    const columns = RAW_TRANSACTION_COLUMNS.map((c, i) => `fields[${i + 1}] AS ${c}`).join(", ");
    if (files.length === 0) {
        const nulls = RAW_TRANSACTION_COLUMNS.map((c) => `CAST(NULL AS VARCHAR) AS ${c}`).join(", ");
        return `SELECT ${nulls}, CAST(NULL AS VARCHAR) AS dt WHERE false`;
    }
    const paths = RAW_TRANSACTION_COLUMNS.map((c) => lit(`$.${c}`)).join(", ");
    const nullList = `[${RAW_TRANSACTION_COLUMNS.map(() => "NULL").join(", ")}]::VARCHAR[]`;
    return `SELECT ${columns}, ${dtExpression} AS dt FROM (
        SELECT CASE WHEN json_valid(line) AND json_type(line) = 'OBJECT' THEN json_extract_string(line, [${paths}]) ELSE ${nullList} END AS fields, filename
        FROM read_csv(${listLiteral(files)}, columns = {'line': 'VARCHAR'}, header = false, delim = '\\0', quote = '', escape = '',
            auto_detect = false, compression = 'auto', filename = true)
        WHERE line IS NOT NULL AND trim(line) <> ''
    )`;
}

// ---- Glue --------------------------------------------------------------------------------------

export interface GlueJobOptions {
    /** A DuckDB instance to run in; an in-memory one (closed after) when absent. */
    db?: DuckDBInstance;
    /** The local S3 mirror: `<root>/<bucket>/<key>`. */
    root: string;
    rawBucket: string;
    lakeBucket: string;
    /** The `--date` argument, YYYY-MM-DD. */
    date: string;
}

export interface GlueJobResult {
    date: string;
    rawRows: number;
    curatedRows: number;
    rejectedRows: number;
    /** Rejected rows per reason. */
    rejectsByReason: Record<string, number>;
    /** The keys written in the lake bucket. */
    curatedKeys: string[];
    rejectsKeys: string[];
}

/** The view a transform file registers: `NN_<view>.sql` → `<view>`. */
export function transformViewName(fileName: string): string {
    const m = /^\d+_([a-z][a-z0-9_]*)\.sql$/.exec(fileName);
    if (!m) throw new Error(`${LABEL}: transform file ${fileName} is not named NN_<view>.sql`);
    return m[1];
}

/**
 * Runs the Glue job for one day, as glue/report_etl.py does: reads `raw/dt=<date>/`, runs the
 * transform files in name order, and REPLACES the day's curated and rejects partitions (a rerun
 * never appends). The outputs are written aside first, so a failed run leaves the old day in place.
 */
export async function runGlueJob(options: GlueJobOptions): Promise<GlueJobResult> {
    const date = reportDate(options.date);
    if (!date) throw new Error(`${LABEL} (glue): --date ${JSON.stringify(options.date)} is not a YYYY-MM-DD calendar day`);
    const rawFiles = dataFilesIn(join(options.root, options.rawBucket, rawPartitionPrefix(date)));
    // As Spark's read of a prefix that holds no object ("Path does not exist"): the job fails, and
    // the alert says nothing arrived for the day. An object with no records is an empty day.
    if (rawFiles.length === 0) throw new Error(`${LABEL} (glue): Path does not exist: s3://${options.rawBucket}/${rawPartitionPrefix(date)} (no raw object for ${date})`);
    const outputs = {
        curated: { view: "curated_transactions", prefix: curatedPartitionPrefix(date) },
        rejects: { view: "rejected_transactions", prefix: rejectsPartitionPrefix(date) },
    };
    const scratch = mkdtempSync(join(tmpdir(), "glue-stand-in-"));
    try {
        const counts = await withConnection(options.db, async (c) => {
            // Materialised once: the two outputs would otherwise parse every JSON line twice.
            await c.run(`CREATE OR REPLACE TEMP TABLE raw_transactions AS ${rawRecordsSelect(rawFiles, lit(date))}`);
            const files = sqlFiles("transform");
            for (const [i, file] of files.entries()) {
                const view = transformViewName(file.name);
                // Same result as a view; a view that two later files read (both outputs read the
                // deduped rows) is materialised so the day is parsed and ranked once, not twice.
                const readers = files.slice(i + 1).filter((f) => new RegExp(`\\b${view}\\b`).test(f.text)).length;
                await c.run(`CREATE OR REPLACE TEMP ${readers > 1 ? "TABLE" : "VIEW"} ${view} AS ${renderSql(file.text, { date })}`);
            }
            for (const [name, out] of Object.entries(outputs)) {
                mkdirSync(join(scratch, name));
                await c.run(`COPY (SELECT * FROM ${out.view}) TO ${lit(join(scratch, name, "part-00000.parquet"))} (FORMAT PARQUET)`);
            }
            const [raw] = await rowsOf(c, `SELECT count(*) AS n FROM raw_transactions`);
            const byReason = await rowsOf(c, `SELECT reason, count(*) AS n FROM read_parquet(${lit(join(scratch, "rejects", "part-00000.parquet"))}) GROUP BY reason ORDER BY reason`);
            const [curated] = await rowsOf(c, `SELECT count(*) AS n FROM read_parquet(${lit(join(scratch, "curated", "part-00000.parquet"))})`);
            return { raw: Number(raw.n), curated: Number(curated.n), byReason };
        });
        const written: Record<string, string[]> = {};
        for (const [name, out] of Object.entries(outputs)) {
            const target = join(options.root, options.lakeBucket, out.prefix);
            rmSync(target, { recursive: true, force: true });
            mkdirSync(target, { recursive: true });
            written[name] = [];
            for (const f of readdirSync(join(scratch, name)).sort()) {
                copyFileSync(join(scratch, name, f), join(target, f));
                written[name].push(`${out.prefix}${f}`);
            }
        }
        const rejectsByReason = Object.fromEntries(counts.byReason.map((r) => [String(r.reason), Number(r.n)]));
        return {
            date,
            rawRows: counts.raw,
            curatedRows: counts.curated,
            rejectedRows: Object.values(rejectsByReason).reduce((a, b) => a + b, 0),
            rejectsByReason,
            curatedKeys: written.curated,
            rejectsKeys: written.rejects,
        };
    } finally {
        rmSync(scratch, { recursive: true, force: true });
    }
}

// ---- Athena ------------------------------------------------------------------------------------

export interface AthenaOptions {
    db?: DuckDBInstance;
    root: string;
    rawBucket: string;
    lakeBucket: string;
    date: string;
}

/** The fallback also takes the execution's name: each run writes a folder of its own. */
export interface FallbackOptions extends AthenaOptions {
    run: string;
}

export type ValidationRow = Record<(typeof VALIDATION_COLUMNS)[number], string>;

/**
 * Registers the catalog tables over the local tree, as the Glue Data Catalog holds them: raw (every
 * partition, dt from the folder name), curated and rejects (every partition's Parquet).
 */
async function registerCatalog(c: DuckDBConnection, o: AthenaOptions): Promise<void> {
    const rawRoot = join(o.root, o.rawBucket, REPORTING_PREFIXES.raw);
    const partitions = existsSync(rawRoot) ? readdirSync(rawRoot).filter((d) => /^dt=/.test(d)).sort() : [];
    const rawFiles = partitions.flatMap((p) => dataFilesIn(join(rawRoot, p)));
    // dt taken from each file's folder, the way a partitioned catalog table gets it.
    const dt = `regexp_extract(filename, '[/\\\\]dt=([^/\\\\]+)[/\\\\][^/\\\\]*$', 1)`;
    await c.run(`CREATE OR REPLACE TEMP VIEW raw_transactions AS ${rawRecordsSelect(rawFiles, dt)}`);
    for (const [view, prefix] of [
        ["curated_transactions", REPORTING_PREFIXES.curated],
        ["rejected_transactions", REPORTING_PREFIXES.rejects],
    ] as const) {
        const files = dataFilesUnder(join(o.root, o.lakeBucket, prefix)).filter((f) => f.endsWith(".parquet"));
        const body = files.length ? `SELECT * FROM read_parquet(${listLiteral(files)}, union_by_name = true, hive_partitioning = false)` : `SELECT CAST(NULL AS VARCHAR) AS dt WHERE false`;
        await c.run(`CREATE OR REPLACE TEMP VIEW ${view} AS ${body}`);
    }
}

/** Runs the validate stage for a day; the row as Athena returns it (every value a string). */
export async function runAthenaValidation(options: AthenaOptions): Promise<ValidationRow> {
    const date = reportDate(options.date);
    if (!date) throw new Error(`${LABEL} (athena): date ${JSON.stringify(options.date)} is not a YYYY-MM-DD calendar day`);
    const [file, ...more] = sqlFiles("validate");
    if (!file || more.length) throw new Error(`${LABEL} (athena): the validate stage must hold exactly one query`);
    return withConnection(options.db, async (c) => {
        await registerCatalog(c, options);
        const rows = await rowsOf(c, renderSql(file.text, { date }));
        if (rows.length !== 1) throw new Error(`${LABEL} (athena): validation returned ${rows.length} rows, not 1`);
        const got = Object.keys(rows[0]);
        if (got.join() !== VALIDATION_COLUMNS.join()) throw new Error(`${LABEL} (athena): validation columns ${got.join()} are not ${VALIDATION_COLUMNS.join()}`);
        return Object.fromEntries(VALIDATION_COLUMNS.map((k) => [k, String(rows[0][k])])) as ValidationRow;
    });
}

export interface AthenaUnload {
    /** The inner query, as written. */
    select: string;
    /** The destination URI. */
    to: string;
    /** The WITH properties, keys lower-cased, values unquoted. */
    properties: Record<string, string>;
}

/**
 * Splits `UNLOAD (<select>) TO '<uri>' WITH (k = 'v', …)` (Athena). DuckDB has no UNLOAD: the
 * stand-in runs the same inner SELECT as COPY (…) TO, and the dialect check checks that SELECT.
 */
export function parseAthenaUnload(sql: string): AthenaUnload {
    const text = stripSqlComments(sql);
    const head = /^UNLOAD\s*\(/i.exec(text);
    if (!head) throw new Error(`${LABEL} (athena): not an UNLOAD statement`);
    const close = matchingParen(text, head[0].length - 1);
    const select = text.slice(head[0].length, close).trim();
    const tail = /^\s*TO\s+'([^']*)'\s+WITH\s*\(([^)]*)\)\s*;?\s*$/i.exec(text.slice(close + 1));
    if (!tail) throw new Error(`${LABEL} (athena): UNLOAD must end TO '<uri>' WITH (<properties>)`);
    const properties: Record<string, string> = {};
    for (const part of tail[2].split(",")) {
        const kv = /^\s*([a-z_]+)\s*=\s*'([^']*)'\s*$/i.exec(part);
        if (!kv) throw new Error(`${LABEL} (athena): UNLOAD property ${JSON.stringify(part.trim())} is not name = 'value'`);
        properties[kv[1].toLowerCase()] = kv[2];
    }
    return { select, to: tail[1], properties };
}

/** The index of the parenthesis closing the one at `open`, skipping string literals. */
function matchingParen(text: string, open: number): number {
    let depth = 0;
    for (let i = open; i < text.length; i++) {
        const ch = text[i];
        if (ch === "'") i = endOfLiteral(text, i) - 1;
        else if (ch === "(") depth++;
        else if (ch === ")" && --depth === 0) return i;
    }
    throw new Error(`${LABEL}: unbalanced parenthesis at ${open}`);
}

export interface FallbackResult {
    /** Where the report went: `s3://<lake>/reports/fallback/dt=<date>/`. */
    location: string;
    keys: string[];
    /** The report rows (from the SELECT). */
    rows: Record<string, unknown>[];
}

/**
 * Runs the fallback stage: the report from raw for the day, written as Athena's UNLOAD writes it
 * (GZIP JSON lines, the default compression for JSON). Like Athena, refuses a destination that
 * already holds objects.
 */
export async function runAthenaFallback(options: FallbackOptions): Promise<FallbackResult> {
    const date = reportDate(options.date);
    if (!date) throw new Error(`${LABEL} (athena): date ${JSON.stringify(options.date)} is not a YYYY-MM-DD calendar day`);
    const fallbackLocation = `s3://${options.lakeBucket}/${REPORTING_PREFIXES.fallbackReports}`;
    const files = sqlFiles("fallback");
    return withConnection(options.db, async (c) => {
        await registerCatalog(c, options);
        let result: FallbackResult | undefined;
        for (const file of files) {
            const unload = parseAthenaUnload(renderSql(file.text, { date, run: options.run, fallback_location: fallbackLocation }));
            const format = (unload.properties.format ?? "").toUpperCase();
            if (format !== "JSON") throw new Error(`${LABEL} (athena): only UNLOAD … WITH (format = 'JSON') is translated, not ${JSON.stringify(format)}`);
            const dir = localPathOf(options.root, unload.to);
            if (dataFilesUnder(dir).length) throw new Error(`${LABEL} (athena): UNLOAD destination ${unload.to} is not empty (Athena refuses it too)`);
            mkdirSync(dir, { recursive: true });
            const file0 = join(dir, "00000.gz");
            await c.run(`COPY (${unload.select}) TO ${lit(file0)} (FORMAT JSON, COMPRESSION GZIP)`);
            result = { location: unload.to, keys: [`${fallbackRunPrefix(date, options.run)}00000.gz`], rows: await rowsOf(c, unload.select) };
        }
        if (!result) throw new Error(`${LABEL} (athena): the fallback stage holds no file`);
        return result;
    });
}

// ---- Redshift ----------------------------------------------------------------------------------

export interface RedshiftTranslation {
    /** What DuckDB runs. */
    sql: string;
    /** Files to clear before it runs (UNLOAD … CLEANPATH). */
    clean?: string;
    /** A destination that must be empty (UNLOAD without CLEANPATH/ALLOWOVERWRITE). */
    mustBeEmpty?: string;
    /** The folder an UNLOAD writes to (created before it runs). */
    writes?: string;
    /** Set when the statement was rewritten: which Redshift statement it was. */
    translated?: "COPY" | "UNLOAD";
}

/**
 * The one place Redshift SQL becomes DuckDB SQL. Only two statements are rewritten:
 * - `COPY <table> FROM 's3://…/' IAM_ROLE '…' FORMAT AS PARQUET` → `INSERT INTO <table> SELECT *
 *   FROM read_parquet([every object under the prefix])` (positional, as Redshift maps Parquet columns);
 * - `UNLOAD ('<query>') TO 's3://…/' IAM_ROLE '…' FORMAT AS PARQUET [CLEANPATH | ALLOWOVERWRITE]
 *   [PARALLEL OFF]` → `COPY (<query>) TO '<local>/000.parquet' (FORMAT PARQUET)`.
 * Everything else (CREATE [TEMP] TABLE, MERGE, DELETE, INSERT) runs as written; any other COPY or
 * UNLOAD option is refused rather than silently dropped.
 */
export function translateRedshift(sql: string, root: string): RedshiftTranslation {
    const text = stripSqlComments(sql).replace(/;\s*$/, "");
    const copy = /^COPY\s+([a-z_][a-z0-9_.]*)\s+FROM\s+'([^']*)'\s+(.*)$/is.exec(text);
    if (copy) {
        const options = copy[3].replace(/IAM_ROLE\s+'[^']*'/i, "").trim();
        if (!/^FORMAT\s+AS\s+PARQUET$/i.test(options)) throw new Error(`${LABEL} (redshift): COPY options ${JSON.stringify(options)}: only IAM_ROLE and FORMAT AS PARQUET are translated`);
        const files = dataFilesUnder(localPathOf(root, copy[2]));
        if (!files.length) throw new Error(`${LABEL} (redshift): COPY found no objects under ${copy[2]}`);
        // hive_partitioning off: COPY maps the files' own columns by position, adding none from the path.
        return { sql: `INSERT INTO ${copy[1]} SELECT * FROM read_parquet(${listLiteral(files)}, hive_partitioning = false)`, translated: "COPY" };
    }
    if (/^UNLOAD\b/i.test(text)) {
        const u = parseRedshiftUnload(text);
        const dir = localPathOf(root, u.to);
        return {
            sql: `COPY (${u.query}) TO ${lit(join(dir, "000.parquet"))} (FORMAT PARQUET)`,
            clean: u.cleanPath ? dir : undefined,
            mustBeEmpty: u.cleanPath || u.allowOverwrite ? undefined : dir,
            writes: dir,
            translated: "UNLOAD",
        };
    }
    return { sql: text };
}

export interface RedshiftUnload {
    /** The query, its quotes undoubled. */
    query: string;
    to: string;
    cleanPath: boolean;
    allowOverwrite: boolean;
}

/**
 * Splits `UNLOAD ('<query>') TO '<uri>' IAM_ROLE '…' FORMAT AS PARQUET [CLEANPATH | ALLOWOVERWRITE]
 * [PARALLEL OFF]`. Any other option is refused: the stand-in would not honour it.
 */
export function parseRedshiftUnload(sql: string): RedshiftUnload {
    const text = stripSqlComments(sql).replace(/;\s*$/, "");
    const head = /^UNLOAD\s*\(\s*'/i.exec(text);
    if (!head) throw new Error(`${LABEL} (redshift): UNLOAD must read UNLOAD ('<query>') TO '<uri>' <options>`);
    const start = head[0].length - 1;
    const end = endOfLiteral(text, start);
    const query = text.slice(start + 1, end - 1).replace(/''/g, "'");
    const tail = /^\s*\)\s*TO\s+'([^']*)'\s+(.*)$/is.exec(text.slice(end));
    if (!tail) throw new Error(`${LABEL} (redshift): UNLOAD must read UNLOAD ('<query>') TO '<uri>' <options>`);
    let options = tail[2].replace(/IAM_ROLE\s+'[^']*'/i, " ");
    const take = (re: RegExp) => {
        const hit = re.test(options);
        options = options.replace(re, " ");
        return hit;
    };
    const parquet = take(/\bFORMAT\s+AS\s+PARQUET\b/i);
    const cleanPath = take(/\bCLEANPATH\b/i);
    const allowOverwrite = take(/\bALLOWOVERWRITE\b/i);
    take(/\bPARALLEL\s+OFF\b/i);
    if (!parquet || options.trim()) throw new Error(`${LABEL} (redshift): UNLOAD options left untranslated: ${JSON.stringify(options.trim() || "(no FORMAT AS PARQUET)")}`);
    return { query, to: tail[1], cleanPath, allowOverwrite };
}

export interface RedshiftStandInOptions {
    /** The cluster's database file (persistent across runs, like the cluster). */
    databaseFile: string;
    root: string;
    lakeBucket: string;
    /** The roles COPY and UNLOAD name (not checked locally). */
    copyRoleArn?: string;
    unloadRoleArn?: string;
}

export interface ReportRows {
    byType: { report_date: string; type: string; currency: string; transactions: number; total_amount: string }[];
    bySource: { report_date: string; source: string; currency: string; transactions: number; total_amount: string }[];
}

/** One Redshift "cluster": one persistent DuckDB database. */
export class RedshiftStandIn {
    private constructor(
        private readonly instance: DuckDBInstance,
        private readonly options: RedshiftStandInOptions,
    ) {}

    static async open(options: RedshiftStandInOptions): Promise<RedshiftStandIn> {
        mkdirSync(dirname(options.databaseFile), { recursive: true });
        return new RedshiftStandIn(await DuckDBInstance.create(options.databaseFile), options);
    }

    /** The placeholder values the plan fills for Redshift, plus the day. */
    values(date: string): Record<string, string> {
        return {
            date,
            curated_location: `s3://${this.options.lakeBucket}/${REPORTING_PREFIXES.curated}`,
            report_location: `s3://${this.options.lakeBucket}/${REPORTING_PREFIXES.reports}`,
            copy_role_arn: this.options.copyRoleArn ?? "arn:aws:iam::000000000000:role/local-stand-in-copy",
            unload_role_arn: this.options.unloadRoleArn ?? "arn:aws:iam::000000000000:role/local-stand-in-unload",
        };
    }

    /**
     * Runs statements as batchExecuteStatement does: one session (temp tables live until it ends),
     * one transaction (any failure rolls all of it back).
     */
    async batchExecute(statements: string[]): Promise<void> {
        const c = await this.instance.connect();
        try {
            await c.run("BEGIN TRANSACTION");
            try {
                for (const statement of statements) {
                    const t = translateRedshift(statement, this.options.root);
                    if (t.mustBeEmpty && dataFilesUnder(t.mustBeEmpty).length) throw new Error(`${LABEL} (redshift): UNLOAD destination ${t.mustBeEmpty} is not empty (no CLEANPATH or ALLOWOVERWRITE)`);
                    if (t.clean) rmSync(t.clean, { recursive: true, force: true });
                    if (t.writes) mkdirSync(t.writes, { recursive: true });
                    await c.run(t.sql);
                }
                await c.run("COMMIT");
            } catch (e) {
                await c.run("ROLLBACK");
                throw e;
            }
        } finally {
            c.closeSync();
        }
    }

    /** Runs a stage's files (load or report) for a day, rendered, as one batch. */
    async runStage(stage: "load" | "report", date: string): Promise<void> {
        if (!reportDate(date)) throw new Error(`${LABEL} (redshift): date ${JSON.stringify(date)} is not a YYYY-MM-DD calendar day`);
        const values = this.values(date);
        await this.batchExecute(sqlFiles(stage).map((f) => renderSql(f.text, values)));
    }

    /** Rows of a query, as JSON-safe values. */
    async query(sql: string): Promise<Record<string, unknown>[]> {
        const c = await this.instance.connect();
        try {
            return await rowsOf(c, sql);
        } finally {
            c.closeSync();
        }
    }

    /** The day's report rows, sorted. */
    async reportRows(date: string): Promise<ReportRows> {
        const d = reportDate(date);
        if (!d) throw new Error(`${LABEL} (redshift): date ${JSON.stringify(date)} is not a YYYY-MM-DD calendar day`);
        const pick = (table: string, key: string) =>
            this.query(`SELECT CAST(report_date AS VARCHAR) AS report_date, ${key}, currency, CAST(transactions AS INTEGER) AS transactions, CAST(total_amount AS VARCHAR) AS total_amount
                FROM ${table} WHERE report_date = CAST(${lit(d)} AS DATE) ORDER BY ${key}, currency`);
        return { byType: (await pick("daily_report_by_type", "type")) as ReportRows["byType"], bySource: (await pick("daily_report_by_source", "source")) as ReportRows["bySource"] };
    }

    close(): void {
        this.instance.closeSync();
    }
}
