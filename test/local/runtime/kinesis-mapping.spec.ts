import { expect } from "chai";
import { CreateStreamCommand, DeleteStreamCommand, DescribeStreamSummaryCommand, KinesisClient, PutRecordCommand, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import type { KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { Emulator, kinesisClient, startKinesisLocal } from "../../../local/runtime/emulators";
import {
    MAX_PAYLOAD_BYTES,
    batchLength,
    batchReady,
    expiredCount,
    failureRecord,
    interpretResult,
    laneOf,
    nextStep,
    parseKinesisMappingSettings,
    retryDelayMs,
    startKinesisMapping,
    type KinesisFailureRecord,
    type KinesisMapping,
    type KinesisMappingOptions,
} from "../../../local/runtime/kinesis-mapping";
import { sleep, timeScale, type InvokeResult, type Invocable, type TimeScale } from "../../../local/runtime/types";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:events-consumer-function-2b89449`;
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/events-consumer-function-role`;
const QUEUE_ARN = `arn:aws:sqs:${REGION}:${ACCOUNT}:events-failures-queue-88e95d5`;
const MAPPING_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:161f00e7-b796-2fe8-d031-6e90c2e92bd1`;
/** Hash keys that land a record on shard 0 or shard 1 of a two-shard stream. */
const SHARD_0_KEY = "0";
const SHARD_1_KEY = (2n ** 127n).toString();
/** Well below the test timeout, so a mapping that never settles fails with its own reason. */
const IDLE_MS = 8_000;

/** The dev plan's inputs for events-consumer-events, on a given stream. */
const devSettings = (streamArn: string, overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    batchSize: 100,
    bisectBatchOnFunctionError: true,
    destinationConfig: { onFailure: { destinationArn: QUEUE_ARN } },
    eventSourceArn: streamArn,
    functionName: FUNCTION_ARN,
    functionResponseTypes: ["ReportBatchItemFailures"],
    maximumBatchingWindowInSeconds: 1,
    maximumRecordAgeInSeconds: 21600,
    maximumRetryAttempts: 10,
    parallelizationFactor: 1,
    startingPosition: "TRIM_HORIZON",
    ...overrides,
});

const ok = (response?: unknown): InvokeResult => ({ ok: true, response, durationMs: 1 });
const failed = (message = "boom"): InvokeResult => ({ ok: false, errorType: "Error", errorMessage: message, durationMs: 1 });
const text = (r: KinesisStreamRecord) => Buffer.from(r.kinesis.data, "base64").toString();
const seqs = (records: KinesisStreamRecord[]) => records.map((r) => r.kinesis.sequenceNumber);

/** A function whose outcome each test decides; it records every invocation's records. */
function fakeFunction(behave: (records: KinesisStreamRecord[], call: number) => InvokeResult | Promise<InvokeResult> = () => ok()) {
    const calls: KinesisStreamRecord[][] = [];
    const fn: Invocable = {
        arn: FUNCTION_ARN,
        name: "events-consumer-function",
        invoke: async (event) => {
            const records = (event as KinesisStreamEvent).Records;
            calls.push(records);
            return behave(records, calls.length);
        },
    };
    return { fn, calls };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(5);
    }
}

/** Every key anywhere in a JSON value. */
function keysOf(value: unknown): string[] {
    if (Array.isArray(value)) return value.flatMap(keysOf);
    if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v)]);
    return [];
}

describe("local/runtime/kinesis-mapping", function () {
    describe("decisions", () => {
        it("parses the dev plan's inputs, defaults applied", () => {
            const arn = `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/EventStreamDev`;
            const s = parseKinesisMappingSettings({ ...devSettings(arn), tags: { team: "events" } });
            expect(s).to.deep.equal({
                eventSourceArn: arn,
                functionName: FUNCTION_ARN,
                region: undefined,
                enabled: true,
                startingPosition: "TRIM_HORIZON",
                startingPositionTimestamp: undefined,
                batchSize: 100,
                maximumBatchingWindowInSeconds: 1,
                parallelizationFactor: 1,
                bisectBatchOnFunctionError: true,
                maximumRetryAttempts: 10,
                maximumRecordAgeInSeconds: 21600,
                reportBatchItemFailures: true,
                onFailureDestination: QUEUE_ARN,
                ignored: ["tags"],
            });
            const bare = parseKinesisMappingSettings({ startingPosition: "LATEST" });
            expect([bare.batchSize, bare.maximumBatchingWindowInSeconds, bare.parallelizationFactor, bare.maximumRetryAttempts, bare.maximumRecordAgeInSeconds]).to.deep.equal([100, 0, 1, -1, -1]);
            expect([bare.bisectBatchOnFunctionError, bare.reportBatchItemFailures, bare.onFailureDestination]).to.deep.equal([false, false, undefined]);
        });

        it("refuses inputs that would change behaviour, naming them, and values AWS refuses", () => {
            const base = { startingPosition: "TRIM_HORIZON" };
            expect(() => parseKinesisMappingSettings({ ...base, filterCriteria: {}, tumblingWindowInSeconds: 60 }, "m")).to.throw(/^m: inputs filterCriteria, tumblingWindowInSeconds not supported/);
            expect(() => parseKinesisMappingSettings({ ...base, batchSize: 0 }, "m")).to.throw("m: batchSize must be an integer from 1 to 10000, got 0");
            expect(() => parseKinesisMappingSettings({ ...base, maximumRecordAgeInSeconds: 59 }, "m")).to.throw("maximumRecordAgeInSeconds must be an integer -1 or from 60 to 604800, got 59");
            expect(parseKinesisMappingSettings({ ...base, maximumRecordAgeInSeconds: -1 }).maximumRecordAgeInSeconds).to.equal(-1);
            expect(() => parseKinesisMappingSettings({ ...base, parallelizationFactor: 11 })).to.throw("parallelizationFactor must be an integer from 1 to 10, got 11");
            expect(() => parseKinesisMappingSettings({ ...base, maximumRetryAttempts: -2 })).to.throw("maximumRetryAttempts must be an integer from -1 to 10000, got -2");
            expect(() => parseKinesisMappingSettings({})).to.throw("startingPosition is required");
            expect(() => parseKinesisMappingSettings({ startingPosition: "AT_TIMESTAMP" })).to.throw("startingPositionTimestamp is required");
            expect(() => parseKinesisMappingSettings({ ...base, functionResponseTypes: ["Other"] })).to.throw("functionResponseTypes must be a list of");
            expect(() => parseKinesisMappingSettings({ ...base, destinationConfig: { onFailure: { destinationArn: "arn:aws:s3:::bucket" } } })).to.throw("must be an SQS queue or SNS topic ARN");
            expect(() => parseKinesisMappingSettings({ ...base, destinationConfig: { onSuccess: { destinationArn: QUEUE_ARN } } })).to.throw("onSuccess is not available");
            expect(() => parseKinesisMappingSettings({ ...base, batchSize: "10" })).to.throw(/^kinesis mapping: batchSize .*, got "10"$/);
        });

        it("reads a response as Lambda does, with and without ReportBatchItemFailures", () => {
            const batch = ["11", "12", "13", "14"];
            const read = (response: unknown, report = true) => interpretResult(ok(response), batch, report);
            expect(read(undefined).kind).to.equal("success");
            expect(read(null).kind).to.equal("success");
            expect(read({}).kind).to.equal("success");
            expect(read({ batchItemFailures: null }).kind).to.equal("success");
            expect(read({ batchItemFailures: [] }).kind).to.equal("success");
            expect(read({ batchItemFailures: [{ itemIdentifier: "14" }, { itemIdentifier: "12" }] })).to.include({ kind: "partial", failedAt: 1 });
            // An identifier that is null, empty or not in the batch fails the whole batch.
            expect(read({ batchItemFailures: [{ itemIdentifier: "13" }, { itemIdentifier: "99" }] })).to.include({ kind: "partial", failedAt: 0 });
            expect(read({ batchItemFailures: [{ itemIdentifier: null }] })).to.include({ kind: "partial", failedAt: 0 });
            expect(read({ batchItemFailures: [{ itemIdentifier: "" }] })).to.include({ kind: "partial", failedAt: 0 });
            expect(read({ batchItemFailures: [{ id: "13" }] })).to.include({ kind: "partial", failedAt: 0 });
            // Without ReportBatchItemFailures the response is not read at all.
            expect(read({ batchItemFailures: [{ itemIdentifier: "13" }] }, false).kind).to.equal("success");
            expect(interpretResult(failed("Task timed out"), batch, true)).to.deep.equal({ kind: "functionError", reason: "Error: Task timed out" });
        });

        it("decides bisect, retry or give up (bisecting does not count as a retry)", () => {
            const error = { kind: "functionError" as const, reason: "x" };
            const bisectOn = { bisectBatchOnFunctionError: true, maximumRetryAttempts: 2 };
            const bisectOff = { bisectBatchOnFunctionError: false, maximumRetryAttempts: 2 };
            expect(nextStep({ kind: "success" }, { length: 5, retries: 2 }, bisectOn)).to.deep.equal({ kind: "checkpoint" });
            expect(nextStep(error, { length: 5, retries: 2 }, bisectOn)).to.deep.equal({ kind: "bisect", at: 3 });
            expect(nextStep(error, { length: 1, retries: 0 }, bisectOn)).to.deep.equal({ kind: "retry", from: 0, retries: 1 });
            expect(nextStep(error, { length: 1, retries: 2 }, bisectOn)).to.deep.equal({ kind: "giveUp", from: 0 });
            expect(nextStep(error, { length: 5, retries: 1 }, bisectOff)).to.deep.equal({ kind: "retry", from: 0, retries: 2 });
            expect(nextStep(error, { length: 5, retries: 2 }, bisectOff)).to.deep.equal({ kind: "giveUp", from: 0 });
            expect(nextStep(error, { length: 5, retries: 0 }, { bisectBatchOnFunctionError: false, maximumRetryAttempts: 0 })).to.deep.equal({ kind: "giveUp", from: 0 });
            expect(nextStep(error, { length: 1, retries: 5000 }, { bisectBatchOnFunctionError: false, maximumRetryAttempts: -1 })).to.deep.equal({ kind: "retry", from: 0, retries: 5001 });
            // A partial failure is not bisected: the records from the failed one are retried.
            const partial = (failedAt: number) => ({ kind: "partial" as const, failedAt, reason: "x" });
            expect(nextStep(partial(3), { length: 5, retries: 2 }, bisectOn)).to.deep.equal({ kind: "retry", from: 3, retries: 1 });
            expect(nextStep(partial(0), { length: 5, retries: 1 }, bisectOn)).to.deep.equal({ kind: "retry", from: 0, retries: 2 });
            expect(nextStep(partial(0), { length: 5, retries: 2 }, bisectOn)).to.deep.equal({ kind: "giveUp", from: 0 });
        });

        it("cuts batches at batchSize and at the 6 MB payload limit, and waits for the window", () => {
            expect(batchLength([10, 10, 10, 10], 3)).to.equal(3);
            expect(batchLength([10, 10], 3)).to.equal(2);
            const mb = 1024 * 1024;
            expect(batchLength([2 * mb, 2 * mb, 2 * mb, 10], 100)).to.equal(2);
            expect(batchLength([7 * mb, 10], 100), "an oversized record still goes, alone").to.equal(1);
            expect(batchLength([3 * mb - 20, 3 * mb - 20], 100, MAX_PAYLOAD_BYTES)).to.equal(2);
            const ready = (p: Partial<Parameters<typeof batchReady>[0]>) => batchReady({ queued: 2, fits: 2, batchSize: 10, waitedMs: 0, windowMs: 1000, sourceEnded: false, ...p });
            expect(ready({})).to.equal(false);
            expect(ready({ waitedMs: 1000 })).to.equal(true);
            expect(ready({ queued: 10, fits: 10 })).to.equal(true);
            expect(ready({ queued: 5, fits: 4 }), "payload full").to.equal(true);
            expect(ready({ sourceEnded: true })).to.equal(true);
            expect(ready({ queued: 0, fits: 0, waitedMs: 5000 })).to.equal(false);
        });

        it("expires leading records by age, hashes keys to lanes, backs off exponentially", () => {
            expect(expiredCount([100, 200, 300], 1000, 750)).to.equal(2);
            expect(expiredCount([100, 200, 300], 1000, 9000)).to.equal(0);
            expect(expiredCount([100, 200, 300], 1000, -1)).to.equal(0);
            expect(laneOf("any", 1)).to.equal(0);
            const lanes = new Set(Array.from({ length: 50 }, (_, i) => laneOf(`key-${i}`, 4)));
            expect([...lanes].sort()).to.deep.equal([0, 1, 2, 3]);
            expect(laneOf("key-7", 4)).to.equal(laneOf("key-7", 4));
            const t: TimeScale = timeScale(0.01);
            expect([1, 2, 3, 4, 5, 6, 20].map((n) => retryDelayMs(n, t))).to.deep.equal([10, 20, 40, 80, 160, 160, 160]);
        });

        it("builds the on-failure record from metadata only", () => {
            const record = failureRecord({
                condition: "RecordAgeExceeded",
                functionArn: FUNCTION_ARN,
                streamArn: "arn:s",
                shardId: "shardId-000000000001",
                records: [
                    { sequenceNumber: "5", arrivalMs: Date.UTC(2024, 0, 1, 0, 0, 0, 5) },
                    { sequenceNumber: "9", arrivalMs: Date.UTC(2024, 0, 1, 0, 0, 1, 0) },
                ],
                approximateInvokeCount: 0,
                now: new Date(Date.UTC(2024, 0, 2)),
            });
            expect(record.requestContext.requestId).to.match(/^[0-9a-f-]{36}$/);
            expect({ ...record, requestContext: { ...record.requestContext, requestId: "r" } }).to.deep.equal({
                requestContext: { requestId: "r", functionArn: FUNCTION_ARN, condition: "RecordAgeExceeded", approximateInvokeCount: 0 },
                version: "1.0",
                timestamp: "2024-01-02T00:00:00.000Z",
                KinesisBatchInfo: {
                    shardId: "shardId-000000000001",
                    startSequenceNumber: "5",
                    endSequenceNumber: "9",
                    approximateArrivalOfFirstRecord: "2024-01-01T00:00:00.005Z",
                    approximateArrivalOfLastRecord: "2024-01-01T00:00:01.000Z",
                    batchSize: 2,
                    streamArn: "arn:s",
                },
            });
        });
    });

    describe("against kinesis-local", function () {
        this.timeout(20_000);
        let emulator: Emulator;
        let client: KinesisClient;
        let mappings: KinesisMapping[] = [];
        let streams: string[] = [];
        let streamCount = 0;

        before(async () => {
            emulator = await startKinesisLocal();
            client = kinesisClient(emulator);
        });

        after(async () => {
            client?.destroy();
            await emulator?.stop();
        });

        afterEach(async () => {
            await Promise.all(mappings.map((m) => m.stop()));
            await Promise.all(streams.map((name) => client.send(new DeleteStreamCommand({ StreamName: name, EnforceConsumerDeletion: true })).catch(() => undefined)));
            mappings = [];
            streams = [];
        });

        async function createStream(shards = 1): Promise<{ name: string; arn: string }> {
            const name = `mapping-spec-${process.pid}-${++streamCount}`;
            await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
            streams.push(name);
            for (;;) {
                const { StreamDescriptionSummary } = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
                if (StreamDescriptionSummary?.StreamStatus === "ACTIVE") break;
                await sleep(10);
            }
            // The plan's ARN, not kinesis-local's (another account): events must carry the plan's.
            return { name, arn: `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/${name}` };
        }

        interface Put {
            shardId: string;
            sequenceNumber: string;
            key: string;
            data: string;
            before: number;
            after: number;
        }

        async function putAll(stream: string, items: { key: string; data: string; hashKey?: string }[]): Promise<Put[]> {
            const before = Date.now();
            const out = await client.send(
                new PutRecordsCommand({ StreamName: stream, Records: items.map((i) => ({ PartitionKey: i.key, Data: Buffer.from(i.data), ExplicitHashKey: i.hashKey })) }),
            );
            const after = Date.now();
            expect(out.FailedRecordCount ?? 0).to.equal(0);
            return out.Records!.map((r, i) => ({ shardId: r.ShardId!, sequenceNumber: r.SequenceNumber!, key: items[i].key, data: items[i].data, before, after }));
        }

        async function put(stream: string, key: string, data: string): Promise<Put> {
            const before = Date.now();
            const r = await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: key, Data: Buffer.from(data) }));
            return { shardId: r.ShardId!, sequenceNumber: r.SequenceNumber!, key, data, before, after: Date.now() };
        }

        function start(stream: { name: string; arn: string }, fn: Invocable, overrides: Record<string, unknown> = {}, options: Partial<KinesisMappingOptions> = {}) {
            const destinations: { arn: string; payload: string }[] = [];
            const counted: { name: string; by: number; reason?: string }[] = [];
            const mapping = startKinesisMapping({
                settings: devSettings(stream.arn, overrides),
                mappingArn: MAPPING_ARN,
                streamArn: stream.arn,
                streamName: stream.name,
                kinesis: client,
                fn,
                invokeIdentityArn: ROLE_ARN,
                sendToDestination: async (arn, payload) => {
                    destinations.push({ arn, payload });
                },
                time: timeScale(0.01),
                counter: { add: (name, by = 1, reason) => counted.push({ name, by, reason }) },
                region: REGION,
                account: ACCOUNT,
                ...options,
            });
            mappings.push(mapping);
            return { mapping, destinations, counted };
        }

        it("delivers every record in order per shard, in batches of at most batchSize, as Lambda builds the event, and keeps polling", async () => {
            const stream = await createStream(2);
            const puts = [
                ...(await putAll(stream.name, Array.from({ length: 23 }, (_, i) => ({ key: `a-${i}`, data: `zero-${i}`, hashKey: SHARD_0_KEY })))),
                ...(await putAll(stream.name, Array.from({ length: 17 }, (_, i) => ({ key: `b-${i}`, data: `one-${i}`, hashKey: SHARD_1_KEY })))),
            ];
            const { fn, calls } = fakeFunction();
            const { mapping } = start(stream, fn, { batchSize: 10 });
            await mapping.idle(IDLE_MS);

            const byShard = new Map<string, KinesisStreamRecord[][]>();
            for (const call of calls) {
                const shards = new Set(call.map((r) => r.eventID.split(":")[0]));
                expect(shards.size, "one batch, one shard").to.equal(1);
                const [shard] = shards;
                byShard.set(shard, [...(byShard.get(shard) ?? []), call]);
            }
            expect([...byShard.keys()].sort()).to.deep.equal(["shardId-000000000000", "shardId-000000000001"]);
            // Everything was on the stream before the first read, so batches are full but the last.
            expect(byShard.get("shardId-000000000000")!.map((c) => c.length)).to.deep.equal([10, 10, 3]);
            expect(byShard.get("shardId-000000000001")!.map((c) => c.length)).to.deep.equal([10, 7]);
            for (const [shard, shardCalls] of byShard) {
                expect(shardCalls.flat().map((r) => r.kinesis.sequenceNumber)).to.deep.equal(puts.filter((p) => p.shardId === shard).map((p) => p.sequenceNumber));
            }

            const delivered = new Map(calls.flat().map((r) => [r.kinesis.sequenceNumber, r]));
            for (const p of puts) {
                const r = delivered.get(p.sequenceNumber)!;
                const arrival = r.kinesis.approximateArrivalTimestamp;
                expect(arrival * 1000).to.be.within(p.before - 1, p.after + 1);
                expect(Math.abs(arrival * 1000 - Math.round(arrival * 1000)), "seconds with milliseconds").to.be.below(0.01);
                expect(r).to.deep.equal({
                    kinesis: { kinesisSchemaVersion: "1.0", partitionKey: p.key, sequenceNumber: p.sequenceNumber, data: Buffer.from(p.data).toString("base64"), approximateArrivalTimestamp: arrival },
                    eventSource: "aws:kinesis",
                    eventVersion: "1.0",
                    eventID: `${p.shardId}:${p.sequenceNumber}`,
                    eventName: "aws:kinesis:record",
                    invokeIdentityArn: ROLE_ARN,
                    awsRegion: REGION,
                    eventSourceARN: stream.arn,
                });
            }

            // Not a one-shot drain: what arrives later is delivered too.
            const later = await put(stream.name, "late", "later");
            await mapping.idle(IDLE_MS);
            expect(calls.length).to.equal(6);
            expect(calls[5].map(text)).to.deep.equal(["later"]);
            const checkpoints = Object.fromEntries(mapping.stats().shards.map((s) => [s.shardId, s.checkpoint]));
            const lastOf = (shard: string) => [...puts, later].filter((p) => p.shardId === shard).pop()!.sequenceNumber;
            expect(checkpoints).to.deep.equal({ "shardId-000000000000": lastOf("shardId-000000000000"), "shardId-000000000001": lastOf("shardId-000000000001") });
        });

        it("waits up to the batching window to fill a batch, and no longer once it is full", async () => {
            const stream = await createStream();
            const invokedAt: number[] = [];
            const { fn, calls } = fakeFunction(() => {
                invokedAt.push(Date.now());
                return ok();
            });
            // 150 s of window at 0.01 is 1.5 s of wall time.
            const { mapping } = start(stream, fn, { batchSize: 3, maximumBatchingWindowInSeconds: 150 });
            await mapping.ready;
            const first = await put(stream.name, "k", "r1");
            await put(stream.name, "k", "r2");
            const third = await put(stream.name, "k", "r3");
            await waitFor("the full batch", () => calls.length === 1);
            const fourth = await put(stream.name, "k", "r4");
            await mapping.idle(IDLE_MS);
            expect(calls.map((c) => c.map(text))).to.deep.equal([["r1", "r2", "r3"], ["r4"]]);
            expect(invokedAt[0] - first.before, "the first batch went before its window was over").to.be.below(1500);
            expect(invokedAt[0] - third.after, "a full batch goes at once").to.be.below(300);
            expect(invokedAt[1] - fourth.after, "a lone record waits for the window").to.be.within(1450, 4000);
        });

        it("with ReportBatchItemFailures checkpoints before the lowest failed sequence number and retries from it", async () => {
            const stream = await createStream();
            const puts = await putAll(stream.name, Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, data: `r${i}` })));
            const sq = puts.map((p) => p.sequenceNumber);
            const { fn, calls } = fakeFunction((_records, call) => (call === 1 ? ok({ batchItemFailures: [{ itemIdentifier: sq[6] }, { itemIdentifier: sq[3] }] }) : ok({ batchItemFailures: [] })));
            const { mapping, destinations } = start(stream, fn, { batchSize: 10 });
            await mapping.idle(IDLE_MS);
            expect(calls.map(seqs)).to.deep.equal([sq, sq.slice(3)]);
            expect(destinations).to.deep.equal([]);
            expect(mapping.stats()).to.include({ partialFailures: 1, retries: 1, functionErrors: 0, bisections: 0 });
            expect(mapping.stats().shards[0].checkpoint).to.equal(sq[9]);
        });

        it("fails the whole batch when batchItemFailures names a record not in it, or none", async () => {
            const stream = await createStream();
            const puts = await putAll(stream.name, Array.from({ length: 4 }, (_, i) => ({ key: `k${i}`, data: `r${i}` })));
            const responses = [{ batchItemFailures: [{ itemIdentifier: "49000000000000000000000000000000000000000000000000000000" }] }, { batchItemFailures: [{ itemIdentifier: null }] }, {}];
            const { fn, calls } = fakeFunction((_r, call) => ok(responses[call - 1]));
            const { mapping } = start(stream, fn);
            await mapping.idle(IDLE_MS);
            const all = puts.map((p) => p.sequenceNumber);
            expect(calls.map(seqs)).to.deep.equal([all, all, all]);
        });

        it("bisects a failing batch down to the poison record: the others succeed, the poison goes to the destination after its retries", async () => {
            const stream = await createStream();
            const puts = await putAll(stream.name, Array.from({ length: 8 }, (_, i) => ({ key: `k${i}`, data: i === 5 ? "poison" : `r${i}` })));
            const sq = puts.map((p) => p.sequenceNumber);
            const succeeded: string[] = [];
            const { fn, calls } = fakeFunction((records) => {
                if (records.some((r) => text(r) === "poison")) return failed("poisoned");
                succeeded.push(...seqs(records));
                return ok();
            });
            const { mapping, destinations } = start(stream, fn, { maximumRetryAttempts: 2 });
            await mapping.idle(IDLE_MS);
            const at = (...i: number[]) => i.map((n) => sq[n]);
            expect(calls.map(seqs)).to.deep.equal([
                at(0, 1, 2, 3, 4, 5, 6, 7),
                at(0, 1, 2, 3),
                at(4, 5, 6, 7),
                at(4, 5),
                at(4),
                at(5), // alone: from here on each failure is a retry, 2 allowed
                at(5),
                at(5),
                at(6, 7),
            ]);
            expect(succeeded).to.deep.equal(sq.filter((_, i) => i !== 5));
            expect(destinations.length).to.equal(1);
            const record = JSON.parse(destinations[0].payload) as KinesisFailureRecord;
            expect(record.requestContext).to.include({ condition: "RetryAttemptsExhausted", approximateInvokeCount: 6 });
            expect(record.KinesisBatchInfo).to.include({ startSequenceNumber: sq[5], endSequenceNumber: sq[5], batchSize: 1 });
            expect(mapping.stats()).to.include({ bisections: 3, retries: 2 });
        });

        it("retries a failing batch exactly maximumRetryAttempts times, then sends metadata only to the destination and moves on", async () => {
            const stream = await createStream();
            const puts = await putAll(stream.name, Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, data: `secret-payload-${i}` })));
            const sq = puts.map((p) => p.sequenceNumber);
            let healthy = false;
            const { fn, calls } = fakeFunction(() => (healthy ? ok() : failed("Task timed out after 3.00 seconds")));
            const { mapping, destinations, counted } = start(stream, fn, { bisectBatchOnFunctionError: false, maximumRetryAttempts: 3 });
            await mapping.idle(IDLE_MS);
            expect(calls.map(seqs)).to.deep.equal([sq, sq, sq, sq]);
            expect(destinations.map((d) => d.arn)).to.deep.equal([QUEUE_ARN]);

            const { payload } = destinations[0];
            for (const p of puts) {
                expect(payload).to.not.include(p.data);
                expect(payload).to.not.include(Buffer.from(p.data).toString("base64"));
            }
            const record = JSON.parse(payload) as KinesisFailureRecord;
            expect(keysOf(record)).to.not.include("data");
            expect(keysOf(record)).to.not.include("Records");
            const arrivals = calls[0].map((r) => new Date(Math.round(r.kinesis.approximateArrivalTimestamp * 1000)).toISOString());
            expect(record.requestContext.requestId).to.match(/^[0-9a-f-]{36}$/);
            expect(Date.now() - Date.parse(record.timestamp)).to.be.within(0, 5000);
            expect({ ...record, requestContext: { ...record.requestContext, requestId: "r" }, timestamp: "t" }).to.deep.equal({
                requestContext: { requestId: "r", functionArn: FUNCTION_ARN, condition: "RetryAttemptsExhausted", approximateInvokeCount: 4 },
                responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
                version: "1.0",
                timestamp: "t",
                KinesisBatchInfo: {
                    shardId: puts[0].shardId,
                    startSequenceNumber: sq[0],
                    endSequenceNumber: sq[4],
                    approximateArrivalOfFirstRecord: arrivals[0],
                    approximateArrivalOfLastRecord: arrivals[4],
                    batchSize: 5,
                    streamArn: stream.arn,
                },
            });
            expect(counted.filter((c) => c.name === "toDestination")).to.deep.equal([{ name: "toDestination", by: 1, reason: "RetryAttemptsExhausted" }]);
            expect(mapping.stats().toDestination).to.deep.equal({ RetryAttemptsExhausted: 5, RecordAgeExceeded: 0 });

            healthy = true;
            const next = await put(stream.name, "k", "next");
            await mapping.idle(IDLE_MS);
            expect(calls.slice(4).map(seqs)).to.deep.equal([[next.sequenceNumber]]);
        });

        it("sends records older than maximumRecordAgeInSeconds to the destination as RecordAgeExceeded without invoking", async () => {
            const stream = await createStream();
            const puts = await putAll(stream.name, Array.from({ length: 3 }, (_, i) => ({ key: `k${i}`, data: `old-${i}` })));
            // 60 s at 0.005 is 300 ms: these are old by the time the mapping reads them.
            await sleep(450);
            const { fn, calls } = fakeFunction();
            const { mapping, destinations } = start(stream, fn, { maximumRecordAgeInSeconds: 60 }, { time: timeScale(0.005) });
            await mapping.idle(IDLE_MS);
            expect(calls).to.deep.equal([]);
            expect(destinations.length).to.equal(1);
            const record = JSON.parse(destinations[0].payload) as KinesisFailureRecord;
            expect(record.requestContext).to.include({ condition: "RecordAgeExceeded", approximateInvokeCount: 0 });
            expect(record.responseContext, "never invoked: no response").to.equal(undefined);
            expect(record.KinesisBatchInfo).to.include({ startSequenceNumber: puts[0].sequenceNumber, endSequenceNumber: puts[2].sequenceNumber, batchSize: 3 });

            const fresh = await put(stream.name, "k", "fresh");
            await mapping.idle(IDLE_MS);
            expect(calls.map(seqs)).to.deep.equal([[fresh.sequenceNumber]]);
        });

        it("with parallelizationFactor runs batches of a shard concurrently, never one partition key twice at once, in order per key", async () => {
            const stream = await createStream();
            // Seven keys on three lanes: no way to keep keys apart but by key.
            const keys = ["k0", "k1", "k2", "k3", "k4", "k5", "k6"];
            const puts = await putAll(
                stream.name,
                Array.from({ length: 35 }, (_, i) => ({ key: keys[i % keys.length], data: `${keys[i % keys.length]}-${Math.floor(i / keys.length)}` })),
            );
            const active = new Map<string, number>();
            let concurrent = 0;
            let maxConcurrent = 0;
            let overlaps = 0;
            const { fn, calls } = fakeFunction(async (records) => {
                concurrent++;
                maxConcurrent = Math.max(maxConcurrent, concurrent);
                const batchKeys = new Set(records.map((r) => r.kinesis.partitionKey));
                for (const k of batchKeys) {
                    if (active.get(k)) overlaps++;
                    active.set(k, (active.get(k) ?? 0) + 1);
                }
                await sleep(15);
                for (const k of batchKeys) active.set(k, active.get(k)! - 1);
                concurrent--;
                return ok();
            });
            const { mapping } = start(stream, fn, { parallelizationFactor: 3, batchSize: 2 });
            await mapping.idle(IDLE_MS);
            expect(overlaps, "a key in two concurrent batches").to.equal(0);
            expect(maxConcurrent).to.be.within(2, 3);
            const delivered = calls.flat();
            expect(delivered.length).to.equal(35);
            for (const key of keys) {
                expect(delivered.filter((r) => r.kinesis.partitionKey === key).map(text), key).to.deep.equal(puts.filter((p) => p.key === key).map((p) => p.data));
            }
        });

        it("starts at LATEST after the records already on the stream, and at AT_TIMESTAMP from that time", async () => {
            const latest = await createStream();
            await putAll(latest.name, [1, 2, 3].map((i) => ({ key: "k", data: `before-${i}` })));
            const a = fakeFunction();
            const { mapping: m1 } = start(latest, a.fn, { startingPosition: "LATEST" });
            await m1.ready;
            await putAll(latest.name, [1, 2].map((i) => ({ key: "k", data: `after-${i}` })));
            await m1.idle(IDLE_MS);
            expect(a.calls.flat().map(text)).to.deep.equal(["after-1", "after-2"]);

            const timed = await createStream();
            await put(timed.name, "k", "old");
            await sleep(30);
            const from = new Date();
            await sleep(30);
            await put(timed.name, "k", "new");
            const b = fakeFunction();
            const { mapping: m2 } = start(timed, b.fn, { startingPosition: "AT_TIMESTAMP", startingPositionTimestamp: from.toISOString() });
            await m2.idle(IDLE_MS);
            expect(b.calls.flat().map(text)).to.deep.equal(["new"]);
        });

        it("does nothing when the plan disables it", async () => {
            const stream = await createStream();
            await put(stream.name, "k", "r");
            const { fn, calls } = fakeFunction();
            const { mapping } = start(stream, fn, { enabled: false });
            await mapping.idle(IDLE_MS);
            // An enabled mapping on the same stream shows how long delivering takes.
            const control = fakeFunction();
            await start(stream, control.fn).mapping.idle(IDLE_MS);
            expect(control.calls.length).to.equal(1);
            expect(calls).to.deep.equal([]);
            expect(mapping.stats()).to.include({ state: "disabled", getRecordsCalls: 0 });
        });

        it("stop() ends polling promptly, waits for the invocation in flight, and leaves no timer behind", async () => {
            const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
            const stream = await createStream();
            const baseline = timers();

            // At full scale an idle shard is polled once a second: stop() must not wait for that.
            const { fn: idleFn } = fakeFunction();
            const { mapping: sleeping } = start(stream, idleFn, {}, { time: timeScale(1) });
            await sleeping.idle(IDLE_MS);
            let began = Date.now();
            await sleeping.stop();
            expect(Date.now() - began, "stop() on a sleeping poller").to.be.below(200);
            expect(timers(), "timers left by a stopped poller").to.be.at.most(baseline);

            let finished = false;
            const { fn, calls } = fakeFunction(async () => {
                await sleep(300);
                finished = true;
                return ok();
            });
            const { mapping } = start(stream, fn);
            await mapping.ready;
            await put(stream.name, "k", "slow");
            await waitFor("the invocation", () => calls.length === 1);
            began = Date.now();
            await mapping.stop();
            expect(finished, "stop() resolved before the invocation in flight ended").to.equal(true);
            expect(Date.now() - began).to.be.below(1000);

            const reads = mapping.stats().getRecordsCalls;
            await put(stream.name, "k", "after-stop");
            await sleep(100);
            expect(calls.length).to.equal(1);
            expect(mapping.stats()).to.include({ getRecordsCalls: reads, state: "stopped" });
            expect(timers(), "timers left running").to.be.at.most(baseline);
        });
    });
});
