import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { gunzipSync } from "zlib";
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { SubscribeCommand, UnsubscribeCommand } from "@aws-sdk/client-sns";
import { DeleteMessageCommand, DeleteQueueCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { DuckDBInstance } from "@duckdb/node-api";
import { REPORTING_PREFIXES, curatedPartitionPrefix, fallbackReportPrefix, rawPartitionPrefix, rejectsPartitionPrefix, reportPrefix } from "../../functions/shared/contract";
import type { LocalRuntime } from "../runtime";
import type { Count } from "../runtime/counters";
import { createSinkQueue } from "../runtime/provision";
import { STAND_IN, TASK_RESOURCES, type ExecutionRun } from "../runtime/reporting/state-machines";
import { taskError } from "../runtime/step-functions";
import { EXPECTED_REASONS, generateReportingDay, type GroupTotal, type ReportingExpectation } from "./reporting-generator";
import { expectEqual, expectTrue, type Check, type FlowReport } from "./report";
import { deniedSince } from "./stream-to-table";

// Seed 002 on the local runtime: a generated day of transactions is put on the planned ingest
// stream, the Firehose stand-in lands it under raw/dt=<day>/, and the planned state machine runs the
// day (Glue → Athena validation → Redshift load and report, every one a DuckDB local stand-in). Then
// the same day again (the report and the fact table unchanged), and the next day with the Glue job
// forced to fail: the execution fails, the alerts arrive on the alert topic, and the contingency
// report is written from raw. The numbers are checked against the generator's own expectation.

export interface ReportingOptions {
    /** The day to report, YYYY-MM-DD. Default 2026-11-20; the day after gets the forced failure. */
    date?: string;
    /** Distinct valid transactions of the first day. Default 300. */
    count?: number;
}

/** Broken lines per kind; every notJson line (not JSON, a broken object, an array, `{}`) has no event_time Firehose can read. */
const BAD = { notJson: 4, missingId: 2, badAmount: 3, tooManyDecimals: 2, badCurrency: 2, badType: 2 } as const;
const ERROR_PREFIX = `${REPORTING_PREFIXES.rawErrors}partitioning-failed/`;

const nextDay = (date: string) => new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/** The generator's lines for a day (it writes them in Firehose's layout; read back, in order). */
function generatedLines(date: string, count: number, seed: number, bad: Partial<typeof BAD>): { lines: string[]; expected: ReportingExpectation } {
    const root = mkdtempSync(join(tmpdir(), "scenario-002-"));
    try {
        const expected = generateReportingDay({ root, rawBucket: "generated", date, count, seed, bad, duplicatesRatio: 0.05, files: 1 });
        const dir = join(root, "generated", rawPartitionPrefix(date));
        const lines = readdirSync(dir)
            .sort()
            .flatMap((f) => gunzipSync(readFileSync(join(dir, f))).toString("utf8").split("\n"))
            .filter((l) => l !== "");
        return { lines, expected };
    } finally {
        rmSync(root, { recursive: true, force: true });
    }
}

/**
 * What raw/dt=<day>/ must make of the generated day once Firehose partitioned it: the notJson lines
 * went to the error prefix instead, so they are neither raw rows nor rejects of the day.
 */
function firehoseExpectation(e: ReportingExpectation, notJson: number): ReportingExpectation {
    const rejectsByReason = { ...e.rejectsByReason };
    delete rejectsByReason[EXPECTED_REASONS.notJson];
    return { ...e, rawRows: e.rawRows - notJson, rejectedRows: e.rejectedRows - notJson, rejectsByReason };
}

async function putAll(runtime: LocalRuntime, stream: string, lines: string[]): Promise<number> {
    let failed = 0;
    for (let i = 0; i < lines.length; i += 500) {
        const batch = lines.slice(i, i + 500);
        const res = await runtime.clients.kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: batch.map((l, n) => ({ Data: Buffer.from(l), PartitionKey: `pk-${i + n}` })) }));
        failed += res.FailedRecordCount ?? 0;
    }
    return lines.length - failed;
}

