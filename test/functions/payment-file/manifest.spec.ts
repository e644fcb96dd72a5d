import { expect } from "chai";
import type { ChunkSummary, FileItem } from "../../../functions/payment-file/ledger";
import { buildManifest, checkCounts } from "../../../functions/payment-file/manifest";
import { oneLineError } from "../../support/errors";

const part = (index: number, c: Partial<ChunkSummary>): ChunkSummary => ({ index, start: index * 100, end: index * 100 + 100, lines: 0, applied: 0, duplicates: 0, conflicts: 0, quarantined: 0, blank: 0, amounts: {}, ...c });
const file = (parts: ChunkSummary[]): FileItem => ({
    file_id: "b/payments/x.ndjson@t",
    bucket: "b",
    key: "payments/x.ndjson",
    version_tag: "t",
    etag: "e",
    size: 100 * parts.length,
    chunk_bytes: 100,
    chunks: parts.length,
    done: parts.length,
    parts: Object.fromEntries(parts.map((p) => [`c${p.index}`, p])),
});

describe("payment-file/manifest", () => {
    it("adds the chunks up: counts, amounts per currency and type in minor units, each chunk's first line", () => {
        const m = buildManifest(
            file([
                part(0, { lines: 4, applied: 2, duplicates: 1, blank: 1, amounts: { "EUR:payment": "9007199254740993", "JPY:refund": "5" } }),
                part(1, { lines: 3, applied: 1, conflicts: 1, quarantined: 1, amounts: { "KWD:payment": "1234", "EUR:payment": "7" } }),
            ]),
        );
        expect(m).to.include({ lines: 7, applied: 3, duplicates: 1, conflicts: 1, quarantined: 1, blank: 1, chunks: 2, file: "s3://b/payments/x.ndjson", etag: "e" });
        // Beyond 2^53, exact.
        expect(m.amounts).to.deep.equal({ EUR: { payment: "9007199254741000" }, JPY: { refund: "5" }, KWD: { payment: "1234" } });
        expect(m.parts.map((p) => p.first_line)).to.deep.equal([1, 5]);
        // Sorted, so two runs write the same bytes.
        expect(Object.keys(m.amounts)).to.deep.equal(["EUR", "JPY", "KWD"]);
        expect(m).to.not.have.property("notes");
    });

    it("refuses counts that do not add up, in one line naming the chunk", () => {
        expect(oneLineError(() => buildManifest(file([part(0, { lines: 3, applied: 1 })])))).to.equal(
            "manifest of b/payments/x.ndjson@t, chunk 0: lines 3 != applied 1 + duplicates 0 + conflicts 0 + quarantined 0 + blank 0 = 1",
        );
        expect(oneLineError(() => checkCounts("x", { lines: 1, applied: 1, duplicates: 1, conflicts: 0, quarantined: 0, blank: 0 }))).to.match(/^x: lines 1 != .* = 2$/);
    });

    it("refuses a file with a chunk missing", () => {
        const f = file([part(0, {}), part(1, {})]);
        delete f.parts.c1;
        expect(oneLineError(() => buildManifest(f))).to.equal("manifest of b/payments/x.ndjson@t: chunk 1 of 2 has no summary");
    });

    it("notes an empty file and a refused one", () => {
        expect(buildManifest({ ...file([]), size: 0 }).notes).to.deep.equal(["empty file: 0 bytes, no lines"]);
        const refused = buildManifest({ ...file([]), size: 5001 }, "too big");
        expect(refused.refused).to.equal("too big");
        expect(refused).to.not.have.property("notes");
    });
});
