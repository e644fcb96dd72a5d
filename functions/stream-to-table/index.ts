import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent } from "aws-lambda";
import { DEFAULT_EVENT_ID_FIELD, EVENT_TABLE, REJECTS_TABLE, STREAM_TO_TABLE_ENV } from "../shared/contract";
import { decodeRecord, makeReject, marshallItem, type RejectItem } from "./decode";
import { payloadConflicts, planChunks, writeChunks, REFUSED_ERROR, type ChunkOutcome, type PutUnit } from "./write";

// Consumes a Kinesis stream and stores each JSON event as one item of the events table
// (docs/stream-to-table.md). Parse → validate → write → report: a record that can never be
// stored (not base64, not UTF-8, not JSON, against the schema, too large, or refused by DynamoDB
// itself with a ValidationException) goes to the rejects table with its reason and does not block
// the shard; a record whose item (or reject) could not
// be written is reported in batchItemFailures, so Lambda retries from it. Ids are deterministic,
// so a retried record rewrites its own item instead of adding a duplicate.

export { decodeRecord, itemSize, makeReject, marshallItem, payloadSchema, recordIdOf, MAX_ITEM_BYTES } from "./decode";
export type { Decoded, DecodeOptions, EventItem, RejectItem } from "./decode";
export { backoffDelay, chunk, dedupeByKey, payloadConflicts, planChunks, writeChunk, writeChunks, BATCH_WRITE_LIMIT, REFUSED_ERROR, RETRYABLE_ERRORS } from "./write";
export type { ChunkOutcome, PutUnit, RetrySettings } from "./write";

type Log = Pick<Logger, "info" | "warn" | "error">;

export interface StreamToTableOptions {
    client: DynamoDBClient;
    tableName: string;
    rejectsTableName: string;
    /** Payload field holding the producer's id. Default `eventId`. */
    eventIdField?: string;
    /** BatchWriteItem requests in flight at once. Default 4. */
    maxParallelWrites?: number;
    /** Sets `expiresAt` this many days after processing. Default: no expiresAt. */
    ttlDays?: number;
    /** Backoff sleep; tests pass a no-op. */
    sleep?: (ms: number) => Promise<void>;
    /** Clock (epoch ms) for processedAt and the deadline. */
    now?: () => number;
    /** Jitter source in [0, 1). */
    random?: () => number;
    logger?: Log;
    /** Sends per chunk, the first included. Default 8. */
    maxAttempts?: number;
    /** Backoff base and cap. Default 25 ms and 1 s. */
    baseDelayMs?: number;
    maxDelayMs?: number;
    /** Time kept back from the invocation's remaining time. Default 1 s. */
    safetyMarginMs?: number;
}

