/**
 * AWS's delivery semantics, on the local runtime: real plans started with startRuntime, the
 * functions run from their deployed archives, the stand-ins doing what SQS, SNS, Kinesis,
 * EventBridge and API Gateway do. The mapping specs (sqs-mapping, kinesis-mapping) prove each
 * rule on its own; these prove the runtime wires them into the flows the plans describe.
 *
 * Two runtimes. The dev stack with the audit logger's dynamodb:PutItem grant removed (a stack
 * transformation): every other flow of it is the dev plan's, unchanged, so the filter policy, the
 * API and the EventBridge dead letters are proved on it too. And a small Kinesis program
 * (test/fixtures/runtime/poison-stream.ts).
 */
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import * as pulumi from "@pulumi/pulumi";
import type { KinesisStreamEvent, SQSEvent } from "aws-lambda";
import { expect } from "chai";
import { evaluateStack } from "../../../local/engine";
import type { Plan, PlannedResource } from "../../../local/plan";
import { startRuntime, type LocalRuntime } from "../../../local/runtime";
import { DeliveryError } from "../../../local/runtime/event-bus";
import type { KinesisFailureRecord } from "../../../local/runtime/kinesis-mapping";
import { BISECTED, STALE, poisonStreams } from "../../fixtures/runtime/poison-stream";
import { POISON } from "../../fixtures/runtime/throws-on-poison";
import { record } from "../../support/pulumi-harness";

/** One event a mapping or the bus handed a function, and when (wall clock, in this process). */
interface Invocation<E> {
    at: number;
    event: E;
}

/** Records every event the function is invoked with; it still runs from its archive, unchanged. */
function spyOnInvocations<E>(runtime: LocalRuntime, fn: string): Invocation<E>[] {
    const local = runtime.functions.get(fn);
    if (!local) throw new Error(`no function ${fn} in the runtime (have ${[...runtime.functions.keys()].join(", ")})`);
    const seen: Invocation<E>[] = [];
    const invoke = local.invoke.bind(local);
    local.invoke = (event) => {
        seen.push({ at: Date.now(), event: event as E });
        return invoke(event);
    };
    return seen;
}

/** The function's JSON log lines. */
const jsonLogs = (runtime: LocalRuntime, fn: string): Record<string, any>[] => (runtime.logs.get(fn) ?? []).flatMap((l) => (l.startsWith("{") ? [JSON.parse(l)] : []));

function planned(plan: Plan, type: string, name: string): PlannedResource {
    const hits = plan.resources.filter((r) => r.type === type && r.name === name);
    if (hits.length !== 1) throw new Error(`expected one ${type} ${name} in the plan, found ${hits.length}`);
    return hits[0];
}

/** A stack transformation removing every statement that grants `action` from the policy of the resource named `name`. */
function withoutGrant(name: string, action: string): pulumi.ResourceTransformation {
    return (args) => {
        if (args.name !== name) return undefined;
        const policy = pulumi.output(args.props.policy as pulumi.Input<string>).apply((text) => {
            const doc = JSON.parse(text) as { Statement: { Action?: string | string[] }[] };
            const kept = doc.Statement.filter((s) => ![s.Action ?? []].flat().includes(action));
            if (kept.length === doc.Statement.length) throw new Error(`${name}: no statement grants ${action}`);
            return JSON.stringify({ ...doc, Statement: kept });
        });
        return { props: { ...args.props, policy }, opts: args.opts };
    };
}

