import { expect } from "chai";
import fc from "fast-check";
import { chunkRanges, linesInRange, readFrom, type RangeLine } from "../../../functions/payment-file/line-ranges";
import { oneLineError } from "../../support/errors";

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** The file's lines read the plain way, whole file in memory: the reference the ranges must add up to. */
function wholeFileLines(file: Buffer, maxLineBytes: number): RangeLine[] {
    const out: RangeLine[] = [];
    let start = file.subarray(0, 3).equals(BOM) ? 3 : 0;
    while (start < file.length) {
        const newline = file.indexOf(0x0a, start);
        const end = newline < 0 ? file.length : newline;
        let content = file.subarray(start, end);
        if (content.length > 0 && content[content.length - 1] === 0x0d) content = content.subarray(0, content.length - 1);
        out.push({ offset: start, bytes: Buffer.from(content.subarray(0, maxLineBytes)), length: content.length, tooLong: content.length > maxLineBytes });
        start = end + 1;
    }
    return out;
}

/** The object's bytes from `from` on, in pieces of the given sizes (cycled), recording where each pulled piece began. */
function body(file: Buffer, from: number, sizes: number[], pulled: number[]): AsyncIterable<Uint8Array> {
    return (async function* () {
        for (let at = from, k = 0; at < file.length; k++) {
            const size = sizes[k % sizes.length];
            pulled.push(at);
            yield new Uint8Array(file.subarray(at, at + size));
            at += size;
        }
    })();
}

async function collect(lines: AsyncIterable<RangeLine>): Promise<RangeLine[]> {
    const out: RangeLine[] = [];
    for await (const l of lines) out.push({ ...l, bytes: Buffer.from(l.bytes) });
    return out;
}

/** Reads every range of `file` and returns the lines in range order, with where each reader stopped pulling. */
async function readByRanges(file: Buffer, chunkBytes: number, sizes: number[], maxLineBytes: number) {
    const lines: RangeLine[] = [];
    const overreads: string[] = [];
    const starts = wholeFileLines(file, maxLineBytes).map((l) => l.offset);
    for (const range of chunkRanges(file.length, chunkBytes)) {
        const pulled: number[] = [];
        lines.push(...(await collect(linesInRange(body(file, readFrom(range), sizes, pulled), range, maxLineBytes))));
        // No reader pulls a piece that begins past the first line start at or after its end.
        const limit = starts.find((s) => s >= range.end) ?? file.length;
        const late = pulled.filter((at) => at > limit);
        if (late.length > 0) overreads.push(`range ${range.start}-${range.end} pulled from ${late[0]}, past ${limit}`);
    }
    return { lines, overreads };
}

// Line contents without "\n", not ending with "\r" (a "\r" before "\n" is the ending's), with
// multi-byte characters so that cuts fall inside them.
const content = fc
    .array(fc.constantFrom("a", "Z", "9", " ", "{", '"', "é", "€", "😀", "\r", "\t", "ß"), { maxLength: 12 })
    .map((cs) => cs.join(""))
    .filter((s) => !s.endsWith("\r"));
const file = fc
    .record({
        bom: fc.boolean(),
        lines: fc.array(fc.record({ text: content, crlf: fc.boolean() }), { maxLength: 12 }),
        finalNewline: fc.boolean(),
    })
    .map(({ bom, lines, finalNewline }) => {
        const text = lines.map((l, k) => l.text + (k < lines.length - 1 || finalNewline ? (l.crlf ? "\r\n" : "\n") : "")).join("");
        return Buffer.concat([bom ? BOM : Buffer.alloc(0), Buffer.from(text, "utf8")]);
    });

describe("payment-file: line ranges (a line belongs to the range holding its first byte)", () => {
    it("reads every line of any file exactly once, whatever the chunk size and however the body streams in", async () => {
        await fc.assert(
            fc.asyncProperty(file, fc.integer({ min: 1, max: 40 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 20 }), async (f, chunkBytes, sizes, maxLineBytes) => {
                const { lines, overreads } = await readByRanges(f, chunkBytes, sizes, maxLineBytes);
                expect(lines).to.deep.equal(wholeFileLines(f, maxLineBytes));
                expect(overreads).to.deep.equal([]);
            }),
            // The example: a file starting with "\n" once made the BOM check read past a one-byte range.
            { numRuns: 400, examples: [[Buffer.from([10, 97, 97]), 1, [1], 1]] },
        );
    });

    it("handles each cut the property may miss: on \\n, between \\r and \\n, inside a character, inside the BOM", async () => {
        const text = Buffer.concat([BOM, Buffer.from('{"a":"é"}\r\n\n{"b":"€"}\n{"c":"😀"}', "utf8")]);
        const expected = wholeFileLines(text, 100);
        expect(expected.map((l) => l.bytes.toString("utf8"))).to.deep.equal(['{"a":"é"}', "", '{"b":"€"}', '{"c":"😀"}']);
        for (let chunkBytes = 1; chunkBytes <= text.length; chunkBytes++) {
            for (const sizes of [[1], [2, 3], [text.length]]) {
                const { lines, overreads } = await readByRanges(text, chunkBytes, sizes, 100);
                expect(lines, `chunks of ${chunkBytes}, pieces ${sizes}`).to.deep.equal(expected);
                expect(overreads).to.deep.equal([]);
            }
        }
    });

    it("reports a line longer than the limit with its start, never holding the rest", async () => {
        const long = "x".repeat(5000);
        const text = Buffer.from(`ok\n${long}\r\nnext\n`);
        const lines = await collect(linesInRange(body(text, 0, [7], []), { start: 0, end: text.length }, 64));
        expect(lines.map((l) => [l.offset, l.length, l.tooLong, l.bytes.length])).to.deep.equal([
            [0, 2, false, 2],
            [3, 5000, true, 64],
            [5005, 4, false, 4],
        ]);
    });

    it("reads nothing from an empty file, and a BOM alone is no line", async () => {
        expect(await collect(linesInRange(body(Buffer.alloc(0), 0, [4], []), { start: 0, end: 0 }, 10))).to.deep.equal([]);
        expect(await collect(linesInRange(body(BOM, 0, [1], []), { start: 0, end: 3 }, 10))).to.deep.equal([]);
    });

    it("plans ranges that cover the object once, the last one shorter, and refuses nonsense in one line", () => {
        expect(chunkRanges(10, 4)).to.deep.equal([
            { index: 0, start: 0, end: 4 },
            { index: 1, start: 4, end: 8 },
            { index: 2, start: 8, end: 10 },
        ]);
        expect(chunkRanges(0, 4)).to.deep.equal([]);
        expect(oneLineError(() => chunkRanges(10, 0))).to.equal("chunkRanges: chunkBytes 0, expected a whole number of bytes >= 1");
        expect(oneLineError(() => chunkRanges(-1, 4))).to.equal("chunkRanges: size -1, expected a whole number of bytes >= 0");
    });
});