export type StreamToTableHandler = (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse>;

/** What the handler reads from its environment (docs/stream-to-table.md, "Handler environment"). */
export interface StreamToTableConfig {
    tableName: string;
    rejectsTableName: string;
    eventIdField: string;
    maxParallelWrites: number;
    ttlDays?: number;
}

/** Reads the handler's environment; throws one line naming the variable that is missing or wrong. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): StreamToTableConfig {
    const required = (name: string): string => {
        const value = env[name]?.trim();
        if (!value) throw new Error(`stream-to-table: environment variable ${name} is not set`);
        return value;
    };
    const optional = (name: string): string | undefined => env[name]?.trim() || undefined;
    const tableName = required(STREAM_TO_TABLE_ENV.tableName);
    const rejectsTableName = required(STREAM_TO_TABLE_ENV.rejectsTableName);
    const parallel = optional(STREAM_TO_TABLE_ENV.maxParallelWrites);
    const maxParallelWrites = parallel === undefined ? 4 : Number(parallel);
    if (!Number.isInteger(maxParallelWrites) || maxParallelWrites < 1) {
        throw new Error(`stream-to-table: ${STREAM_TO_TABLE_ENV.maxParallelWrites} must be a positive integer, got "${parallel}"`);
    }
    const ttl = optional(STREAM_TO_TABLE_ENV.ttlDays);
    const ttlDays = ttl === undefined ? undefined : Number(ttl);
    if (ttlDays !== undefined && !(Number.isFinite(ttlDays) && ttlDays > 0)) {
        throw new Error(`stream-to-table: ${STREAM_TO_TABLE_ENV.ttlDays} must be a positive number of days, got "${ttl}"`);
    }
    return { tableName, rejectsTableName, eventIdField: optional(STREAM_TO_TABLE_ENV.eventIdField) ?? DEFAULT_EVENT_ID_FIELD, maxParallelWrites, ttlDays };
}

/** Builds the handler around a DynamoDB client and the tables it writes. */
export function createHandler(options: StreamToTableOptions): StreamToTableHandler {
    const {
        client,
        tableName,
        rejectsTableName,
        eventIdField = DEFAULT_EVENT_ID_FIELD,
        maxParallelWrites = 4,
        ttlDays,
        sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
        now = Date.now,
        random = Math.random,
        maxAttempts = 8,
        baseDelayMs = 25,
        maxDelayMs = 1000,
        safetyMarginMs = 1000,
    } = options;
    if (!tableName || !rejectsTableName) throw new Error("stream-to-table: tableName and rejectsTableName are required");
    if (!Number.isInteger(maxParallelWrites) || maxParallelWrites < 1) {
        throw new Error(`stream-to-table: maxParallelWrites must be a positive integer, got ${maxParallelWrites}`);
    }
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error(`stream-to-table: maxAttempts must be a positive integer, got ${maxAttempts}`);
    if (ttlDays !== undefined && !(Number.isFinite(ttlDays) && ttlDays > 0)) {
        throw new Error(`stream-to-table: ttlDays must be a positive number, got ${ttlDays}`);
    }
    const logger: Log = options.logger ?? new Logger({ serviceName: "stream-to-table" });

    return async (event, context) => {
        if (!event || !Array.isArray(event.Records)) throw new Error("stream-to-table: the event has no Records array (expected a Kinesis stream batch)");
        const started = now();
        const remaining = typeof context?.getRemainingTimeInMillis === "function" ? context.getRemainingTimeInMillis() : 15 * 60 * 1000;
        const deadline = started + remaining - safetyMarginMs;

        // Parse and validate every record: an item to store, or a reject to file.
        const units: PutUnit[] = [];
        const recordsBySequence = new Map(event.Records.map((r) => [r.kinesis.sequenceNumber, r] as const));
        const rejectUnit = (reject: RejectItem, sequenceNumbers: string[]): PutUnit => ({
            kind: "reject",
            table: rejectsTableName,
            keyAttribute: REJECTS_TABLE.hashKey,
            key: reject.recordId,
            item: marshallItem(reject),
            sequenceNumbers,
        });
        for (const record of event.Records) {
            const decoded = decodeRecord(record, eventIdField, { ttlDays, now: new Date(started) });
            const sequenceNumbers = [record.kinesis.sequenceNumber];
            if (decoded.kind === "item") {
                units.push({ kind: "item", table: tableName, keyAttribute: EVENT_TABLE.hashKey, key: decoded.item.eventId, item: decoded.attributes, sequenceNumbers });
            } else {
                logger.warn("record rejected", { recordId: decoded.reject.recordId, reason: decoded.reject.reason });
                units.push({ ...rejectUnit(decoded.reject, sequenceNumbers), item: decoded.attributes });
            }
        }

        // Write: chunks of 25, a few in flight, aborted at the deadline rather than timing out.
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), Math.max(0, deadline - started));
        timer.unref?.();
        const settings = { client, maxParallel: maxParallelWrites, maxAttempts, baseDelayMs, maxDelayMs, deadline, now, sleep, random, abortSignal: abort.signal };
        for (const key of payloadConflicts(units)) {
            logger.warn("event id reused with another payload in one batch; the later record is kept", { eventId: key });
        }
        const chunks = planChunks(units);
        let outcomes: ChunkOutcome[];
        try {
            // Items DynamoDB refuses one by one become rejects of the record that won their key (the
            // records it replaced stand or fall with it). A reject the rejects table refuses leaves its
            // record in neither table: it fails, and Lambda retries it.
            const fileRefusals = (round: ChunkOutcome[]): PutUnit[] => {
                const rejects: PutUnit[] = [];
                for (const outcome of round) {
                    for (const { unit, message } of outcome.refused) {
                        const record = recordsBySequence.get(unit.sequenceNumbers[unit.sequenceNumbers.length - 1]);
                        if (unit.kind !== "item" || !record) {
                            outcome.failed.push(unit);
                            outcome.error ??= `${REFUSED_ERROR}: ${message}`;
                            continue;
                        }
                        const reject = makeReject(record, `DynamoDB refused the item: ${message}`, new Date(started));
                        logger.warn("record rejected", { recordId: reject.recordId, reason: reject.reason });
                        rejects.push(rejectUnit(reject, unit.sequenceNumbers));
                    }
                    outcome.refused = [];
                }
                return rejects;
            };
            outcomes = await writeChunks(chunks, settings);
            const refusedItems = fileRefusals(outcomes);
            if (refusedItems.length > 0) {
                const rejectChunks = planChunks(refusedItems);
                chunks.push(...rejectChunks);
                const rejectOutcomes = await writeChunks(rejectChunks, settings);
                fileRefusals(rejectOutcomes); // rejects only: each refusal becomes a failure
                outcomes.push(...rejectOutcomes);
            }
        } finally {
            clearTimeout(timer);
        }

        // Report: only the records whose item or reject is not stored.
        let written = 0;
        let rejected = 0;
        const failedSequences = new Set<string>();
        outcomes.forEach((outcome, i) => {
            for (const unit of outcome.written) {
                if (unit.kind === "item") written += unit.sequenceNumbers.length;
                else rejected += unit.sequenceNumbers.length;
            }
            for (const unit of outcome.failed) for (const sequence of unit.sequenceNumbers) failedSequences.add(sequence);
            if (outcome.failed.length > 0) {
                logger.error("chunk not written", { table: chunks[i][0].table, items: outcome.failed.length, attempts: outcome.attempts, reason: outcome.error });
            }
        });
        const batchItemFailures = event.Records.filter((r) => failedSequences.has(r.kinesis.sequenceNumber)).map((r) => ({
            itemIdentifier: r.kinesis.sequenceNumber,
        }));
        logger.info(`${event.Records.length} records: ${written} written, ${rejected} rejected, ${batchItemFailures.length} failed`, {
            records: event.Records.length,
            written,
            rejected,
            failed: batchItemFailures.length,
            chunks: chunks.length,
        });
        return { batchItemFailures };
    };
}

/**
 * A DynamoDB client that sends once: the handler's own loop (createHandler's maxAttempts, backoff
 * inside the invocation's deadline) is the only retry layer.
 */
export function singleAttemptClient(): DynamoDBClient {
    return new DynamoDBClient({ maxAttempts: 1 });
}

/** The handler as the function runs it: its client, and its tables and settings from the environment (an inline CallbackFunction's factory, too). */
export function createHandlerFromEnv(dynamo: DynamoDBClient = singleAttemptClient()): StreamToTableHandler {
    return createHandler({ client: dynamo, ...configFromEnv() });
}

/** The entry point's client. */
export const client = singleAttemptClient();

/** The Lambda entry point: configured from the environment at cold start. */
export const handler: StreamToTableHandler = createHandlerFromEnv(client);
