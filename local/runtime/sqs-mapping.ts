/**
 * A Lambda event source mapping for one SQS queue, as the Lambda service runs one: poll the queue,
 * gather a batch (batch size, batching window), invoke the function with Lambda's SQS event, then
 * delete what succeeded. Failed messages are left in flight, so the queue itself (fauxqs) returns
 * them after its visibility timeout and, past the redrive policy's maxReceiveCount, moves them to
 * the DLQ: receives and redrive stay the queue's business, as they are on AWS.
 */
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, Message, MessageAttributeValue, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Counter, Invocable, InvokeResult, TimeScale, sleep } from "./types";

/**
 * Concurrent invocations when the plan sets no scalingConfig.maximumConcurrency. AWS starts an SQS
 * mapping at five concurrent batches and scales up from there with the backlog; locally five stays
 * the cap, which is enough to show contention without starting dozens of environments.
 */
export const DEFAULT_MAXIMUM_CONCURRENCY = 5;
/** AWS's defaults and limits for an SQS source (CreateEventSourceMapping). */
const DEFAULT_BATCH_SIZE = 10;
const MAX_BATCH_SIZE = 10_000;
const MAX_FIFO_BATCH_SIZE = 10;
const MAX_BATCHING_WINDOW_SECONDS = 300;
const MIN_MAXIMUM_CONCURRENCY = 2;
const MAX_MAXIMUM_CONCURRENCY = 1_000;
/** SQS's own cap on one ReceiveMessage and one DeleteMessageBatch. */
const SQS_BATCH_MAX = 10;
/** A short long poll, so stop() is never kept waiting for more than about a second. */
const POLL_WAIT_SECONDS = 1;
/** Between short polls while a batching window shorter than a long poll is still open. */
const SHORT_POLL_PAUSE_MS = 10;
/** After a failed receive (queue gone, emulator stopping): retry, but not in a tight loop. */
const ERROR_BACKOFF_MS = 200;
const IDLE_CHECK_MS = 25;
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** Inputs of aws:lambda/eventSourceMapping that have no behaviour for an SQS source here. */
const INERT_SETTINGS = new Set(["eventSourceArn", "functionName", "tags", "tagsAll", "kmsKeyArn", "metricsConfig"]);
/** Inputs AWS accepts only for streams, Kafka, MQ or DocumentDB sources: it rejects them for SQS. */
const NOT_FOR_SQS = new Set([
    "amazonManagedKafkaEventSourceConfig",
    "bisectBatchOnFunctionError",
    "destinationConfig",
    "documentDbEventSourceConfig",
    "maximumRecordAgeInSeconds",
    "maximumRetryAttempts",
    "parallelizationFactor",
    "queues",
    "selfManagedEventSource",
    "selfManagedKafkaEventSourceConfig",
    "sourceAccessConfigurations",
    "startingPosition",
    "startingPositionTimestamp",
    "topics",
    "tumblingWindowInSeconds",
]);

export interface SqsMappingOptions {
    /** The mapping's planned inputs (aws:lambda/eventSourceMapping:EventSourceMapping). */
    settings: Record<string, unknown>;
    /** The queue's ARN as the plan names it: the records' eventSourceARN. */
    queueArn: string;
    /** The queue's URL on fauxqs. */
    queueUrl: string;
    sqs: SQSClient;
    fn: Invocable;
    /** Scales the batching window; the visibility timeout is the queue's own attribute. */
    time: TimeScale;
    /** Counts invocations, received, deleted, failed (with the reason) and errors (with what failed). */
    counter?: Counter;
    /** The records' awsRegion. */
    region: string;
}

export interface SqsMappingStats {
    invocations: number;
    /** Messages received, redeliveries included. */
    received: number;
    deleted: number;
    /** Messages left on the queue for redelivery after an invocation. */
    failed: number;
    /** Invocations running now, and the most that ran at once. */
    running: number;
    maxRunning: number;
    /** Receive or delete requests that failed; the last one's message. */
    errors: number;
    lastError?: string;
}

