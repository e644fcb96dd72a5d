import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

// The SQL the reporting pipeline runs, one folder per stage, each file run in name order. The same
// files run in the cloud (Spark SQL in Glue, Trino in Athena, Redshift) and in DuckDB locally and in
// the tests. A file may hold placeholders `{{name}}`, only inside string literals: `{{date}}` is
// filled per run (by the Glue script, or by the state machine's States.Format), the others when the
// plan is built (bucket locations, the COPY role).

/** glue/sql beside this file; in the built package this file is dist/glue/sql-files.js and the SQL ships at the package's glue/sql. */
export const SQL_ROOT = [join(__dirname, "sql"), join(__dirname, "..", "..", "glue", "sql")].find((dir) => existsSync(dir)) ?? join(__dirname, "sql");

/** Each stage: its folder under glue/sql and the dialects its files must parse in, cloud first. */
export const SQL_STAGES = {
    /** Raw → curated and rejects (Glue: Spark SQL). Each file `NN_<view>.sql` is one SELECT, registered as the view <view>. */
    transform: { folder: "transform", dialects: ["spark", "duckdb"] },
    /** Raw against curated + rejects for the day (Athena). */
    validate: { folder: "validate", dialects: ["athena", "duckdb"] },
    /** The contingency report from raw (Athena). */
    fallback: { folder: "fallback", dialects: ["athena", "duckdb"] },
    /** Stage, COPY and MERGE the day into the fact table (Redshift, one batchExecuteStatement). */
    load: { folder: "load", dialects: ["redshift"] },
    /** The daily report tables and their UNLOAD (Redshift, one batchExecuteStatement). */
    report: { folder: "report", dialects: ["redshift"] },
} as const;
export type SqlStage = keyof typeof SQL_STAGES;

export interface SqlFile {
    stage: SqlStage;
    /** The file name, e.g. `01_typed.sql`. */
    name: string;
    path: string;
    text: string;
}

/** The files of a stage, in the order they run. */
export function sqlFiles(stage: SqlStage): SqlFile[] {
    const dir = join(SQL_ROOT, SQL_STAGES[stage].folder);
    return readdirSync(dir)
        .filter((f) => f.endsWith(".sql"))
        .sort()
        .map((name) => ({ stage, name, path: join(dir, name), text: readFileSync(join(dir, name), "utf8") }));
}

const PLACEHOLDER = /\{\{([a-z_]+)\}\}/g;

/** The placeholders a text holds, each once. */
export function placeholdersOf(text: string): string[] {
    return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]))];
}

/**
 * `text` with the placeholders named in `values` filled; others are left as they are (a later step
 * fills them). Throws on a value that could leave its string literal.
 */
export function renderSql(text: string, values: Record<string, string>): string {
    return text.replace(PLACEHOLDER, (whole, name: string) => {
        const value = values[name];
        if (value === undefined) return whole;
        if (/['\\\n\r]/.test(value)) throw new Error(`SQL placeholder {{${name}}}: ${JSON.stringify(value)} holds a quote, backslash or line break, which a literal cannot take`);
        return value;
    });
}