async function keysUnder(runtime: LocalRuntime, bucket: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
        const page = await runtime.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((c) => c.Key!));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
}

async function bytesOf(runtime: LocalRuntime, bucket: string, key: string): Promise<Buffer> {
    return Buffer.from(await (await runtime.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
}

/** The GZIP NDJSON objects under a prefix: their lines, each object's ending a newline. */
async function ndjsonUnder(runtime: LocalRuntime, bucket: string, prefix: string): Promise<{ keys: string[]; lines: string[]; newlineEnded: boolean }> {
    const keys = await keysUnder(runtime, bucket, prefix);
    const lines: string[] = [];
    let newlineEnded = true;
    for (const key of keys) {
        const text = gunzipSync(await bytesOf(runtime, bucket, key)).toString("utf8");
        newlineEnded &&= text.endsWith("\n");
        lines.push(...text.split("\n").filter((l) => l !== ""));
    }
    return { keys, lines, newlineEnded };
}

/** The rows of every Parquet object under a prefix (read with DuckDB from a scratch copy). */
async function parquetRows(runtime: LocalRuntime, bucket: string, prefix: string): Promise<Record<string, unknown>[]> {
    const keys = (await keysUnder(runtime, bucket, prefix)).filter((k) => k.endsWith(".parquet"));
    if (keys.length === 0) return [];
    const dir = mkdtempSync(join(tmpdir(), "scenario-002-parquet-"));
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    try {
        const files = await Promise.all(
            keys.map(async (k, n) => {
                const file = join(dir, `${n}.parquet`);
                writeFileSync(file, await bytesOf(runtime, bucket, k));
                return `'${file.replace(/'/g, "''")}'`;
            }),
        );
        return (await c.runAndReadAll(`SELECT * FROM read_parquet([${files.join(", ")}])`)).getRowObjectsJson() as Record<string, unknown>[];
    } finally {
        c.closeSync();
        db.closeSync();
        rmSync(dir, { recursive: true, force: true });
    }
}

const groups = (rows: Record<string, unknown>[], a: string, b: string): Record<string, GroupTotal> =>
    Object.fromEntries(
        rows
            .map((r) => [`${String(r[a])}|${String(r[b])}`, { transactions: Number(r.transactions), total_amount: String(r.total_amount) }] as const)
            .sort(([x], [y]) => x.localeCompare(y)),
    );
const sorted = (g: Record<string, GroupTotal>) => Object.fromEntries(Object.entries(g).sort(([x], [y]) => x.localeCompare(y)));

/** A queue of the runtime's own, subscribed to a planned topic, to read what it publishes. */
async function alertSink(runtime: LocalRuntime, topicArn: string) {
    const sink = await createSinkQueue(runtime.clients.sqs, `local-runtime-admin-alerts-${Date.now()}`);
    const { SubscriptionArn } = await runtime.clients.sns.send(new SubscribeCommand({ TopicArn: runtime.ids.local(topicArn), Protocol: "sqs", Endpoint: sink.arn }));
    return {
        /** What arrived, waiting up to 5 s for `expected` messages (SNS delivers to the queue on its own time). */
        async read(expected: number): Promise<{ subject?: string; message: string }[]> {
            const out: { subject?: string; message: string }[] = [];
            const deadline = Date.now() + 5_000;
            for (;;) {
                const { Messages = [] } = await runtime.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: sink.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
                if (Messages.length === 0 && (out.length >= expected || Date.now() > deadline)) return out;
                if (Messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
                for (const m of Messages) {
                    const envelope = JSON.parse(m.Body ?? "{}") as { Subject?: string; Message?: string };
                    out.push({ subject: envelope.Subject, message: envelope.Message ?? "" });
                    await runtime.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: sink.url, ReceiptHandle: m.ReceiptHandle }));
                }
            }
        },
        async remove() {
            await runtime.clients.sns.send(new UnsubscribeCommand({ SubscriptionArn })).catch(() => undefined);
            await runtime.clients.sqs.send(new DeleteQueueCommand({ QueueUrl: sink.url })).catch(() => undefined);
        },
    };
}

