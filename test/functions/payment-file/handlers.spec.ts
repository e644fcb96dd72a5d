import { expect } from "chai";
import type { Context, SQSEvent } from "aws-lambda";
import { createHandler as createChunkHandler, handler as chunkEntry } from "../../../functions/payment-chunk";
import { createHandler as createFileHandler, handler as fileEntry } from "../../../functions/payment-file";
import { readPaymentSettings, type PaymentSettings } from "../../../functions/payment-file/settings";
import { PAYMENT_FILE_DEFAULTS } from "../../../functions/shared/contract";
import { oneLineError } from "../../support/errors";

// The two handlers' own part: settings read once, each message parsed before anything is sent,
// a refused message failing with its reason logged (a batch of it alone fails whole, as Powertools
// does, so SQS retries it into the DLQ), metrics published either way.

/** The handler's answer to a batch, or the error it failed with. */
const answer = (p: Promise<unknown>) => p.then((out) => out, (err: Error) => err.name);

const settings: PaymentSettings = { paymentsTable: "p", filesTable: "f", chunksQueueUrl: "q", ...PAYMENT_FILE_DEFAULTS };
const context = { functionName: "fn", awsRequestId: "r", getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
const event = (...bodies: string[]): SQSEvent => ({
    Records: bodies.map((body, i) => ({ messageId: `m${i}`, body, receiptHandle: "h", attributes: {} as any, messageAttributes: {}, md5OfBody: "", eventSource: "aws:sqs", eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:q", awsRegion: "us-east-1" })),
});

function recorder() {
    const logs: { level: string; message: string; extra?: any }[] = [];
    const logger = {
        info: (message: string, extra?: object) => logs.push({ level: "info", message, extra }),
        warn: (message: string, extra?: object) => logs.push({ level: "warn", message, extra }),
        error: (message: string, extra?: object) => logs.push({ level: "error", message, extra }),
    };
    let published = 0;
    const metrics = { addMetric() {}, publishStoredMetrics: () => void published++ };
    // Any AWS call would fail the test: the messages here are refused before one.
    const refuse = { send: async () => expect.fail("no request expected") } as any;
    return { logs, logger, metrics, published: () => published, deps: { s3: refuse, dynamodb: refuse, sqs: refuse } };
}

describe("payment-file and payment-chunk handlers", () => {
    it("file function: refuses a message that is not an Object Created event, alone, naming why, before any request", async () => {
        const r = recorder();
        const handler = createFileHandler({ ...r.deps, settings, logger: r.logger, metrics: r.metrics });
        expect(await answer(handler(event("not json"), context))).to.equal("FullBatchFailureError");
        expect(r.logs).to.deep.equal([{ level: "error", message: "rejected message", extra: { messageId: "m0", reason: "message body is not JSON (expected an S3 Object Created event): not json" } }]);
        expect(r.published()).to.equal(1);
    });

    it("file function: refuses an event for a key that is not a payment file, before any request", async () => {
        const r = recorder();
        const handler = createFileHandler({ ...r.deps, settings, logger: r.logger, metrics: r.metrics });
        const s3Event = { version: "0", id: "e1", "detail-type": "Object Created", source: "aws.s3", account: "123456789012", time: "2026-12-01T00:00:00Z", region: "us-east-1", resources: [], detail: { version: "0", bucket: { name: "b" }, object: { key: "payments/x.csv", size: 5, etag: "e" }, "request-id": "r", requester: "123456789012" } };
        expect(await answer(handler(event(JSON.stringify(s3Event)), context))).to.equal("FullBatchFailureError");
        expect(r.logs[0]).to.deep.include({ level: "error", message: "file failed" });
        expect(r.logs[0].extra.reason).to.match(/not a payment file/);
    });

    it("chunk worker: refuses a chunk message that is not one, alone, naming the field", async () => {
        const r = recorder();
        const handler = createChunkHandler({ ...r.deps, settings, logger: r.logger, metrics: r.metrics });
        expect(await answer(handler(event(JSON.stringify({ bucket: "b" })), context))).to.equal("FullBatchFailureError");
        expect(r.logs[0].extra.reason).to.equal("chunk message: key undefined: expected a non-empty string");
    });

    it("reads its settings once, naming a missing or bad variable in one line", () => {
        expect(oneLineError(() => readPaymentSettings("payment-file", { PAYMENTS_TABLE_NAME: "p", FILES_TABLE_NAME: "f" }))).to.equal("payment-file: environment variable CHUNKS_QUEUE_URL is not set");
        expect(readPaymentSettings("payment-chunk", { PAYMENTS_TABLE_NAME: "p", FILES_TABLE_NAME: "f" })).to.deep.equal({ paymentsTable: "p", filesTable: "f", ...PAYMENT_FILE_DEFAULTS });
        expect(oneLineError(() => readPaymentSettings("payment-chunk", { PAYMENTS_TABLE_NAME: "p", FILES_TABLE_NAME: "f", CHUNK_BYTES: "12kb" }))).to.equal(
            'payment-chunk: CHUNK_BYTES="12kb" must be a whole number of bytes from 1024 to 1073741824',
        );
        expect(oneLineError(() => readPaymentSettings("payment-chunk", { FILES_TABLE_NAME: "f" }))).to.equal("payment-chunk: environment variable PAYMENTS_TABLE_NAME is not set");
        expect(oneLineError(() => readPaymentSettings("payment-chunk", { PAYMENTS_TABLE_NAME: "  ", FILES_TABLE_NAME: "f" }))).to.equal("payment-chunk: environment variable PAYMENTS_TABLE_NAME is not set");
        expect(readPaymentSettings("payment-chunk", { PAYMENTS_TABLE_NAME: " p ", FILES_TABLE_NAME: "f", THRESHOLD_BYTES: "" })).to.include({ paymentsTable: "p", thresholdBytes: PAYMENT_FILE_DEFAULTS.thresholdBytes });
        expect(oneLineError(() => readPaymentSettings("payment-chunk", { PAYMENTS_TABLE_NAME: "p", FILES_TABLE_NAME: "f", CHUNK_BYTES: "2000000000" }))).to.equal(
            'payment-chunk: CHUNK_BYTES="2000000000" must be a whole number of bytes from 1024 to 1073741824',
        );
    });

    it("leaves both modules importable without their environment; the entry points fail each call, naming it", async () => {
        for (const h of [fileEntry, chunkEntry]) {
            const err = await h(event("{}"), context).then(() => undefined, (e: Error) => e);
            expect(err?.message).to.match(/environment variable PAYMENTS_TABLE_NAME is not set/);
        }
    });
});
