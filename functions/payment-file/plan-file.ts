import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { fileVersionTag, PAYMENT_FILE_LIMITS, PAYMENT_FILE_SUFFIXES, PAYMENT_PREFIXES, paymentFileId, type ChunkMessage } from "../shared/contract";
import type { ObjectCreated } from "../shared/object-created";
import type { FilePlan } from "./ledger";
import { chunkRanges } from "./line-ranges";
import type { ChunkJob } from "./read-chunk";
import type { PaymentSettings } from "./settings";

// What the file function does with one uploaded file, decided from the event alone (its size and
// version; the file is not read here): read it itself (at most the threshold, or gzip, which cannot
// be split), split it into byte-range chunks for the chunk workers, or refuse it with a reason.

export type FileDecision =
    | { kind: "inline"; plan: FilePlan; job: ChunkJob }
    | { kind: "split"; plan: FilePlan; messages: ChunkMessage[] }
    | { kind: "refuse"; plan: FilePlan; reason: string };

const isGzip = (key: string) => key.endsWith(".gz");

/** Refuses (throws one line) an event that is not a payment file's; otherwise decides. Pure. */
export function planFile(object: ObjectCreated, settings: Pick<PaymentSettings, "thresholdBytes" | "chunkBytes" | "gzipMaxBytes">): FileDecision {
    const where = `s3://${object.bucket}/${object.key}`;
    if (!object.key.startsWith(PAYMENT_PREFIXES.landing) || !PAYMENT_FILE_SUFFIXES.some((s) => object.key.endsWith(s))) {
        throw new Error(`${where}: not a payment file (expected a key under ${PAYMENT_PREFIXES.landing} ending ${PAYMENT_FILE_SUFFIXES.join(" or ")}, in lower case)`);
    }
    if (object.size === undefined) throw new Error(`${where}: the event has no object size`);
    if (!object.versionId && !object.etag) throw new Error(`${where}: the event has neither version-id nor etag, so the file's version cannot be pinned`);
    const size = object.size;
    const versionTag = fileVersionTag(object);
    const fileId = paymentFileId(object);
    const gzip = isGzip(object.key);
    // A bigger file gets bigger chunks: each chunk's summary lives in the one manifest item.
    const chunkBytes = Math.max(settings.chunkBytes, Math.ceil(size / PAYMENT_FILE_LIMITS.maxChunks));
    const split = !gzip && size > settings.thresholdBytes;
    const chunks = size === 0 ? 0 : split ? Math.ceil(size / chunkBytes) : 1;
    const plan: FilePlan = {
        file_id: fileId,
        bucket: object.bucket,
        key: object.key,
        version_tag: versionTag,
        ...(object.versionId ? { version_id: object.versionId } : { etag: object.etag }),
        size,
        chunk_bytes: split ? chunkBytes : size,
        chunks,
    };
    const base = { bucket: object.bucket, key: object.key, ...(object.versionId ? { versionId: object.versionId } : { etag: object.etag }), fileId, versionTag, size };
    if (gzip && size > settings.gzipMaxBytes) {
        return { kind: "refuse", plan: { ...plan, chunks: 0 }, reason: `gzip file of ${size} bytes: over the ${settings.gzipMaxBytes} bytes one invocation reads (GZIP_MAX_BYTES); gzip cannot be split, so upload it uncompressed or in smaller files` };
    }
    if (!split) return { kind: "inline", plan, job: { ...base, start: 0, end: size, index: 0, chunks, gzip } };
    return { kind: "split", plan, messages: chunkRanges(size, chunkBytes).map((r) => ({ ...base, start: r.start, end: r.end, index: r.index, chunks })) };
}

/** SendMessageBatch's limit of entries per call. */
const BATCH = 10;

/**
 * Sends the chunk messages ten at a time, resending only the entries a call lists in `Failed`
 * (SQS accepts a batch partly), `attempts` times at most with a growing pause; throws naming the
 * chunks still refused, so the file's event is retried (the chunks are idempotent).
 */
export async function sendChunks(sqs: SQSClient, queueUrl: string, messages: ChunkMessage[], options: { attempts?: number; pauseMs?: number } = {}): Promise<void> {
    const attempts = options.attempts ?? 5;
    const pauseMs = options.pauseMs ?? 100;
    for (let i = 0; i < messages.length; i += BATCH) {
        let entries = messages.slice(i, i + BATCH).map((m) => ({ Id: `chunk-${m.index}`, MessageBody: JSON.stringify(m) }));
        for (let attempt = 1; entries.length > 0; attempt++) {
            const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
            const failed = new Set((out.Failed ?? []).map((f) => f.Id));
            if (failed.size === 0) break;
            if (attempt >= attempts) {
                const reasons = (out.Failed ?? []).map((f) => `${f.Id} ${f.Code}${f.Message ? `: ${f.Message}` : ""}`).join("; ");
                throw new Error(`SendMessageBatch refused ${failed.size} chunk message(s) after ${attempts} attempts: ${reasons}`);
            }
            entries = entries.filter((e) => failed.has(e.Id));
            await new Promise((resolve) => setTimeout(resolve, pauseMs * 2 ** (attempt - 1)));
        }
    }
}

const TEXT_FIELDS = ["bucket", "key", "fileId", "versionTag"] as const;
const NUMBER_FIELDS = ["size", "start", "end", "index", "chunks"] as const;

/** A chunk message from the queue, checked; throws one line naming the field and what was expected. */
export function parseChunkMessage(body: string): ChunkMessage {
    let m: Record<string, unknown>;
    try {
        m = JSON.parse(body);
    } catch {
        throw new Error(`chunk message is not JSON: ${body.slice(0, 80).replace(/\s+/g, " ")}`);
    }
    if (typeof m !== "object" || m === null || Array.isArray(m)) throw new Error("chunk message: expected a JSON object");
    for (const f of TEXT_FIELDS) if (typeof m[f] !== "string" || m[f] === "") throw new Error(`chunk message: ${f} ${JSON.stringify(m[f])}: expected a non-empty string`);
    for (const f of NUMBER_FIELDS) if (!Number.isSafeInteger(m[f]) || (m[f] as number) < 0) throw new Error(`chunk message: ${f} ${JSON.stringify(m[f])}: expected a whole number >= 0`);
    const c = m as unknown as ChunkMessage;
    if (typeof c.versionId !== "string" && typeof c.etag !== "string") throw new Error("chunk message: expected versionId or etag, to read the version the file function saw");
    if (!(c.start < c.end && c.end <= c.size)) throw new Error(`chunk message: range [${c.start}, ${c.end}) of a ${c.size}-byte file: expected start < end <= size`);
    if (c.index >= c.chunks) throw new Error(`chunk message: index ${c.index}: expected less than chunks (${c.chunks})`);
    return c;
}
