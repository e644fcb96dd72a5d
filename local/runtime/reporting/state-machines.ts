/**
 * The planned state machines, run in the local runtime: each execution runs the plan's own
 * definition with aws-local-stepfunctions (local/runtime/step-functions.ts), its Task resources
 * served by local stand-ins over the runtime's S3 (s3rver) and the DuckDB stand-ins of
 * local/runtime/reporting/duckdb-stand-ins.ts. Every task call is first authorized for the state
 * machine's role against the plan, and the stand-in's own S3 reads and writes for the role that
 * makes them in AWS (the Glue job's role, the caller's for Athena, the COPY and UNLOAD roles).
 *
 * The DuckDB stand-ins work on a local tree `<root>/<bucket>/<key>`; each task syncs the prefixes it
 * reads down from s3rver first and uploads what it wrote after, so s3rver stays the one store.
 *
 * Simplified against AWS (stated in the fidelity table):
 * - a Redshift batch runs to completion before batchExecuteStatement answers (describeStatement
 *   then reports FINISHED or FAILED; never STARTED);
 * - Athena queries read only the day's partitions (the validation and fallback SQL filter on dt;
 *   partition projection prunes the same way), run by DuckDB; the query text is checked against the
 *   repository's glue/sql file the stand-in runs, so a plan that ships other SQL is refused;
 * - ListBucket and the S3 SSE-KMS calls are not authorized (the authorizer has no s3:prefix context,
 *   and encryption at rest is not run); redshift-data:DescribeStatement is not authorized (its grant
 *   is conditioned on aws:userid, which the authorizer does not set).
 */
import { randomUUID } from "crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { dirname, join, relative, sep } from "path";
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { JsonValue, StateMachineDefinition } from "../../../components/orchestration/asl";
import { REPORTING_RESOURCES } from "../../../components/orchestration/reporting-definition";
import { REPORTING_PREFIXES, curatedPartitionPrefix, fallbackReportPrefix, rawPartitionPrefix, rejectsPartitionPrefix, reportDate } from "../../../functions/shared/contract";
import { renderSql, sqlFiles } from "../../../glue/sql-files";
import type { Plan, PlannedResource } from "../../plan";
import { StepFunctionsError, type ExecutionBackend, type ExecutionDescription } from "../step-functions-api";
import { runStateMachine, taskError, type StateMachineRun, type TaskHandler } from "../step-functions";
import type { AccessRequest, Authorizer, Counter, TimeScale } from "../types";
import { RedshiftStandIn, runAthenaFallback, runAthenaValidation, runGlueJob, stripSqlComments } from "./duckdb-stand-ins";

export const STAND_IN = "local stand-in";

/** The service integrations served here: the ones the reporting definition calls. */
export const TASK_RESOURCES = REPORTING_RESOURCES;

/** One finished (or running) execution, as the runtime reports it. */
export interface ExecutionRun {
    executionArn: string;
    stateMachineArn: string;
    name: string;
    input: string;
    status: "RUNNING" | StateMachineRun["status"];
    startDate: Date;
    stopDate?: Date;
    /** The states entered, in order. */
    states: string[];
    output?: JsonValue;
    error?: string;
    cause?: string;
}

export interface StateMachinesOptions {
    plan: Plan;
    authorizer: Authorizer;
    s3: S3Client;
    sns: SNSClient;
    /** The planned topic ARN → the stand-in's. */
    localTopic(arn: string): string;
    /** The IAM requests a write to a topic takes (its customer-managed key's too). */
    writes(action: string, arn: string): { action: string; resource: string }[];
    /** Scales Wait states and retry intervals. */
    time: TimeScale;
    /** A folder of the runtime's: the S3 mirror and the Redshift databases live under it. */
    workDir: string;
    account: string;
    region: string;
    /** Puts an event on the runtime's default bus (Glue's state changes). */
    putEvent(event: { source: string; "detail-type": string; detail: unknown; resources?: string[] }): void;
    /** Fault injection: an error to fail a task with, after its authorization, before its work. */
    fault?: (resource: string, input: unknown) => Error | undefined;
    counter?: Counter;
    log(line: string): void;
}

