import { expect } from "chai";
import { Dialect, init, parse, transpile } from "@polyglot-sql/sdk";
import { SQL_STAGES, SqlStage, placeholdersOf, sqlFiles } from "../../glue/sql-files";
import { parseAthenaUnload, parseRedshiftUnload, stripSqlComments, transformViewName } from "../../local/runtime/reporting/duckdb-stand-ins";

// Every file of glue/sql must parse in each dialect its stage lists AND stay inside what those
// dialects share. Parsing alone proves little: polyglot's parsers are permissive (its Spark parser
// takes QUALIFY, which Spark SQL lacks). Two checks on top:
// 1. Round trip: for each pair of the stage's dialects (a, b), the text read as a and written as b
//    must equal the text read as b and written as b. A construct one dialect lacks, or means
//    otherwise, is rewritten by one reader and not the other (Spark's lenient CAST becomes TRY_CAST
//    for DuckDB; an ORDER BY without NULLS gets Spark's NULLS FIRST), so the two outputs differ.
// 2. An AST walk refusing node kinds a reader may pass through untranslated (QUALIFY: Athena's reader
//    keeps it, so the round trip alone misses it there), and statements left unparsed ("command").

/** A stage's dialect names are the values of polyglot's Dialect enum ("spark", "athena", …). */
const dialect = (name: string) => name as Dialect;

/** AST keys that must be absent or empty in shared SQL, and why. */
const REFUSED_NODES: Record<string, string> = {
    qualify: "QUALIFY (Spark SQL and Athena have none)",
    command: "a statement the parser passed through unparsed, so unchecked",
    lateral_views: "LATERAL VIEW (Spark and Hive only)",
    distribute_by: "DISTRIBUTE BY (Spark and Hive only)",
    cluster_by: "CLUSTER BY (Spark and Hive only)",
};

function refusedNodes(node: unknown, found: Set<string>): void {
    if (Array.isArray(node)) node.forEach((n) => refusedNodes(n, found));
    else if (node && typeof node === "object") {
        for (const [k, v] of Object.entries(node)) {
            const present = v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0);
            if (present && k in REFUSED_NODES) found.add(REFUSED_NODES[k]);
            refusedNodes(v, found);
        }
    }
}

/**
 * Folds spellings polyglot's readers print differently for the same meaning (the DuckDB reader
 * turns `x IS NOT NULL` into `NOT x IS NULL`, and likewise NOT IN / NOT LIKE), and drops comments.
 */
function canonical(statements: string[] | undefined): string {
    return (statements ?? [])
        .join(";\n")
        .replace(/\/\*[\s\S]*?\*\//g, " ")
        .replace(/\bNOT ([A-Za-z_][\w.]*) IS NULL\b/g, "$1 IS NOT NULL")
        .replace(/\bNOT ([A-Za-z_][\w.]*) (IN|LIKE) /g, "$1 NOT $2 ")
        .replace(/\s+/g, " ")
        .trim();
}

/** What keeps `sql` out of the subset the dialects share; empty when it is inside. */
export function sharedSubsetProblems(sql: string, dialects: readonly string[]): string[] {
    const problems: string[] = [];
    for (const d of dialects) {
        const parsed = parse(sql, dialect(d));
        if (!parsed.success) {
            problems.push(`${d}: does not parse: ${parsed.error}`);
            continue;
        }
        if (parsed.ast.length !== 1) problems.push(`${d}: ${parsed.ast.length} statements, not one`);
        const found = new Set<string>();
        refusedNodes(parsed.ast, found);
        for (const f of found) problems.push(`${d}: ${f}`);
    }
    for (const a of dialects) {
        for (const b of dialects) {
            if (a === b) continue;
            const across = transpile(sql, dialect(a), dialect(b));
            const within = transpile(sql, dialect(b), dialect(b));
            if (!across.success || !within.success) {
                problems.push(`${a}→${b}: does not transpile: ${across.error ?? within.error}`);
                continue;
            }
            const x = canonical(across.sql);
            const y = canonical(within.sql);
            if (x !== y) {
                let i = 0;
                while (i < x.length && x[i] === y[i]) i++;
                problems.push(`read as ${a} it means otherwise in ${b}: …${x.slice(Math.max(0, i - 40), i + 60)}… vs …${y.slice(Math.max(0, i - 40), i + 60)}…`);
            }
        }
    }
    return problems;
}

/** The SQL the check sees for a file: the inner query of an UNLOAD (whose outer shape is checked apart). */
function checkedText(stage: SqlStage, text: string): string {
    if (stage === "fallback") return parseAthenaUnload(text).select;
    if (/^UNLOAD\b/i.test(stripSqlComments(text))) return parseRedshiftUnload(text).query;
    return text;
}

/** The placeholders each stage may hold (filled per run, or when the plan is built). */
const STAGE_PLACEHOLDERS: Record<SqlStage, string[]> = {
    transform: ["date"],
    validate: ["date"],
    fallback: ["date", "run", "fallback_location"],
    load: ["date", "curated_location", "copy_role_arn"],
    report: ["date", "report_location", "unload_role_arn"],
};

function withoutStringLiterals(sql: string): string {
    return stripSqlComments(sql).replace(/'(?:[^']|'')*'/g, "''");
}

