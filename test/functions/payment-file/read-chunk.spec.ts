import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import { expect } from "chai";
import { Readable } from "stream";
import { processChunk, readChunk, RAW_LIMIT, type ChunkJob } from "../../../functions/payment-file/read-chunk";
import { checkPaymentLine } from "../../../functions/payment-file/payment-line";
import { storedPayment } from "../../../functions/payment-file/ledger";

// The chunk reader against mocked S3 and DynamoDB: what it asks for (a ranged GET pinned to the
// version), the order it claims in, and what it makes of each answer. The same code against real
// semantics is in pipeline.spec.ts and the e2e spec.

const line = (id: string, amount = "10.00", payee = "B") =>
    `{"event_id":"${id}","type":"payment","amount":"${amount}","currency":"EUR","occurred_at":"2026-11-30T10:00:00Z","payer":{"account":"A"},"payee":{"account":"${payee}"}}`;

const job = (file: Buffer, over: Partial<ChunkJob> = {}): ChunkJob => ({
    bucket: "bkt",
    key: "payments/f.ndjson",
    etag: "abc",
    fileId: "bkt/payments/f.ndjson@abc-1",
    versionTag: "abc-1",
    size: file.length,
    start: 0,
    end: file.length,
    index: 0,
    chunks: 1,
    ...over,
});

/** What the chunk wrote, by key (lib-storage sends a small object as one PutObject). */
function written(s3: AwsClientStub<S3Client>): Record<string, string> {
    return Object.fromEntries(s3.commandCalls(PutObjectCommand).map((c) => [c.args[0].input.Key!, Buffer.from(c.args[0].input.Body as Uint8Array).toString("utf8")]));
}
const CURATED = "curated/payments/f.ndjson/abc-1/chunk-000000.ndjson";
const QUARANTINE = "quarantine/payments/f.ndjson/abc-1/chunk-000000.ndjson";

function conditionFailed(item: object) {
    return Object.assign(new Error("The conditional request failed"), { name: "ConditionalCheckFailedException", Item: marshall(item as Record<string, unknown>) });
}