describe("local runtime semantics: the dev stack, its audit logger without dynamodb:PutItem", function () {
    this.timeout(60_000);
    const AUDIT_FN = "uploads-audit-consumer-function";
    const IMAGES_FN = "uploads-images-consumer-function";
    const TEXT_KEY = "semantics/notes.txt";
    const IMAGE_KEY = "semantics/photo.png";

    let plan: Plan;
    let runtime: LocalRuntime;
    /** When on, every EventBridge delivery fails as a throttled target does; the attempts, by target. */
    let failDeliveries = false;
    const faultedAttempts = new Map<string, number>();
    let auditCalls: Invocation<SQSEvent>[];
    let imagesCalls: Invocation<SQSEvent>[];
    let auditDeadLetters: { body: string }[];
    let idleError: Error | undefined;

    before(async () => {
        plan = await evaluateStack({ stack: "dev", transformations: [withoutGrant("uploads-audit-consumer-policy", "dynamodb:PutItem")] });
        runtime = await startRuntime({
            plan,
            // EventBridge's 24 retries back off over ~19 minutes: about a second here.
            timeScale: 0.001,
            faults: {
                eventTarget: (target) => {
                    if (!failDeliveries) return undefined;
                    faultedAttempts.set(target.name, (faultedAttempts.get(target.name) ?? 0) + 1);
                    return new DeliveryError("ThrottlingException", "Rate exceeded (injected by the spec)", true);
                },
            },
        });
        auditCalls = spyOnInvocations(runtime, AUDIT_FN);
        imagesCalls = spyOnInvocations(runtime, IMAGES_FN);
        const bucket = String(plan.outputs.s3_bucket_name);
        await runtime.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: TEXT_KEY, Body: "not an image" }));
        await runtime.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: IMAGE_KEY, Body: "png?" }));
        // The tests say what did not settle; the hook only waits.
        idleError = await runtime.idle(30_000).then(() => undefined, (err: Error) => err);
        auditDeadLetters = await runtime.drain("uploads-audit-dlq");
    });
    after(async () => {
        await runtime?.stop();
    });

    const auditQueue = () => planned(plan, "aws:sqs/queue:Queue", "uploads-audit-queue");
    const maxReceiveCount = () => (JSON.parse(String(auditQueue().inputs.redrivePolicy)) as { maxReceiveCount: number }).maxReceiveCount;
    /** The audit function's receives of the upload of `key`: when, which message, its ApproximateReceiveCount. */
    const auditReceives = (key: string) =>
        auditCalls.flatMap((c) => c.event.Records.filter((r) => r.body.includes(`"${key}"`)).map((r) => ({ at: c.at, messageId: r.messageId, count: Number(r.attributes.ApproximateReceiveCount) })));

    it("1. does not deliver an upload the images subscription's filter policy refuses", async () => {
        expect(idleError, "the runtime settled").to.equal(undefined);
        const filter = String(planned(plan, "aws:sns/topicSubscription:TopicSubscription", "uploads-images-subscription").inputs.filterPolicy);
        expect(filter, "the planned filter admits .png and not .txt").to.include('{"suffix":".png"}').and.not.include(".txt");
        // The topic did publish the text upload: the audit subscription, which has no filter, got it.
        expect(auditReceives(TEXT_KEY).length, "audit receives of the text upload").to.be.greaterThan(0);
        const imageBodies = imagesCalls.flatMap((c) => c.event.Records.map((r) => r.body));
        expect(imageBodies.some((b) => b.includes(`"${IMAGE_KEY}"`)), "the image upload reached the images function").to.equal(true);
        // Every message the images mapping received was the image (SQS may deliver it more than once).
        expect(runtime.counters.get("mapping:uploads-images-consumer-events", "received"), "messages the images mapping received").to.equal(imageBodies.length);
        expect(imageBodies.filter((b) => !b.includes(`"${IMAGE_KEY}"`)), "images records of another upload").to.deep.equal([]);
        expect(jsonLogs(runtime, IMAGES_FN).filter((l) => JSON.stringify(l).includes(TEXT_KEY))).to.deep.equal([]);
        expect(await runtime.queueDepth("uploads-images-queue")).to.equal(0);
        expect(await runtime.queueDepth("uploads-images-dlq")).to.equal(0);
    });

    it("2. moves a message the function keeps failing to the DLQ after exactly maxReceiveCount receives", async () => {
        expect(idleError, "the runtime settled").to.equal(undefined);
        const n = maxReceiveCount();
        expect(n, "planned maxReceiveCount").to.be.at.least(2);
        for (const key of [TEXT_KEY, IMAGE_KEY]) {
            const receives = auditReceives(key);
            expect(new Set(receives.map((r) => r.messageId)).size, `${key}: one message`).to.equal(1);
            expect(receives.map((r) => r.count), `${key}: ApproximateReceiveCount of each receive`).to.deep.equal(Array.from({ length: n }, (_, i) => i + 1));
            // Each receive failed on the removed grant, in the function, as AWS would fail it.
            const failures = jsonLogs(runtime, AUDIT_FN).filter((l) => l.message === "audit write failed" && l.messageId === receives[0].messageId);
            expect(failures.length, `${key}: failed writes logged`).to.equal(n);
            for (const f of failures) expect(f.reason).to.match(/^AccessDeniedException: .*is not authorized to perform: dynamodb:PutItem/);
        }
        expect(auditDeadLetters.map((m) => (JSON.parse(m.body) as { object: { key: string } }).object.key).sort(), "the audit DLQ").to.deep.equal([IMAGE_KEY, TEXT_KEY].sort());
        expect(await runtime.queueDepth("uploads-audit-queue"), "left on the audit queue").to.equal(0);
    });

    it("3. returns a failed message only after the queue's (scaled) visibility timeout", async () => {
        expect(idleError, "the runtime settled").to.equal(undefined);
        const plannedMs = runtime.time.ms(Number(auditQueue().inputs.visibilityTimeoutSeconds));
        const { Attributes } = await runtime.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: runtime.queueUrl("uploads-audit-queue"), AttributeNames: ["VisibilityTimeout"] }));
        // The planned 180 s, scaled; SQS counts whole seconds, so the queue has it rounded, and at least 1 s.
        const visibilityMs = Number(Attributes?.VisibilityTimeout) * 1000;
        for (const key of [TEXT_KEY, IMAGE_KEY]) {
            const at = auditReceives(key).map((r) => r.at);
            expect(at.length, `${key}: receives`).to.be.at.least(2);
            // Invisibility starts when SQS answers the receive; the invocation seen here starts later,
            // by up to a few hundred ms on a loaded machine (an environment to start, a busy loop),
            // so a gap can look that much shorter. Without the timeout, gaps are tens of ms.
            const gaps = at.slice(1).map((t, i) => t - at[i]);
            for (const gap of gaps) expect(gap, `${key}: ms between receives (${gaps.join(", ")})`).to.be.at.least(Math.max(plannedMs, visibilityMs) - 250);
        }
        expect(visibilityMs, "the queue's visibility timeout, in ms").to.be.at.least(plannedMs);
    });

    it("7. answers 400 for an invalid body, 403 without a valid key and 429 past the usage plan's burst", async () => {
        const api = runtime.api.apis[0];
        const url = `${api.stageUrls.v1}/messages`;
        const key = api.keys[0].value;
        const post = async (body: string, apiKey?: string) => {
            const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(apiKey ? { "x-api-key": apiKey } : {}) }, body });
            return { status: res.status, errorType: res.headers.get("x-amzn-errortype"), body: await res.text() };
        };

        const valid = await post(JSON.stringify({ message: "hello" }), key);
        expect(valid.status, valid.body).to.equal(200);
        expect(JSON.parse(valid.body).messageId, "the queued message's id").to.match(/^[0-9a-f-]{36}$/);

        const invalid = await post(JSON.stringify({ text: "no message field" }), key);
        expect(invalid.status, invalid.body).to.equal(400);
        expect(invalid.errorType).to.equal("BadRequestException");
        // The plan's own BAD_REQUEST_BODY response, with the validator's complaint.
        expect(JSON.parse(invalid.body)).to.include({ message: "Invalid request body" }).and.have.property("errors").that.matches(/message/);

        for (const apiKey of [undefined, "not-the-key"]) {
            const forbidden = await post(JSON.stringify({ message: "hello" }), apiKey);
            expect(forbidden.status, `key ${apiKey}: ${forbidden.body}`).to.equal(403);
            expect(forbidden.errorType).to.equal("ForbiddenException");
        }

        const { burstLimit, rateLimit } = planned(plan, "aws:apigateway/usagePlan:UsagePlan", "messages-usage-plan").inputs.throttleSettings as { burstLimit: number; rateLimit: number };
        // Twice the burst plus two seconds of refill, sent at once; invalid bodies, so nothing is queued (throttling comes first).
        const started = Date.now();
        const burst = await Promise.all(Array.from({ length: 2 * burstLimit + 2 * rateLimit }, () => post("{}", key)));
        const seconds = (Date.now() - started) / 1000;
        const statuses = burst.map((r) => r.status);
        expect([...new Set(statuses)].sort(), "statuses of the burst").to.deep.equal([400, 429]);
        const throttled = burst.filter((r) => r.status === 429);
        for (const r of throttled) expect([r.errorType, JSON.parse(r.body).message]).to.deep.equal(["TooManyRequestsException", "Too Many Requests"]);
        const passed = statuses.length - throttled.length;
        // The bucket starts the burst full but for the two requests above, and refills at rateLimit a second meanwhile.
        expect(passed, `requests let through in ${seconds.toFixed(2)} s`).to.be.within(burstLimit - 2, burstLimit + Math.ceil(rateLimit * seconds) + 1);
    });

    it("8. sends an event its target keeps failing to the rule's DLQ after the planned retries, with EventBridge's attributes", async () => {
        const target = planned(plan, "aws:cloudwatch/eventTarget:EventTarget", "uploads-created-target");
        const rule = planned(plan, "aws:cloudwatch/eventRule:EventRule", "uploads-created-rule");
        const retries = (target.inputs.retryPolicy as { maximumRetryAttempts: number }).maximumRetryAttempts;
        const dlq = (target.inputs.deadLetterConfig as { arn: string }).arn;
        expect(dlq, "the target's DLQ").to.equal(planned(plan, "aws:sqs/queue:Queue", "uploads-created-undelivered-queue").outputs.arn);

        const routed: Record<string, unknown>[] = [];
        const route = runtime.bus.route.bind(runtime.bus);
        runtime.bus.route = (event) => {
            routed.push(event);
            route(event);
        };
        const key = "semantics/undelivered.txt";
        failDeliveries = true;
        try {
            await runtime.clients.s3.send(new PutObjectCommand({ Bucket: String(plan.outputs.s3_bucket_name), Key: key, Body: "never delivered" }));
            await runtime.idle(20_000);
        } finally {
            failDeliveries = false;
            runtime.bus.route = route;
        }

        expect(faultedAttempts.get(target.name), "delivery attempts: the first and each retry").to.equal(retries + 1);
        const letters = await runtime.drain("uploads-created-undelivered-queue");
        expect(letters.length, "dead letters").to.equal(1);
        expect(letters[0].attributes).to.deep.include({
            RULE_ARN: String(rule.outputs.arn),
            TARGET_ARN: String(target.inputs.arn),
            ERROR_CODE: "ThrottlingException",
            ERROR_MESSAGE: "Rate exceeded (injected by the spec)",
            RETRY_ATTEMPTS: String(retries),
            EXHAUSTED_RETRY_CONDITION: "MaximumRetryAttempts",
        });
        // The event as the bus received it, not the target's transformed input.
        expect(routed.length, "events routed").to.equal(1);
        expect(JSON.parse(letters[0].body)).to.deep.equal(routed[0]);
        expect((routed[0].detail as { object: { key: string } }).object.key).to.equal(key);
        expect(auditReceives(key), "audit receives of the undelivered upload").to.deep.equal([]);
    });
});