export interface SqsMapping {
    /** Ends polling (within about a second), invokes what was already received, and waits for every invocation to settle. */
    stop(): Promise<void>;
    /**
     * Resolves once the queue holds nothing visible, in flight or delayed and no invocation runs;
     * rejects after `timeoutMs` naming what is left. The queue's in-flight count is taken as this
     * mapping's: locally the mapping is the queue's only consumer.
     */
    idle(timeoutMs?: number): Promise<void>;
    stats(): SqsMappingStats;
}

/** The mapping's behaviour, from its planned inputs. */
export interface SqsMappingConfig {
    batchSize: number;
    /** In AWS seconds, before scaling. */
    batchingWindowSeconds: number;
    maximumConcurrency: number;
    reportBatchItemFailures: boolean;
    enabled: boolean;
}

/**
 * Validates a mapping's planned inputs against AWS's rules for an SQS source. An input that would
 * change behaviour and is not modelled is refused, never ignored: a local run must not pass
 * because it skipped something the cloud would do.
 */
export function parseSqsMappingSettings(
    settings: Record<string, unknown>,
    queueArn: string,
    fn: Pick<Invocable, "arn" | "name">,
    region: string,
): SqsMappingConfig {
    const label = mappingLabel(queueArn, fn.name);
    const fail = (what: string): never => {
        throw new Error(`${label}: ${what}`);
    };
    const given = (key: string) => settings[key] !== undefined && settings[key] !== null;
    const fifo = queueArn.endsWith(".fifo");

    for (const key of Object.keys(settings)) {
        // Pulumi's bookkeeping (e.g. __defaults) is not an input.
        if (key.startsWith("__") || !given(key) || INERT_SETTINGS.has(key)) continue;
        if (NOT_FOR_SQS.has(key)) fail(`${key} is not valid for an SQS event source (expected it unset)`);
        if (!["region", "batchSize", "maximumBatchingWindowInSeconds", "scalingConfig", "functionResponseTypes", "enabled", "filterCriteria", "provisionedPollerConfig"].includes(key)) {
            fail(`${key} is not modelled by the local SQS mapping (expected it unset)`);
        }
    }

    if (given("eventSourceArn") && settings.eventSourceArn !== queueArn) fail(`eventSourceArn is ${String(settings.eventSourceArn)}, expected the queue ${queueArn}`);
    if (given("functionName")) {
        const name = String(settings.functionName);
        // Lambda accepts the function's ARN or its bare name; a qualifier (alias, version) would pick other code.
        if (name !== fn.arn && !fn.arn.endsWith(`:function:${name}`)) fail(`functionName is ${name}, expected ${fn.arn}`);
    }

    if (given("region") && settings.region !== region) fail(`region is ${String(settings.region)}, expected ${region}`);

    const filters = (settings.filterCriteria as { filters?: unknown[] } | undefined)?.filters;
    if (given("filterCriteria") && (typeof settings.filterCriteria !== "object" || (filters !== undefined && filters !== null && (!Array.isArray(filters) || filters.length > 0)))) {
        fail("filterCriteria is not modelled by the local SQS mapping (expected no filters)");
    }
    if (given("provisionedPollerConfig")) fail("provisionedPollerConfig is not modelled by the local SQS mapping (expected it unset)");

    const integer = (key: string, value: unknown, min: number, max: number): number => {
        if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) fail(`${key} is ${JSON.stringify(value)}, expected an integer from ${min} to ${max}`);
        return value as number;
    };
    const batchSize = given("batchSize") ? integer("batchSize", settings.batchSize, 1, fifo ? MAX_FIFO_BATCH_SIZE : MAX_BATCH_SIZE) : DEFAULT_BATCH_SIZE;
    const batchingWindowSeconds = given("maximumBatchingWindowInSeconds")
        ? integer("maximumBatchingWindowInSeconds", settings.maximumBatchingWindowInSeconds, 0, MAX_BATCHING_WINDOW_SECONDS)
        : 0;
    if (fifo && batchingWindowSeconds > 0) fail(`maximumBatchingWindowInSeconds is ${batchingWindowSeconds}, expected 0: a FIFO queue has no batching window`);
    if (batchSize > SQS_BATCH_MAX && batchingWindowSeconds === 0) fail(`batchSize is ${batchSize}, expected at most ${SQS_BATCH_MAX} unless maximumBatchingWindowInSeconds is at least 1`);

    let maximumConcurrency = DEFAULT_MAXIMUM_CONCURRENCY;
    if (given("scalingConfig")) {
        const scaling = settings.scalingConfig;
        if (typeof scaling !== "object" || Array.isArray(scaling)) fail(`scalingConfig is ${JSON.stringify(scaling)}, expected an object`);
        const { maximumConcurrency: max, ...rest } = scaling as Record<string, unknown>;
        const extra = Object.keys(rest).filter((k) => rest[k] !== undefined && rest[k] !== null);
        if (extra.length) fail(`scalingConfig.${extra[0]} is not modelled by the local SQS mapping (expected only maximumConcurrency)`);
        if (max !== undefined && max !== null) maximumConcurrency = integer("scalingConfig.maximumConcurrency", max, MIN_MAXIMUM_CONCURRENCY, MAX_MAXIMUM_CONCURRENCY);
    }

    let reportBatchItemFailures = false;
    if (given("functionResponseTypes")) {
        const types = settings.functionResponseTypes;
        if (!Array.isArray(types) || types.some((t) => t !== "ReportBatchItemFailures")) {
            fail(`functionResponseTypes is ${JSON.stringify(types)}, expected [] or ["ReportBatchItemFailures"]`);
        }
        reportBatchItemFailures = (types as unknown[]).length > 0;
    }

    if (given("enabled") && typeof settings.enabled !== "boolean") fail(`enabled is ${JSON.stringify(settings.enabled)}, expected a boolean`);
    const enabled = settings.enabled !== false;

    return { batchSize, batchingWindowSeconds, maximumConcurrency, reportBatchItemFailures, enabled };
}

