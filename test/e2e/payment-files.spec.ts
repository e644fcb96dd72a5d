/**
 * Seed 000 end to end, on the local runtime: the dev stack's plan deployed (the landing bucket on
 * s3rver with its EventBridge notifications, the rule on the runtime's bus, the files and chunks
 * queues on fauxqs, both functions from their deployed archives, the tables on dynalite), then
 * scenario 000 as `npm start` runs it, then files of every shape and every kind of bad line
 * uploaded under payments/. What landed is read straight from the stand-ins.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { expect } from "chai";
import { gzipSync } from "zlib";
import type { Manifest } from "../../functions/payment-file/manifest";
import type { QuarantineEntry } from "../../functions/payment-file/read-chunk";
import { startRuntime, type LocalRuntime } from "../../local/runtime";
import { BAD_LINES, generatePaymentFile, type ExpectedTotals } from "../../local/scenarios/payment-file-generator";
import { paymentItems, paymentSizes, paymentTargets, readManifest, runPaymentFile, runPaymentFiles } from "../../local/scenarios/payment-files";
import type { FlowReport } from "../../local/scenarios";
import { stackPlan } from "../support/stack-plans";

const totals = (m: Manifest | undefined): ExpectedTotals | undefined =>
    m && { lines: m.lines, applied: m.applied, duplicates: m.duplicates, conflicts: m.conflicts, quarantined: m.quarantined, blank: m.blank, amounts: m.amounts };

describe("e2e: payment files (seed 000), on the local runtime", function () {
    this.timeout(240_000);
    let runtime: LocalRuntime;
    let report: FlowReport;
    let bucket: string;
    let sizes: ReturnType<typeof paymentSizes>;
    let files = 0;
    /** A name no other test uses, so every upload is a new file. */
    const fresh = (ext = "ndjson") => `e2e-${++files}.${ext}`;

    async function quarantine(m: Manifest): Promise<QuarantineEntry[]> {
        const out: QuarantineEntry[] = [];
        for (const part of m.parts.filter((p) => p.quarantineKey)) {
            const body = await (await runtime.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: part.quarantineKey }))).Body!.transformToString();
            out.push(...body.split("\n").filter(Boolean).map((l) => JSON.parse(l) as QuarantineEntry));
        }
        return out;
    }

    before(async () => {
        runtime = await startRuntime({ plan: await stackPlan("dev"), timeScale: 0.01 });
        bucket = paymentTargets(runtime).bucket;
        sizes = paymentSizes(runtime);
        report = await runPaymentFiles(runtime);
    });
    after(async () => {
        await runtime?.stop();
    });

    it("passes every check of scenario 000 (a generated file in chunks, then uploaded again)", () => {
        const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
        expect(failed).to.deep.equal([]);
        expect(report.checks.map((c) => c.name)).to.include("the manifest equals the generator's own count and sums").and.include("uploaded again, nothing new is applied");
    });

    it("reads a file of a few lines whole, and its manifest adds up to the input", async () => {
        const file = generatePaymentFile({ targetBytes: 600, seed: 5, idPrefix: "few", mixed: false });
        const m = await runPaymentFile(runtime, fresh(), file.bytes);
        expect(m?.chunks).to.equal(1);
        expect(totals(m)).to.deep.equal(file.expected);
        expect(file.expected.lines).to.be.within(3, 6);
    });

    it("reads a file of exactly the threshold whole, and one byte more in chunks", async () => {
        const at = generatePaymentFile({ targetBytes: sizes.thresholdBytes, exact: true, seed: 6, idPrefix: "at" });
        expect(at.bytes.length).to.equal(sizes.thresholdBytes);
        const whole = await runPaymentFile(runtime, fresh(), at.bytes);
        expect(whole?.chunks).to.equal(1);
        expect(totals(whole)).to.deep.equal(at.expected);

        const over = generatePaymentFile({ targetBytes: sizes.thresholdBytes + 1, exact: true, seed: 7, idPrefix: "over" });
        const split = await runPaymentFile(runtime, fresh(), over.bytes);
        expect(split?.chunks).to.equal(Math.ceil((sizes.thresholdBytes + 1) / sizes.chunkBytes));
        expect(totals(split)).to.deep.equal(over.expected);
    });

    it("reads a file of many chunks whose lines cross every boundary, its sums per currency equal to the input's", async () => {
        const file = generatePaymentFile({ targetBytes: 8 * sizes.chunkBytes + 100, seed: 8, idPrefix: "many", cutLinesAt: sizes.chunkBytes });
        for (let b = sizes.chunkBytes; b < file.bytes.length; b += sizes.chunkBytes) expect(file.bytes[b - 1], `byte before ${b}`).to.not.equal(0x0a);
        const m = await runPaymentFile(runtime, fresh(), file.bytes);
        expect(m?.chunks).to.equal(9);
        expect(totals(m)).to.deep.equal(file.expected);
        // Chunks in file order, their lines numbered on from the previous chunk's.
        expect(m!.parts.map((p) => p.first_line)).to.deep.equal(m!.parts.map((_, i) => 1 + m!.parts.slice(0, i).reduce((n, p) => n + p.lines, 0)));
        const curated = ((await runtime.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `curated/payments/${m!.key.slice("payments/".length)}/` }))).Contents ?? []).length;
        expect(curated).to.equal(m!.parts.filter((p) => p.applied > 0).length);
    });

    it("takes a BOM, CRLF line endings and a last line without a newline", async () => {
        const file = generatePaymentFile({ targetBytes: 3 * sizes.chunkBytes, seed: 9, idPrefix: "crlf", bom: true, crlf: true, trailingNewline: false, cutLinesAt: sizes.chunkBytes });
        expect(file.bytes.subarray(0, 3)).to.deep.equal(Buffer.from([0xef, 0xbb, 0xbf]));
        expect(file.bytes.subarray(-2).toString()).to.not.contain("\n");
        expect(totals(await runPaymentFile(runtime, fresh(), file.bytes))).to.deep.equal(file.expected);
    });

    it("writes the manifest of an empty file, noting it, with nothing applied", async () => {
        const before = (await paymentItems(runtime)).length;
        const m = await runPaymentFile(runtime, fresh(), Buffer.alloc(0));
        expect(m).to.include({ lines: 0, applied: 0, chunks: 0 });
        expect(m?.notes).to.deep.equal(["empty file: 0 bytes, no lines"]);
        expect((await paymentItems(runtime)).length).to.equal(before);
    });

    it("quarantines each bad line with file, line, offset, raw text and a one-line reason, and applies every valid line", async () => {
        const good = generatePaymentFile({ targetBytes: 1500, seed: 10, idPrefix: "good", mixed: false, trailingNewline: true });
        const bad = BAD_LINES.map((b) => b.line(`bad-${b.name.replace(/\W+/g, "-")}`));
        const bytes = Buffer.concat([good.bytes, ...bad.flatMap((line) => [line, Buffer.from("\n")])]);
        const m = await runPaymentFile(runtime, fresh(), bytes);
        expect(m).to.include({ applied: good.expected.applied, quarantined: BAD_LINES.length, lines: good.expected.lines + BAD_LINES.length });
        const entries = await quarantine(m!);
        const reasons = entries.map((e) => e.reason);
        expect(reasons).to.have.length(BAD_LINES.length);
        for (const r of reasons) expect(r).to.not.contain("\n");
        expect(reasons).to.include.members(["not UTF-8"]);
        expect(reasons.join(" | ")).to.match(/amount 12\.5: a JSON number/);
        expect(reasons.join(" | ")).to.match(/amount "12\.505": 3 fraction digits, EUR has 2/);
        expect(reasons.join(" | ")).to.match(/currency "ABC"/);
        expect(reasons.join(" | ")).to.match(/payer\.account and payee\.account/);
        expect(reasons.join(" | ")).to.match(/not JSON/);
        for (const [i, e] of entries.entries()) {
            expect(e.file).to.equal(`s3://${bucket}/${m!.key}`);
            expect(e.line).to.equal(good.expected.lines + i + 1);
            expect(bytes.subarray(e.offset, e.offset + e.length)).to.deep.equal(bad[i]);
        }
        const utf8 = entries.find((e) => e.reason === "not UTF-8")!;
        expect(Buffer.from(utf8.raw_base64!, "base64")).to.deep.equal(bad[BAD_LINES.findIndex((b) => b.name === "invalid UTF-8")]);
    });

    it("reads a gzip file streaming, whole", async () => {
        const file = generatePaymentFile({ targetBytes: 3 * sizes.chunkBytes, seed: 13, idPrefix: "gz" });
        const m = await runPaymentFile(runtime, fresh("ndjson.gz"), gzipSync(file.bytes));
        expect(m?.chunks).to.equal(1);
        expect(totals(m)).to.deep.equal(file.expected);
    });

    it("applies nothing from the same file uploaded under another key: every payment is a duplicate", async () => {
        const file = generatePaymentFile({ targetBytes: 2 * sizes.chunkBytes, seed: 14, idPrefix: "twice" });
        const first = await runPaymentFile(runtime, fresh(), file.bytes);
        const items = (await paymentItems(runtime)).length;
        const second = await runPaymentFile(runtime, fresh(), file.bytes);
        expect(second).to.include({ applied: 0, duplicates: first!.applied + first!.duplicates, conflicts: first!.conflicts });
        expect((await paymentItems(runtime)).length).to.equal(items);
    });

    it("leaves a key outside payments/*.ndjson alone", async () => {
        await runtime.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "payments/notes.txt", Body: "not a payment file" }));
        await runtime.idle();
        expect(await readManifest(runtime, bucket, "payments/notes.txt")).to.equal(undefined);
    });
});
