/**
 * The Lambda event source mapping of one Kinesis stream, run locally against kinesis-local: it
 * polls every shard continuously, batches records as the Lambda service does, invokes the function
 * with the event Lambda builds, and applies the planned error handling (ReportBatchItemFailures,
 * bisecting, retries with backoff, maximum record age, the on-failure destination).
 *
 * The decisions (settings, batch assembly, how a response reads, what to do after an invocation,
 * the on-failure record) are small pure functions exported for direct tests; `startKinesisMapping`
 * wires them to the shards.
 *
 * Simplified against AWS: checkpoints live in memory (a stopped mapping does not resume); a
 * retried batch is the failed part of the batch as it was, not re-read from the checkpoint and
 * topped up with newer records; the retry backoff (1 s doubling to 16 s, scaled) is this module's,
 * as AWS does not publish its own; an invocation that throws instead of reporting an outcome counts
 * as a function error; no enhanced fan-out, filter criteria, tumbling windows or S3 destinations
 * (planning them throws); Kinesis read quotas are not enforced.
 */
import { createHash, randomUUID } from "crypto";
import { setMaxListeners } from "events";
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type GetShardIteratorCommandInput, type KinesisClient, type Shard, type _Record } from "@aws-sdk/client-kinesis";
import type { KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import type { Counter, Invocable, InvokeResult, TimeScale } from "./types";

/** Lambda's payload limit for a synchronous invocation; a batch never exceeds it. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** GetRecords returns at most this many records per call. */
const GET_RECORDS_LIMIT = 10_000;
/** AWS polls an idle shard once per second; scaled, but not below this, to spare kinesis-local. */
const MIN_POLL_MS = 10;
/** How often shards are polled while someone waits in idle(). */
const IDLE_POLL_MS = 5;
/** Retry backoff, in AWS seconds before scaling. */
const RETRY_BASE_SECONDS = 1;
const RETRY_CAP_SECONDS = 16;
/** Errors kept for stats() and timeout messages. */
const KEPT_ERRORS = 10;

export type StartingPosition = "TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP";
export type FailureCondition = "RetryAttemptsExhausted" | "RecordAgeExceeded";

/** The planned inputs of an aws:lambda/eventSourceMapping:EventSourceMapping on a stream, defaults applied. */
export interface KinesisMappingSettings {
    eventSourceArn?: string;
    functionName?: string;
    region?: string;
    enabled: boolean;
    startingPosition: StartingPosition;
    startingPositionTimestamp?: Date;
    batchSize: number;
    maximumBatchingWindowInSeconds: number;
    parallelizationFactor: number;
    bisectBatchOnFunctionError: boolean;
    /** -1: retry until the record expires. */
    maximumRetryAttempts: number;
    /** -1: no limit. */
    maximumRecordAgeInSeconds: number;
    reportBatchItemFailures: boolean;
    onFailureDestination?: string;
    /** Inputs present in the plan that change nothing locally (tags, metrics...). */
    ignored: string[];
}

/** Inputs that do not change what the mapping delivers, so they are accepted and listed as ignored. */
export const IGNORED_INPUTS = ["tags", "tagsAll", "kmsKeyArn", "metricsConfig", "provisionedPollerConfig", "__defaults"];
const HANDLED_INPUTS = [
    "eventSourceArn",
    "functionName",
    "region",
    "enabled",
    "startingPosition",
    "startingPositionTimestamp",
    "batchSize",
    "maximumBatchingWindowInSeconds",
    "parallelizationFactor",
    "bisectBatchOnFunctionError",
    "maximumRetryAttempts",
    "maximumRecordAgeInSeconds",
    "functionResponseTypes",
    "destinationConfig",
];

/** Validates a mapping's planned inputs as the Lambda API would for a Kinesis source; throws one line naming the input. */
export function parseKinesisMappingSettings(settings: Record<string, unknown>, label = "kinesis mapping"): KinesisMappingSettings {
    const present = Object.keys(settings).filter((k) => settings[k] !== undefined && settings[k] !== null);
    const unsupported = present.filter((k) => !HANDLED_INPUTS.includes(k) && !IGNORED_INPUTS.includes(k));
    if (unsupported.length > 0) {
        throw new Error(`${label}: input${unsupported.length > 1 ? "s" : ""} ${unsupported.join(", ")} not supported for a Kinesis source locally (expected only ${HANDLED_INPUTS.join(", ")}, or ignored ${IGNORED_INPUTS.join(", ")})`);
    }
    const get = (k: string) => (settings[k] === null ? undefined : settings[k]);
    const int = (k: string, min: number, max: number, fallback: number, also?: number): number => {
        const v = get(k);
        if (v === undefined) return fallback;
        if (typeof v !== "number" || !Number.isInteger(v) || ((v < min || v > max) && v !== also)) {
            const range = also === undefined ? `from ${min} to ${max}` : `${also} or from ${min} to ${max}`;
            throw new Error(`${label}: ${k} must be an integer ${range}, got ${JSON.stringify(v)}`);
        }
        return v;
    };
    const bool = (k: string, fallback: boolean): boolean => {
        const v = get(k);
        if (v === undefined) return fallback;
        if (typeof v !== "boolean") throw new Error(`${label}: ${k} must be a boolean, got ${JSON.stringify(v)}`);
        return v;
    };
    const str = (k: string): string | undefined => {
        const v = get(k);
        if (v === undefined) return undefined;
        if (typeof v !== "string" || v === "") throw new Error(`${label}: ${k} must be a non-empty string, got ${JSON.stringify(v)}`);
        return v;
    };

    const startingPosition = str("startingPosition");
    if (startingPosition === undefined) throw new Error(`${label}: startingPosition is required for a Kinesis source (TRIM_HORIZON, LATEST or AT_TIMESTAMP)`);
    if (!["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"].includes(startingPosition)) {
        throw new Error(`${label}: startingPosition must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, got ${JSON.stringify(startingPosition)}`);
    }
    const timestampInput = str("startingPositionTimestamp");
    let startingPositionTimestamp: Date | undefined;
    if (startingPosition === "AT_TIMESTAMP") {
        if (timestampInput === undefined) throw new Error(`${label}: startingPositionTimestamp is required with startingPosition AT_TIMESTAMP`);
        startingPositionTimestamp = new Date(timestampInput);
        if (Number.isNaN(startingPositionTimestamp.getTime())) throw new Error(`${label}: startingPositionTimestamp must be an RFC 3339 time, got ${JSON.stringify(timestampInput)}`);
    } else if (timestampInput !== undefined) {
        throw new Error(`${label}: startingPositionTimestamp applies to startingPosition AT_TIMESTAMP only, got it with ${startingPosition}`);
    }

    const types = get("functionResponseTypes");
    if (types !== undefined && (!Array.isArray(types) || types.some((t) => t !== "ReportBatchItemFailures"))) {
        throw new Error(`${label}: functionResponseTypes must be a list of "ReportBatchItemFailures", got ${JSON.stringify(types)}`);
    }

    let onFailureDestination: string | undefined;
    const destination = get("destinationConfig");
    if (destination !== undefined) {
        const d = destination as { onFailure?: { destinationArn?: unknown } | null; onSuccess?: unknown };
        if (typeof destination !== "object" || Array.isArray(destination)) throw new Error(`${label}: destinationConfig must be an object, got ${JSON.stringify(destination)}`);
        if (d.onSuccess !== undefined && d.onSuccess !== null) throw new Error(`${label}: destinationConfig.onSuccess is not available for a Kinesis source (only onFailure)`);
        const arn = d.onFailure?.destinationArn;
        if (arn !== undefined && arn !== null) {
            if (typeof arn !== "string" || !/^arn:aws[a-z-]*:(sqs|sns):/.test(arn)) {
                throw new Error(`${label}: destinationConfig.onFailure.destinationArn must be an SQS queue or SNS topic ARN, got ${JSON.stringify(arn)}`);
            }
            onFailureDestination = arn;
        }
    }

    return {
        eventSourceArn: str("eventSourceArn"),
        functionName: str("functionName"),
        region: str("region"),
        enabled: bool("enabled", true),
        startingPosition: startingPosition as StartingPosition,
        startingPositionTimestamp,
        batchSize: int("batchSize", 1, 10_000, 100),
        maximumBatchingWindowInSeconds: int("maximumBatchingWindowInSeconds", 0, 300, 0),
        parallelizationFactor: int("parallelizationFactor", 1, 10, 1),
        bisectBatchOnFunctionError: bool("bisectBatchOnFunctionError", false),
        maximumRetryAttempts: int("maximumRetryAttempts", -1, 10_000, -1),
        maximumRecordAgeInSeconds: int("maximumRecordAgeInSeconds", 60, 604_800, -1, -1),
        reportBatchItemFailures: Array.isArray(types) && types.includes("ReportBatchItemFailures"),
        onFailureDestination,
        ignored: present.filter((k) => IGNORED_INPUTS.includes(k)),
    };
}

/** A GetRecords record as the Lambda service hands it to the function. */
export function lambdaRecord(r: _Record, shardId: string, streamArn: string, region: string, invokeIdentityArn: string): KinesisStreamRecord {
    return {
        kinesis: {
            kinesisSchemaVersion: "1.0",
            partitionKey: r.PartitionKey!,
            sequenceNumber: r.SequenceNumber!,
            // The SDK hands over the bytes; Lambda delivers them base64-encoded.
            data: Buffer.from(r.Data ?? new Uint8Array()).toString("base64"),
            // Seconds, with the milliseconds as the fraction.
            approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp ?? new Date()).getTime() / 1000,
        },
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `${shardId}:${r.SequenceNumber}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn,
        awsRegion: region,
        eventSourceARN: streamArn,
    };
}

/** How many leading records make one batch: at most `batchSize`, and within the payload limit (always at least one). */
export function batchLength(recordBytes: readonly number[], batchSize: number, maxBytes = MAX_PAYLOAD_BYTES): number {
    // `{"Records":[...]}` plus a comma between records.
    let total = '{"Records":[]}'.length;
    let n = 0;
    while (n < recordBytes.length && n < batchSize) {
        const next = total + recordBytes[n] + (n > 0 ? 1 : 0);
        if (n > 0 && next > maxBytes) break;
        total = next;
        n++;
    }
    return n;
}

/** Whether the gathered records go now: a full batch, a full payload, the batching window over, or nothing more to come. */
export function batchReady(p: { queued: number; fits: number; batchSize: number; waitedMs: number; windowMs: number; sourceEnded: boolean }): boolean {
    if (p.queued === 0) return false;
    return p.fits >= p.batchSize || p.fits < p.queued || p.waitedMs >= p.windowMs || p.sourceEnded;
}

/** How many leading records are older than the maximum age (arrival order is sequence order within a shard). */
export function expiredCount(arrivalsMs: readonly number[], nowMs: number, maxAgeMs: number): number {
    if (maxAgeMs < 0) return 0;
    let n = 0;
    while (n < arrivalsMs.length && nowMs - arrivalsMs[n] > maxAgeMs) n++;
    return n;
}

/** The concurrent lane of a shard a partition key belongs to: one key, one lane, so its records stay in order. */
export function laneOf(partitionKey: string, lanes: number): number {
    if (lanes <= 1) return 0;
    return createHash("md5").update(partitionKey).digest().readUInt32BE(0) % lanes;
}

/** Backoff before retry number `retry` (1-based): exponential, capped, in the mapping's time scale. */
export function retryDelayMs(retry: number, time: TimeScale): number {
    return time.ms(Math.min(RETRY_BASE_SECONDS * 2 ** Math.max(0, retry - 1), RETRY_CAP_SECONDS));
}

/** What one invocation said about its batch. */
export type InvokeOutcome =
    | { kind: "success" }
    /** The function returned; the records from `failedAt` on failed (0: the whole batch). */
    | { kind: "partial"; failedAt: number; reason: string }
    /** The invocation failed (an error, a timeout, a crash). */
    | { kind: "functionError"; reason: string };

/**
 * Reads an invocation's result as Lambda does. Without ReportBatchItemFailures any response is a
 * success. With it: a missing, null or empty list is a success; otherwise the lowest failed
 * sequence number is where the batch failed; an itemIdentifier that is null, empty or not in the
 * batch fails the whole batch.
 */
export function interpretResult(result: InvokeResult, sequenceNumbers: readonly string[], reportBatchItemFailures: boolean): InvokeOutcome {
    if (!result.ok) return { kind: "functionError", reason: `${result.errorType}: ${result.errorMessage}` };
    if (!reportBatchItemFailures) return { kind: "success" };
    const response = result.response;
    if (response === null || typeof response !== "object") return { kind: "success" };
    const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
    if (failures === undefined || failures === null) return { kind: "success" };
    if (!Array.isArray(failures)) return { kind: "partial", failedAt: 0, reason: "batchItemFailures is not a list: the whole batch failed" };
    if (failures.length === 0) return { kind: "success" };
    let lowest = Number.POSITIVE_INFINITY;
    for (const f of failures) {
        const id = (f as { itemIdentifier?: unknown } | null)?.itemIdentifier;
        const index = typeof id === "string" && id !== "" ? sequenceNumbers.indexOf(id) : -1;
        if (index < 0) return { kind: "partial", failedAt: 0, reason: `batchItemFailures names ${JSON.stringify(id ?? null)}, not a record of the batch: the whole batch failed` };
        lowest = Math.min(lowest, index);
    }
    return { kind: "partial", failedAt: lowest, reason: `${failures.length} record(s) reported in batchItemFailures, lowest at ${sequenceNumbers[lowest]}` };
}

/** What to do with a batch after an invocation. */
export type NextStep =
    | { kind: "checkpoint" }
    /** Checkpoint before `from`, retry the records from there (the `retries`th retry) after a backoff. */
    | { kind: "retry"; from: number; retries: number }
    /** Split the batch in two and process each half separately, retries unchanged. */
    | { kind: "bisect"; at: number }
    /** Checkpoint before `from`; the records from there go to the on-failure destination. */
    | { kind: "giveUp"; from: number };

/**
 * The mapping's decision after one invocation of a batch that has been retried `retries` times.
 *
 * AWS: "Splitting a batch does not count towards the retry quota", so a function error on a batch
 * of two or more records with bisectBatchOnFunctionError splits it, both halves keeping the
 * batch's retry count; only a failure that is not split counts a retry. A partial failure
 * checkpoints before the failed record and retries from it (with bisecting on, AWS "bisects at the
 * returned sequence number", which is the same records); when that moved the checkpoint forward,
 * the rest is a new batch with no retries behind it yet. Once a retry would exceed
 * maximumRetryAttempts (-1: never), the failed records are given up.
 */
export function nextStep(outcome: InvokeOutcome, batch: { length: number; retries: number }, s: Pick<KinesisMappingSettings, "bisectBatchOnFunctionError" | "maximumRetryAttempts">): NextStep {
    if (outcome.kind === "success") return { kind: "checkpoint" };
    if (outcome.kind === "functionError" && s.bisectBatchOnFunctionError && batch.length > 1) return { kind: "bisect", at: Math.ceil(batch.length / 2) };
    const from = outcome.kind === "partial" ? outcome.failedAt : 0;
    const retries = (from > 0 ? 0 : batch.retries) + 1;
    if (s.maximumRetryAttempts >= 0 && retries > s.maximumRetryAttempts) return { kind: "giveUp", from };
    return { kind: "retry", from, retries };
}

/** The on-failure destination's record for records given up: metadata only, as Lambda sends it (no record data). */
export interface KinesisFailureRecord {
    requestContext: { requestId: string; functionArn: string; condition: FailureCondition; approximateInvokeCount: number };
    /** Absent when the records were never sent to the function (they aged out first). */
    responseContext?: { statusCode: number; executedVersion: string; functionError?: string };
    version: "1.0";
    timestamp: string;
    KinesisBatchInfo: {
        shardId: string;
        startSequenceNumber: string;
        endSequenceNumber: string;
        approximateArrivalOfFirstRecord: string;
        approximateArrivalOfLastRecord: string;
        batchSize: number;
        streamArn: string;
    };
}

export function failureRecord(p: {
    condition: FailureCondition;
    functionArn: string;
    streamArn: string;
    shardId: string;
    records: readonly { sequenceNumber: string; arrivalMs: number }[];
    approximateInvokeCount: number;
    /** The last invocation of these records, if there was one. */
    lastInvocation?: { requestId: string; result: InvokeResult };
    now: Date;
}): KinesisFailureRecord {
    const first = p.records[0];
    const last = p.records[p.records.length - 1];
    const record: KinesisFailureRecord = {
        requestContext: {
            requestId: p.lastInvocation?.requestId ?? randomUUID(),
            functionArn: p.functionArn,
            condition: p.condition,
            approximateInvokeCount: p.approximateInvokeCount,
        },
        version: "1.0",
        timestamp: p.now.toISOString(),
        KinesisBatchInfo: {
            shardId: p.shardId,
            startSequenceNumber: first.sequenceNumber,
            endSequenceNumber: last.sequenceNumber,
            approximateArrivalOfFirstRecord: new Date(first.arrivalMs).toISOString(),
            approximateArrivalOfLastRecord: new Date(last.arrivalMs).toISOString(),
            batchSize: p.records.length,
            streamArn: p.streamArn,
        },
    };
    if (p.lastInvocation) {
        // The Invoke API answers 200 for function errors too; the error shows as FunctionError "Unhandled".
        record.responseContext = { statusCode: 200, executedVersion: "$LATEST", ...(p.lastInvocation.result.ok ? {} : { functionError: "Unhandled" }) };
    }
    return record;
}

export interface KinesisMappingOptions {
    /** The mapping's planned inputs, validated here. */
    settings: Record<string, unknown>;
    mappingArn?: string;
    /** The stream's ARN as the plan names it (used in events and on-failure records). */
    streamArn: string;
    /** The stream's name on kinesis-local. */
    streamName: string;
    /** kinesis-local's client; owned by the caller (stop() does not destroy it). */
    kinesis: KinesisClient;
    fn: Invocable;
    /** The function's execution role, the event's invokeIdentityArn. Default `arn:aws:iam::<account>:role/<fn.name>`. */
    invokeIdentityArn?: string;
    /** Sends the on-failure record to the destination (an SQS queue ARN or SNS topic ARN as planned). Throws if delivery fails. */
    sendToDestination(destinationArn: string, payload: string): Promise<void>;
    /** Scales the batching window, retry backoff, maximum record age and idle polling. */
    time: TimeScale;
    counter?: Counter;
    region: string;
    account: string;
}

export interface KinesisShardStats {
    shardId: string;
    /** The last sequence number everything up to which is done (delivered, or given up). */
    checkpoint?: string;
    /** Records read and not yet done. */
    pending: number;
    /** Read to its end (a closed shard). */
    closed: boolean;
}

export interface KinesisMappingStats {
    state: "starting" | "polling" | "disabled" | "stopped";
    shards: KinesisShardStats[];
    getRecordsCalls: number;
    invocations: number;
    /** Records sent to the function, retries included. */
    recordsInvoked: number;
    functionErrors: number;
    partialFailures: number;
    retries: number;
    bisections: number;
    /** Records sent to the on-failure destination, by condition. */
    toDestination: Record<FailureCondition, number>;
    /** Records given up with no destination planned. */
    discarded: number;
    destinationErrors: number;
    /** The last few polling and delivery errors. */
    errors: string[];
    ignoredSettings: string[];
}

export interface KinesisMapping {
    readonly settings: KinesisMappingSettings;
    /** Resolves once every shard present at start has its starting position (LATEST counts from there). */
    readonly ready: Promise<void>;
    /** Ends polling (waking every wait, aborting reads) and resolves once in-flight invocations and deliveries are over. */
    stop(): Promise<void>;
    /** Resolves once every shard has been read to its current end and nothing is in flight or waiting for a retry. */
    idle(timeoutMs?: number): Promise<void>;
    stats(): KinesisMappingStats;
}

/** Starts polling `streamName` for `fn` with the planned settings (validated first: throws on what it cannot run). */
export function startKinesisMapping(o: KinesisMappingOptions): KinesisMapping {
    return new Mapping(o);
}

// ---------------------------------------------------------------------------------------------

interface Rec {
    sequenceNumber: string;
    partitionKey: string;
    arrivalMs: number;
    /** When it was read, which starts its batching window. */
    readAt: number;
    lambda: KinesisStreamRecord;
    bytes: number;
    invokes: number;
    done: boolean;
}

interface Batch {
    records: Rec[];
    retries: number;
    lastInvocation?: { requestId: string; result: InvokeResult };
}

/** Wakes waiters early: new records for a lane, room for the reader, stop(). */
class Signal {
    private waiters = new Set<() => void>();

    wake(): void {
        const waiters = [...this.waiters];
        this.waiters.clear();
        for (const w of waiters) w();
    }

    /** Resolves on wake(), after `ms` (if given), or on abort. */
    wait(abort: AbortSignal, ms?: number): Promise<void> {
        return new Promise((resolve) => {
            if (abort.aborted) return resolve();
            let timer: NodeJS.Timeout | undefined;
            const done = () => {
                if (timer) clearTimeout(timer);
                abort.removeEventListener("abort", done);
                this.waiters.delete(done);
                resolve();
            };
            this.waiters.add(done);
            abort.addEventListener("abort", done);
            if (ms !== undefined) timer = setTimeout(done, Math.max(0, ms));
        });
    }
}

interface Lane {
    queue: Rec[];
    /** The batch being worked on first, then the halves still to do after a bisect. */
    work: Batch[];
    busy: boolean;
    signal: Signal;
}

interface ShardState {
    id: string;
    parents: string[];
    /** Shards of the first listing start at the planned position; later ones (children) at TRIM_HORIZON. */
    initial: boolean;
    startIterator?: string;
    /** A starting position was taken once: taking it again must not move LATEST past records put since. */
    positioned: boolean;
    started: boolean;
    lanes: Lane[];
    /** Read records not yet done, in sequence order, for the checkpoint. */
    log: Rec[];
    checkpoint?: string;
    lastSequence?: string;
    closed: boolean;
    lanesDone: number;
    lastRead?: { startedAt: number; empty: boolean };
    space: Signal;
}

class Mapping implements KinesisMapping {
    readonly settings: KinesisMappingSettings;
    readonly ready: Promise<void>;
    private readonly label: string;
    private readonly abort = new AbortController();
    private readonly tasks = new Set<Promise<void>>();
    private readonly shards = new Map<string, ShardState>();
    private readonly poll = new Signal();
    private readonly identity: string;
    private readonly startedAt = new Date();
    private readonly readAhead: number;
    private isReady = false;
    private relisting = 0;
    private idleWaiters = 0;
    private readonly counts = {
        getRecordsCalls: 0,
        invocations: 0,
        recordsInvoked: 0,
        functionErrors: 0,
        partialFailures: 0,
        retries: 0,
        bisections: 0,
        toDestination: { RetryAttemptsExhausted: 0, RecordAgeExceeded: 0 } as Record<FailureCondition, number>,
        discarded: 0,
        destinationErrors: 0,
    };
    private readonly errors: string[] = [];

    constructor(private readonly o: KinesisMappingOptions) {
        this.label = `kinesis mapping ${o.mappingArn ?? `of ${o.streamArn}`}`;
        // Every wait and every read listens for stop(); that is by design, not a leak.
        setMaxListeners(10_000, this.abort.signal);
        this.settings = parseKinesisMappingSettings(o.settings, this.label);
        const s = this.settings;
        if (s.eventSourceArn !== undefined && s.eventSourceArn !== o.streamArn) {
            throw new Error(`${this.label}: eventSourceArn ${s.eventSourceArn} is not the stream given (${o.streamArn}); enhanced fan-out consumers are not modelled`);
        }
        if (s.region !== undefined && s.region !== o.region) throw new Error(`${this.label}: region ${s.region} is not the runtime's region ${o.region}`);
        this.identity = o.invokeIdentityArn ?? `arn:aws:iam::${o.account}:role/${o.fn.name}`;
        // Enough read ahead to fill every lane's next batch, bounded so a stalled lane does not buffer the stream.
        this.readAhead = Math.min(GET_RECORDS_LIMIT, Math.max(s.batchSize * s.parallelizationFactor * 2, 1000));
        this.ready = s.enabled ? this.track(this.begin()) : Promise.resolve();
        if (!s.enabled) this.isReady = true;
    }

    // -- lifecycle ------------------------------------------------------------------------------

    async stop(): Promise<void> {
        this.abort.abort();
        this.poll.wake();
        while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
    }

    async idle(timeoutMs = 30_000): Promise<void> {
        const since = Date.now();
        const deadline = since + timeoutMs;
        this.idleWaiters++;
        this.poll.wake();
        try {
            while (!this.idleSince(since)) {
                if (Date.now() >= deadline) {
                    const last = this.errors.length > 0 ? `; last error: ${this.errors[this.errors.length - 1]}` : "";
                    throw new Error(`${this.label}: not idle within ${timeoutMs} ms (${this.busyWith()})${last}`);
                }
                await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
            }
        } finally {
            this.idleWaiters--;
        }
    }

    stats(): KinesisMappingStats {
        return {
            state: !this.settings.enabled ? "disabled" : this.stopped ? "stopped" : this.isReady ? "polling" : "starting",
            shards: [...this.shards.values()].map((sh) => ({ shardId: sh.id, checkpoint: sh.checkpoint, pending: sh.log.length, closed: sh.closed })),
            ...this.counts,
            toDestination: { ...this.counts.toDestination },
            errors: [...this.errors],
            ignoredSettings: [...this.settings.ignored],
        };
    }

    private get stopped(): boolean {
        return this.abort.signal.aborted;
    }

    /** Runs a background task; stop() waits for it; a failure is kept as an error, never unhandled. */
    private track(p: Promise<void>): Promise<void> {
        const t = p.catch((err) => this.noteError(`internal: ${(err as Error)?.stack ?? String(err)}`));
        this.tasks.add(t);
        void t.finally(() => this.tasks.delete(t));
        return t;
    }

    private noteError(message: string): void {
        this.errors.push(message);
        if (this.errors.length > KEPT_ERRORS) this.errors.shift();
    }

    private count(name: string, by = 1, reason?: string): void {
        this.o.counter?.add(name, by, reason);
    }

    /** Pauses, returning early on stop(). */
    private pause(ms: number): Promise<void> {
        return new Signal().wait(this.abort.signal, ms);
    }

    private pollDelayMs(): number {
        return this.idleWaiters > 0 ? IDLE_POLL_MS : Math.max(MIN_POLL_MS, this.o.time.ms(1));
    }

    // -- shards ---------------------------------------------------------------------------------

    /** Lists the shards and fixes every shard's starting position, then starts polling. */
    private async begin(): Promise<void> {
        const listing = await this.retrying("listing shards", () => this.listShards());
        if (!listing) return;
        for (const shard of listing) this.shards.set(shard.ShardId!, this.shardState(shard, true));
        // Positions are taken up front, so LATEST means "after start", even for a shard that waits for its parent.
        await Promise.all(
            [...this.shards.values()].map(async (sh) => {
                sh.startIterator = await this.retrying(`positioning ${sh.id}`, () => this.iterator(sh));
            }),
        );
        if (this.stopped) return;
        this.isReady = true;
        this.startEligible();
    }

    private shardState(shard: Shard, initial: boolean): ShardState {
        return {
            id: shard.ShardId!,
            parents: [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => !!p),
            initial,
            positioned: false,
            started: false,
            lanes: [],
            log: [],
            closed: false,
            lanesDone: 0,
            space: new Signal(),
        };
    }

    private async listShards(): Promise<Shard[]> {
        const shards: Shard[] = [];
        let token: string | undefined;
        do {
            const out = await this.o.kinesis.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: this.o.streamName }), { abortSignal: this.abort.signal });
            shards.push(...(out.Shards ?? []));
            token = out.NextToken;
        } while (token);
        return shards;
    }

    /** A shard starts once its parents are done, so each partition key stays in order across a reshard. */
    private startEligible(): void {
        if (this.stopped) return;
        for (const sh of this.shards.values()) {
            if (sh.started) continue;
            const parentsDone = sh.parents.every((p) => {
                const parent = this.shards.get(p);
                return !parent || this.finished(parent);
            });
            if (!parentsDone) continue;
            sh.started = true;
            sh.lanes = Array.from({ length: this.settings.parallelizationFactor }, () => ({ queue: [], work: [], busy: false, signal: new Signal() }));
            this.track(this.readShard(sh));
            for (const lane of sh.lanes) this.track(this.runLane(sh, lane));
        }
    }

    private finished(sh: ShardState): boolean {
        return sh.started && sh.closed && sh.lanesDone === sh.lanes.length;
    }

    /** A closed shard is done: its children (from a reshard) may start. */
    private async onShardFinished(): Promise<void> {
        this.relisting++;
        try {
            const listing = await this.retrying("listing shards", () => this.listShards());
            if (!listing) return;
            for (const shard of listing) if (!this.shards.has(shard.ShardId!)) this.shards.set(shard.ShardId!, this.shardState(shard, false));
            this.startEligible();
        } finally {
            this.relisting--;
        }
    }

    private async iterator(sh: ShardState): Promise<string> {
        const base = { StreamName: this.o.streamName, ShardId: sh.id };
        let input: GetShardIteratorCommandInput;
        if (sh.lastSequence !== undefined) input = { ...base, ShardIteratorType: "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber: sh.lastSequence };
        else if (!sh.initial) input = { ...base, ShardIteratorType: "TRIM_HORIZON" };
        else if (this.settings.startingPosition === "AT_TIMESTAMP") input = { ...base, ShardIteratorType: "AT_TIMESTAMP", Timestamp: this.settings.startingPositionTimestamp };
        // A LATEST position taken again (its first iterator expired) must still mean "after start".
        else if (this.settings.startingPosition === "LATEST" && sh.positioned) input = { ...base, ShardIteratorType: "AT_TIMESTAMP", Timestamp: this.startedAt };
        else input = { ...base, ShardIteratorType: this.settings.startingPosition };
        const out = await this.o.kinesis.send(new GetShardIteratorCommand(input), { abortSignal: this.abort.signal });
        if (!out.ShardIterator) throw new Error(`no shard iterator for ${sh.id}`);
        sh.positioned = true;
        return out.ShardIterator;
    }

    /** Calls `fn` until it succeeds or stop(); errors are kept and retried after a poll interval. */
    private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
        while (!this.stopped) {
            try {
                return await fn();
            } catch (err) {
                if (this.stopped) return undefined;
                this.noteError(`${what} of ${this.o.streamName}: ${(err as Error)?.name}: ${(err as Error)?.message}`);
                this.count("pollErrors", 1, (err as Error)?.name);
                await this.pause(Math.max(this.pollDelayMs(), MIN_POLL_MS));
            }
        }
        return undefined;
    }

    /** Polls one shard until it is closed and read to its end, or stop(). */
    private async readShard(sh: ShardState): Promise<void> {
        let it = sh.startIterator ?? (await this.retrying(`positioning ${sh.id}`, () => this.iterator(sh)));
        sh.startIterator = undefined;
        while (it !== undefined && !this.stopped) {
            const pending = () => sh.lanes.reduce((n, l) => n + l.queue.length, 0);
            if (pending() >= this.readAhead) {
                await sh.space.wait(this.abort.signal);
                continue;
            }
            const startedAt = Date.now();
            let out;
            try {
                out = await this.o.kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: this.readAhead - pending() }), { abortSignal: this.abort.signal });
            } catch (err) {
                if (this.stopped) break;
                const name = (err as Error)?.name;
                this.noteError(`reading ${sh.id} of ${this.o.streamName}: ${name}: ${(err as Error)?.message}`);
                this.count("pollErrors", 1, name);
                if (name === "ExpiredIteratorException") it = await this.retrying(`positioning ${sh.id}`, () => this.iterator(sh));
                else await this.pause(this.pollDelayMs());
                continue;
            }
            this.counts.getRecordsCalls++;
            const records = out.Records ?? [];
            for (const r of records) this.accept(sh, r);
            sh.lastRead = { startedAt, empty: records.length === 0 };
            it = out.NextShardIterator;
            if (it === undefined) {
                sh.closed = true;
                for (const lane of sh.lanes) lane.signal.wake();
            } else if (records.length === 0) {
                await this.poll.wait(this.abort.signal, this.pollDelayMs());
            }
        }
    }

    private accept(sh: ShardState, r: _Record): void {
        const lambda = lambdaRecord(r, sh.id, this.o.streamArn, this.o.region, this.identity);
        const rec: Rec = {
            sequenceNumber: r.SequenceNumber!,
            partitionKey: r.PartitionKey!,
            arrivalMs: (r.ApproximateArrivalTimestamp ?? new Date()).getTime(),
            readAt: Date.now(),
            lambda,
            bytes: Buffer.byteLength(JSON.stringify(lambda)),
            invokes: 0,
            done: false,
        };
        sh.lastSequence = rec.sequenceNumber;
        sh.log.push(rec);
        const lane = sh.lanes[laneOf(rec.partitionKey, sh.lanes.length)];
        lane.queue.push(rec);
        lane.signal.wake();
    }

    private markDone(sh: ShardState, records: readonly Rec[]): void {
        for (const r of records) r.done = true;
        let n = 0;
        while (n < sh.log.length && sh.log[n].done) n++;
        if (n > 0) {
            sh.checkpoint = sh.log[n - 1].sequenceNumber;
            sh.log.splice(0, n);
        }
    }

    // -- lanes ----------------------------------------------------------------------------------

    /** One lane of a shard: gathers batches from its records and works each through to done. */
    private async runLane(sh: ShardState, lane: Lane): Promise<void> {
        while (!this.stopped) {
            if (lane.work.length === 0) {
                const records = await this.gather(sh, lane);
                if (records === undefined) break;
                lane.work.push({ records, retries: 0 });
                sh.space.wake();
            }
            lane.busy = true;
            try {
                await this.work(sh, lane);
            } finally {
                lane.busy = false;
            }
        }
        if (this.stopped) return;
        sh.lanesDone++;
        if (this.finished(sh)) this.track(this.onShardFinished());
    }

    /** The lane's next batch, once ready; undefined when the shard is closed and drained, or on stop(). */
    private async gather(sh: ShardState, lane: Lane): Promise<Rec[] | undefined> {
        const windowMs = this.o.time.ms(this.settings.maximumBatchingWindowInSeconds);
        while (!this.stopped) {
            const q = lane.queue;
            if (q.length === 0) {
                if (sh.closed) return undefined;
                await lane.signal.wait(this.abort.signal);
                continue;
            }
            const fits = batchLength(q.slice(0, this.settings.batchSize).map((r) => r.bytes), this.settings.batchSize);
            const waitedMs = Date.now() - q[0].readAt;
            if (batchReady({ queued: q.length, fits, batchSize: this.settings.batchSize, waitedMs, windowMs, sourceEnded: sh.closed })) return q.splice(0, fits);
            await lane.signal.wait(this.abort.signal, windowMs - waitedMs);
        }
        return undefined;
    }

    /** One step on the lane's current batch: expire old records, or invoke and act on the outcome. */
    private async work(sh: ShardState, lane: Lane): Promise<void> {
        const batch = lane.work[0];
        const s = this.settings;

        const expired = expiredCount(
            batch.records.map((r) => r.arrivalMs),
            Date.now(),
            s.maximumRecordAgeInSeconds < 0 ? -1 : this.o.time.ms(s.maximumRecordAgeInSeconds),
        );
        if (expired > 0) {
            const old = batch.records.slice(0, expired);
            if (!(await this.giveUp(sh, "RecordAgeExceeded", old, batch.lastInvocation))) return;
            batch.records = batch.records.slice(expired);
            if (batch.records.length === 0) lane.work.shift();
            return;
        }

        const requestId = randomUUID();
        const event: KinesisStreamEvent = { Records: batch.records.map((r) => r.lambda) };
        for (const r of batch.records) r.invokes++;
        this.counts.invocations++;
        this.counts.recordsInvoked += batch.records.length;
        this.count("invocations");
        this.count("records", batch.records.length);
        let result: InvokeResult;
        const began = Date.now();
        try {
            result = await this.o.fn.invoke(event);
        } catch (err) {
            // An Invocable reports failures in its result; a throw is treated as the function failing.
            result = { ok: false, errorType: (err as Error)?.name ?? "Error", errorMessage: (err as Error)?.message ?? String(err), durationMs: Date.now() - began };
        }
        batch.lastInvocation = { requestId, result };

        const sequenceNumbers = batch.records.map((r) => r.sequenceNumber);
        const outcome = interpretResult(result, sequenceNumbers, s.reportBatchItemFailures);
        if (outcome.kind === "functionError") {
            this.counts.functionErrors++;
            this.count("functionErrors", 1, result.ok ? undefined : result.errorType);
        } else if (outcome.kind === "partial") {
            this.counts.partialFailures++;
            this.count("partialFailures", 1, outcome.reason);
        }
        const step = nextStep(outcome, { length: batch.records.length, retries: batch.retries }, s);
        switch (step.kind) {
            case "checkpoint":
                this.markDone(sh, batch.records);
                lane.work.shift();
                return;
            case "bisect": {
                this.counts.bisections++;
                this.count("bisections");
                const halves = [batch.records.slice(0, step.at), batch.records.slice(step.at)];
                lane.work.splice(0, 1, ...halves.map((records) => ({ records, retries: batch.retries, lastInvocation: batch.lastInvocation })));
                return;
            }
            case "retry":
                this.markDone(sh, batch.records.slice(0, step.from));
                batch.records = batch.records.slice(step.from);
                batch.retries = step.retries;
                this.counts.retries++;
                this.count("retries");
                await this.pause(retryDelayMs(step.retries, this.o.time));
                return;
            case "giveUp": {
                this.markDone(sh, batch.records.slice(0, step.from));
                const failed = batch.records.slice(step.from);
                batch.records = failed;
                if (await this.giveUp(sh, "RetryAttemptsExhausted", failed, batch.lastInvocation)) lane.work.shift();
                return;
            }
        }
    }

    /**
     * Sends the on-failure record for `records` (or discards them when no destination is planned)
     * and marks them done. A failed delivery is retried with backoff and the lane waits, so
     * nothing is dropped silently; false on stop() before it went through.
     */
    private async giveUp(sh: ShardState, condition: FailureCondition, records: Rec[], lastInvocation: Batch["lastInvocation"]): Promise<boolean> {
        const destination = this.settings.onFailureDestination;
        if (condition === "RecordAgeExceeded") this.count("recordAgeExceeded", records.length);
        else this.count("retryAttemptsExhausted", records.length);
        if (destination === undefined) {
            this.counts.discarded += records.length;
            this.count("discarded", records.length, condition);
            this.markDone(sh, records);
            return true;
        }
        const payload = JSON.stringify(
            failureRecord({
                condition,
                functionArn: this.o.fn.arn,
                streamArn: this.o.streamArn,
                shardId: sh.id,
                records,
                // The most invocations any of these records was part of (bisected halves included).
                approximateInvokeCount: Math.max(...records.map((r) => r.invokes)),
                // Records that aged out before reaching the function were never part of an invocation.
                lastInvocation: records.some((r) => r.invokes > 0) ? lastInvocation : undefined,
                now: new Date(),
            }),
        );
        for (let attempt = 1; !this.stopped; attempt++) {
            try {
                await this.o.sendToDestination(destination, payload);
                this.counts.toDestination[condition] += records.length;
                this.count("toDestination", 1, condition);
                this.markDone(sh, records);
                return true;
            } catch (err) {
                this.counts.destinationErrors++;
                this.count("destinationErrors", 1, (err as Error)?.name);
                this.noteError(`sending to ${destination}: ${(err as Error)?.message ?? String(err)}`);
                await this.pause(retryDelayMs(attempt, this.o.time));
            }
        }
        return false;
    }

    // -- idle -----------------------------------------------------------------------------------

    private idleSince(since: number): boolean {
        if (!this.settings.enabled || this.stopped) return true;
        if (!this.isReady || this.relisting > 0) return false;
        for (const sh of this.shards.values()) {
            if (!sh.started) {
                // Waiting for a parent: the parent is then busy, or about to start this shard.
                return false;
            }
            const caughtUp = sh.closed || (sh.lastRead !== undefined && sh.lastRead.empty && sh.lastRead.startedAt >= since);
            if (!caughtUp) return false;
            if (sh.lanes.some((l) => l.busy || l.queue.length > 0 || l.work.length > 0)) return false;
        }
        return true;
    }

    private busyWith(): string {
        if (!this.isReady) return "not positioned on the stream yet";
        const parts: string[] = [];
        for (const sh of this.shards.values()) {
            if (!sh.started) parts.push(`${sh.id} waiting for its parents`);
            else if (sh.log.length > 0) parts.push(`${sh.id} with ${sh.log.length} record(s) not done`);
            else if (!sh.closed) parts.push(`${sh.id} not read to its end`);
        }
        return parts.join(", ") || "relisting shards";
    }
}