/** A message attribute as Lambda puts it in an SQS record. */
export interface SqsRecordMessageAttribute {
    stringValue?: string;
    /** Base64. */
    binaryValue?: string;
    stringListValues: string[];
    binaryListValues: string[];
    dataType: string;
}

/** One record of the event Lambda sends for an SQS source, keys in Lambda's order. */
export interface SqsRecord {
    messageId: string;
    receiptHandle: string;
    body: string;
    attributes: Record<string, string>;
    messageAttributes: Record<string, SqsRecordMessageAttribute>;
    md5OfMessageAttributes: string | null;
    md5OfBody: string;
    eventSource: "aws:sqs";
    eventSourceARN: string;
    awsRegion: string;
}

// The system attributes every record carries, in the order Lambda writes them; others follow.
const RECORD_ATTRIBUTE_ORDER = ["ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"];

/** Builds the record Lambda builds from a received message. */
export function toSqsRecord(message: Message, queueArn: string, region: string): SqsRecord {
    const received = message.Attributes ?? {};
    const attributes: Record<string, string> = {};
    for (const name of RECORD_ATTRIBUTE_ORDER) if (received[name as keyof typeof received] !== undefined) attributes[name] = received[name as keyof typeof received]!;
    for (const [name, value] of Object.entries(received)) if (!(name in attributes) && value !== undefined) attributes[name] = value;

    const messageAttributes: Record<string, SqsRecordMessageAttribute> = {};
    for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) messageAttributes[name] = toRecordAttribute(value);

    return {
        messageId: message.MessageId ?? "",
        receiptHandle: message.ReceiptHandle ?? "",
        body: message.Body ?? "",
        attributes,
        messageAttributes,
        md5OfMessageAttributes: message.MD5OfMessageAttributes ?? null,
        md5OfBody: message.MD5OfBody ?? "",
        eventSource: "aws:sqs",
        eventSourceARN: queueArn,
        awsRegion: region,
    };
}