export interface LocalStateMachines {
    backend: ExecutionBackend;
    /** Resolves when the execution has ended. */
    wait(executionArn: string): Promise<ExecutionRun>;
    /** The Redshift stand-in of a planned workgroup (by name), opened on first use. */
    redshift(workgroupName: string): Promise<RedshiftStandIn>;
    /** Aborts running executions, closes the Redshift stand-ins. */
    stop(): Promise<void>;
}

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
const ofType = (plan: Plan, type: string) => plan.resources.filter((r) => r.type === type);

/** Why a call is refused, as Step Functions' cause reads for a service's AccessDeniedException. */
function accessDenied(service: string, message: string): string {
    return `${message} (Service: ${service}; Status Code: 400; Error Code: AccessDeniedException; Request ID: ${randomUUID()}; Proxy: null)`;
}

/** The plan's S3 URI `s3://bucket/key` split. */
function s3Uri(uri: string): { bucket: string; key: string } {
    const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
    if (!m) throw new Error(`${STAND_IN}: ${JSON.stringify(uri)} is not an s3:// URI`);
    return { bucket: m[1], key: m[2] };
}

/** Every file under `dir`, as keys relative to the mirror's bucket folder. */
function filesUnder(dir: string): string[] {
    if (!existsSync(dir)) return [];
    const out: string[] = [];
    for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) out.push(...filesUnder(p));
        else out.push(p);
    }
    return out;
}

const normalize = (sql: string) => stripSqlComments(sql).replace(/\s+/g, " ").trim();

