import { BatchWriteItemCommand, PutItemCommand, type AttributeValue, type DynamoDBClient, type WriteRequest } from "@aws-sdk/client-dynamodb";

// The I/O half of the stream-to-table handler: puts in BatchWriteItem requests of 25, a bounded
// number in flight, UnprocessedItems and throttling retried with capped, fully jittered backoff,
// never past the invocation's deadline. Whatever is still unwritten comes back as failed. A chunk
// DynamoDB refuses as a whole (ValidationException: one bad item fails all 25) is put again one
// item at a time with PutItem, and only the items DynamoDB still refuses come back as refused.

/** BatchWriteItem takes at most 25 requests. */
export const BATCH_WRITE_LIMIT = 25;

/**
 * Errors after which the same request can succeed later: the whole chunk is sent again. A list, not
 * a Set: an inline CallbackFunction serializes module values, and a Set arrives without its methods.
 */
export const RETRYABLE_ERRORS: readonly string[] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
];

/** DynamoDB refused the request's content: sending it again can never succeed. */
export const REFUSED_ERROR = "ValidationException";

/** One put, and the Kinesis records (sequence numbers) that stand or fall with it. */
export interface PutUnit {
    kind: "item" | "reject";
    table: string;
    /** The partition key's attribute name (a string key). */
    keyAttribute: string;
    key: string;
    item: Record<string, AttributeValue>;
    sequenceNumbers: string[];
}

export interface RetrySettings {
    client: DynamoDBClient;
    /** Chunks in flight at once. */
    maxParallel: number;
    /** Sends per chunk, the first included. */
    maxAttempts: number;
    baseDelayMs: number;
    maxDelayMs: number;
    /** Epoch ms after which no request starts and no backoff ends. */
    deadline: number;
    now: () => number;
    sleep: (ms: number) => Promise<void>;
    /** In [0, 1). */
    random: () => number;
    /** Aborts requests in flight at the deadline. */
    abortSignal?: AbortSignal;
}

export interface ChunkOutcome {
    written: PutUnit[];
    failed: PutUnit[];
    /** Puts DynamoDB refused one by one (ValidationException), with its message on one line. */
    refused: { unit: PutUnit; message: string }[];
    /** Requests sent (BatchWriteItem and PutItem). */
    attempts: number;
    /** Why `failed` is not empty, one line. */
    error?: string;
}

/**
 * One put per (table, key), the last record winning: DynamoDB refuses two requests for one key
 * in a BatchWriteItem, and across chunks written in parallel "last" could not be promised. The
 * winner carries the sequence numbers of the records it replaced, so they succeed or fail with it.
 */
export function dedupeByKey(units: readonly PutUnit[]): PutUnit[] {
    const byKey = new Map<string, PutUnit>();
    for (const unit of units) {
        const id = `${unit.table}\u0000${unit.key}`;
        const earlier = byKey.get(id);
        byKey.set(id, earlier ? { ...unit, sequenceNumbers: [...earlier.sequenceNumbers, ...unit.sequenceNumbers] } : unit);
    }
    return [...byKey.values()];
}

/**
 * Keys that records of one batch share with different payloads: the same event id (and source)
 * sent for two different events. dedupeByKey keeps the last of them, as a later batch would
 * overwrite an earlier one; the handler names these keys in a WARN line so the producer can be found.
 */
export function payloadConflicts(units: readonly PutUnit[]): string[] {
    const byKey = new Map<string, PutUnit[]>();
    for (const unit of units) {
        if (unit.kind !== "item") continue;
        const same = byKey.get(unit.key);
        if (same) same.push(unit);
        else byKey.set(unit.key, [unit]);
    }
    // Only keys sent more than once have payloads to compare: most batches serialize nothing.
    const conflicts: string[] = [];
    for (const [key, same] of byKey) {
        if (same.length < 2) continue;
        const payloads = same.map((unit) => JSON.stringify(unit.item.payload));
        if (payloads.some((p) => p !== payloads[0])) conflicts.push(key);
    }
    return conflicts;
}

/** Consecutive slices of at most `size`. */
export function chunk<T>(items: readonly T[], size = BATCH_WRITE_LIMIT): T[][] {
    if (!Number.isInteger(size) || size < 1) throw new Error(`chunk size must be a positive integer, got ${size}`);
    const chunks: T[][] = [];
    for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
    return chunks;
}

/** Deduplicated puts in chunks of 25, one table per chunk, in the order first seen. */
export function planChunks(units: readonly PutUnit[], size = BATCH_WRITE_LIMIT): PutUnit[][] {
    const byTable = new Map<string, PutUnit[]>();
    for (const unit of dedupeByKey(units)) {
        const list = byTable.get(unit.table) ?? [];
        list.push(unit);
        byTable.set(unit.table, list);
    }
    return [...byTable.values()].flatMap((list) => chunk(list, size));
}

/** Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))). */
export function backoffDelay(attempt: number, settings: Pick<RetrySettings, "baseDelayMs" | "maxDelayMs" | "random">): number {
    return settings.random() * Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** (attempt - 1));
}

/**
 * Writes one chunk, retrying what DynamoDB left unprocessed or throttled. On a ValidationException
 * the units still pending are put one at a time (putEach).
 */