function toRecordAttribute(value: MessageAttributeValue): SqsRecordMessageAttribute {
    const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
    return {
        ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
        ...(value.BinaryValue !== undefined ? { binaryValue: base64(value.BinaryValue) } : {}),
        stringListValues: value.StringListValues ?? [],
        binaryListValues: (value.BinaryListValues ?? []).map(base64),
        dataType: value.DataType ?? "String",
    };
}

/** What to do with a batch's messages once the invocation is over. */
export interface Settlement {
    /** Message ids to delete. */
    delete: string[];
    /** Message ids left in flight, to come back after the visibility timeout. */
    retry: string[];
    /** Why `retry` is not empty, in a word or a line. */
    reason?: string;
}

/**
 * Lambda's rule for an SQS batch. Without ReportBatchItemFailures: success deletes the whole batch,
 * an error deletes nothing. With it, the response is read as { batchItemFailures: [{ itemIdentifier }] }:
 * a null or empty response or list is complete success; the reported message ids are kept; an
 * empty, missing or unknown itemIdentifier, or a response of another shape, fails the whole batch
 * (failing safe: redelivered, never lost).
 */
export function settleBatch(messageIds: readonly string[], result: InvokeResult, reportBatchItemFailures: boolean): Settlement {
    const all = [...messageIds];
    const success: Settlement = { delete: all, retry: [] };
    const failAll = (reason: string): Settlement => ({ delete: [], retry: all, reason });
    if (!result.ok) return failAll(`function error (${result.errorType})`);
    if (!reportBatchItemFailures) return success;

    const response = result.response;
    if (response === null || response === undefined) return success;
    if (typeof response !== "object" || Array.isArray(response)) return failAll("malformed response: expected an object with batchItemFailures");
    const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
    if (failures === null || failures === undefined) return success;
    if (!Array.isArray(failures)) return failAll("malformed response: batchItemFailures is not a list");

    const inBatch = new Set(messageIds);
    const reported = new Set<string>();
    for (const failure of failures) {
        const id = typeof failure === "object" && failure !== null ? (failure as { itemIdentifier?: unknown }).itemIdentifier : undefined;
        if (typeof id !== "string" || id === "") return failAll("malformed response: an itemIdentifier is missing or empty");
        if (!inBatch.has(id)) return failAll(`itemIdentifier ${id} is not in the batch`);
        reported.add(id);
    }
    if (reported.size === 0) return success;
    return { delete: all.filter((id) => !reported.has(id)), retry: all.filter((id) => reported.has(id)), reason: "reported in batchItemFailures" };
}

/** Starts polling (unless the plan disables the mapping). */
export function startSqsMapping(o: SqsMappingOptions): SqsMapping {
    return new SqsPoller(o, parseSqsMappingSettings(o.settings, o.queueArn, o.fn, o.region));
}

function mappingLabel(queueArn: string, functionName: string): string {
    return `SQS mapping ${queueArn.split(":").pop()} -> ${functionName}`;
}

function oneLine(err: unknown): string {
    const e = err as { name?: string; message?: string };
    return `${e?.name ?? "Error"}: ${String(e?.message ?? err).split("\n")[0]}`;
}

class SqsPoller implements SqsMapping {
    private readonly label: string;
    private readonly counters: SqsMappingStats = { invocations: 0, received: 0, deleted: 0, failed: 0, running: 0, maxRunning: 0, errors: 0 };
    private readonly running = new Set<Promise<void>>();
    /** Messages received for the batch being gathered, not yet handed to an invocation. */
    private held = 0;
    /** Bumped on every receive that returned messages and every settled invocation, so idle() can tell nothing happened while it looked. */
    private activity = 0;
    private stopping = false;
    private stopped?: Promise<void>;
    private wakeSlot?: () => void;
    private readonly pauses = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
    private readonly loop: Promise<void>;

    constructor(
        private readonly o: SqsMappingOptions,
        private readonly config: SqsMappingConfig,
    ) {
        this.label = mappingLabel(o.queueArn, o.fn.name);
        this.loop = config.enabled ? this.poll() : Promise.resolve();
    }

