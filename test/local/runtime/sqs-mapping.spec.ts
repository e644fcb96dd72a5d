import { expect } from "chai";
import { createHash } from "crypto";
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient, SendMessageBatchCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { Emulator, sqsClient, startFauxqs } from "../../../local/runtime/emulators";
import {
    DEFAULT_MAXIMUM_CONCURRENCY,
    SqsMapping,
    SqsRecord,
    parseSqsMappingSettings,
    settleBatch,
    startSqsMapping,
} from "../../../local/runtime/sqs-mapping";
import { InvokeResult, Invocable, TimeScale, sleep, timeScale } from "../../../local/runtime/types";

const REGION = "us-east-1";
const FN = { arn: "arn:aws:lambda:us-east-1:123456789012:function:consumer-function-1a2b3c4", name: "consumer-function" };
// The queues below are created with this visibility timeout: a failed message is back after ~1 s.
const VISIBILITY_MS = 1000;

const ok = (response: unknown = null): InvokeResult => ({ ok: true, response, durationMs: 1 });
const failure = (errorType = "Error"): InvokeResult => ({ ok: false, errorType, errorMessage: "boom", durationMs: 1 });

interface Call {
    records: SqsRecord[];
    at: number;
}

/** A stand-in function: `handle` decides each outcome; every call and the concurrency are recorded. */
function fakeFunction(handle: (records: SqsRecord[], call: number) => InvokeResult | Promise<InvokeResult> = () => ok()) {
    const calls: Call[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const fn: Invocable = {
        ...FN,
        async invoke(event: unknown) {
            const records = (event as { Records: SqsRecord[] }).Records;
            const call = calls.push({ records, at: Date.now() }) - 1;
            maxInFlight = Math.max(maxInFlight, ++inFlight);
            try {
                return await handle(records, call);
            } finally {
                inFlight--;
            }
        },
    };
    return {
        fn,
        calls,
        get maxInFlight() {
            return maxInFlight;
        },
    };
}

function gate() {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { open, opened };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs}ms`);
        await sleep(10);
    }
}

const bodies = (calls: Call[]) => calls.flatMap((c) => c.records.map((r) => r.body));
const md5 = (s: string) => createHash("md5").update(s).digest("hex");

describe("local/runtime/sqs-mapping", function () {
    let emulator: Emulator;
    let sqs: SQSClient;
    let queueCount = 0;
    const mappings: SqsMapping[] = [];
    const stopping: Promise<void>[] = [];
    let counted: { name: string; by: number; reason?: string }[] = [];

    before(async () => {
        emulator = await startFauxqs();
        sqs = sqsClient(emulator);
    });

    after(async () => {
        await Promise.all(stopping);
        sqs?.destroy();
        await emulator?.stop();
    });

    afterEach(() => {
        // Stopped after every test, so a failed one leaves no poller polling; awaited once, in after(),
        // since each stop waits out its poller's last long poll (~1 s) and the queues are the tests' own.
        stopping.push(...mappings.splice(0).map((m) => m.stop()));
        counted = [];
    });

    interface Queue {
        url: string;
        /** The ARN as a plan would name it, which is not fauxqs's (account 000000000000). */
        plannedArn: string;
        dlqUrl?: string;
    }

    async function createQueue(options: { maxReceiveCount?: number; visibilityTimeoutSeconds?: number } = {}): Promise<Queue> {
        const name = `mapping-spec-${++queueCount}`;
        let redrive: Record<string, string> = {};
        let dlqUrl: string | undefined;
        if (options.maxReceiveCount !== undefined) {
            dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl!;
            const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }));
            redrive = { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount: options.maxReceiveCount }) };
        }
        const { QueueUrl } = await sqs.send(
            new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? VISIBILITY_MS / 1000), ...redrive } }),
        );
        return { url: QueueUrl!, plannedArn: `arn:aws:sqs:${REGION}:123456789012:${name}`, dlqUrl };
    }

    async function send(queue: Queue, messages: string[]): Promise<void> {
        for (let i = 0; i < messages.length; i += 10) {
            const entries = messages.slice(i, i + 10).map((body, n) => ({ Id: `e${n}`, MessageBody: body }));
            const { Failed } = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: entries }));
            expect(Failed ?? []).to.deep.equal([]);
        }
    }

    async function counts(url: string) {
        const { Attributes: a } = await sqs.send(
            new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
        );
        return { visible: Number(a!.ApproximateNumberOfMessages), inFlight: Number(a!.ApproximateNumberOfMessagesNotVisible) };
    }

    function start(queue: Queue, fn: Invocable, settings: Record<string, unknown>, time: TimeScale = timeScale(1)): SqsMapping {
        const mapping = startSqsMapping({
            settings: { eventSourceArn: queue.plannedArn, functionName: FN.arn, ...settings },
            queueArn: queue.plannedArn,
            queueUrl: queue.url,
            sqs,
            fn,
            time,
            region: REGION,
            counter: { add: (name, by = 1, reason) => counted.push({ name, by, reason }) },
        });
        mappings.push(mapping);
        return mapping;
    }

    describe("delivery", () => {
        it("delivers every message once, in batches of at most batchSize, and deletes each one", async () => {
            const queue = await createQueue();
            const sent = Array.from({ length: 23 }, (_, i) => `message-${i}`);
            await send(queue, sent);
            const f = fakeFunction();

            const mapping = start(queue, f.fn, { batchSize: 4, maximumBatchingWindowInSeconds: 0 });
            await mapping.idle(10_000);

            const sizes = f.calls.map((c) => c.records.length);
            expect(Math.max(...sizes)).to.equal(4);
            expect(Math.min(...sizes)).to.be.at.least(1);
            expect(bodies(f.calls).sort()).to.deep.equal([...sent].sort());
            expect(await counts(queue.url)).to.deep.equal({ visible: 0, inFlight: 0 });
            expect(mapping.stats()).to.include({ invocations: f.calls.length, received: 23, deleted: 23, failed: 0, errors: 0 });
        });

        it("builds each record as Lambda builds an SQS record", async () => {
            const queue = await createQueue();
            const before = Date.now();
            await sqs.send(
                new SendMessageCommand({
                    QueueUrl: queue.url,
                    MessageBody: '{"hello":"world"}',
                    MessageAttributes: {
                        trace: { DataType: "String", StringValue: "abc-123" },
                        size: { DataType: "Number", StringValue: "42" },
                        blob: { DataType: "Binary", BinaryValue: Buffer.from([0, 1, 254, 255]) },
                    },
                }),
            );
            const f = fakeFunction();

            await start(queue, f.fn, {}).idle(10_000);

            expect(f.calls).to.have.length(1);
            const [record] = f.calls[0].records;
            expect(Object.keys(record)).to.deep.equal([
                "messageId",
                "receiptHandle",
                "body",
                "attributes",
                "messageAttributes",
                "md5OfMessageAttributes",
                "md5OfBody",
                "eventSource",
                "eventSourceARN",
                "awsRegion",
            ]);
            expect(record.body).to.equal('{"hello":"world"}');
            expect(record.md5OfBody).to.equal(md5('{"hello":"world"}'));
            expect(record.md5OfMessageAttributes).to.match(/^[0-9a-f]{32}$/);
            expect(record.eventSource).to.equal("aws:sqs");
            expect(record.eventSourceARN).to.equal(queue.plannedArn);
            expect(record.awsRegion).to.equal(REGION);
            expect(record.messageId).to.match(/^[0-9a-f-]{36}$/);
            expect(record.receiptHandle).to.be.a("string").and.not.empty;

            expect(Object.keys(record.attributes).slice(0, 4)).to.deep.equal(["ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"]);
            expect(record.attributes.ApproximateReceiveCount).to.equal("1");
            expect(record.attributes.SenderId).to.be.a("string").and.not.empty;
            const sentAt = Number(record.attributes.SentTimestamp);
            expect(sentAt).to.be.within(before, f.calls[0].at);
            expect(Number(record.attributes.ApproximateFirstReceiveTimestamp)).to.be.within(sentAt, f.calls[0].at);

            expect(record.messageAttributes).to.deep.equal({
                trace: { stringValue: "abc-123", stringListValues: [], binaryListValues: [], dataType: "String" },
                size: { stringValue: "42", stringListValues: [], binaryListValues: [], dataType: "Number" },
                blob: { binaryValue: Buffer.from([0, 1, 254, 255]).toString("base64"), stringListValues: [], binaryListValues: [], dataType: "Binary" },
            });
        });

        it("gives a message without attributes an empty messageAttributes and a null md5OfMessageAttributes", async () => {
            const queue = await createQueue();
            await send(queue, ["plain"]);
            const f = fakeFunction();

            await start(queue, f.fn, {}).idle(10_000);

            expect(f.calls[0].records[0]).to.include({ md5OfMessageAttributes: null });
            expect(f.calls[0].records[0].messageAttributes).to.deep.equal({});
        });
    });

    describe("batching window", () => {
        // 5 s of AWS time as 500 ms of wall time.
        const time = timeScale(0.1);
        const windowMs = 500;

        async function sendSpread(queue: Queue, n: number): Promise<number> {
            const first = Date.now();
            for (let i = 0; i < n; i++) {
                await send(queue, [`spread-${i}`]);
                await sleep(40);
            }
            return first;
        }

        it("gathers messages sent over a short period into one batch, invoking once the window ends", async () => {
            const queue = await createQueue();
            const f = fakeFunction();
            const mapping = start(queue, f.fn, { batchSize: 10, maximumBatchingWindowInSeconds: 5 }, time);

            const firstSent = await sendSpread(queue, 5);
            await mapping.idle(10_000);

            expect(f.calls.map((c) => c.records.length)).to.deep.equal([5]);
            expect(f.calls[0].at - firstSent).to.be.at.least(windowMs - 50);
        });

        it("without a window, invokes with what one receive returned (the same messages make several batches)", async () => {
            const queue = await createQueue();
            const f = fakeFunction();
            const mapping = start(queue, f.fn, { batchSize: 10, maximumBatchingWindowInSeconds: 0 }, time);

            await sendSpread(queue, 5);
            await mapping.idle(10_000);

            expect(f.calls.length).to.be.greaterThan(1);
            expect(bodies(f.calls)).to.have.length(5);
        });

        it("invokes as soon as the batch is full, before the window ends", async () => {
            const queue = await createQueue();
            const f = fakeFunction();
            // 8 s → 800 ms: far longer than a full batch needs, still within the visibility timeout.
            const mapping = start(queue, f.fn, { batchSize: 3, maximumBatchingWindowInSeconds: 8 }, time);

            await sleep(50);
            const sent = Date.now();
            await send(queue, ["a", "b", "c", "d"]);
            await until(() => f.calls.length > 0);

            expect(f.calls[0].records).to.have.length(3);
            expect(f.calls[0].at - sent).to.be.below(400);
            await mapping.idle(10_000);
            expect(bodies(f.calls).sort()).to.deep.equal(["a", "b", "c", "d"]);
            expect(mapping.stats().errors).to.equal(0);
        });

        it("reports a batching window longer than the queue's visibility timeout", async () => {
            const queue = await createQueue();
            const f = fakeFunction();
            // 15 s → 1.5 s, past the queue's 1 s: the message comes back into its own batch.
            const mapping = start(queue, f.fn, { batchSize: 10, maximumBatchingWindowInSeconds: 15 }, time);

            await send(queue, ["early"]);
            await mapping.idle(10_000);

            expect(bodies(f.calls)).to.deep.equal(["early", "early"]);
            expect(mapping.stats().lastError).to.match(/visibility timeout is shorter than the batching window/);
            expect(counted).to.deep.include({ name: "errors", by: 1, reason: "batching" });
        });
    });

    describe("concurrency", () => {
        const slow = () => fakeFunction(async () => (await sleep(150), ok()));

        it("runs at most scalingConfig.maximumConcurrency invocations at once", async () => {
            const queue = await createQueue();
            await send(queue, Array.from({ length: 8 }, (_, i) => `c-${i}`));
            const f = slow();

            const mapping = start(queue, f.fn, { batchSize: 1, scalingConfig: { maximumConcurrency: 2 } });
            await mapping.idle(10_000);

            expect(f.calls).to.have.length(8);
            expect(f.maxInFlight).to.equal(2);
            expect(mapping.stats().maxRunning).to.equal(2);
        });

        it(`runs at most ${DEFAULT_MAXIMUM_CONCURRENCY} at once when the plan sets no maximumConcurrency`, async () => {
            const queue = await createQueue();
            await send(queue, Array.from({ length: 12 }, (_, i) => `d-${i}`));
            const f = slow();

            await start(queue, f.fn, { batchSize: 1 }).idle(10_000);

            expect(f.calls).to.have.length(12);
            expect(f.maxInFlight).to.equal(DEFAULT_MAXIMUM_CONCURRENCY);
        });
    });

    describe("failures", () => {
        it("with ReportBatchItemFailures deletes the successes; the reported message returns after the visibility timeout", async () => {
            const queue = await createQueue();
            await send(queue, ["m0", "m1", "m2", "m3", "m4"]);
            const f = fakeFunction((records) =>
                ok({ batchItemFailures: records.filter((r) => r.body === "m2" && r.attributes.ApproximateReceiveCount === "1").map((r) => ({ itemIdentifier: r.messageId })) }),
            );

            const mapping = start(queue, f.fn, { batchSize: 10, functionResponseTypes: ["ReportBatchItemFailures"] });
            await until(() => f.calls.length === 1);
            await until(() => mapping.stats().deleted === 4);
            expect(await counts(queue.url)).to.deep.equal({ visible: 0, inFlight: 1 });
            await mapping.idle(10_000);

            expect(f.calls.map((c) => c.records.length)).to.deep.equal([5, 1]);
            const [first, retried] = [f.calls[0].records.find((r) => r.body === "m2")!, f.calls[1].records[0]];
            expect(retried).to.include({ body: "m2", messageId: first.messageId });
            expect(retried.attributes.ApproximateReceiveCount).to.equal("2");
            expect(f.calls[1].at - f.calls[0].at).to.be.at.least(VISIBILITY_MS - 100);
            expect(await counts(queue.url)).to.deep.equal({ visible: 0, inFlight: 0 });
            expect(mapping.stats()).to.include({ deleted: 5, failed: 1 });
            expect(counted).to.deep.include({ name: "failed", by: 1, reason: "reported in batchItemFailures" });
        });

        it("on a function error deletes nothing: the whole batch returns after the visibility timeout", async () => {
            const queue = await createQueue();
            await send(queue, ["x0", "x1", "x2"]);
            const f = fakeFunction((_, call) => (call === 0 ? failure("TypeError") : ok()));

            const mapping = start(queue, f.fn, { batchSize: 10, functionResponseTypes: ["ReportBatchItemFailures"] });
            await until(() => f.calls.length === 1);
            await sleep(300);
            expect(await counts(queue.url)).to.deep.equal({ visible: 0, inFlight: 3 });
            expect(mapping.stats().deleted).to.equal(0);
            await mapping.idle(10_000);

            const firstIds = f.calls[0].records.map((r) => r.messageId).sort();
            const later = f.calls.slice(1).flatMap((c) => c.records);
            expect(firstIds).to.have.length(3);
            expect(later.map((r) => r.messageId).sort()).to.deep.equal(firstIds);
            expect(later.map((r) => r.attributes.ApproximateReceiveCount)).to.deep.equal(["2", "2", "2"]);
            expect(f.calls[1].at - f.calls[0].at).to.be.at.least(VISIBILITY_MS - 100);
            expect(mapping.stats()).to.include({ deleted: 3, failed: 3 });
            expect(counted).to.deep.include({ name: "failed", by: 3, reason: "function error (TypeError)" });
        });

        it("moves a poison message to the DLQ after exactly maxReceiveCount receives", async () => {
            const maxReceiveCount = 3;
            const queue = await createQueue({ maxReceiveCount });
            await send(queue, ["poison", "good"]);
            const f = fakeFunction((records) => ok({ batchItemFailures: records.filter((r) => r.body === "poison").map((r) => ({ itemIdentifier: r.messageId })) }));

            await start(queue, f.fn, { batchSize: 10, functionResponseTypes: ["ReportBatchItemFailures"] }).idle(15_000);

            const sawPoison = f.calls.map((c) => c.records.find((r) => r.body === "poison")).filter((r) => r !== undefined);
            expect(sawPoison.map((r) => r!.attributes.ApproximateReceiveCount)).to.deep.equal(["1", "2", "3"]);
            expect(bodies(f.calls).filter((b) => b === "good")).to.have.length(1);
            expect(await counts(queue.url)).to.deep.equal({ visible: 0, inFlight: 0 });
            const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, MaxNumberOfMessages: 10 }));
            expect((Messages ?? []).map((m) => m.Body)).to.deep.equal(["poison"]);
        });
    });

    describe("stop", () => {
        it("waits for the running invocation, settles it, and then nothing polls or runs", async () => {
            // The invocation is held past a long poll; the message must not come back meanwhile.
            const queue = await createQueue({ visibilityTimeoutSeconds: 10 });
            await send(queue, ["before-stop"]);
            const hold = gate();
            const f = fakeFunction(async () => (await hold.opened, ok()));
            const mapping = start(queue, f.fn, {});
            await until(() => f.calls.length === 1);

            let stopped = false;
            const stopped$ = mapping.stop().then(() => (stopped = true));
            // Longer than a long poll, so polling has ended: only the invocation can hold stop() now.
            await sleep(1300);
            expect(stopped).to.equal(false);
            hold.open();
            await stopped$;

            expect(mapping.stats()).to.include({ running: 0, deleted: 1 });
            expect(await counts(queue.url)).to.deep.equal({ visible: 0, inFlight: 0 });
            await send(queue, ["after-stop"]);
            // A long poll still waiting would return with it at once.
            await sleep(300);
            expect(f.calls).to.have.length(1);
            expect(await counts(queue.url)).to.deep.equal({ visible: 1, inFlight: 0 });
        });

        it("returns within about a second while a long poll is waiting, leaving no timer behind", async () => {
            // Earlier tests' stops still pending would inflate the baseline.
            await Promise.all(stopping);
            const queue = await createQueue();
            const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
            const baseline = timers();
            const mapping = start(queue, fakeFunction().fn, { batchSize: 10, maximumBatchingWindowInSeconds: 1 });
            await sleep(100);

            const t0 = Date.now();
            await mapping.stop();

            expect(Date.now() - t0).to.be.below(1500);
            expect(timers()).to.be.at.most(baseline);
        });
    });

    describe("settleBatch", () => {
        const ids = ["a", "b", "c"];
        const rbif = (response: unknown) => settleBatch(ids, ok(response), true);
        const wholeBatchFails = (s: ReturnType<typeof settleBatch>) => {
            expect(s.delete).to.deep.equal([]);
            expect(s.retry).to.deep.equal(ids);
            expect(s.reason).to.be.a("string").and.not.empty;
        };

        it("without ReportBatchItemFailures deletes all on success, whatever the response says", () => {
            expect(settleBatch(ids, ok({ batchItemFailures: [{ itemIdentifier: "a" }] }), false)).to.deep.equal({ delete: ids, retry: [] });
        });

        it("deletes nothing on a function error, with or without ReportBatchItemFailures", () => {
            for (const report of [false, true]) {
                expect(settleBatch(ids, failure("Sandbox.Timedout"), report)).to.deep.equal({ delete: [], retry: ids, reason: "function error (Sandbox.Timedout)" });
            }
        });

        it("treats a null or empty response, and a null or empty list, as complete success", () => {
            for (const response of [null, undefined, {}, { batchItemFailures: null }, { batchItemFailures: [] }]) {
                expect(rbif(response), JSON.stringify(response)).to.deep.equal({ delete: ids, retry: [] });
            }
        });

        it("keeps exactly the reported messages, once each", () => {
            expect(rbif({ batchItemFailures: [{ itemIdentifier: "c" }, { itemIdentifier: "a" }, { itemIdentifier: "a" }] })).to.deep.equal({
                delete: ["b"],
                retry: ["a", "c"],
                reason: "reported in batchItemFailures",
            });
        });

        it("fails the whole batch on an empty, null, misnamed or unknown itemIdentifier", () => {
            for (const failures of [[{ itemIdentifier: "" }], [{ itemIdentifier: null }], [{ ItemIdentifier: "a" }], [null], [{ itemIdentifier: "a" }, { itemIdentifier: "zzz" }]]) {
                wholeBatchFails(rbif({ batchItemFailures: failures }));
            }
        });

        it("fails the whole batch on a malformed response", () => {
            for (const response of ["a", 42, true, ["a"], { batchItemFailures: "a" }, { batchItemFailures: { itemIdentifier: "a" } }]) wholeBatchFails(rbif(response));
        });
    });

    describe("settings", () => {
        const queueArn = "arn:aws:sqs:us-east-1:123456789012:uploads-images-queue-44a2530";
        const parse = (settings: Record<string, unknown>, arn = queueArn) => parseSqsMappingSettings({ eventSourceArn: arn, functionName: FN.arn, ...settings }, arn, FN, REGION);

        it("reads a planned mapping's inputs", () => {
            expect(
                parse({ batchSize: 10, functionResponseTypes: ["ReportBatchItemFailures"], maximumBatchingWindowInSeconds: 0, scalingConfig: { maximumConcurrency: 2 } }),
            ).to.deep.equal({ batchSize: 10, batchingWindowSeconds: 0, maximumConcurrency: 2, reportBatchItemFailures: true, enabled: true });
        });

        it("applies AWS's defaults to what the plan leaves out", () => {
            expect(parse({})).to.deep.equal({
                batchSize: 10,
                batchingWindowSeconds: 0,
                maximumConcurrency: DEFAULT_MAXIMUM_CONCURRENCY,
                reportBatchItemFailures: false,
                enabled: true,
            });
            expect(parse({ filterCriteria: { filters: [] }, enabled: false }).enabled).to.equal(false);
        });

        it("refuses, naming it, an input that would change behaviour and is not modelled", () => {
            const cases: [Record<string, unknown>, RegExp][] = [
                [{ filterCriteria: { filters: [{ pattern: '{"body":{"kind":["image"]}}' }] } }, /filterCriteria is not modelled/],
                [{ provisionedPollerConfig: { minimumPollers: 2 } }, /provisionedPollerConfig is not modelled/],
                [{ scalingConfig: { maximumConcurrency: 2, somethingNew: 1 } }, /scalingConfig\.somethingNew is not modelled/],
                [{ someFutureInput: true }, /someFutureInput is not modelled/],
                [{ startingPosition: "LATEST" }, /startingPosition is not valid for an SQS event source/],
                [{ maximumRetryAttempts: 2 }, /maximumRetryAttempts is not valid for an SQS event source/],
            ];
            for (const [settings, message] of cases) expect(() => parse(settings), JSON.stringify(settings)).to.throw(message);
        });

        it("refuses values AWS would reject, and a mapping wired to another queue or function", () => {
            const cases: [Record<string, unknown>, RegExp][] = [
                [{ batchSize: 11 }, /batchSize is 11, expected at most 10 unless maximumBatchingWindowInSeconds is at least 1/],
                [{ batchSize: 0 }, /batchSize is 0, expected an integer from 1 to 10000/],
                [{ maximumBatchingWindowInSeconds: 301 }, /maximumBatchingWindowInSeconds is 301/],
                [{ scalingConfig: { maximumConcurrency: 1 } }, /scalingConfig\.maximumConcurrency is 1, expected an integer from 2 to 1000/],
                [{ functionResponseTypes: ["ReportBatchItemFailure"] }, /functionResponseTypes is \["ReportBatchItemFailure"\]/],
                [{ eventSourceArn: "arn:aws:sqs:us-east-1:123456789012:other" }, /eventSourceArn is arn:aws:sqs:us-east-1:123456789012:other, expected the queue/],
                [{ functionName: "other-function" }, /functionName is other-function, expected arn:aws:lambda/],
                [{ region: "eu-west-1" }, /region is eu-west-1, expected us-east-1/],
            ];
            for (const [settings, message] of cases) expect(() => parse(settings), JSON.stringify(settings)).to.throw(message);
            expect(parse({ batchSize: 100, maximumBatchingWindowInSeconds: 1 }).batchSize).to.equal(100);
            expect(parse({ functionName: "consumer-function-1a2b3c4" }).batchSize).to.equal(10);
        });

        it("refuses a batching window or a batch over 10 on a FIFO queue", () => {
            const fifo = "arn:aws:sqs:us-east-1:123456789012:orders.fifo";
            expect(() => parse({ maximumBatchingWindowInSeconds: 1 }, fifo)).to.throw(/a FIFO queue has no batching window/);
            expect(() => parse({ batchSize: 11, maximumBatchingWindowInSeconds: 0 }, fifo)).to.throw(/batchSize is 11, expected an integer from 1 to 10\b/);
        });

        it("names the mapping in one line", () => {
            expect(() => parse({ startingPosition: "LATEST" })).to.throw(/^SQS mapping uploads-images-queue-44a2530 -> consumer-function: [^\n]+$/);
        });
    });
});
