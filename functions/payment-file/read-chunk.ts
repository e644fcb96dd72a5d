import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Readable } from "stream";
import { createGunzip } from "zlib";
import { curatedKey, quarantineKey, type ChunkMessage } from "../shared/contract";
import { claimPayment, recordChunk, type ChunkSummary, type FileItem, type StoredPayment } from "./ledger";
import { type ByteRange, linesInRange, readFrom, type RangeLine } from "./line-ranges";
import { OrderedObject } from "./ordered-output";
import { checkPaymentLine, type Payment } from "./payment-line";


// One chunk of a payment file, read once in effect: the lines it owns (line-ranges.ts), streamed
// from a ranged GET pinned to the file version; each line checked (payment-line.ts), then claimed
// (ledger.ts), at most `claimsInFlight` claims at a time and one at a time per event_id, so two
// lines of one chunk with the same event_id are decided in file order; the applied payments to a
// curated object and the rest to a quarantine object, both at keys fixed by the chunk (a retry
// overwrites them with the same content); then the chunk's summary, counted once in the file's
// manifest item.

/** How a chunk is read and where it writes. */
export interface ChunkDeps {
    s3: S3Client;
    dynamodb: DynamoDBClient;
    paymentsTable: string;
    filesTable: string;
    /** Longest line read whole. */
    maxLineBytes: number;
    /** Claims sent at once. Default 32. */
    claimsInFlight?: number;
}

/** A chunk to read: the message the file function sends, and whether its bytes are gzip (then it is the whole file). */
export type ChunkJob = ChunkMessage & { gzip?: boolean };

/** One line that could not be applied: what an operator needs to find and fix it. */
export interface QuarantineEntry {
    file: string;
    file_id: string;
    chunk: number;
    /** The line's number within its chunk (from 1); within the file it is the manifest's `first_line` of the chunk + line_in_chunk - 1. */
    line_in_chunk: number;
    /** The line's number within the file, where the chunk starts the file (a file read whole, or chunk 0). */
    line?: number;
    /** Byte offset of the line's first byte (in the decompressed stream, for gzip). */
    offset: number;
    length: number;
    reason: string;
    /** The line as text (invalid UTF-8 replaced), its first RAW_LIMIT bytes. */
    raw: string;
    raw_truncated: boolean;
    /** The same bytes, when they are not valid UTF-8. */
    raw_base64?: string;
    /** A conflict: the version kept, and this line's. */
    existing?: { content: string; hash: string; file_id: string; offset: number };
    incoming?: { content: string; hash: string };
}

/** Bytes of a bad line kept in its quarantine entry. */
export const RAW_LIMIT = 1024;
/** Claims a chunk sends at once unless told otherwise. */
export const DEFAULT_CLAIMS_IN_FLIGHT = 32;
const utf8 = new TextDecoder("utf-8", { fatal: true });
/** Empty, or only spaces and tabs. */
const isBlank = (bytes: Buffer) => bytes.every((b) => b === 0x20 || b === 0x09);

const quoted = (etag: string) => (etag.startsWith('"') ? etag : `"${etag}"`);

/** The object's bytes from `readFrom(range)` on (to its end: the reader stops once its last line is complete). */
async function openRange(s3: S3Client, job: ChunkJob): Promise<{ body: AsyncIterable<Uint8Array>; close(): void }> {
    const from = job.gzip ? 0 : readFrom(job);
    const out = await s3.send(
        new GetObjectCommand({
            Bucket: job.bucket,
            Key: job.key,
            // Events carry the ETag bare; If-Match takes it quoted, as S3 returns it.
            ...(job.versionId ? { VersionId: job.versionId } : { IfMatch: quoted(job.etag ?? "") }),
            ...(from > 0 ? { Range: `bytes=${from}-` } : {}),
        }),
    );
    const body = out.Body as Readable | undefined;
    if (!body) throw new Error(`s3://${job.bucket}/${job.key}: GetObject returned no body`);
    const stream = job.gzip ? body.pipe(createGunzip()) : body;
    return { body: stream, close: () => (stream.destroy(), body.destroy()) };
}

function rawOf(line: RangeLine): Pick<QuarantineEntry, "raw" | "raw_truncated" | "raw_base64"> {
    const bytes = line.bytes.subarray(0, RAW_LIMIT);
    let valid = true;
    try {
        utf8.decode(line.bytes.subarray(0, Math.min(line.bytes.length, RAW_LIMIT + 3)));
    } catch {
        valid = false;
    }
    return {
        raw: Buffer.from(bytes).toString("utf8"),
        raw_truncated: line.length > RAW_LIMIT,
        ...(valid ? {} : { raw_base64: Buffer.from(bytes).toString("base64") }),
    };
}

/** A counting semaphore: at most `size` tasks run at once. */
function limiter(size: number) {
    let running = 0;
    const waiting: (() => void)[] = [];
    return async <T>(task: () => Promise<T>): Promise<T> => {
        if (running >= size) await new Promise<void>((resolve) => waiting.push(resolve));
        running++;
        try {
            return await task();
        } finally {
            running--;
            waiting.shift()?.();
        }
    };
}

/**
 * The chunk's lines, decided: counts and applied amounts; the applied payments streamed to its
 * curated object and the rest to its quarantine object, each in file order.
 */