    stats(): SqsMappingStats {
        return { ...this.counters, running: this.running.size };
    }

    stop(): Promise<void> {
        this.stopped ??= (async () => {
            this.stopping = true;
            this.wakeSlot?.();
            for (const pause of this.pauses) {
                clearTimeout(pause.timer);
                pause.resolve();
            }
            this.pauses.clear();
            await this.loop;
            // The loop has ended, so no invocation starts after this snapshot.
            await Promise.all(this.running);
        })();
        return this.stopped;
    }

    async idle(timeoutMs = DEFAULT_IDLE_TIMEOUT_MS): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const before = this.activity;
            let left: string;
            if (this.running.size > 0 || this.held > 0) {
                left = `${this.running.size} invocation(s) running, ${this.held} message(s) being batched`;
            } else {
                const q = await this.queueCounts();
                const quiet = this.running.size === 0 && this.held === 0 && this.activity === before;
                if (q.visible + q.inFlight + q.delayed === 0 && quiet) return;
                left = `${q.visible} visible, ${q.inFlight} in flight, ${q.delayed} delayed`;
            }
            if (Date.now() >= deadline) throw new Error(`${this.label}: not idle after ${timeoutMs}ms (${left})`);
            await sleep(IDLE_CHECK_MS);
        }
    }

    private async queueCounts(): Promise<{ visible: number; inFlight: number; delayed: number }> {
        try {
            const { Attributes: a = {} } = await this.o.sqs.send(
                new GetQueueAttributesCommand({
                    QueueUrl: this.o.queueUrl,
                    AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
                }),
            );
            return {
                visible: Number(a.ApproximateNumberOfMessages ?? 0),
                inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
                delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
            };
        } catch (err) {
            throw new Error(`${this.label}: could not read the queue's message counts (${oneLine(err)})`);
        }
    }

    private async poll(): Promise<void> {
        while (!this.stopping) {
            if (this.running.size >= this.config.maximumConcurrency) {
                // Receive only when an invocation can start: received messages wait on the visibility clock.
                await new Promise<void>((resolve) => (this.wakeSlot = resolve));
                this.wakeSlot = undefined;
                continue;
            }
            let batch: Message[];
            try {
                batch = await this.gather();
            } catch (err) {
                this.error("receive", err);
                await this.pause(ERROR_BACKOFF_MS);
                continue;
            }
            this.held = 0;
            // Even when stopping: a received message is invoked, so each receive a message counts is an invocation it saw.
            if (batch.length > 0) this.dispatch(batch);
        }
    }

    /** One batch: the first receive waits for any message; the batching window then runs from it. */
    private async gather(): Promise<Message[]> {
        const { batchSize, batchingWindowSeconds } = this.config;
        const batch: Message[] = [];
        while (!this.stopping && batch.length === 0) batch.push(...(await this.receive(batchSize, POLL_WAIT_SECONDS)));
        this.held = batch.length;
        if (batch.length === 0 || batchingWindowSeconds === 0) return batch;

        const deadline = Date.now() + this.o.time.ms(batchingWindowSeconds);
        while (!this.stopping && batch.length < batchSize) {
            const remaining = deadline - Date.now();
            if (remaining <= 0) break;
            // WaitTimeSeconds is whole seconds: a window with less than one left is short-polled.
            const wait = remaining >= 1000 ? POLL_WAIT_SECONDS : 0;
            let got: Message[];
            try {
                got = await this.receive(batchSize - batch.length, wait);
            } catch (err) {
                // What was gathered is in flight already: invoke it rather than strand it.
                this.error("receive", err);
                break;
            }
            if (got.some((m) => batch.some((b) => b.MessageId === m.MessageId))) {
                // Delivered as received (at least once, as SQS does); but the plan's timings are off, so say so.
                this.error("batching", new Error("a message came back while its batch was gathered: the queue's visibility timeout is shorter than the batching window"));
            }
            batch.push(...got);
            this.held = batch.length;
            if (got.length === 0 && wait === 0) await this.pause(Math.min(remaining, SHORT_POLL_PAUSE_MS));
        }
        return batch;
    }

    private async receive(max: number, waitSeconds: number): Promise<Message[]> {
        const { Messages: messages = [] } = await this.o.sqs.send(
            new ReceiveMessageCommand({
                QueueUrl: this.o.queueUrl,
                MaxNumberOfMessages: Math.min(SQS_BATCH_MAX, max),
                WaitTimeSeconds: waitSeconds,
                MessageSystemAttributeNames: ["All"],
                MessageAttributeNames: ["All"],
            }),
        );
        if (messages.length > 0) {
            this.activity++;
            this.counters.received += messages.length;
            this.o.counter?.add("received", messages.length);
        }
        return messages;
    }

    private dispatch(batch: Message[]): void {
        const run: Promise<void> = this.invoke(batch)
            // Only a throwing counter gets here; the messages are left in flight, so they come back.
            .catch((err) => this.error("invoke", err))
            .finally(() => {
                this.running.delete(run);
                this.activity++;
                this.wakeSlot?.();
            });
        this.running.add(run);
        this.counters.maxRunning = Math.max(this.counters.maxRunning, this.running.size);
    }

    /** Whatever goes wrong leaves the messages in flight, to come back after the visibility timeout. */
    private async invoke(batch: Message[]): Promise<void> {
        this.counters.invocations++;
        this.o.counter?.add("invocations");
        const event = { Records: batch.map((m) => toSqsRecord(m, this.o.queueArn, this.o.region)) };
        const started = Date.now();
        let result: InvokeResult;
        try {
            result = await this.o.fn.invoke(event);
        } catch (err) {
            const e = err as { name?: string; message?: string };
            result = { ok: false, errorType: e?.name ?? "Error", errorMessage: String(e?.message ?? err), durationMs: Date.now() - started };
        }
        const settlement = settleBatch(
            batch.map((m) => m.MessageId ?? ""),
            result,
            this.config.reportBatchItemFailures,
        );
        if (settlement.retry.length > 0) {
            this.counters.failed += settlement.retry.length;
            this.o.counter?.add("failed", settlement.retry.length, settlement.reason);
        }
        const toDelete = new Set(settlement.delete);
        await this.delete(batch.filter((m) => toDelete.has(m.MessageId ?? "")));
    }

    private async delete(messages: Message[]): Promise<void> {
        for (let i = 0; i < messages.length; i += SQS_BATCH_MAX) {
            const chunk = messages.slice(i, i + SQS_BATCH_MAX);
            try {
                const out = await this.o.sqs.send(
                    new DeleteMessageBatchCommand({
                        QueueUrl: this.o.queueUrl,
                        Entries: chunk.map((m, n) => ({ Id: `m${n}`, ReceiptHandle: m.ReceiptHandle })),
                    }),
                );
                const deleted = out.Successful?.length ?? 0;
                this.counters.deleted += deleted;
                if (deleted > 0) this.o.counter?.add("deleted", deleted);
                for (const f of out.Failed ?? []) this.error("delete", new Error(`${f.Code}: ${f.Message}`));
            } catch (err) {
                // Undeleted messages come back after the visibility timeout, as on AWS when a delete fails.
                this.error("delete", err);
            }
        }
    }

    private error(what: string, err: unknown): void {
        this.counters.errors++;
        this.counters.lastError = `${what}: ${oneLine(err)}`;
        try {
            this.o.counter?.add("errors", 1, what);
        } catch {
            // A counter that throws must not stop the poller; the error is in stats() already.
        }
    }

    /** A wait that stop() cuts short, so no timer outlives the mapping. */
    private pause(ms: number): Promise<void> {
        if (this.stopping) return Promise.resolve();
        return new Promise((resolve) => {
            const entry = {
                timer: setTimeout(() => {
                    this.pauses.delete(entry);
                    resolve();
                }, ms),
                resolve,
            };
            this.pauses.add(entry);
        });
    }
}