export async function writeChunk(units: readonly PutUnit[], settings: RetrySettings): Promise<ChunkOutcome> {
    let pending = [...units];
    let attempts = 0;
    const done = (error?: string): ChunkOutcome => {
        const failed = new Set(pending);
        return { written: units.filter((u) => !failed.has(u)), failed: pending, refused: [], attempts, error };
    };
    for (;;) {
        if (pending.length === 0) return done();
        if (settings.now() >= settings.deadline) return done(`out of time after ${attempts} attempt(s)`);
        attempts++;
        let why: string;
        try {
            const output = await settings.client.send(new BatchWriteItemCommand({ RequestItems: requestItems(pending) }), {
                abortSignal: settings.abortSignal,
            });
            pending = unprocessed(pending, output.UnprocessedItems);
            if (pending.length === 0) return done();
            why = `${pending.length} item(s) unprocessed`;
        } catch (err) {
            const { name, message } = describe(err);
            if (name === REFUSED_ERROR) {
                const left = new Set(pending);
                const each = await putEach(pending, settings);
                return {
                    written: [...units.filter((u) => !left.has(u)), ...each.written],
                    failed: each.failed,
                    refused: each.refused,
                    attempts: attempts + each.attempts,
                    error: each.error,
                };
            }
            if (!RETRYABLE_ERRORS.includes(name)) return done(message);
            why = message;
        }
        if (attempts >= settings.maxAttempts) return done(`${why} after ${attempts} attempts`);
        const delay = backoffDelay(attempts, settings);
        if (settings.now() + delay >= settings.deadline) return done(`${why}; out of time after ${attempts} attempt(s)`);
        await settings.sleep(delay);
    }
}

/** Puts each unit alone, in order, with the chunk's retry rules; a unit DynamoDB still refuses is `refused`. */
async function putEach(units: readonly PutUnit[], settings: RetrySettings): Promise<ChunkOutcome> {
    const outcome: ChunkOutcome = { written: [], failed: [], refused: [], attempts: 0 };
    for (const unit of units) {
        let attempts = 0;
        let failure: string | undefined;
        for (;;) {
            if (settings.now() >= settings.deadline) {
                failure = `out of time after ${attempts} PutItem attempt(s)`;
                break;
            }
            attempts++;
            outcome.attempts++;
            let why: string;
            try {
                await settings.client.send(new PutItemCommand({ TableName: unit.table, Item: unit.item }), { abortSignal: settings.abortSignal });
                outcome.written.push(unit);
                break;
            } catch (err) {
                const { name, message } = describe(err);
                if (name === REFUSED_ERROR) {
                    outcome.refused.push({ unit, message: oneLineMessage(err) });
                    break;
                }
                if (!RETRYABLE_ERRORS.includes(name)) {
                    failure = message;
                    break;
                }
                why = message;
            }
            if (attempts >= settings.maxAttempts) {
                failure = `${why} after ${attempts} PutItem attempts`;
                break;
            }
            const delay = backoffDelay(attempts, settings);
            if (settings.now() + delay >= settings.deadline) {
                failure = `${why}; out of time after ${attempts} PutItem attempt(s)`;
                break;
            }
            await settings.sleep(delay);
        }
        if (failure !== undefined) {
            outcome.failed.push(unit);
            outcome.error ??= failure;
        }
    }
    return outcome;
}

/** An error's name, and `name: message` on one line. */
function describe(err: unknown): { name: string; message: string } {
    const name = (err as Error)?.name ?? "Error";
    return { name, message: `${name}: ${oneLineMessage(err)}` };
}

function oneLineMessage(err: unknown): string {
    return String((err as Error)?.message ?? err).replace(/\s+/g, " ").trim();
}

/** Writes every chunk, at most `maxParallel` at a time; one outcome per chunk, in order. */
export async function writeChunks(chunks: readonly PutUnit[][], settings: RetrySettings): Promise<ChunkOutcome[]> {
    const outcomes: ChunkOutcome[] = new Array(chunks.length);
    let next = 0;
    const worker = async () => {
        while (next < chunks.length) {
            const index = next++;
            outcomes[index] = await writeChunk(chunks[index], settings);
        }
    };
    const workers = Math.max(1, Math.min(settings.maxParallel, chunks.length));
    await Promise.all(Array.from({ length: workers }, worker));
    return outcomes;
}

function requestItems(units: readonly PutUnit[]): Record<string, WriteRequest[]> {
    const requests: Record<string, WriteRequest[]> = {};
    for (const unit of units) (requests[unit.table] ??= []).push({ PutRequest: { Item: unit.item } });
    return requests;
}

/** The pending units DynamoDB handed back, matched by table and key. */
function unprocessed(pending: readonly PutUnit[], left: Record<string, WriteRequest[]> | undefined): PutUnit[] {
    if (!left || Object.keys(left).length === 0) return [];
    const keys = new Set<string>();
    for (const [table, requests] of Object.entries(left)) {
        for (const request of requests) {
            const item = request.PutRequest?.Item;
            if (!item) continue;
            for (const unit of pending) {
                if (unit.table === table && item[unit.keyAttribute]?.S === unit.key) keys.add(`${table}\u0000${unit.key}`);
            }
        }
    }
    return pending.filter((u) => keys.has(`${u.table}\u0000${u.key}`));
}