export async function readChunk(job: ChunkJob, deps: ChunkDeps): Promise<ChunkSummary> {
    const summary: ChunkSummary = { index: job.index, start: job.start, end: job.end, lines: 0, applied: 0, duplicates: 0, conflicts: 0, quarantined: 0, blank: 0, amounts: {} };
    const curated = new OrderedObject(deps.s3, job.bucket, curatedKey(job.key, job.versionTag, job.index));
    const quarantine = new OrderedObject(deps.s3, job.bucket, quarantineKey(job.key, job.versionTag, job.index));
    const settle = (slot: number, applied?: string, refused?: QuarantineEntry) => {
        curated.settle(slot, applied);
        quarantine.settle(slot, refused && JSON.stringify(refused));
    };
    const amounts = new Map<string, bigint>();
    const file = `s3://${job.bucket}/${job.key}`;
    const entry = (line: RangeLine, n: number, reason: string): QuarantineEntry => ({
        file,
        file_id: job.fileId,
        chunk: job.index,
        line_in_chunk: n,
        ...(job.start === 0 ? { line: n } : {}),
        offset: line.offset,
        length: line.length,
        reason,
        ...rawOf(line),
    });
    const limit = limiter(deps.claimsInFlight ?? DEFAULT_CLAIMS_IN_FLIGHT);
    /** The last claim of each event_id still in flight: the next line with that id waits for it. */
    const lastClaim = new Map<string, Promise<void>>();
    const pending = new Set<Promise<void>>();
    let failure: unknown;

    const decide = async (payment: Payment, line: RangeLine, n: number, slot: number) => {
        // After a failed claim nothing more is claimed: a later line with the same event_id must not
        // win what an earlier one would have (the retry claims them in file order).
        const outcome = await limit(() => (failure ? Promise.reject(failure) : claimPayment(deps.dynamodb, deps.paymentsTable, payment, { fileId: job.fileId, offset: line.offset })));
        if (outcome.kind === "applied") {
            summary.applied++;
            const k = `${payment.currency}:${payment.type}`;
            amounts.set(k, (amounts.get(k) ?? 0n) + payment.amountMinor);
            settle(slot, payment.canonical);
        } else if (outcome.kind === "duplicate") {
            summary.duplicates++;
            settle(slot);
        } else {
            summary.conflicts++;
            settle(slot, undefined, conflictEntry(entry(line, n, ""), payment, outcome.existing));
        }
    };

    const { body, close } = await openRange(deps.s3, job);
    try {
        const range: Pick<ByteRange, "start" | "end"> = job.gzip ? { start: 0, end: Number.MAX_SAFE_INTEGER } : job;
        let n = 0;
        for await (const line of linesInRange(body, range, deps.maxLineBytes)) {
            if (failure) break;
            n++;
            summary.lines++;
            const slot = n - 1;
            if (curated.behind || quarantine.behind) await Promise.all([curated.ready(), quarantine.ready()]);
            if (line.tooLong) {
                summary.quarantined++;
                settle(slot, undefined, entry(line, n, `line of ${line.length} bytes: longer than the ${deps.maxLineBytes} bytes a line may have (MAX_LINE_BYTES)`));
                continue;
            }
            if (isBlank(line.bytes)) {
                summary.blank++;
                settle(slot);
                continue;
            }
            const check = checkPaymentLine(line.bytes);
            if (!check.ok) {
                summary.quarantined++;
                settle(slot, undefined, entry(line, n, check.reason));
                continue;
            }
            const id = check.payment.eventId;
            const before = lastClaim.get(id) ?? Promise.resolve();
            const lineNo = n;
            const claim: Promise<void> = before
                .then(() => decide(check.payment, line, lineNo, slot))
                .catch((err) => void (failure ??= err))
                .finally(() => {
                    pending.delete(claim);
                    if (lastClaim.get(id) === claim) lastClaim.delete(id);
                });
            lastClaim.set(id, claim);
            pending.add(claim);
            // Reading stays at most a few claims ahead: memory holds what is in flight, not the chunk.
            if (pending.size >= (deps.claimsInFlight ?? DEFAULT_CLAIMS_IN_FLIGHT) * 2) await Promise.race(pending);
        }
        await Promise.all(pending);
        if (failure) throw failure;
        await Promise.all([curated.close(), quarantine.close()]);
    } catch (err) {
        await Promise.all([curated.abort(), quarantine.abort()]);
        throw err;
    } finally {
        close();
    }
    summary.amounts = Object.fromEntries([...amounts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.toString()]));
    return summary;
}

function conflictEntry(base: QuarantineEntry, payment: Payment, existing: StoredPayment): QuarantineEntry {
    return {
        ...base,
        reason: `conflict: event_id ${payment.eventId} was applied from ${existing.file_id} (offset ${existing.offset}) with different content; it is kept, this line is not applied`,
        existing: { content: existing.content, hash: existing.hash, file_id: existing.file_id, offset: Number(existing.offset) },
        incoming: { content: payment.canonical, hash: payment.hash },
    };
}

/**
 * Reads the chunk (writing its curated and quarantine objects) and records its summary in the
 * file's manifest item. `completed` is true for the one call that recorded the file's last chunk.
 */
export async function processChunk(job: ChunkJob, deps: ChunkDeps): Promise<{ summary: ChunkSummary; recorded: boolean; completed: boolean; file: FileItem }> {
    const summary = await readChunk(job, deps);
    const { recorded, completed, file } = await recordChunk(deps.dynamodb, deps.filesTable, job.fileId, summary);
    return { summary, recorded, completed, file };
}
