import { expect } from "chai";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { createHash } from "crypto";
import type * as AuditLogger from "../../functions/audit-logger";

// The handler creates its Powertools logger when it loads, reading POWERTOOLS_LOG_LEVEL then:
// load it with SILENT (a level Powertools 2.x supports) so the JSON log lines stay out of the report.
function loadHandler(): typeof AuditLogger {
    const saved = process.env.POWERTOOLS_LOG_LEVEL;
    process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
    try {
        return require("../../functions/audit-logger");
    } finally {
        if (saved === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
        else process.env.POWERTOOLS_LOG_LEVEL = saved;
    }
}

/** An S3 "Object Created" event as EventBridge delivers it (what Powertools' S3EventNotificationEventBridgeSchema accepts). */
function objectCreated(): Record<string, any> {
    return {
        version: "0",
        id: "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        source: "aws.s3",
        account: "123456789012",
        time: "2025-01-01T12:00:00Z",
        region: "us-east-1",
        resources: ["arn:aws:s3:::uploads"],
        detail: {
            version: "0",
            bucket: { name: "uploads" },
            object: {
                key: "photos/2025/cat.jpg",
                size: 5,
                etag: "b1946ac92492d2347c6235b4d2611184",
                "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                sequencer: "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            requester: "123456789012",
            "source-ip-address": "203.0.113.15",
            reason: "PutObject",
        },
    };
}

function sqsRecord(messageId: string, body: string): SQSRecord {
    return {
        messageId,
        receiptHandle: `AQEB${messageId}`,
        body,
        attributes: {
            ApproximateReceiveCount: "1",
            SentTimestamp: "1735732800000",
            SenderId: "AIDAIENQZJOLO23YVJ4VO",
            ApproximateFirstReceiveTimestamp: "1735732800001",
        },
        messageAttributes: {},
        md5OfBody: createHash("md5").update(body).digest("hex"),
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:audit",
        awsRegion: "us-east-1",
    };
}

const context: Context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: "audit-function",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:audit-function",
    memoryLimitInMB: "256",
    awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
    logGroupName: "/aws/lambda/audit-function",
    logStreamName: "2025/01/01/[$LATEST]abcdef",
    getRemainingTimeInMillis: () => 30000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
};

/** The message `fn` throws; fails the test when it returns. */
function thrown(fn: () => unknown): string {
    try {
        fn();
    } catch (err) {
        return (err as Error).message;
    }
    return expect.fail("expected an error");
}

describe("audit-logger", () => {
    let audit: typeof AuditLogger;

    before(() => {
        audit = loadHandler();
    });

    describe("parseUpload", () => {
        it("returns the bucket, key, size, etag, version, sequencer, time, requester and source IP", () => {
            expect(audit.parseUpload(JSON.stringify(objectCreated()))).to.deep.equal({
                bucket: "uploads",
                key: "photos/2025/cat.jpg",
                size: 5,
                etag: "b1946ac92492d2347c6235b4d2611184",
                versionId: "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                sequencer: "00617F08299329D189",
                eventTime: "2025-01-01T12:00:00Z",
                requester: "123456789012",
                sourceIp: "203.0.113.15",
            });
        });

        it("accepts an event without the optional fields", () => {
            const event = objectCreated();
            for (const field of ["size", "etag", "version-id", "sequencer"]) delete event.detail.object[field];
            delete event.detail["source-ip-address"];
            const parsed = audit.parseUpload(JSON.stringify(event));
            expect(parsed).to.include({ bucket: "uploads", key: "photos/2025/cat.jpg", requester: "123456789012" });
            expect(parsed.size).to.equal(undefined);
            expect(parsed.versionId).to.equal(undefined);
            expect(parsed.sourceIp).to.equal(undefined);
        });

        it("refuses a body that is not JSON, in one line saying what was expected", () => {
            const message = thrown(() => audit.parseUpload("<xml>not json</xml>"));
            expect(message).to.equal("message body is not JSON (expected an S3 Object Created event): <xml>not json</xml>");
        });

        it("keeps the message to one line and a bounded excerpt when the body spans lines", () => {
            const body = `line one\nline two\r\n${"x".repeat(500)}`;
            const message = thrown(() => audit.parseUpload(body));
            expect(message).to.match(/^message body is not JSON \(expected an S3 Object Created event\): line one/);
            expect(message).not.to.match(/[\r\n]/);
            expect(message.length).to.be.lessThan(200);
        });

        it("refuses a missing field, naming its path", () => {
            const event = objectCreated();
            delete event.detail.bucket.name;
            const message = thrown(() => audit.parseUpload(JSON.stringify(event)));
            expect(message).to.match(/^message is not an S3 Object Created event: detail\.bucket\.name: .*expected string/);
            expect(message).not.to.contain("\n");
        });

        it("refuses a field of the wrong type or range, naming its path", () => {
            const negative = objectCreated();
            negative.detail.object.size = -1;
            expect(thrown(() => audit.parseUpload(JSON.stringify(negative)))).to.match(
                /^message is not an S3 Object Created event: detail\.object\.size: /,
            );
            const badTime = objectCreated();
            badTime.time = "yesterday";
            expect(thrown(() => audit.parseUpload(JSON.stringify(badTime)))).to.match(/^message is not an S3 Object Created event: time: /);
        });

        it("refuses JSON that is not an object, naming the root", () => {
            for (const body of ["null", "[]", '"text"', "42"]) {
                const message = thrown(() => audit.parseUpload(body));
                expect(message, body).to.match(/^message is not an S3 Object Created event: \(root\): .*expected object/);
                expect(message, body).not.to.contain("\n");
            }
        });

        it("refuses an S3 event that is not a creation, saying what was expected", () => {
            const deleted = { ...objectCreated(), "detail-type": "Object Deleted" };
            expect(thrown(() => audit.parseUpload(JSON.stringify(deleted)))).to.equal(
                'message is a "Object Deleted" event from aws.s3, expected an "Object Created" event from aws.s3',
            );
        });

        it("refuses an SNS envelope (raw delivery turned off), naming the first missing field", () => {
            const envelope = { Type: "Notification", MessageId: "x", TopicArn: "arn:aws:sns:us-east-1:123456789012:uploads", Message: JSON.stringify(objectCreated()) };
            expect(thrown(() => audit.parseUpload(JSON.stringify(envelope)))).to.match(/^message is not an S3 Object Created event: [a-z-]+: /);
        });
    });

    describe("handler", () => {
        it("reports exactly the invalid messages of a batch as item failures", async () => {
            const wrongShape = { ...objectCreated(), detail: { bucket: { name: "uploads" } } };
            const event: SQSEvent = {
                Records: [
                    sqsRecord("m-valid", JSON.stringify(objectCreated())),
                    sqsRecord("m-not-json", "{ this is not json"),
                    sqsRecord("m-wrong-shape", JSON.stringify(wrongShape)),
                ],
            };
            const response = await audit.handler(event, context);
            expect(response).to.deep.equal({ batchItemFailures: [{ itemIdentifier: "m-not-json" }, { itemIdentifier: "m-wrong-shape" }] });
        });

        it("returns no item failures for a valid batch", async () => {
            const event: SQSEvent = { Records: ["a", "b", "c"].map((id) => sqsRecord(`m-${id}`, JSON.stringify(objectCreated()))) };
            expect(await audit.handler(event, context)).to.deep.equal({ batchItemFailures: [] });
        });

        it("fails the whole invocation when every message is invalid, so Lambda retries the batch", async () => {
            const event: SQSEvent = { Records: [sqsRecord("m-1", "nope"), sqsRecord("m-2", "{}")] };
            let failure: Error | undefined;
            await audit.handler(event, context).catch((e: Error) => (failure = e));
            expect(failure?.message).to.match(/All records failed processing/);
        });

        it("refuses an event that is not an SQS batch", async () => {
            let failure: Error | undefined;
            await audit.handler({} as SQSEvent, context).catch((e: Error) => (failure = e));
            expect(failure).to.be.instanceOf(Error);
        });
    });
});
