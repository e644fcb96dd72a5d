import { CreateTableCommand, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import * as DynamoModule from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { expect } from "chai";
import fc from "fast-check";
import { gzipSync } from "zlib";
import { runChunk, runFile, type MetricSink, type PipelineDeps } from "../../../functions/payment-file/pipeline";
import type { PaymentSettings } from "../../../functions/payment-file/settings";
import { FILES_TABLE, PAYMENTS_TABLE, type ChunkMessage } from "../../../functions/shared/contract";
import type { ObjectCreated } from "../../../functions/shared/object-created";
import { dynamoClient, s3Client, startDynalite, startS3rver, type Emulator } from "../../../local/runtime/emulators";
import { generatePaymentFile } from "../../../local/scenarios/payment-file-generator";

// The file function's and the chunk workers' work (pipeline.ts) on dynalite and s3rver, with the
// runtime's stand-in gaps filled as on the local runtime (lambda/stand-in-gaps.js); the same through
// the whole runtime is in test/e2e/payment-files.spec.ts.
//
// Exactly once in effect: whatever SQS does to the file's and the chunks' messages (deliver twice,
// crash a worker after k requests and deliver again, hand one chunk to two workers at once) and
// whether the sender uploads the same file again under another key, the payments table, the
// manifests and the curated objects equal those of one clean run.

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { fillStandInGaps } = require("../../../local/runtime/lambda/stand-in-gaps") as {
    fillStandInGaps(client: unknown, name: string, mod: unknown, raw: () => unknown): void;
};

// 100 schedules in `npm test` (about 35 s); PAYMENT_PROPERTY_RUNS=1000 for a deeper hunt.
const RUNS = Number(process.env.PAYMENT_PROPERTY_RUNS ?? 100);

class Crash extends Error {
    constructor() {
        super("simulated crash");
        this.name = "Crash";
    }
}

/** A client whose requests count toward `budget`: the one that would exceed it throws instead of being sent. */
function crashing<T extends { send: (...a: any[]) => Promise<any> }>(client: T, budget: { left: number }): T {
    return new Proxy(client, {
        get(target, prop, receiver) {
            if (prop !== "send") return Reflect.get(target, prop, receiver);
            return async (...args: any[]) => {
                if (budget.left-- <= 0) throw new Crash();
                return target.send(...(args as [any]));
            };
        },
    });
}

const noMetrics: MetricSink = { addMetric() {} };

/** The chunk messages SendMessageBatch carried, in order. */
function recordingQueue(sent: ChunkMessage[]): SQSClient {
    return {
        send: async (cmd: { input: { Entries: { Id: string; MessageBody: string }[] } }) => {
            for (const e of cmd.input.Entries) sent.push(JSON.parse(e.MessageBody));
            return { Successful: cmd.input.Entries.map((e) => ({ Id: e.Id })), Failed: [] };
        },
    } as unknown as SQSClient;
}

interface Delivery {
    /** Deliveries of the chunk after the first; one may crash. */
    again: number;
    /** The first delivery crashes after this many requests (undefined: it does not). */
    crashAfter?: number;
    /** Two workers get the chunk at once. */
    twin: boolean;
}

interface Schedule {
    seed: number;
    targetBytes: number;
    chunks: number;
    jitter: number;
    thresholdBytes: number;
    fileDeliveries: number;
    fileCrashAfter?: number;
    deliveries: Delivery[];
    /** Chunk order: a rotation of the file's chunks. */
    rotate: number;
    uploadTwice: boolean;
    extra: ("duplicate" | "conflict" | "bad")[];
}

const schedules = fc.record({
    seed: fc.integer({ min: 1, max: 1_000_000 }),
    targetBytes: fc.integer({ min: 150, max: 600 }),
    // A few chunks of any size: cuts fall anywhere, each chunk costs its own requests.
    chunks: fc.integer({ min: 1, max: 3 }),
    jitter: fc.integer({ min: 0, max: 40 }),
    thresholdBytes: fc.constantFrom(0, 0, 0, 100_000),
    fileDeliveries: fc.integer({ min: 1, max: 2 }),
    fileCrashAfter: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
    deliveries: fc.array(fc.record({ again: fc.integer({ min: 0, max: 1 }), crashAfter: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }), twin: fc.boolean() }), { minLength: 1, maxLength: 8 }),
    rotate: fc.nat(),
    uploadTwice: fc.boolean(),
    /** Lines added at the end: the first payment again, another version of it, a bad line. */
    extra: fc.subarray(["duplicate", "conflict", "bad"] as const),
});

