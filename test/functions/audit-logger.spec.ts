import { expect } from "chai";
import type { SQSEvent } from "aws-lambda";
import type * as AuditLogger from "../../functions/audit-logger";
import { lambdaContext, objectCreatedEvent, sqsEvent, sqsRecord } from "../support/lambda-events";

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
            expect(audit.parseUpload(JSON.stringify(objectCreatedEvent()))).to.deep.equal({
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
            const event = objectCreatedEvent();
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
            const event = objectCreatedEvent();
            delete event.detail.bucket.name;
            const message = thrown(() => audit.parseUpload(JSON.stringify(event)));
            expect(message).to.match(/^message is not an S3 Object Created event: detail\.bucket\.name: .*expected string/);
            expect(message).not.to.contain("\n");
        });

        it("refuses a field of the wrong type or range, naming its path", () => {
            const negative = objectCreatedEvent();
            negative.detail.object.size = -1;
            expect(thrown(() => audit.parseUpload(JSON.stringify(negative)))).to.match(
                /^message is not an S3 Object Created event: detail\.object\.size: /,
            );
            const badTime = objectCreatedEvent();
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
            const deleted = { ...objectCreatedEvent(), "detail-type": "Object Deleted" };
            expect(thrown(() => audit.parseUpload(JSON.stringify(deleted)))).to.equal(
                'message is a "Object Deleted" event from aws.s3, expected an "Object Created" event from aws.s3',
            );
        });

        it("refuses an SNS envelope (raw delivery turned off), naming the first missing field", () => {
            const envelope = { Type: "Notification", MessageId: "x", TopicArn: "arn:aws:sns:us-east-1:123456789012:uploads", Message: JSON.stringify(objectCreatedEvent()) };
            expect(thrown(() => audit.parseUpload(JSON.stringify(envelope)))).to.match(/^message is not an S3 Object Created event: [a-z-]+: /);
        });
    });

    describe("handler", () => {
        it("reports exactly the invalid messages of a batch as item failures", async () => {
            const wrongShape = { ...objectCreatedEvent(), detail: { bucket: { name: "uploads" } } };
            const event = sqsEvent(
                sqsRecord("m-valid", JSON.stringify(objectCreatedEvent())),
                sqsRecord("m-not-json", "{ this is not json"),
                sqsRecord("m-wrong-shape", JSON.stringify(wrongShape)),
            );
            const response = await audit.handler(event, lambdaContext);
            expect(response).to.deep.equal({ batchItemFailures: [{ itemIdentifier: "m-not-json" }, { itemIdentifier: "m-wrong-shape" }] });
        });

        it("returns no item failures for a valid batch", async () => {
            const event = sqsEvent(...["a", "b", "c"].map((id) => sqsRecord(`m-${id}`, JSON.stringify(objectCreatedEvent()))));
            expect(await audit.handler(event, lambdaContext)).to.deep.equal({ batchItemFailures: [] });
        });

        it("fails the whole invocation when every message is invalid, so Lambda retries the batch", async () => {
            const event = sqsEvent(sqsRecord("m-1", "nope"), sqsRecord("m-2", "{}"));
            let failure: Error | undefined;
            await audit.handler(event, lambdaContext).catch((e: Error) => (failure = e));
            expect(failure?.message).to.match(/All records failed processing/);
        });

        it("refuses an event that is not an SQS batch", async () => {
            let failure: Error | undefined;
            await audit.handler({} as SQSEvent, lambdaContext).catch((e: Error) => (failure = e));
            expect(failure).to.be.instanceOf(Error);
        });
    });
});