export async function runReporting(runtime: LocalRuntime, options: ReportingOptions = {}): Promise<FlowReport> {
    const started = Date.now();
    const day = options.date ?? "2026-11-20";
    const failDay = nextDay(day);
    const outputs = runtime.plan.outputs as Record<string, string>;
    const stream = outputs.reportIngestStreamName;
    const rawBucket = outputs.reportRawBucketName;
    const lake = outputs.reportLakeBucketName;
    const machine = outputs.reportStateMachineArn;
    const workgroup = outputs.reportRedshiftWorkgroup;
    const firehose = [...runtime.firehose.values()].find((f) => f.settings.sourceStreamArn.endsWith(`/${stream}`));
    const glueRule = runtime.bus.rules.find((r) => JSON.stringify(r.pattern).includes("aws.glue"));
    const alertTopic = glueRule?.targets[0]?.arn ?? outputs.alertTopicArn;
    if (!stream || !rawBucket || !lake || !machine || !workgroup || !firehose || !alertTopic) {
        throw new Error("scenario 002: the plan has no ingest stream → Firehose → raw → state machine flow (outputs reportIngestStreamName, reportRawBucketName, reportLakeBucketName, reportStateMachineArn, reportRedshiftWorkgroup)");
    }
    const before = runtime.counters.snapshot();
    const checks: Check[] = [];
    const notes: string[] = [];

    // 1. The day's transactions onto the stream; one late transaction of the day after the first flush.
    const { lines, expected: generated } = generatedLines(day, options.count ?? 300, 20, BAD);
    const expected = firehoseExpectation(generated, BAD.notJson);
    const lateIndex = lines.findIndex((l) => {
        const id = (JSON.parse(l.startsWith("{") ? l : "{}") as { event_id?: string }).event_id;
        return id !== undefined && generated.winners[id] !== undefined && lines.filter((x) => x.includes(`"event_id":"${id}"`)).length === 1;
    });
    const late = lines[lateIndex];
    const onTime = lines.filter((_, n) => n !== lateIndex);
    let sent = await putAll(runtime, stream, onTime);
    const firstFlush = await firehose.flush();
    sent += await putAll(runtime, stream, [late]);
    const secondFlush = await firehose.flush();
    const raw = await ndjsonUnder(runtime, rawBucket, rawPartitionPrefix(day));
    const errors = await ndjsonUnder(runtime, rawBucket, ERROR_PREFIX);
    checks.push(
        expectEqual(`PutRecords accepted all ${lines.length} records`, sent, lines.length),
        expectEqual(`raw/dt=${day}/ holds every partitionable record (GZIP NDJSON)`, raw.lines.length, expected.rawRows),
        expectTrue("each raw object is GZIP NDJSON, a newline after every record", raw.newlineEnded && raw.keys.every((k) => k.endsWith(".gz")), raw.keys.join(", ")),
        expectEqual("one raw object per flush (the late record in the second)", raw.keys.length, 2),
        expectTrue("the late record landed in its day's partition", secondFlush.keys.some((k) => k.startsWith(rawPartitionPrefix(day))) && raw.lines.includes(late), JSON.stringify(secondFlush.keys)),
        expectEqual(`records without an event_time went to ${ERROR_PREFIX}`, errors.lines.length, BAD.notJson),
    );
    notes.push(`${STAND_IN} Firehose: ${firstFlush.keys.length + secondFlush.keys.length} objects, e.g. ${raw.keys[0]}`);

    // 2. The day, through the state machine.
    const run = async (date: string, name: string): Promise<ExecutionRun> => runtime.stepFunctions.wait(await runtime.stepFunctions.start(machine, { date }, name));
    const suffix = Date.now().toString(36);
    const first = await run(day, `scenario-002-${day}-${suffix}`);
    const redshift = await runtime.stepFunctions.redshift(workgroup);
    const fact = async () => (await redshift.query(`SELECT count(*)::INTEGER AS n, CAST(sum(amount) AS VARCHAR) AS total FROM fact_transactions`))[0];
    const factAfterFirst = first.status === "SUCCEEDED" ? await fact() : undefined;
    const byType = groups(await parquetRows(runtime, lake, `${reportPrefix(day)}by_type/`), "type", "currency");
    const bySource = groups(await parquetRows(runtime, lake, `${reportPrefix(day)}by_source/`), "source", "currency");
    const curated = (await parquetRows(runtime, lake, curatedPartitionPrefix(day))).length;
    const rejects = await parquetRows(runtime, lake, rejectsPartitionPrefix(day));
    const rejectedBy: Record<string, number> = {};
    for (const r of rejects) rejectedBy[String(r.reason)] = (rejectedBy[String(r.reason)] ?? 0) + 1;
    const sortedCounts = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).sort(([a], [b]) => a.localeCompare(b)));
    checks.push(
        expectEqual(`the execution for ${day} SUCCEEDED`, [first.status, first.error ?? "", first.cause ?? ""], ["SUCCEEDED", "", ""]),
        expectTrue(
            "it went Glue → Athena validation → Redshift load → Redshift report",
            ["RunGlueJob", "StartValidation", "GetValidationResult", "CheckReconciled", "SubmitLoad", "DescribeLoad", "SubmitReport", "DescribeReport", "ReportingSucceeded"].every((s) => first.states.includes(s)),
            first.states.join(" → "),
        ),
        expectEqual("raw = curated + rejects", [raw.lines.length, curated, rejects.length, raw.lines.length === curated + rejects.length], [expected.rawRows, expected.curatedRows, expected.rejectedRows, true]),
        expectEqual("the rejects, by reason, as the generator meant them", sortedCounts(rejectedBy), sortedCounts(expected.rejectsByReason)),
        expectEqual(`reports/dt=${day}/by_type equals the generator's count and total per type and currency`, byType, sorted(expected.byTypeCurrency)),
        expectEqual(`reports/dt=${day}/by_source equals the generator's per source and currency`, bySource, sorted(expected.bySourceCurrency)),
        expectEqual("the fact table holds one row per curated transaction", factAfterFirst?.n, expected.curatedRows),
    );
    notes.push(`${day}: ${first.states.length} states: ${first.states.filter((s) => /^(RunGlueJob|StartValidation|SubmitLoad|SubmitReport|ReportingSucceeded)$/.test(s)).join(" → ")}`);
    notes.push(`${day}: raw ${raw.lines.length} = curated ${curated} + rejected ${rejects.length}; report rows ${Object.keys(byType).length} by type, ${Object.keys(bySource).length} by source (${STAND_IN}: DuckDB)`);

    // 3. The same day again: the same report, the fact table unchanged.
    const again = await run(day, `scenario-002-${day}-again-${suffix}`);
    const byTypeAgain = groups(await parquetRows(runtime, lake, `${reportPrefix(day)}by_type/`), "type", "currency");
    checks.push(
        expectEqual(`run again, ${day} SUCCEEDED`, again.status, "SUCCEEDED"),
        expectEqual("run again, the report is identical", byTypeAgain, byType),
        expectEqual("run again, the fact table is unchanged (rows and total)", again.status === "SUCCEEDED" ? await fact() : undefined, factAfterFirst),
    );

    // 4. The next day, the Glue job forced to fail: alerts, and the contingency report from raw.
    const { lines: nextLines, expected: nextExpected } = generatedLines(failDay, 60, 21, {});
    sent += await putAll(runtime, stream, nextLines);
    await firehose.flush();
    const sink = await alertSink(runtime, alertTopic);
    let failed: ExecutionRun;
    let alerts: { subject?: string; message: string }[];
    const forced = `${STAND_IN}: forced failure of the Glue job (scenario 002)`;
    const previous = runtime.faults.task;
    try {
        runtime.faults.task = (resource, input) => (resource === TASK_RESOURCES.glueStartJobRunSync ? taskError("States.TaskFailed", forced) : previous?.(resource, input));
        failed = await run(failDay, `scenario-002-${failDay}-${suffix}`);
        runtime.faults.task = previous;
        // The Glue rule's alert is a bus delivery: wait for the bus alone (the other flows' mappings may be busy).
        await runtime.bus.idle();
        alerts = await sink.read(2);
    } finally {
        runtime.faults.task = previous;
        await sink.remove();
    }
    const parse = (text: string) => {
        try {
            return JSON.parse(text) as unknown;
        } catch {
            return undefined;
        }
    };
    const read = alerts.map((a) => ({ ...a, parsed: parse(a.message) as Record<string, unknown> | string | undefined }));
    const pipelineAlert = read.map((a) => ({ ...a, parsed: typeof a.parsed === "object" && a.parsed !== null ? a.parsed : undefined })).find((a) => a.parsed?.failedState !== undefined);
    const glueAlert = alerts.find((a) => a.message.startsWith('"Glue job') || a.message.startsWith("Glue job"));
    const fallback = await ndjsonUnder(runtime, lake, fallbackReportPrefix(failDay));
    const fallbackGroups = groups(fallback.lines.map((l) => JSON.parse(l) as Record<string, unknown>), "currency", "type");
    checks.push(
        expectEqual(`with the Glue job failing, the execution for ${failDay} FAILED`, failed.status, "FAILED"),
        expectTrue("it alerted, then wrote the contingency report", ["RunGlueJobCaught", "NotifyFailure", "RunFallbackReport", "FallbackWritten", "ReportingFailed"].every((s) => failed.states.includes(s)), failed.states.join(" → ")),
        expectTrue("the alert names the failing state and its error", pipelineAlert?.parsed?.failedState === "RunGlueJob" && pipelineAlert.parsed.error === "States.TaskFailed" && String(pipelineAlert.parsed.cause).includes("forced failure") && pipelineAlert.parsed.date === failDay, JSON.stringify(alerts)),
        expectTrue("the Glue Job State Change rule alerted too (EventBridge → alert topic)", glueAlert !== undefined && glueAlert.message.includes("FAILED"), JSON.stringify(alerts)),
        expectEqual(`reports/fallback/dt=${failDay}/ holds the contingency report, as the generator counts it from raw`, fallbackGroups, sorted(nextExpected.fallback)),
        expectEqual("no SDK call the runtime could not authorize", runtime.counters.total("unsupported").count, 0),
    );
    notes.push(`${failDay}: ${failed.error}: ${(failed.cause ?? "").slice(0, 160)}`);
    notes.push(`alerts on ${alertTopic.split(":").pop()} (read by a runtime-admin sink queue): ${alerts.length}: ${read.map((a) => (typeof a.parsed === "object" ? "the state machine's NotifyFailure" : a.message.includes("Glue job") ? "the Glue Job State Change rule" : "other")).join(", ")}`);
    // What the person on call reads: both alerts as they arrive, and where the contingency report is.
    if (pipelineAlert) notes.push(`alert from the state machine: ${pipelineAlert.message}`);
    if (glueAlert) notes.push(`alert from the Glue Job State Change rule: ${glueAlert.message}`);
    notes.push(`contingency report (local stand-in Athena over raw): ${fallback.keys.join(", ")}: ${fallback.lines.slice(0, 2).join(" ")}${fallback.lines.length > 2 ? ` … (${fallback.lines.length} groups)` : ""}`);

    const rejected: Count = { count: rejects.length + errors.lines.length, reasons: new Map(Object.entries({ ...rejectedBy, [`Firehose ${ERROR_PREFIX}`]: errors.lines.length })) };
    return {
        id: "002",
        title: "resilient daily report (Firehose → raw → Step Functions: Glue, Athena, Redshift as local stand-ins)",
        sent,
        landed: curated,
        duplicates: Object.entries(rejectedBy).filter(([r]) => r === EXPECTED_REASONS.duplicate).reduce((n, [, v]) => n + v, 0),
        rejected,
        dlq: {},
        denied: deniedSince(runtime, before),
        ms: Date.now() - started,
        notes,
        checks,
    };
}