describe("local runtime semantics: Kinesis error handling (test/fixtures/runtime/poison-stream.ts)", function () {
    this.timeout(60_000);
    const FN = "stream-consumer-function";
    const GOOD = ["good-1", "good-2", "good-3", "good-4"];
    /** Stale records: the poison first, then two that wait behind it in the shard (batches of one). */
    const STALE_DATA = [POISON, "late-1", "late-2"];

    let plan: Plan;
    let runtime: LocalRuntime;
    let calls: Invocation<KinesisStreamEvent>[];
    /** Sequence number → data, of every record put. */
    const dataOf = new Map<string, string>();
    let bisectedSequences: string[];
    let staleSequences: string[];
    let bisectedFailures: { body: string }[];
    let staleFailures: { body: string }[];
    let bisectedIdle: Error | undefined;
    let staleIdle: Error | undefined;

    const put = async (stream: string, data: string[]) => {
        const out = await runtime.clients.kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: data.map((d, i) => ({ PartitionKey: `key-${i}`, Data: Buffer.from(d) })) }));
        expect(out.FailedRecordCount ?? 0).to.equal(0);
        const sequences = out.Records!.map((r) => r.SequenceNumber!);
        sequences.forEach((s, i) => dataOf.set(s, data[i]));
        return sequences;
    };
    // By stream and sequence number: the two streams' shards number their records independently.
    const invocationsOf = (sequence: string, streamArn?: string) =>
        calls.filter((c) => c.event.Records.some((r) => r.kinesis.sequenceNumber === sequence && (streamArn === undefined || r.eventSourceARN === streamArn)));

    before(async () => {
        plan = await record(poisonStreams);
        runtime = await startRuntime({ plan, timeScale: 0.01 });
        calls = spyOnInvocations(runtime, FN);
        // One call: one shard, in order, read into one batch.
        bisectedSequences = await put(String(plan.outputs.bisectedStream), [GOOD[0], GOOD[1], POISON, GOOD[2], GOOD[3]]);
        bisectedIdle = await runtime.idle(15_000).then(() => undefined, (err: Error) => err);
        bisectedFailures = await runtime.drain("bisected-failures");
        // After the first flow, so the function is warm and the stale poison is retried for all of its age.
        staleSequences = await put(String(plan.outputs.staleStream), STALE_DATA);
        staleIdle = await runtime.idle(15_000).then(() => undefined, (err: Error) => err);
        staleFailures = await runtime.drain("stale-failures");
    });
    after(async () => {
        await runtime?.stop();
    });

    it("4. bisects a failing batch down to the failing record, and processes every other record once", () => {
        expect(bisectedIdle, "the runtime settled").to.equal(undefined);
        const stream = String(plan.outputs.bisectedStream);
        const ofStream = calls.filter((c) => c.event.Records[0].eventSourceARN.endsWith(`/${stream}`));
        const poison = bisectedSequences[2];
        expect(ofStream[0].event.Records.length, "the first batch holds all five records").to.equal(5);
        // Retries count only once the poison is alone: bisecting does not spend them.
        const alone = ofStream.filter((c) => c.event.Records.length === 1 && c.event.Records[0].kinesis.sequenceNumber === poison);
        expect(alone.length, "invocations of the poison alone").to.equal(BISECTED.maximumRetryAttempts + 1);
        const processed = jsonLogs(runtime, FN).filter((l) => l.message === "processed" && l.stream === stream);
        expect(processed.map((l) => l.data).sort(), "records processed").to.deep.equal([...GOOD].sort());

        expect(bisectedFailures.length, "on-failure messages").to.equal(1);
        const failure = JSON.parse(bisectedFailures[0].body) as KinesisFailureRecord;
        expect(failure.requestContext.condition).to.equal("RetryAttemptsExhausted");
        expect(failure.KinesisBatchInfo).to.include({ batchSize: 1, startSequenceNumber: poison, endSequenceNumber: poison });
        expect(failure.requestContext.approximateInvokeCount, "invocations the poison was part of").to.equal(invocationsOf(poison, failure.KinesisBatchInfo.streamArn).length);
    });

    it("5. sends the on-failure destination metadata only: the batch's place in the shard, never a record's data", () => {
        expect(bisectedIdle, "the runtime settled").to.equal(undefined);
        const messages = [...bisectedFailures, ...staleFailures];
        expect(messages.length).to.be.greaterThan(0);
        const functionArn = planned(plan, "aws:lambda/function:Function", FN).outputs.arn;
        const streamArns = ["bisected", "stale"].map((s) => planned(plan, "aws:kinesis/stream:Stream", s).outputs.arn);
        const keysDeep = (v: unknown): string[] => (v && typeof v === "object" ? Object.entries(v).flatMap(([k, x]) => [k, ...keysDeep(x)]) : []);
        for (const m of messages) {
            const failure = JSON.parse(m.body) as KinesisFailureRecord;
            expect(Object.keys(failure).sort()).to.deep.equal(["KinesisBatchInfo", "requestContext", "timestamp", "version", ...(failure.responseContext ? ["responseContext"] : [])].sort());
            expect(failure.requestContext.functionArn).to.equal(functionArn);
            expect(streamArns).to.include(failure.KinesisBatchInfo.streamArn);
            expect(keysDeep(failure).map((k) => k.toLowerCase()), "fields").to.not.include.members(["data", "records", "partitionkey"]);
            for (const data of dataOf.values()) {
                expect(m.body, "a record's data").to.not.include(data);
                expect(m.body, "a record's data, base64").to.not.include(Buffer.from(data).toString("base64"));
            }
        }
    });

    it("6. sends records older than the (scaled) age limit there as RecordAgeExceeded, never invoking the function with them", () => {
        expect(staleIdle, "the runtime settled").to.equal(undefined);
        const stream = String(plan.outputs.staleStream);
        const limitMs = runtime.time.ms(STALE.maximumRecordAgeInSeconds);
        const failures = staleFailures.map((m) => JSON.parse(m.body) as KinesisFailureRecord);
        expect(failures.map((f) => f.KinesisBatchInfo.startSequenceNumber), "one on-failure message per stale record, in order").to.deep.equal(staleSequences);

        for (const f of failures) {
            const sequence = f.KinesisBatchInfo.startSequenceNumber;
            const data = dataOf.get(sequence)!;
            const arrival = Date.parse(f.KinesisBatchInfo.approximateArrivalOfFirstRecord);
            expect(f.requestContext.condition, data).to.equal("RecordAgeExceeded");
            expect(f.KinesisBatchInfo).to.include({ batchSize: 1, endSequenceNumber: sequence });
            expect(Date.parse(f.timestamp) - arrival, `${data}: age when given up`).to.be.greaterThan(limitMs);
            // Every invocation with the record came while it was young enough (ms of arrival, rounded).
            const invocations = invocationsOf(sequence, f.KinesisBatchInfo.streamArn);
            for (const c of invocations) expect(c.at - arrival, `${data}: age when invoked`).to.be.at.most(limitMs + 1);
            expect(f.requestContext.approximateInvokeCount, `${data}: invocations`).to.equal(invocations.length);
        }
        // Only its age ended the poison (it is retried without end): the function kept failing it until then.
        const poison = failures[0];
        expect(poison.requestContext.approximateInvokeCount, "invocations of the stale poison").to.be.at.least(2);
        expect(poison.responseContext).to.deep.equal({ statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" });
        // The two behind it arrived with it (one PutRecords), so they aged out before their turn: never invoked.
        for (const late of failures.slice(1)) {
            expect(late.KinesisBatchInfo.approximateArrivalOfFirstRecord, "arrived with the poison").to.equal(poison.KinesisBatchInfo.approximateArrivalOfFirstRecord);
            expect(late.requestContext.approximateInvokeCount).to.equal(0);
            expect(late.responseContext, "no invocation to report on").to.equal(undefined);
        }
        expect(jsonLogs(runtime, FN).filter((l) => l.message === "processed" && l.stream === stream)).to.deep.equal([]);
    });
});
