import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import { expect } from "chai";
import { parseChunkMessage, planFile, sendChunks } from "../../../functions/payment-file/plan-file";
import { PAYMENT_FILE_LIMITS, type ChunkMessage } from "../../../functions/shared/contract";
import type { ObjectCreated } from "../../../functions/shared/object-created";
import { oneLineError } from "../../support/errors";

const object = (over: Partial<ObjectCreated> = {}): ObjectCreated => ({ bucket: "bkt", key: "payments/day.ndjson", size: 1000, etag: "e1", sequencer: "s1", eventTime: "2026-12-01T00:00:00Z", eventId: "ev", ...over });
const sizes = { thresholdBytes: 1000, chunkBytes: 300, gzipMaxBytes: 5000 };

describe("payment-file/plan-file", () => {
    describe("planFile", () => {
        it("reads a file of at most the threshold itself: one chunk, the whole object", () => {
            const d = planFile(object(), sizes);
            expect(d.kind).to.equal("inline");
            expect(d.plan).to.include({ chunks: 1, chunk_bytes: 1000, size: 1000, etag: "e1", version_tag: "e1-s1", file_id: "bkt/payments/day.ndjson@e1-s1" });
            expect(d.kind === "inline" && d.job).to.include({ start: 0, end: 1000, index: 0, chunks: 1, gzip: false });
        });

        it("splits a bigger one into byte ranges of chunkBytes, each message naming the version and never the data", () => {
            const d = planFile(object({ size: 1001, versionId: "v9" }), sizes);
            expect(d.kind).to.equal("split");
            if (d.kind !== "split") return;
            expect(d.messages.map((m) => [m.index, m.start, m.end])).to.deep.equal([[0, 0, 300], [1, 300, 600], [2, 600, 900], [3, 900, 1001]]);
            expect(d.messages[0]).to.deep.equal({ bucket: "bkt", key: "payments/day.ndjson", versionId: "v9", fileId: "bkt/payments/day.ndjson@v9", versionTag: "v9", size: 1001, start: 0, end: 300, index: 0, chunks: 4 });
            expect(d.plan).to.include({ chunks: 4, chunk_bytes: 300, version_id: "v9" });
        });

        it("makes chunks bigger rather than more than the manifest item can count", () => {
            const size = 10 * 1024 * 1024;
            const d = planFile(object({ size }), { ...sizes, chunkBytes: 1024 });
            expect(d.plan.chunks).to.equal(PAYMENT_FILE_LIMITS.maxChunks);
            expect(d.plan.chunk_bytes).to.equal(Math.ceil(size / PAYMENT_FILE_LIMITS.maxChunks));
        });

        it("reads gzip whole (it cannot be split), and refuses one over gzipMaxBytes with its reason", () => {
            const small = planFile(object({ key: "payments/day.ndjson.gz", size: 4000 }), sizes);
            expect(small.kind === "inline" && small.job).to.include({ gzip: true, chunks: 1 });
            expect(planFile(object({ key: "payments/day.ndjson.gz", size: 5000 }), sizes).kind).to.equal("inline");
            const big = planFile(object({ key: "payments/day.ndjson.gz", size: 5001 }), sizes);
            expect(big.kind).to.equal("refuse");
            expect(big.kind === "refuse" && big.reason).to.equal(
                "gzip file of 5001 bytes: over the 5000 bytes one invocation reads (GZIP_MAX_BYTES); gzip cannot be split, so upload it uncompressed or in smaller files",
            );
        });

        it("plans an empty file with no chunks", () => {
            expect(planFile(object({ size: 0 }), sizes).plan.chunks).to.equal(0);
        });

        it("refuses, in one line, an event that is not a payment file's or cannot be pinned", () => {
            expect(oneLineError(() => planFile(object({ key: "payments/day.csv" }), sizes))).to.equal(
                "s3://bkt/payments/day.csv: not a payment file (expected a key under payments/ ending .ndjson or .ndjson.gz, in lower case)",
            );
            expect(oneLineError(() => planFile(object({ key: "payments/DAY.NDJSON" }), sizes))).to.match(/not a payment file/);
            expect(oneLineError(() => planFile(object({ size: undefined }), sizes))).to.equal("s3://bkt/payments/day.ndjson: the event has no object size");
            expect(oneLineError(() => planFile(object({ etag: undefined }), sizes))).to.equal("s3://bkt/payments/day.ndjson: the event has neither version-id nor etag, so the file's version cannot be pinned");
        });
    });

    describe("sendChunks", () => {
        // A class mock patches every SQSClient: made when this block runs, undone after it.
        let sqs: AwsClientStub<SQSClient>;
        before(() => (sqs = mockClient(SQSClient)));
        beforeEach(() => sqs.reset());
        after(() => sqs.restore());
        const messages = (n: number): ChunkMessage[] => Array.from({ length: n }, (_, i) => ({ bucket: "b", key: "k", etag: "e", fileId: "f", versionTag: "t", size: 10 * n, start: 10 * i, end: 10 * i + 10, index: i, chunks: n }));

        it("sends ten per call and resends only the entries a call lists as Failed", async () => {
            let calls = 0;
            sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => {
                calls++;
                // The first call refuses two of its ten entries.
                const failed = calls === 1 ? input.Entries.slice(3, 5).map((e) => ({ Id: e.Id, Code: "InternalError", SenderFault: false })) : [];
                return { Successful: input.Entries.filter((e) => !failed.some((f) => f.Id === e.Id)).map((e) => ({ Id: e.Id })), Failed: failed };
            });
            await sendChunks(new SQSClient({}), "url", messages(12), { pauseMs: 0 });
            const sent = sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input.Entries!.map((e) => e.Id));
            expect(sent).to.deep.equal([
                ["chunk-0", "chunk-1", "chunk-2", "chunk-3", "chunk-4", "chunk-5", "chunk-6", "chunk-7", "chunk-8", "chunk-9"],
                ["chunk-3", "chunk-4"],
                ["chunk-10", "chunk-11"],
            ]);
            expect(JSON.parse(sqs.commandCalls(SendMessageBatchCommand)[1].args[0].input.Entries![0].MessageBody!)).to.include({ index: 3, start: 30, end: 40 });
        });

        it("throws naming the entries still refused after its attempts", async () => {
            sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({ Successful: [], Failed: [{ Id: input.Entries[0].Id, Code: "KMS.ThrottlingException", Message: "slow down", SenderFault: false }] }));
            const err = await sendChunks(new SQSClient({}), "url", messages(1), { attempts: 3, pauseMs: 0 }).then(() => undefined, (e: Error) => e);
            expect(err?.message).to.equal("SendMessageBatch refused 1 chunk message(s) after 3 attempts: chunk-0 KMS.ThrottlingException: slow down");
            expect(sqs.commandCalls(SendMessageBatchCommand)).to.have.length(3);
        });
    });

    describe("parseChunkMessage", () => {
        const good = { bucket: "b", key: "k", etag: "e", fileId: "f", versionTag: "t", size: 100, start: 0, end: 50, index: 0, chunks: 2 };
        it("takes a chunk message as the file function sends it, the last chunk ending at the file's end", () => {
            expect(parseChunkMessage(JSON.stringify(good))).to.deep.equal(good);
            expect(parseChunkMessage(JSON.stringify({ ...good, start: 50, end: 100, index: 1 }))).to.include({ end: 100 });
        });
        for (const [change, message] of [
            [{ start: 50 }, "chunk message: range [50, 50) of a 100-byte file: expected start < end <= size"],
            [{ end: 101 }, "chunk message: range [0, 101) of a 100-byte file: expected start < end <= size"],
            [{ index: 2 }, "chunk message: index 2: expected less than chunks (2)"],
            [{ etag: undefined }, "chunk message: expected versionId or etag, to read the version the file function saw"],
            [{ bucket: "" }, 'chunk message: bucket "": expected a non-empty string'],
            [{ size: -1 }, "chunk message: size -1: expected a whole number >= 0"],
        ] as const) {
            it(`refuses ${JSON.stringify(change)} in one line`, () => {
                expect(oneLineError(() => parseChunkMessage(JSON.stringify({ ...good, ...change })))).to.equal(message);
            });
        }
        it("refuses a body that is not JSON", () => {
            expect(oneLineError(() => parseChunkMessage("{oops"))).to.equal("chunk message is not JSON: {oops");
        });
    });
});