export async function startStateMachines(o: StateMachinesOptions): Promise<LocalStateMachines> {
    const { plan, authorizer } = o;
    const root = join(o.workDir, "s3-mirror");
    mkdirSync(root, { recursive: true });
    const machines = new Map<string, { resource: PlannedResource; definition: StateMachineDefinition; roleArn: string }>();
    for (const r of ofType(plan, "aws:sfn/stateMachine:StateMachine")) {
        const arn = String(r.outputs.arn);
        const roleArn = String(r.inputs.roleArn);
        if ((r.inputs.type ?? "STANDARD") !== "STANDARD") throw new Error(`${STAND_IN}: state machine ${r.name} is ${String(r.inputs.type)}; only STANDARD workflows are run`);
        // AWS refuses to create a state machine whose role Step Functions may not assume.
        const trust = await authorizer.authorize({ principal: { service: "states.amazonaws.com", sourceArn: arn, sourceAccount: o.account }, action: "sts:AssumeRole", resource: roleArn });
        if (!trust.allowed) throw new Error(`local runtime: state machine ${r.name}: its role cannot be assumed by Step Functions (${trust.message})`);
        const definition = (typeof r.inputs.definition === "string" ? JSON.parse(r.inputs.definition) : r.inputs.definition) as StateMachineDefinition;
        machines.set(arn, { resource: r, definition, roleArn });
    }

    // ---- the planned services the tasks name ----
    const glueJobs = ofType(plan, "aws:glue/job:Job");
    const jobNamed = (name: string) => glueJobs.find((j) => j.outputs.name === name || String(j.outputs.arn).endsWith(`:job/${name}`));
    const athenaWorkgroups = ofType(plan, "aws:athena/workgroup:Workgroup");
    const redshiftWorkgroups = ofType(plan, "aws:redshiftserverless/workgroup:Workgroup");
    const namespaces = ofType(plan, "aws:redshiftserverless/namespace:Namespace");
    const catalogTables = ofType(plan, "aws:glue/catalogTable:CatalogTable");
    const bucketObjects = ofType(plan, "aws:s3/bucketObjectv2:BucketObjectv2");
    const glueArn = (what: string) => `arn:aws:glue:${o.region}:${o.account}:${what}`;

    // The Glue stand-in runs the repository's transform SQL: the plan must deploy those very files.
    for (const job of glueJobs) {
        const sqlPath = str((job.inputs.defaultArguments as Record<string, string> | undefined)?.["--sql_path"]);
        if (!sqlPath) continue;
        const { bucket, key } = s3Uri(sqlPath);
        for (const file of sqlFiles("transform")) {
            const planned = bucketObjects.find((b) => b.inputs.bucket === bucket && b.inputs.key === `${key}${file.name}`);
            if (!planned) throw new Error(`${STAND_IN} (glue): job ${job.name} reads ${sqlPath}, where the plan puts no ${file.name}`);
            if (planned.inputs.content !== file.text) throw new Error(`${STAND_IN} (glue): ${sqlPath}${file.name} in the plan is not glue/sql/transform/${file.name}, which the stand-in runs`);
        }
    }

    const counter = o.counter;
    const authorize = async (principal: AccessRequest["principal"], requests: { action: string; resource: string }[], service: string, sdkError?: string) => {
        for (const request of requests) {
            const d = await authorizer.authorize({ principal, ...request });
            if (!d.allowed) {
                counter?.add("denied", 1, `${request.action} on ${request.resource}`);
                throw taskError(sdkError ?? "States.TaskFailed", accessDenied(service, d.message));
            }
        }
    };
    const asRole = (roleArn: string) => ({ role: roleArn });

    // ---- the S3 mirror ----
    const listKeys = async (bucket: string, prefix: string) => {
        const keys: string[] = [];
        let token: string | undefined;
        do {
            const page = await o.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
            keys.push(...(page.Contents ?? []).map((c) => c.Key!));
            token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return keys;
    };
    /** Replaces the mirror's `prefix` with s3rver's, each object read as `reader` (GetObject authorized). */
    const syncDown = async (bucket: string, prefix: string, reader: AccessRequest["principal"], service: string) => {
        const dir = join(root, bucket, prefix);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        const keys = await listKeys(bucket, prefix);
        for (const key of keys) {
            await authorize(reader, [{ action: "s3:GetObject", resource: `arn:aws:s3:::${bucket}/${key}` }], service);
            const body = await (await o.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray();
            const path = join(root, bucket, key);
            mkdirSync(dirname(path), { recursive: true });
            writeFileSync(path, body);
        }
        return keys;
    };
    /** Uploads the mirror's `prefix` to s3rver as `writer`; with `replace`, s3rver's objects there that the mirror lacks go. */
    const syncUp = async (bucket: string, prefix: string, writer: AccessRequest["principal"], service: string, replace: boolean) => {
        const local = filesUnder(join(root, bucket, prefix)).map((p) => relative(join(root, bucket), p).split(sep).join("/"));
        const stale = replace ? (await listKeys(bucket, prefix)).filter((k) => !local.includes(k)) : [];
        await authorize(writer, [...local.map((k) => ({ action: "s3:PutObject", resource: `arn:aws:s3:::${bucket}/${k}` })), ...stale.map((k) => ({ action: "s3:DeleteObject", resource: `arn:aws:s3:::${bucket}/${k}` }))], service);
        for (const key of local) await o.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(join(root, bucket, key)) }));
        if (stale.length) await o.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: stale.map((Key) => ({ Key })) } }));
        return local;
    };

    // ---- Redshift: one persistent database per workgroup ----
    const redshifts = new Map<string, Promise<RedshiftStandIn>>();
    const redshift = (workgroupName: string) => {
        let db = redshifts.get(workgroupName);
        if (!db) {
            const wg = redshiftWorkgroups.find((w) => w.inputs.workgroupName === workgroupName);
            if (!wg) throw new Error(`${STAND_IN} (redshift): no planned workgroup ${workgroupName}`);
            db = RedshiftStandIn.open({ databaseFile: join(o.workDir, "redshift", `${workgroupName}.duckdb`), root, lakeBucket: "unused-by-batches" });
            redshifts.set(workgroupName, db);
        }
        return db;
    };
    const statements = new Map<string, { status: "FINISHED" | "FAILED"; error?: string; workgroup: string; database: string; sqls: string[]; createdAt: Date; updatedAt: Date }>();
    const queries = new Map<string, { workgroupArn: string; rows?: string[][]; columns?: string[] }>();

    // ---- the handlers, by resource ----
    const handlersFor = (roleArn: string, executionLog: (line: string) => void): Record<string, TaskHandler> => {
        const role = asRole(roleArn);
        const fault = (resource: string, input: unknown) => {
            const e = o.fault?.(resource, input);
            if (e) executionLog(`${STAND_IN}: fault injected into ${resource}: ${e.name}: ${e.message}`);
            return e;
        };
        return {
            [TASK_RESOURCES.glueStartJobRunSync]: async (input) => {
                const i = input as { JobName?: string; Arguments?: Record<string, string> };
                const job = i.JobName ? jobNamed(i.JobName) : undefined;
                if (!job) throw taskError("Glue.EntityNotFoundException", `Failed to start job run due to missing metadata: job ${i.JobName} (no planned Glue job has this name)`);
                const jobArn = String(job.outputs.arn);
                await authorize(role, ["glue:StartJobRun", "glue:GetJobRun"].map((action) => ({ action, resource: jobArn })), "AWSGlue");
                const args = { ...((job.inputs.defaultArguments as Record<string, string>) ?? {}), ...(i.Arguments ?? {}) };
                const jobRunId = `jr_${randomUUID().replace(/-/g, "")}`;
                const started = new Date();
                const runFailed = (message: string) => {
                    // A run that ended FAILED: Glue emits its state change (the planned rule alerts on it), the .sync task fails.
                    o.putEvent({ source: "aws.glue", "detail-type": "Glue Job State Change", resources: [], detail: { jobName: i.JobName, severity: "ERROR", state: "FAILED", jobRunId, message } });
                    executionLog(`${STAND_IN} (glue): ${i.JobName} run ${jobRunId} FAILED: ${message}`);
                    return taskError("States.TaskFailed", { Id: jobRunId, JobName: i.JobName, JobRunState: "FAILED", ErrorMessage: message, StartedOn: started.toISOString(), Attempt: 0, LocalStandIn: `${STAND_IN}: DuckDB over glue/sql/transform` });
                };
                const injected = fault(TASK_RESOURCES.glueStartJobRunSync, input);
                // A Glue.* error is the StartJobRun call's own (no run started); anything else fails the run.
                if (injected && injected.name.startsWith("Glue.")) throw injected;
                if (injected) throw runFailed(injected.message);
                const glueRole = String(job.inputs.roleArn);
                const trust = await authorizer.authorize({ principal: { service: "glue.amazonaws.com", sourceArn: jobArn, sourceAccount: o.account }, action: "sts:AssumeRole", resource: glueRole });
                if (!trust.allowed) throw runFailed(`the job's role cannot be assumed by Glue: ${trust.message}`);
                const date = String(args["--date"] ?? "");
                try {
                    const raw = s3Uri(String(args["--raw_path"]));
                    const curated = s3Uri(String(args["--curated_path"]));
                    const rejects = s3Uri(String(args["--rejects_path"]));
                    // The stand-in writes the contract's layout: refuse paths that say otherwise rather than write elsewhere.
                    if (raw.key !== REPORTING_PREFIXES.raw || curated.key !== REPORTING_PREFIXES.curated || rejects.key !== REPORTING_PREFIXES.rejects || rejects.bucket !== curated.bucket) {
                        throw new Error(`${STAND_IN} (glue): job paths ${args["--raw_path"]}, ${args["--curated_path"]}, ${args["--rejects_path"]} are not the contract's raw/, curated/transactions/, curated/rejects/`);
                    }
                    if (!reportDate(date)) throw new Error(`--date ${JSON.stringify(date)} is not a YYYY-MM-DD calendar day`);
                    await syncDown(raw.bucket, rawPartitionPrefix(date), asRole(glueRole), "Amazon S3");
                    const result = await runGlueJob({ root, rawBucket: raw.bucket, lakeBucket: curated.bucket, date });
                    await syncUp(curated.bucket, curatedPartitionPrefix(date), asRole(glueRole), "Amazon S3", true);
                    await syncUp(curated.bucket, rejectsPartitionPrefix(date), asRole(glueRole), "Amazon S3", true);
                    executionLog(`${STAND_IN} (glue): ${i.JobName} run ${jobRunId} SUCCEEDED for ${date}: raw ${result.rawRows} = curated ${result.curatedRows} + rejected ${result.rejectedRows}`);
                    counter?.add("glueRuns");
                    return {
                        Id: jobRunId,
                        JobName: i.JobName!,
                        JobRunState: "SUCCEEDED",
                        Arguments: args,
                        StartedOn: started.toISOString(),
                        CompletedOn: new Date().toISOString(),
                        Attempt: 0,
                        LocalStandIn: `${STAND_IN}: DuckDB over glue/sql/transform`,
                        LocalResult: { rawRows: result.rawRows, curatedRows: result.curatedRows, rejectedRows: result.rejectedRows },
                    };
                } catch (err) {
                    throw runFailed((err as Error).message);
                }
            },

            [TASK_RESOURCES.athenaStartQueryExecutionSync]: async (input) => {
                const i = input as { QueryString?: string; WorkGroup?: string; QueryExecutionContext?: { Database?: string } };
                const wg = athenaWorkgroups.find((w) => (w.inputs.name ?? w.outputs.name) === i.WorkGroup);
                if (!wg) throw taskError("Athena.InvalidRequestException", `WorkGroup ${i.WorkGroup} is not found`);
                const workgroupArn = String(wg.outputs.arn);
                await authorize(role, ["athena:StartQueryExecution", "athena:GetQueryExecution"].map((action) => ({ action, resource: workgroupArn })), "AmazonAthena");
                const database = i.QueryExecutionContext?.Database ?? "default";
                const sql = String(i.QueryString ?? "");
                const tables = [...new Set([...sql.matchAll(/\bFROM\s+([a-z_][a-z0-9_]*)/gi)].map((m) => m[1].toLowerCase()))].filter((t) => catalogTables.some((c) => c.inputs.name === t && c.inputs.databaseName === database));
                await authorize(role, [{ action: "glue:GetDatabase", resource: glueArn(`database/${database}`) }, ...tables.map((t) => ({ action: "glue:GetTable", resource: glueArn(`table/${database}/${t}`) }))], "AWSGlue");
                const injected = fault(TASK_RESOURCES.athenaStartQueryExecutionSync, input);
                if (injected) throw injected;
                const queryId = randomUUID();
                const config = (wg.inputs.configuration ?? {}) as { resultConfiguration?: { outputLocation?: string; encryptionConfiguration?: { kmsKeyArn?: string } } };
                const out = config.resultConfiguration?.outputLocation;
                const rawBucket = str(catalogTables.find((c) => c.inputs.name === "raw_transactions")?.inputs.storageDescriptor && (catalogTables.find((c) => c.inputs.name === "raw_transactions")!.inputs.storageDescriptor as { location?: string }).location);
                const lakeBucket = str(catalogTables.find((c) => c.inputs.name === "curated_transactions")?.inputs.storageDescriptor && (catalogTables.find((c) => c.inputs.name === "curated_transactions")!.inputs.storageDescriptor as { location?: string }).location);
                if (!rawBucket || !lakeBucket) throw taskError("States.TaskFailed", `${STAND_IN} (athena): the plan has no raw_transactions and curated_transactions catalog tables with a location`);
                const raw = s3Uri(rawBucket).bucket;
                const lake = s3Uri(lakeBucket).bucket;
                const date = /\bdt\s*=\s*'(\d{4}-\d{2}-\d{2})'/.exec(sql)?.[1] ?? /dt=(\d{4}-\d{2}-\d{2})\//.exec(sql)?.[1];
                const failed = (reason: string) =>
                    taskError("States.TaskFailed", { QueryExecution: { QueryExecutionId: queryId, Query: sql.slice(0, 200), WorkGroup: i.WorkGroup, Status: { State: "FAILED", StateChangeReason: reason } } });
                if (!date || !reportDate(date)) throw failed(`${STAND_IN} (athena): no dt = 'YYYY-MM-DD' in the query; the stand-in runs glue/sql/validate and glue/sql/fallback for one day`);
                const reader = role;
                let rows: string[][] | undefined;
                let columns: string[] | undefined;
                let kind: string;
                try {
                    await syncDown(raw, rawPartitionPrefix(date), reader, "Amazon S3");
                    if (/^UNLOAD\b/i.test(stripSqlComments(sql))) {
                        kind = "fallback";
                        // A per-run folder (run=…) is the plan's value, read from the query itself.
                        const run = /\/run=([^/']+)\//.exec(sql)?.[1];
                        const expected = renderSql(sqlFiles("fallback")[0].text, { date, fallback_location: `s3://${lake}/${REPORTING_PREFIXES.fallbackReports}`, ...(run ? { run } : {}) });
                        if (normalize(expected) !== normalize(sql)) throw new Error(`${STAND_IN} (athena): the UNLOAD is not glue/sql/fallback's, which the stand-in runs`);
                        await syncDown(lake, fallbackReportPrefix(date), reader, "Amazon S3");
                        const result = await runAthenaFallback({ root, rawBucket: raw, lakeBucket: lake, date, run: run ?? queryId });
                        await syncUp(lake, fallbackReportPrefix(date), reader, "Amazon S3", false);
                        executionLog(`${STAND_IN} (athena): fallback report for ${date} written to ${result.location} (${result.rows.length} rows)`);
                    } else {
                        kind = "validation";
                        const expected = renderSql(sqlFiles("validate")[0].text, { date });
                        if (normalize(expected) !== normalize(sql)) throw new Error(`${STAND_IN} (athena): the query is not glue/sql/validate's, which the stand-in runs`);
                        await syncDown(lake, curatedPartitionPrefix(date), reader, "Amazon S3");
                        await syncDown(lake, rejectsPartitionPrefix(date), reader, "Amazon S3");
                        const row = await runAthenaValidation({ root, rawBucket: raw, lakeBucket: lake, date });
                        columns = Object.keys(row);
                        rows = [Object.values(row)];
                        executionLog(`${STAND_IN} (athena): validation for ${date}: ${columns.map((c, n) => `${c}=${rows![0][n]}`).join(", ")}`);
                    }
                } catch (err) {
                    if ((err as Error).name === "States.TaskFailed") throw err;
                    throw failed((err as Error).message);
                }
                // Athena writes every query's result under the workgroup's output location, as the caller.
                if (out) {
                    const { bucket, key } = s3Uri(`${out.endsWith("/") ? out : `${out}/`}${queryId}.csv`);
                    const kms = config.resultConfiguration?.encryptionConfiguration?.kmsKeyArn;
                    await authorize(reader, [{ action: "s3:PutObject", resource: `arn:aws:s3:::${bucket}/${key}` }, ...(kms ? [{ action: "kms:GenerateDataKey", resource: kms }] : [])], "Amazon S3");
                    const csv = columns ? [columns, ...(rows ?? [])].map((r) => r.map((v) => `"${v.replace(/"/g, '""')}"`).join(",")).join("\n") + "\n" : "";
                    await o.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from(csv) }));
                }
                queries.set(queryId, { workgroupArn, rows, columns });
                counter?.add(`athena:${kind}`);
                return {
                    QueryExecution: {
                        QueryExecutionId: queryId,
                        Query: sql,
                        StatementType: "DML",
                        WorkGroup: i.WorkGroup!,
                        QueryExecutionContext: { Database: database },
                        Status: { State: "SUCCEEDED", SubmissionDateTime: Date.now(), CompletionDateTime: Date.now() },
                        ...(out ? { ResultConfiguration: { OutputLocation: `${out.endsWith("/") ? out : `${out}/`}${queryId}.csv` } } : {}),
                        LocalStandIn: `${STAND_IN}: DuckDB over glue/sql/${kind === "fallback" ? "fallback" : "validate"}`,
                    },
                };
            },

            [TASK_RESOURCES.athenaGetQueryResults]: async (input) => {
                const i = input as { QueryExecutionId?: string; MaxResults?: number };
                const q = i.QueryExecutionId ? queries.get(i.QueryExecutionId) : undefined;
                if (!q) throw taskError("Athena.InvalidRequestException", `QUERY_NOT_FOUND: Query ${i.QueryExecutionId} was not found`);
                await authorize(role, [{ action: "athena:GetQueryResults", resource: q.workgroupArn }], "AmazonAthena");
                const injected = fault(TASK_RESOURCES.athenaGetQueryResults, input);
                if (injected) throw injected;
                const all = q.columns ? [q.columns, ...(q.rows ?? [])] : [];
                // Athena's ResultSet: the header row first, every value a VarCharValue (absent for NULL).
                const Rows = all.slice(0, i.MaxResults ?? 1000).map((r) => ({ Data: r.map((v): Record<string, string> => (v === null || v === "null" ? {} : { VarCharValue: v })) }));
                return { ResultSet: { Rows, ResultSetMetadata: { ColumnInfo: (q.columns ?? []).map((c) => ({ Name: c, Label: c, Type: "varchar" })) } }, UpdateCount: 0 };
            },

            [TASK_RESOURCES.redshiftBatchExecuteStatement]: async (input) => {
                const i = input as { WorkgroupName?: string; Database?: string; Sqls?: string[] };
                const wg = redshiftWorkgroups.find((w) => w.inputs.workgroupName === i.WorkgroupName);
                if (!wg) throw taskError("RedshiftData.ValidationException", `Workgroup ${i.WorkgroupName} not found`);
                const wgArn = String(wg.outputs.arn);
                await authorize(role, [{ action: "redshift-data:BatchExecuteStatement", resource: wgArn }, { action: "redshift-serverless:GetCredentials", resource: wgArn }], "RedshiftData", "RedshiftData.AccessDeniedException");
                const injected = fault(TASK_RESOURCES.redshiftBatchExecuteStatement, input);
                if (injected) throw injected;
                const ns = namespaces.find((n) => n.inputs.namespaceName === wg.inputs.namespaceName);
                const sqls = Array.isArray(i.Sqls) ? i.Sqls.map(String) : [];
                if (sqls.length < 1 || sqls.length > 40) throw taskError("RedshiftData.ValidationException", "Sqls must hold 1 to 40 statements");
                if (ns && i.Database !== (ns.inputs.dbName ?? "dev")) throw taskError("RedshiftData.ValidationException", `database ${i.Database} is not the namespace's ${String(ns.inputs.dbName)}`);
                const id = randomUUID();
                const createdAt = new Date();
                let error: string | undefined;
                try {
                    const db = await redshift(i.WorkgroupName!);
                    const unloads: { bucket: string; prefix: string; roleArn: string }[] = [];
                    // COPY and UNLOAD act as the IAM role they name, which the namespace must hold and Redshift assume.
                    for (const sql of sqls) {
                        const text = stripSqlComments(sql);
                        const iamRole = /IAM_ROLE\s+'([^']+)'/i.exec(text)?.[1];
                        const copy = /^COPY\s+\S+\s+FROM\s+'([^']+)'/i.exec(text);
                        const unload = /^UNLOAD\b[\s\S]*\bTO\s+'([^']+)'/i.exec(text);
                        if (!copy && !unload) continue;
                        if (!iamRole || !((ns?.inputs.iamRoles as string[] | undefined) ?? []).includes(iamRole)) throw new Error(`IAM role ${iamRole} is not associated with namespace ${String(wg.inputs.namespaceName)}`);
                        const trust = await authorizer.authorize({ principal: { service: "redshift-serverless.amazonaws.com", sourceArn: String(ns?.outputs.arn ?? wgArn), sourceAccount: o.account }, action: "sts:AssumeRole", resource: iamRole });
                        if (!trust.allowed) throw new Error(`Not authorized to get credentials of role ${iamRole}: ${trust.message}`);
                        const where = s3Uri(copy ? copy[1] : unload![1]);
                        if (copy) {
                            try {
                                await syncDown(where.bucket, where.key, asRole(iamRole), "Amazon S3");
                            } catch (err) {
                                throw new Error(`S3ServiceException:Access Denied: ${(err as Error).message}`);
                            }
                        } else {
                            // The mirror's copy of the destination goes first: the UNLOAD's files are what get uploaded.
                            rmSync(join(root, where.bucket, where.key), { recursive: true, force: true });
                            unloads.push({ bucket: where.bucket, prefix: where.key, roleArn: iamRole });
                        }
                    }
                    await db.batchExecute(sqls);
                    for (const u of unloads) {
                        try {
                            await syncUp(u.bucket, u.prefix, asRole(u.roleArn), "Amazon S3", false);
                        } catch (err) {
                            throw new Error(`S3ServiceException:Access Denied: ${(err as Error).message}`);
                        }
                    }
                } catch (err) {
                    error = (err as Error).message;
                }
                // The stand-in's batch ran before the answer: describeStatement sees it ended.
                statements.set(id, { status: error ? "FAILED" : "FINISHED", error, workgroup: i.WorkgroupName!, database: i.Database!, sqls, createdAt, updatedAt: new Date() });
                executionLog(`${STAND_IN} (redshift): batch ${id} of ${sqls.length} statements on ${i.WorkgroupName}: ${error ? `FAILED: ${error}` : "FINISHED"}`);
                counter?.add(error ? "redshiftFailed" : "redshiftBatches");
                return { Id: id, CreatedAt: createdAt.toISOString(), Database: i.Database!, WorkgroupName: i.WorkgroupName!, DbGroups: [] };
            },

            [TASK_RESOURCES.redshiftDescribeStatement]: async (input) => {
                const i = input as { Id?: string };
                const s = i.Id ? statements.get(i.Id) : undefined;
                if (!s) throw taskError("RedshiftData.ResourceNotFoundException", `Query ${i.Id} does not exist`);
                const injected = fault(TASK_RESOURCES.redshiftDescribeStatement, input);
                if (injected) throw injected;
                return {
                    Id: i.Id!,
                    Status: s.status,
                    ...(s.error ? { Error: s.error } : {}),
                    Database: s.database,
                    WorkgroupName: s.workgroup,
                    CreatedAt: s.createdAt.toISOString(),
                    UpdatedAt: s.updatedAt.toISOString(),
                    HasResultSet: false,
                    SubStatements: s.sqls.map((q, n) => ({ Id: `${i.Id}:${n + 1}`, Status: s.status === "FINISHED" ? "FINISHED" : "FAILED", QueryString: q.slice(0, 200) })),
                    LocalStandIn: `${STAND_IN}: DuckDB (one database per workgroup)`,
                };
            },

            [TASK_RESOURCES.snsPublish]: async (input) => {
                const i = input as { TopicArn?: string; Message?: unknown; Subject?: string };
                const topic = String(i.TopicArn ?? "");
                await authorize(role, o.writes("sns:Publish", topic), "AmazonSNS");
                const injected = fault(TASK_RESOURCES.snsPublish, input);
                if (injected) throw injected;
                // The SNS integration sends an object Message as its JSON text.
                const message = typeof i.Message === "string" ? i.Message : JSON.stringify(i.Message);
                const sent = await o.sns.send(new PublishCommand({ TopicArn: o.localTopic(topic), Message: message, Subject: i.Subject }));
                executionLog(`${STAND_IN} (sns): published to ${topic}: ${message.slice(0, 200)}`);
                return { MessageId: sent.MessageId! };
            },
        };
    };

    // ---- executions ----
    const runs = new Map<string, { run: ExecutionRun; done: Promise<ExecutionRun> }>();
    const abort = new AbortController();
    const backend: ExecutionBackend = {
        async start(stateMachineArn, name, input) {
            const machine = machines.get(stateMachineArn);
            if (!machine) throw new StepFunctionsError("StateMachineDoesNotExist", `State Machine Does Not Exist: '${stateMachineArn}'`);
            const executionArn = `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
            const startDate = new Date();
            const run: ExecutionRun = { executionArn, stateMachineArn, name, input, status: "RUNNING", startDate, states: [] };
            const lines = (line: string) => o.log(`${machine.resource.name} ${name}: ${line}`);
            const done = runStateMachine({
                definition: machine.definition,
                input: JSON.parse(input) as JsonValue,
                handlers: handlersFor(machine.roleArn, lines),
                waitScale: o.time.factor,
                context: {
                    Execution: { Id: executionArn, Name: name, RoleArn: machine.roleArn, StartTime: startDate.toISOString() },
                    StateMachine: { Id: stateMachineArn, Name: stateMachineArn.split(":").pop() },
                },
                signal: abort.signal,
            })
                .then((r) => Object.assign(run, { status: r.status, states: r.states, output: r.output, error: r.error, cause: r.cause, stopDate: new Date() }))
                .catch((err: Error) => Object.assign(run, { status: "FAILED" as const, error: "States.Runtime", cause: `${STAND_IN}: ${err.message}`, stopDate: new Date() }))
                .then((r) => {
                    counter?.add(`executions${r.status === "SUCCEEDED" ? "Succeeded" : "Failed"}`);
                    lines(`${r.status}${r.error ? ` ${r.error}` : ""} after ${r.states.length} states`);
                    return r;
                });
            runs.set(executionArn, { run, done });
            return { executionArn, startDate };
        },
        async describe(executionArn): Promise<ExecutionDescription | undefined> {
            const known = runs.get(executionArn);
            if (!known) return undefined;
            const r = known.run;
            return {
                status: r.status,
                startDate: r.startDate,
                stopDate: r.stopDate,
                input: r.input,
                ...(r.status === "SUCCEEDED" ? { output: JSON.stringify(r.output ?? null) } : {}),
                ...(r.error !== undefined ? { error: r.error } : {}),
                ...(r.cause !== undefined ? { cause: r.cause } : {}),
                stateMachineArn: r.stateMachineArn,
                name: r.name,
            };
        },
    };

    return {
        backend,
        wait: async (executionArn) => {
            const known = runs.get(executionArn);
            if (!known) throw new Error(`${STAND_IN}: no execution ${executionArn} was started here`);
            return known.done;
        },
        redshift,
        stop: async () => {
            abort.abort();
            await Promise.all([...runs.values()].map((r) => r.done.catch(() => undefined)));
            for (const db of redshifts.values()) (await db.catch(() => undefined))?.close();
        },
    };
}