describe("glue/sql: dialects", () => {
    before(async () => {
        await init();
    });

    for (const stage of Object.keys(SQL_STAGES) as SqlStage[]) {
        const { dialects } = SQL_STAGES[stage];
        describe(`${stage} (${dialects.join(" ∩ ")})`, () => {
            const files = sqlFiles(stage);
            it("holds files", () => expect(files.length).to.be.greaterThan(0));
            for (const file of files) {
                it(`${file.name} parses in ${dialects.join(", ")} and stays in their shared subset`, () => {
                    expect(sharedSubsetProblems(checkedText(stage, file.text), dialects)).to.deep.equal([]);
                });
                it(`${file.name}: placeholders only inside string literals, only the stage's own`, () => {
                    expect(withoutStringLiterals(file.text)).not.to.contain("{{");
                    expect(placeholdersOf(file.text).filter((p) => !STAGE_PLACEHOLDERS[stage].includes(p))).to.deep.equal([]);
                });
            }
        });
    }

    it("fallback: the whole file is one Athena UNLOAD of JSON to the execution's folder under the day's fallback prefix", () => {
        for (const file of sqlFiles("fallback")) {
            const parsed = parse(file.text, Dialect.Athena);
            expect(parsed.success).to.equal(true);
            const u = parseAthenaUnload(file.text);
            expect(u.to).to.equal("{{fallback_location}}dt={{date}}/run={{run}}/");
            expect(u.properties).to.deep.equal({ format: "JSON" });
        }
    });

    it("transform: each file is NN_<view>.sql and the last two are the job's outputs", () => {
        const views = sqlFiles("transform").map((f) => transformViewName(f.name));
        expect(views.slice(-2)).to.deep.equal(["curated_transactions", "rejected_transactions"]);
    });

    it("load: the create-if-not-exists statements come first, then staging, COPY and MERGE", () => {
        const kinds = sqlFiles("load").map((f) => stripSqlComments(f.text).split(/\s+/).slice(0, 3).join(" ").toUpperCase());
        expect(kinds).to.deep.equal(["CREATE TABLE IF", "CREATE TABLE IF", "CREATE TABLE IF", "CREATE TEMP TABLE", "COPY staging_transactions FROM".toUpperCase(), "MERGE INTO FACT_TRANSACTIONS"]);
    });

    it("load: the MERGE has one WHEN MATCHED and one WHEN NOT MATCHED branch (all Redshift takes)", () => {
        const merge = sqlFiles("load").find((f) => /^MERGE/i.test(stripSqlComments(f.text)))!;
        const text = stripSqlComments(merge.text);
        expect(text.match(/\bWHEN\s+MATCHED\b/gi)).to.have.length(1);
        expect(text.match(/\bWHEN\s+NOT\s+MATCHED\b/gi)).to.have.length(1);
    });

    describe("the check refuses what only one dialect has", () => {
        const transform = (name: string) => sqlFiles("transform").find((f) => f.name === name)!.text;

        it("a QUALIFY variant of the dedupe (Spark ∩ DuckDB): by the AST walk and by the round trip", () => {
            const real = transform("02_deduped.sql");
            const over = /ROW_NUMBER\(\) OVER \(([\s\S]*?)\) AS rank_in_event/.exec(real)![1];
            const variant = `SELECT p.* FROM parsed AS p QUALIFY ROW_NUMBER() OVER (${over}) = 1`;
            const problems = sharedSubsetProblems(variant, SQL_STAGES.transform.dialects);
            expect(problems.slice(0, 2)).to.deep.equal(["spark: QUALIFY (Spark SQL and Athena have none)", "duckdb: QUALIFY (Spark SQL and Athena have none)"]);
            // Read as Spark, QUALIFY becomes a ROW_NUMBER subquery; DuckDB's reader keeps it.
            expect(problems.slice(2)).to.have.length(1);
            expect(problems[2]).to.match(/^read as spark it means otherwise in duckdb: .*ROW_NUMBER\(\) OVER/);
        });

        it("a QUALIFY variant for Athena: its reader keeps QUALIFY, so only the AST walk catches it", () => {
            const variant = `SELECT event_id FROM raw_transactions WHERE dt = '{{date}}' QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY event_time DESC NULLS LAST) = 1`;
            const problems = sharedSubsetProblems(variant, SQL_STAGES.validate.dialects);
            expect(problems).to.deep.equal(["athena: QUALIFY (Spark SQL and Athena have none)", "duckdb: QUALIFY (Spark SQL and Athena have none)"]);
        });

        it("a plain CAST in the transform (lenient in Spark, failing in DuckDB)", () => {
            const variant = transform("01_parsed.sql").replace("THEN TRY_CAST(TRIM(r.amount) AS DECIMAL(18, 2))", "THEN CAST(TRIM(r.amount) AS DECIMAL(18, 2))");
            expect(variant).not.to.equal(transform("01_parsed.sql"));
            const problems = sharedSubsetProblems(variant, SQL_STAGES.transform.dialects);
            expect(problems).to.have.length(1);
            expect(problems[0]).to.match(/^read as spark it means otherwise in duckdb: .*TRY_CAST\(TRIM\(r\.amount\)/);
        });

        it("an ORDER BY without NULLS (Spark sorts NULLs first ascending, DuckDB last)", () => {
            const variant = transform("03_curated_transactions.sql").replace("ORDER BY event_id NULLS LAST", "ORDER BY event_id");
            expect(sharedSubsetProblems(variant, SQL_STAGES.transform.dialects)).to.have.length(2);
        });

        it("|| (DuckDB's NULL-propagating concat is CONCAT in Spark, which DuckDB reads as NULL-skipping)", () => {
            expect(sharedSubsetProblems("SELECT event_id || source AS k FROM raw_transactions", SQL_STAGES.transform.dialects)).to.have.length(1);
        });

        it("while the spellings it folds (IS NOT NULL, NOT IN) pass", () => {
            expect(sharedSubsetProblems("SELECT a FROM t WHERE a IS NOT NULL AND b NOT IN ('x') AND c NOT LIKE 'y%'", SQL_STAGES.transform.dialects)).to.deep.equal([]);
        });
    });
});
