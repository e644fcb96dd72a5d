// What the local runtime itself costs: its start-up time, then events per second through seed
// 001's and seed 003's flows on it, next to the same handlers called directly in this process
// against the same stand-ins. Three rows per flow: the handler called directly (the anchor), the
// deployed function invoked through the runtime's host (child process, IPC, IAM on every call),
// and the whole flow (stream or bucket → mapping or bus → function).
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { KinesisStreamRecord, SQSRecord } from "aws-lambda";
import { evaluateStack } from "../local/engine";
import { startRuntime, type LocalRuntime } from "../local/runtime";
import { countItems } from "../test/support/dynamo-tables";
import { kinesisRecord, lambdaContext, sqsRecord, uploadMessage } from "../test/support/lambda-events";
import { goal, median, ms, table } from "./report";

const EVENTS = 2_000;
const BATCH = 100;
const UPLOADS = 60;
/** What the runtime may cost at most, as throughput relative to the handler called directly. */
const GOALS = { startupMs: 10_000, streamSlowdown: 5, uploadsSlowdown: 20 };

const eps = (n: number, msTaken: number) => (n / msTaken) * 1000;

const count = (runtime: LocalRuntime, table: string) => countItems(runtime.clients.dynamodb, table);

async function timed(fn: () => Promise<unknown>): Promise<number> {
    const t0 = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - t0) / 1e6;
}

function kinesisRecords(tag: string, n: number, streamArn: string): KinesisStreamRecord[] {
    const arrival = Date.now() / 1000;
    return Array.from({ length: n }, (_, i) =>
        kinesisRecord({
            shardId: "shardId-000000000000",
            sequenceNumber: String(49590338271490256608559692538361571095921575989136580000n + BigInt(i)),
            partitionKey: `${tag}-${i}`,
            data: Buffer.from(JSON.stringify({ eventId: `${tag}-${i}`, source: "bench", sensor: "temperature", value: i / 10 })).toString("base64"),
            approximateArrivalTimestamp: arrival,
            streamArn,
        }),
    );
}

export async function benchRuntime(): Promise<void> {
    console.log("");
    console.log("Local runtime: start-up, and events per second through each flow next to the handler called directly");
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
    const plan = await evaluateStack({ stack: "dev" });
    const outputs = plan.outputs as Record<string, string>;

    const starts: number[] = [];
    let runtime: LocalRuntime | undefined;
    for (let i = 0; i < 3; i++) {
        const t = await timed(async () => (runtime = await startRuntime({ plan })));
        starts.push(t);
        if (i < 2) await runtime!.stop();
    }
    const rt = runtime!;
    try {
        // ---- 001 ----
        const streamFn = rt.functions.get("events-consumer-function")!;
        // The module builds its default handler from the environment when it loads.
        Object.assign(process.env, { POWERTOOLS_LOG_LEVEL: "SILENT", TABLE_NAME: outputs.eventTableName, REJECTS_TABLE_NAME: outputs.eventRejectsTableName, AUDIT_TABLE_NAME: outputs.auditTableName });
        const direct001 = require("../functions/stream-to-table").createHandler({ client: rt.clients.dynamodb, tableName: outputs.eventTableName, rejectsTableName: outputs.eventRejectsTableName });
        const directMs = await timed(async () => {
            for (let i = 0; i < EVENTS / BATCH; i++) await direct001({ Records: kinesisRecords(`direct${i}`, BATCH, outputs.eventStreamArn) }, lambdaContext);
        });
        const hostMs = await timed(async () => {
            for (let i = 0; i < EVENTS / BATCH; i++) await streamFn.invoke({ Records: kinesisRecords(`host${i}`, BATCH, outputs.eventStreamArn) });
        });
        const landedBefore = await count(rt, outputs.eventTableName);
        const flowMs = await timed(async () => {
            for (let i = 0; i < EVENTS; i += 500) {
                const records = Array.from({ length: 500 }, (_, k) => ({ PartitionKey: `flow-${i + k}`, Data: Buffer.from(JSON.stringify({ eventId: `flow-${i + k}`, source: "bench", sensor: "temperature", value: 1 })) }));
                await rt.clients.kinesis.send(new PutRecordsCommand({ StreamName: outputs.eventStreamName, Records: records }));
            }
            await rt.idle();
        });
        const landed = (await count(rt, outputs.eventTableName)) - landedBefore;

        // ---- 003 (audit) ----
        const auditFn = rt.functions.get("uploads-audit-consumer-function")!;
        const directAudit = require("../functions/audit-logger").createHandler({ client: rt.clients.dynamodb, tableName: outputs.auditTableName, logger: { info() {}, warn() {}, error() {} } });
        const messages = (tag: string, n: number): SQSRecord[] => Array.from({ length: n }, (_, i) => sqsRecord(`${tag}-${i}`, uploadMessage({ key: `${tag}/${i}.txt`, bucket: outputs.s3_bucket_name, sequencer: `00${String(i).padStart(16, "0")}` })));
        const auditDirectMs = await timed(async () => {
            for (let i = 0; i < UPLOADS; i += 10) await directAudit({ Records: messages(`direct-${i}`, 10) }, lambdaContext);
        });
        const auditHostMs = await timed(async () => {
            for (let i = 0; i < UPLOADS; i += 10) await auditFn.invoke({ Records: messages(`host-${i}`, 10) });
        });
        const auditFlowMs = await timed(async () => {
            for (let i = 0; i < UPLOADS; i++) await rt.clients.s3.send(new PutObjectCommand({ Bucket: outputs.s3_bucket_name, Key: `bench/${i}.txt`, Body: `upload ${i}` }));
            await rt.idle();
        });
        const audited = await count(rt, outputs.auditTableName);

        const startup = median(starts);
        table(
            ["measure", "value", "vs direct", "goal"],
            [
                ["start-up (median of 3)", ms(startup), "", goal(startup <= GOALS.startupMs, `≤ ${GOALS.startupMs / 1000} s`)],
                ["001 handler, called directly", `${eps(EVENTS, directMs).toFixed(0)} ev/s`, "1.0x", ""],
                ["001 function via the runtime's host", `${eps(EVENTS, hostMs).toFixed(0)} ev/s`, `${(hostMs / directMs).toFixed(1)}x slower`, ""],
                [`001 flow: stream → mapping → function (${landed} landed)`, `${eps(EVENTS, flowMs).toFixed(0)} ev/s`, `${(flowMs / directMs).toFixed(1)}x slower`, goal(flowMs / directMs <= GOALS.streamSlowdown && landed === EVENTS, `≤ ${GOALS.streamSlowdown}x`)],
                ["003 audit handler, called directly", `${eps(UPLOADS, auditDirectMs).toFixed(0)} ev/s`, "1.0x", ""],
                ["003 audit function via the host", `${eps(UPLOADS, auditHostMs).toFixed(0)} ev/s`, `${(auditHostMs / auditDirectMs).toFixed(1)}x slower`, ""],
                [`003 flow: bucket → bus → topic → queue → function (${audited - 2 * UPLOADS} audited)`, `${eps(UPLOADS, auditFlowMs).toFixed(0)} ev/s`, `${(auditFlowMs / auditDirectMs).toFixed(1)}x slower`, goal(auditFlowMs / auditDirectMs <= GOALS.uploadsSlowdown && audited - 2 * UPLOADS === UPLOADS, `≤ ${GOALS.uploadsSlowdown}x`)],
            ],
        );
    } finally {
        await rt.stop();
    }
}