describe("payment-file/read-chunk", () => {
    // Class mocks patch every client of the class: made when this spec runs, undone after it.
    let s3: AwsClientStub<S3Client>;
    let ddb: AwsClientStub<DynamoDBClient>;
    before(() => {
        s3 = mockClient(S3Client);
        ddb = mockClient(DynamoDBClient);
    });
    const deps = () => ({ s3: new S3Client({ region: "us-east-1" }), dynamodb: new DynamoDBClient({ region: "us-east-1" }), paymentsTable: "payments", filesTable: "files", maxLineBytes: 4096, claimsInFlight: 4 });
    const serve = (file: Buffer) =>
        s3.on(GetObjectCommand).callsFake((input: { Range?: string }) => {
            const from = input.Range ? Number(/^bytes=(\d+)-$/.exec(input.Range)![1]) : 0;
            return { Body: Readable.from([file.subarray(from)]) as any, ETag: '"abc"' };
        });
    beforeEach(() => {
        s3.reset();
        ddb.reset();
        s3.on(PutObjectCommand).resolves({});
    });
    after(() => {
        s3.restore();
        ddb.restore();
    });

    it("reads its range with a ranged GET from the byte before it, pinned by If-Match (quoted) or by VersionId", async () => {
        const file = Buffer.from(`${line("a")}\n${line("b")}\n`);
        serve(file);
        ddb.on(PutItemCommand).resolves({});
        await readChunk(job(file, { start: 10, end: file.length, index: 1, chunks: 2 }), deps());
        expect(s3.commandCalls(GetObjectCommand)[0].args[0].input).to.deep.equal({ Bucket: "bkt", Key: "payments/f.ndjson", IfMatch: '"abc"', Range: "bytes=9-" });
        await readChunk(job(file, { etag: undefined, versionId: "v7" }), deps());
        expect(s3.commandCalls(GetObjectCommand)[1].args[0].input).to.deep.equal({ Bucket: "bkt", Key: "payments/f.ndjson", VersionId: "v7" });
    });

    it("decides two lines with one event_id in file order, even when the first claim is slow", async () => {
        const file = Buffer.from([line("x", "1.00"), line("y"), line("x", "2.00")].join("\n"));
        serve(file);
        const stored = new Map<string, Record<string, unknown>>();
        ddb.on(PutItemCommand).callsFake(async (input: { Item: any }) => {
            const item = unmarshall(input.Item);
            if (item.offset === 0) await new Promise((r) => setTimeout(r, 50));
            const existing = stored.get(item.event_id);
            if (existing) throw conditionFailed(existing);
            stored.set(item.event_id, item);
            return {};
        });
        const summary = await readChunk(job(file), deps());
        expect(summary).to.include({ applied: 2, conflicts: 1, lines: 3 });
        expect(stored.get("x")?.amount_minor).to.equal("100");
        const [conflict, ...others] = written(s3)[QUARANTINE].trim().split("\n").map((l) => JSON.parse(l));
        expect(others).to.deep.equal([]);
        expect(conflict).to.include({ line: 3, line_in_chunk: 3 });
        expect(conflict.existing).to.include({ offset: 0 });
        expect(conflict.incoming?.content).to.contain('"amount":"200"');
        // The applied payments in file order, though the first one's claim came back last.
        expect(written(s3)[CURATED].trim().split("\n").map((l) => JSON.parse(l).event_id)).to.deep.equal(["x", "y"]);
    });

    it("claims nothing more once a claim fails, so a retry decides the event_id in file order", async () => {
        const file = Buffer.from([line("x", "1.00"), line("x", "2.00"), line("z")].join("\n"));
        serve(file);
        ddb.on(PutItemCommand).callsFake(async (input: { Item: any }) => {
            if (unmarshall(input.Item).offset === 0) throw Object.assign(new Error("socket hang up"), { name: "TimeoutError" });
            return {};
        });
        const err = await readChunk(job(file), deps()).then(() => undefined, (e: Error) => e);
        expect(err?.name).to.equal("TimeoutError");
        // The second line with event_id x never claimed it.
        const claimed = ddb.commandCalls(PutItemCommand).map((c) => unmarshall(c.args[0].input.Item!).offset);
        expect(claimed).to.not.include(Buffer.byteLength(line("x", "1.00")) + 1);
    });

    it("counts a duplicate, and its own earlier claim of a line as applied (a retry)", async () => {
        const file = Buffer.from([line("d"), line("mine")].join("\n"));
        serve(file);
        const j = job(file);
        const other = storedPayment((checkPaymentLine(Buffer.from(line("d"))) as any).payment, { fileId: "bkt/payments/other.ndjson@e-2", offset: 0 });
        const mine = storedPayment((checkPaymentLine(Buffer.from(line("mine"))) as any).payment, { fileId: j.fileId, offset: Buffer.byteLength(line("d")) + 1 });
        ddb.on(PutItemCommand).callsFake(async (input: { Item: any }) => {
            throw conditionFailed(unmarshall(input.Item).event_id === "d" ? other : mine);
        });
        const summary = await readChunk(j, deps());
        expect(summary).to.include({ applied: 1, duplicates: 1, conflicts: 0 });
        expect(summary.amounts).to.deep.equal({ "EUR:payment": "1000" });
        expect(Object.keys(written(s3))).to.deep.equal([CURATED]);
        expect(written(s3)[CURATED].trim().split("\n")).to.have.length(1);
        expect(ddb.commandCalls(PutItemCommand)).to.have.length(2);
    });

    it("numbers a later chunk's lines within the chunk only, keeps a line of exactly RAW_LIMIT bytes whole, counts tabs as blank, and writes no curated object when nothing applied", async () => {
        const exact = Buffer.alloc(RAW_LIMIT, "z").toString();
        const file = Buffer.from(["skipped", exact, "\t \t", ""].join("\n"));
        serve(file);
        const summary = await readChunk(job(file, { start: 3, end: file.length, index: 1, chunks: 2 }), deps());
        expect(summary).to.include({ lines: 2, applied: 0, quarantined: 1, blank: 1 });
        const puts = written(s3);
        expect(Object.keys(puts)).to.deep.equal(["quarantine/payments/f.ndjson/abc-1/chunk-000001.ndjson"]);
        const entry = JSON.parse(Object.values(puts)[0]);
        expect(entry).to.include({ line_in_chunk: 1, raw_truncated: false, chunk: 1 }).and.not.have.property("line");
        expect(entry.raw).to.equal(exact);
    });

    it("quarantines bad and over-long lines with their raw start, counts blank lines, and writes curated and quarantine at the chunk's keys", async () => {
        const long = `{"event_id":"long","memo":"${"m".repeat(5000)}"}`;
        const file = Buffer.from([line("ok"), "", "   ", "{nope", long, line("self", "1.00", "A")].join("\r\n"));
        serve(file);
        ddb.on(PutItemCommand).resolves({});
        ddb.on(UpdateItemCommand).resolves({ Attributes: marshall({ file_id: "f", done: 1, chunks: 1 }) });
        const { summary, completed } = await processChunk(job(file), deps());
        expect(summary).to.include({ lines: 6, applied: 1, blank: 2, quarantined: 3 });
        expect(completed).to.equal(true);
        const puts = written(s3);
        expect(Object.keys(puts).sort()).to.deep.equal([CURATED, QUARANTINE]);
        const entries = puts[QUARANTINE].trim().split("\n").map((l: string) => JSON.parse(l) as Record<string, any>);
        expect(entries.map((e: Record<string, any>) => e.line)).to.deep.equal([4, 5, 6]);
        expect(entries[1]).to.include({ length: long.length, raw_truncated: true });
        expect(entries[1].raw).to.have.length(RAW_LIMIT);
        expect(entries[1].reason).to.equal(`line of ${long.length} bytes: longer than the 4096 bytes a line may have (MAX_LINE_BYTES)`);
        expect(entries[2].reason).to.match(/^payer\.account and payee\.account/);
        expect(puts[CURATED].trim().split("\n")).to.have.length(1);
    });
});
