import { ScanCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, PutRecordCommand } from "@aws-sdk/client-kinesis";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { sendEvents, verifyEvents } from "../../cli";
import type { Count } from "../runtime/counters";
import type { LocalRuntime } from "../runtime";
import { lambdaRecord } from "../runtime/kinesis-mapping";
import { expectEqual, expectTrue, type FlowReport } from "./report";

// Seed 001 on the local runtime: the operator CLI sends events onto EventStream, the planned
// mapping delivers them to the deployed stream-to-table function, and they land in EventLogs.
// Then a batch the function already stored is delivered again (as Lambda does after a timeout),
// and a poison record is put on the stream: rejected with its reason, not retried.

export const STREAM_TO_TABLE_EVENTS = 1_000;
/** Records of the redelivered batch. */
const REDELIVERED = 100;
const SOURCE = "scenario-001";
const POISON = "this is not JSON {";

export interface StreamToTableOptions {
    /** Events the CLI sends. Default 1,000. */
    events?: number;
}

export async function runStreamToTable(runtime: LocalRuntime, options: StreamToTableOptions = {}): Promise<FlowReport> {
    const started = Date.now();
    const count = options.events ?? STREAM_TO_TABLE_EVENTS;
    const outputs = runtime.plan.outputs as Record<string, string>;
    const stream = outputs.eventStreamName;
    const table = outputs.eventTableName;
    const rejectsTable = outputs.eventRejectsTableName;
    const mapping = runtime.plan.resources.find((r) => r.type === "aws:lambda/eventSourceMapping:EventSourceMapping" && String(r.inputs.eventSourceArn) === outputs.eventStreamArn);
    const fn = [...runtime.functions.values()].find((f) => f.arn === mapping?.inputs.functionName);
    if (!stream || !table || !rejectsTable || !mapping || !fn) throw new Error("scenario 001: the plan has no EventStream → function → EventLogs flow (outputs eventStreamName, eventTableName, eventRejectsTableName)");
    const failureQueue = (mapping.inputs.destinationConfig as { onFailure?: { destinationArn?: string } } | undefined)?.onFailure?.destinationArn;
    const target = { region: runtime.region, endpoint: runtime.endpoints.kinesis, credentials: { accessKeyId: "local", secretAccessKey: "local" } };
    const before = runtime.counters.snapshot();
    const counter = (name: string) => runtime.counters.get(`mapping:${mapping.name}`, name);

    // 1. The CLI's send, as an operator runs it against the stream.
    const manifest = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "scenario-001-")), "manifest.json");
    let sent: Awaited<ReturnType<typeof sendEvents>>;
    let verified: Awaited<ReturnType<typeof verifyEvents>>;
    try {
        sent = await sendEvents({ ...target, stream, count, rate: Math.max(count, 1), source: SOURCE, manifest });
        await runtime.idle();
        verified = await verifyEvents({ ...target, endpoint: runtime.endpoints.dynamodb, table, rejectsTable, since: sent.since, manifest, sample: 3 });
    } finally {
        fs.rmSync(path.dirname(manifest), { recursive: true, force: true });
    }
    const landedAfterSend = (await itemsOf(runtime, table)).length;

    // 2. Redelivery: the first batch's records, as the mapping delivered them, handed to the function again.
    const first = await firstRecords(runtime, stream, REDELIVERED);
    const redelivery = await fn.invoke({ Records: first.records.map((r) => lambdaRecord(r, first.shardId, outputs.eventStreamArn, runtime.region, fn.roleArn)) });
    const landedAfterRedelivery = (await itemsOf(runtime, table)).length;

    // 3. A poison record: filed in the rejects table, the shard moves on without a retry.
    const retriesBefore = counter("retries");
    const invocationsBefore = counter("invocations");
    await runtime.clients.kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: "poison", Data: Buffer.from(POISON) }));
    await runtime.idle();
    const rejects = (await itemsOf(runtime, rejectsTable)).map((r) => String(r.reason));
    const dlq: Record<string, number> = {};
    if (failureQueue) dlq[queueName(runtime, failureQueue)] = await runtime.queueDepth(failureQueue);

    const rejected: Count = { count: rejects.length, reasons: new Map() };
    for (const r of rejects) rejected.reasons.set(r, (rejected.reasons.get(r) ?? 0) + 1);
    return {
        id: "001",
        title: "EventStream → stream-to-table → EventLogs",
        sent: sent.sent,
        landed: landedAfterRedelivery,
        duplicates: redelivery.ok ? first.records.length : 0,
        rejected,
        dlq,
        denied: deniedSince(runtime, before),
        ms: Date.now() - started,
        notes: [`${counter("invocations")} invocations of ${fn.name}, ${counter("retries")} retries`],
        checks: [
            expectEqual(`the CLI's ${count} events were accepted by the stream`, sent.sent, count),
            expectTrue(`all ${count} landed in ${table} (events:verify)`, verified.ok && verified.manifest?.landed === count, `verify: ${verified.manifest?.landed ?? "?"} of ${count} landed, ${verified.manifest?.missing ?? "?"} missing`),
            expectEqual(`one item per event`, landedAfterSend, count),
            expectTrue(`a redelivered batch of ${first.records.length} is acknowledged`, redelivery.ok && isEmptyFailureList(redelivery.ok ? redelivery.response : undefined), JSON.stringify(redelivery)),
            expectEqual(`redelivering adds nothing`, landedAfterRedelivery, count),
            expectTrue(`the poison record is rejected with a reason`, rejects.length === 1 && rejects[0].length > 0, `rejects: ${JSON.stringify(rejects)}`),
            expectEqual(`the poison record is not retried`, counter("retries") - retriesBefore, 0),
            expectTrue(`the poison record took one invocation`, counter("invocations") - invocationsBefore === 1, `${counter("invocations") - invocationsBefore} invocations`),
            expectEqual(`nothing went to the on-failure queue`, Object.values(dlq).reduce((a, b) => a + b, 0), 0),
            expectEqual("no SDK call the runtime could not authorize", runtime.counters.total("unsupported").count, 0),
        ],
    };
}

function isEmptyFailureList(response: unknown): boolean {
    const failures = (response as { batchItemFailures?: unknown[] } | null)?.batchItemFailures;
    return failures === undefined || failures.length === 0;
}

/** Every item of a table on the runtime, page by page. */
export async function itemsOf(runtime: LocalRuntime, table: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
        const page = await runtime.clients.dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
        items.push(...(page.Items ?? []).map((i) => unmarshall(i)));
        start = page.LastEvaluatedKey;
    } while (start);
    return items;
}

/** The first records of the stream's first shard, as GetRecords returns them. */
async function firstRecords(runtime: LocalRuntime, stream: string, limit: number) {
    const kinesis = runtime.clients.kinesis;
    const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: stream }));
    const shardId = Shards[0].ShardId!;
    const { ShardIterator } = await kinesis.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }));
    const { Records = [] } = await kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: limit }));
    return { shardId, records: Records };
}

export function queueName(runtime: LocalRuntime, arn: string): string {
    return runtime.plan.resources.find((r) => r.type === "aws:sqs/queue:Queue" && r.outputs.arn === arn)?.name ?? arn;
}

/** Denials counted anywhere in the runtime since `before`. */
export function deniedSince(runtime: LocalRuntime, before: Map<string, number>): Count {
    const now = runtime.counters.total("denied");
    const earlier = [...before].filter(([k]) => k.endsWith("/denied")).reduce((n, [, v]) => n + v, 0);
    return { count: now.count - earlier, reasons: now.reasons };
}