/** The schedule's file: a small generated one, and the extra lines asked, after it. */
function fileOf(s: Schedule): Buffer {
    const base = generatePaymentFile({ targetBytes: s.targetBytes, seed: s.seed, idPrefix: "p", conflictAfter: 1, repeatAfter: 0, trailingNewline: true }).bytes;
    const first = base.toString("utf8").split("\n").find((l) => l.includes('"event_id":"p-'));
    const extra = s.extra.map((kind) => (kind === "bad" ? '{"event_id":"p-bad","amount":1}' : kind === "duplicate" ? first! : first!.replace(/"account":"([^"]*)"\}(?!.*"account")/, '"account":"$1-other"}')));
    return Buffer.concat([base, Buffer.from(extra.join("\n"))]);
}

describe("payment-file/pipeline (dynalite, s3rver)", function () {
    this.timeout(600_000);
    let dynamo: Emulator;
    let s3: Emulator;
    let ddb: DynamoDBClient;
    let objects: S3Client;
    let tables = 0;

    before(async () => {
        [dynamo, s3] = await Promise.all([startDynalite(), startS3rver()]);
        ddb = dynamoClient(dynamo);
        fillStandInGaps(ddb, "DynamoDBClient", DynamoModule, () => dynamoClient(dynamo));
        objects = s3Client(s3);
        fillStandInGaps(objects, "S3Client", {}, () => s3Client(s3));
    });
    after(async () => {
        ddb?.destroy();
        objects?.destroy();
        await Promise.all([dynamo?.stop(), s3?.stop()]);
    });

    /** A fresh world: two tables and a bucket. */
    async function world(): Promise<{ settings: PaymentSettings; bucket: string }> {
        const n = ++tables;
        const settings: PaymentSettings = { paymentsTable: `payments-${n}`, filesTable: `files-${n}`, chunksQueueUrl: "chunks", thresholdBytes: 0, chunkBytes: 1024, maxLineBytes: 4096, gzipMaxBytes: 1 << 20 };
        for (const [table, key] of [[settings.paymentsTable, PAYMENTS_TABLE.hashKey], [settings.filesTable, FILES_TABLE.hashKey]]) {
            await ddb.send(new CreateTableCommand({ TableName: table, KeySchema: [{ AttributeName: key, KeyType: "HASH" }], AttributeDefinitions: [{ AttributeName: key, AttributeType: "S" }], BillingMode: "PAY_PER_REQUEST" }));
        }
        const bucket = `world-${n}`;
        await objects.send(new CreateBucketCommand({ Bucket: bucket }));
        return { settings, bucket };
    }

    async function upload(bucket: string, key: string, bytes: Buffer, sequencer: string): Promise<ObjectCreated> {
        const out = await objects.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
        return { bucket, key, size: bytes.length, etag: out.ETag!.replace(/"/g, ""), sequencer, eventTime: "2026-12-01T00:00:00Z", eventId: sequencer };
    }

    /** Runs the schedule; `faults` false is the clean run (every fault left out). */
    async function run(s: Schedule, file: Buffer, faults: boolean) {
        const { settings, bucket } = await world();
        Object.assign(settings, { chunkBytes: Math.max(16, Math.ceil(file.length / s.chunks) - s.jitter), thresholdBytes: s.thresholdBytes });
        const deps = (budget?: { left: number }, sent: ChunkMessage[] = []): PipelineDeps => ({
            s3: budget ? crashing(objects, budget) : objects,
            dynamodb: budget ? crashing(ddb, budget) : ddb,
            sqs: recordingQueue(sent),
            settings,
            metrics: noMetrics,
            claimsInFlight: 4,
        });
        const keys = s.uploadTwice ? ["payments/a.ndjson", "payments/copy-of-a.ndjson"] : ["payments/a.ndjson"];
        for (const [i, key] of keys.entries()) {
            const event = await upload(bucket, key, file, `seq-${i}`);
            const sent: ChunkMessage[] = [];
            // The file's event: possibly crashing once (what it sent before, SQS keeps), then delivered until it succeeds, plus duplicates.
            if (faults && s.fileCrashAfter !== undefined) await runFile(event, deps({ left: s.fileCrashAfter }, sent)).catch((err) => expect(err).to.be.instanceOf(Crash));
            for (let d = 0; d < (faults ? s.fileDeliveries : 1); d++) await runFile(event, deps(undefined, sent));
            // One message per chunk, even when the file event came twice after its chunks went out.
            const chunks = [...new Map(sent.map((m) => [m.index, m])).values()];
            const order = chunks.map((_, k) => chunks[(k + s.rotate) % chunks.length]);
            for (const [k, chunk] of order.entries()) {
                const d = s.deliveries[k % s.deliveries.length];
                if (!faults) {
                    await runChunk(chunk, deps());
                    continue;
                }
                if (d.crashAfter !== undefined) await runChunk(chunk, deps({ left: d.crashAfter })).catch((err) => expect(err).to.be.instanceOf(Crash));
                if (d.twin) await Promise.all([runChunk(chunk, deps()), runChunk(chunk, deps())]);
                else await runChunk(chunk, deps());
                for (let a = 0; a < d.again; a++) await runChunk(chunk, deps());
            }
        }
        return snapshot(settings, bucket);
    }

    /** What a run leaves: payments, manifests and curated objects, with the world's names replaced. */
    async function snapshot(settings: PaymentSettings, bucket: string) {
        const scrub = (text: string) => text.split(bucket).join("<bucket>");
        const items = ((await ddb.send(new ScanCommand({ TableName: settings.paymentsTable, ConsistentRead: true }))).Items ?? []).map((i) => JSON.parse(scrub(JSON.stringify(unmarshall(i)))));
        items.sort((a, b) => (a.event_id < b.event_id ? -1 : 1));
        const listed = (await objects.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? [];
        const written: Record<string, string> = {};
        for (const o of listed.filter((o) => !o.Key!.startsWith("payments/"))) {
            written[o.Key!] = scrub(await (await objects.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }))).Body!.transformToString());
        }
        return { items, written };
    }

    it(`leaves the table, the manifests and the curated objects of one clean run, over ${RUNS} schedules`, async () => {
        await fc.assert(
            fc.asyncProperty(schedules, async (s) => {
                const file = fileOf(s);
                const clean = await run(s, file, false);
                const faulty = await run(s, file, true);
                expect(faulty.items).to.deep.equal(clean.items);
                expect(Object.keys(faulty.written).sort()).to.deep.equal(Object.keys(clean.written).sort());
                expect(faulty.written).to.deep.equal(clean.written);
                // Every file completed, once uploaded or twice.
                const manifests = Object.keys(clean.written).filter((k) => k.startsWith("manifests/"));
                expect(manifests).to.have.length(s.uploadTwice ? 2 : 1);
            }),
            { numRuns: RUNS },
        );
    });

    it("quarantines a 2 MiB line with its start only, never held whole, and applies the lines around it", async () => {
        const { settings, bucket } = await world();
        Object.assign(settings, { chunkBytes: 512 * 1024, maxLineBytes: 1024 * 1024 });
        const before = generatePaymentFile({ targetBytes: 800, seed: 11, idPrefix: "pre", mixed: false, trailingNewline: true });
        const after = generatePaymentFile({ targetBytes: 800, seed: 12, idPrefix: "post", mixed: false });
        const long = Buffer.concat([Buffer.from('{"event_id":"long","memo":"'), Buffer.alloc(2 * 1024 * 1024, "a"), Buffer.from('"}\n')]);
        const sent: ChunkMessage[] = [];
        const deps: PipelineDeps = { s3: objects, dynamodb: ddb, sqs: recordingQueue(sent), settings, metrics: noMetrics };
        await runFile(await upload(bucket, "payments/long.ndjson", Buffer.concat([before.bytes, long, after.bytes]), "seq-long"), deps);
        let manifest;
        for (const chunk of sent) manifest = (await runChunk(chunk, deps)).manifest ?? manifest;
        expect(manifest).to.include({ chunks: 5, applied: before.expected.applied + after.expected.applied, quarantined: 1, lines: before.expected.lines + 1 + after.expected.lines });
        const { written } = await snapshot(settings, bucket);
        const [entry] = Object.entries(written).filter(([k]) => k.startsWith("quarantine/")).map(([, v]) => JSON.parse(v));
        expect(entry.reason).to.equal(`line of ${long.length - 1} bytes: longer than the ${1024 * 1024} bytes a line may have (MAX_LINE_BYTES)`);
        expect(entry).to.include({ offset: before.bytes.length, length: long.length - 1, raw_truncated: true, line: before.expected.lines + 1 });
        expect(entry.raw).to.have.length(1024);
    });

    it("counts a chunk's metrics once, sends a split file's chunks once, and completes it once, however often its messages come", async () => {
        const { settings, bucket } = await world();
        Object.assign(settings, { chunkBytes: 400 });
        const counted: Record<string, number> = {};
        const metrics: MetricSink = { addMetric: (name, _u, value) => void (counted[name] = (counted[name] ?? 0) + value) };
        const sent: ChunkMessage[] = [];
        const deps: PipelineDeps = { s3: objects, dynamodb: ddb, sqs: recordingQueue(sent), settings, metrics };
        const file = generatePaymentFile({ targetBytes: 1_500, seed: 21, idPrefix: "m", mixed: false });
        const event = await upload(bucket, "payments/m.ndjson", file.bytes, "seq-m");
        expect(await runFile(event, deps)).to.deep.include({ kind: "split", enqueued: true });
        const chunks = sent.length;
        expect(await runFile(event, deps)).to.deep.include({ kind: "split", enqueued: false });
        expect(sent).to.have.length(chunks);
        const manifests = [];
        for (const chunk of [...sent, ...sent]) manifests.push((await runChunk(chunk, deps)).manifest);
        expect(manifests.filter(Boolean)).to.have.length(1);
        expect(counted).to.include({ LinesRead: file.expected.lines, PaymentsApplied: file.expected.applied, FilesCompleted: 1, FilesReceived: 2 });
    });

    it("pins a chunk's read to the ETag the event carried (bare or quoted): a replaced object fails the chunk as PreconditionFailed", async () => {
        const { bucket } = await world();
        const body = Buffer.from(`${"x".repeat(10)}\n`);
        const first = await upload(bucket, "payments/p.ndjson", body, "seq-p");
        for (const etag of [first.etag!, `"${first.etag}"`]) {
            const out = await objects.send(new GetObjectCommand({ Bucket: bucket, Key: "payments/p.ndjson", IfMatch: etag }));
            expect(await out.Body!.transformToString()).to.equal(body.toString());
        }
        await objects.send(new PutObjectCommand({ Bucket: bucket, Key: "payments/p.ndjson", Body: "replaced\n" }));
        const err = await objects.send(new GetObjectCommand({ Bucket: bucket, Key: "payments/p.ndjson", IfMatch: first.etag })).then(() => undefined, (e: Error & { $metadata?: { httpStatusCode?: number } }) => e);
        expect(err?.name).to.equal("PreconditionFailed");
        expect(err?.$metadata?.httpStatusCode).to.equal(412);
    });

    it("refuses a gzip file over gzipMaxBytes: its manifest gives the reason, nothing is applied, a redelivery changes nothing", async () => {
        const { settings, bucket } = await world();
        settings.gzipMaxBytes = 100;
        const file = gzipSync(generatePaymentFile({ targetBytes: 2_000, seed: 3 }).bytes);
        const event = await upload(bucket, "payments/big.ndjson.gz", file, "seq-gz");
        const counted: string[] = [];
        const deps: PipelineDeps = { s3: objects, dynamodb: ddb, sqs: recordingQueue([]), settings, metrics: { addMetric: (name) => void counted.push(name) } };
        const first = await runFile(event, deps);
        expect(first.kind).to.equal("refused");
        expect(counted).to.include("FilesRefused").and.not.include("FilesCompleted");
        expect(first.kind === "refused" && first.manifest).to.include({ lines: 0, applied: 0, chunks: 0, refused: `gzip file of ${file.length} bytes: over the 100 bytes one invocation reads (GZIP_MAX_BYTES); gzip cannot be split, so upload it uncompressed or in smaller files` });
        expect(await runFile(event, deps)).to.deep.include({ kind: "refused", manifest: undefined });
        const { items, written } = await snapshot(settings, bucket);
        expect(items).to.deep.equal([]);
        expect(Object.keys(written)).to.deep.equal(["manifests/payments/big.ndjson.gz.json"]);
    });
});
