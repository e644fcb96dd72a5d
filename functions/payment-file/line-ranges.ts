// Splitting an NDJSON object into byte ranges that many functions read in parallel, and reading the
// lines one range owns, streaming. The rule is Hadoop's LineRecordReader's, stated by position: a
// line belongs to the range holding its first byte. So a reader skips the partial line its range
// starts inside (unless the range starts the file) and reads past its end to finish its last line;
// every line of the file is then read by exactly one range, wherever the ranges cut (on "\n",
// between "\r" and "\n", inside a multi-byte character). Lines end at "\n"; a "\r" before it is
// dropped; a UTF-8 BOM at the start of the file is not part of the first line.

/** A half-open byte range [start, end) of an object, and its place among the file's ranges. */
export interface ByteRange {
    index: number;
    start: number;
    end: number;
}

/** One line a range owns. */
export interface RangeLine {
    /** Offset of the line's first byte in the object. */
    offset: number;
    /** The line without its "\r\n" or "\n"; cut to `maxLineBytes` when `tooLong`. */
    bytes: Buffer;
    /** The line's whole length in bytes, without its ending. */
    length: number;
    /** Longer than `maxLineBytes`: `bytes` holds only its start, the rest was skipped, never held. */
    tooLong: boolean;
}

const NEWLINE = 0x0a;
const CR = 0x0d;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The ranges of an object of `size` bytes, `chunkBytes` each (the last one shorter). */
export function chunkRanges(size: number, chunkBytes: number): ByteRange[] {
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`chunkRanges: size ${size}, expected a whole number of bytes >= 0`);
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) throw new Error(`chunkRanges: chunkBytes ${chunkBytes}, expected a whole number of bytes >= 1`);
    const ranges: ByteRange[] = [];
    for (let start = 0, index = 0; start < size; start += chunkBytes, index++) ranges.push({ index, start, end: Math.min(size, start + chunkBytes) });
    return ranges;
}

/**
 * Where a range's reader must start reading: the byte before its range, to tell whether a line
 * starts right at `start` (it does when that byte is "\n"), or the file's start when the range
 * could begin inside the BOM.
 */
export function readFrom(range: Pick<ByteRange, "start">): number {
    return range.start <= BOM.length ? 0 : range.start - 1;
}

/** A line being read: where it began, what is held of it, and how long it is so far. */
interface Partial {
    offset: number;
    parts: Buffer[];
    held: number;
    length: number;
    last: number;
}

const toBuffer = (piece: Uint8Array) => Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);

/** Takes a BOM off the file's start: how long it was (0 or 3), and the bytes after it. */
async function withoutBom(source: AsyncIterable<Uint8Array>): Promise<{ bomLength: number; rest: AsyncIterable<Uint8Array> }> {
    const it = source[Symbol.asyncIterator]();
    const head: Buffer[] = [];
    let size = 0;
    let ended = false;
    // Pull only while what came so far could still be a BOM: a file starting otherwise is read no further here.
    const couldBeBom = () => Buffer.concat(head, size).every((b, i) => i >= BOM.length || b === BOM[i]);
    while (size < BOM.length && couldBeBom()) {
        const next = await it.next();
        if (next.done) {
            ended = true;
            break;
        }
        const piece = toBuffer(next.value);
        head.push(piece);
        size += piece.length;
    }
    const first = Buffer.concat(head, size);
    const bomLength = first.subarray(0, BOM.length).equals(BOM) ? BOM.length : 0;
    async function* rest(): AsyncGenerator<Uint8Array> {
        try {
            if (first.length > bomLength) yield first.subarray(bomLength);
            while (!ended) {
                const next = await it.next();
                if (next.done) return;
                yield next.value;
            }
        } finally {
            // The reader stopped early (its range is done): end the body, as an aborted GET.
            if (!ended) await it.return?.();
        }
    }
    return { bomLength, rest: rest() };
}

function complete(line: Partial, maxLineBytes: number): RangeLine {
    let bytes = Buffer.concat(line.parts, line.held);
    let length = line.length;
    // "\r\n" ends a line: the "\r" is the ending's, not the line's.
    if (line.last === CR) {
        length--;
        if (bytes.length > length) bytes = bytes.subarray(0, length);
    }
    return { offset: line.offset, bytes: bytes.length > maxLineBytes ? bytes.subarray(0, maxLineBytes) : bytes, length, tooLong: length > maxLineBytes };
}

/**
 * The lines `range` owns, from `source`: the object's bytes from `readFrom(range)` on, in pieces of
 * any size (a ranged GET's body). Stops consuming `source` once its last line is complete, so a
 * reader may request the object open-ended. Holds at most one line, or `maxLineBytes` (+1) of it:
 * a longer line is reported `tooLong` with its start, the rest skipped as it streams by.
 */
export async function* linesInRange(source: AsyncIterable<Uint8Array>, range: Pick<ByteRange, "start" | "end">, maxLineBytes: number): AsyncGenerator<RangeLine> {
    if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) throw new Error(`linesInRange: maxLineBytes ${maxLineBytes}, expected a whole number >= 1`);
    let position = readFrom(range);
    /** The owned line being read; undefined while inside a line another range owns. */
    let current: Partial | undefined;
    /** Inside some line (owned or not); false right after a "\n": the next byte starts a line. */
    let inLine: boolean;
    let pieces = source;
    if (position === 0) {
        const { bomLength, rest } = await withoutBom(source);
        pieces = rest;
        position = bomLength;
        inLine = false;
    } else {
        // The byte before the range: the tail of a line that started earlier (empty if it is "\n").
        inLine = true;
    }
    for await (const piece of pieces) {
        const chunk = toBuffer(piece);
        let i = 0;
        while (i < chunk.length) {
            if (!inLine) {
                // A line starts here: past the range, the range is done; in it, it is ours.
                if (position >= range.end) return;
                inLine = true;
                current = position >= range.start ? { offset: position, parts: [], held: 0, length: 0, last: -1 } : undefined;
            }
            const newline = chunk.indexOf(NEWLINE, i);
            const stop = newline < 0 ? chunk.length : newline;
            if (current && stop > i) {
                const take = Math.min(stop - i, Math.max(0, maxLineBytes + 1 - current.held));
                if (take > 0) {
                    current.parts.push(chunk.subarray(i, i + take));
                    current.held += take;
                }
                current.length += stop - i;
                current.last = chunk[stop - 1];
            }
            position += stop - i;
            i = stop;
            if (newline < 0) break;
            if (current) yield complete(current, maxLineBytes);
            current = undefined;
            inLine = false;
            i++;
            position++;
        }
    }
    // The object ended inside a line: a last line without "\n" is still a line.
    if (current) yield complete(current, maxLineBytes);
}
