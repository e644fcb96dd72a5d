import { expect } from "chai";
import type { SQSEvent } from "aws-lambda";
import {
    ConditionalCheckFailedException,
    DynamoDBClient,
    InternalServerError,
    PutItemCommand,
    ScanCommand,
    ThrottlingException,
} from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import type * as AuditLogger from "../../functions/audit-logger";
import * as record from "../../functions/audit-logger/record";
import { createHashKeyTable } from "../support/dynamo-tables";
import { dynamoClient, startDynalite, type Emulator } from "../../local/runtime/emulators";
import { applyEnv, withEnv } from "../support/process-io";
import { lambdaContext, objectCreatedEvent, sqsEvent, sqsRecord, uploadMessage } from "../support/lambda-events";

const MODULE = "../../functions/audit-logger";

// A fresh copy of the module, so its entry point builds its handler (Powertools logger, DynamoDB
// client, table name) anew on its first call, from the environment at that moment.
function loadHandler(): typeof AuditLogger {
    delete require.cache[require.resolve(MODULE)];
    return require(MODULE);
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

/** The error `promise` rejects with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
    try {
        await promise;
    } catch (err) {
        return err as Error;
    }
    return expect.fail("expected a rejection");
}

interface LogLine {
    level: "INFO" | "ERROR";
    message: string;
    [key: string]: unknown;
}

/** A logger for createHandler that keeps its lines, to check what was logged and at which level. */
function recordingLogger() {
    const lines: LogLine[] = [];
    const at = (level: LogLine["level"]) => (message: unknown, ...extra: unknown[]) => {
        lines.push(Object.assign({ level, message: String(message) }, ...extra.filter((e) => typeof e === "object")));
    };
    return { lines, logger: { info: at("INFO"), error: at("ERROR") } as unknown as AuditLogger.AuditLoggerDeps["logger"] };
}

const VERSION_1 = "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e";
const VERSION_2 = "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd";
const T0 = Date.parse("2025-01-01T12:00:01.500Z");

const body = (fields: Parameters<typeof objectCreatedEvent>[0] = {}) => uploadMessage(fields);

/** What the sample Object Created event (lambda-events) says, as parsed and as audited. */
const SAMPLE_UPLOAD = {
    bucket: "uploads",
    key: "photos/2025/cat.jpg",
    size: 5,
    etag: "b1946ac92492d2347c6235b4d2611184",
    versionId: VERSION_1,
    sequencer: "00617F08299329D189",
    eventTime: "2025-01-01T12:00:00Z",
    requester: "123456789012",
    sourceIp: "203.0.113.15",
    eventId: "17793124-05d4-b198-2fde-7ededc63b103",
};

describe("audit-logger", () => {
    let audit: typeof AuditLogger;

    before(() => {
        audit = loadHandler();
    });

    describe("parseUpload", () => {
        it("returns the bucket, key, size, etag, version, sequencer, time, requester, source IP and event id", () => {
            expect(audit.parseUpload(body())).to.deep.equal(SAMPLE_UPLOAD);
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

        it("accepts an IPv6 source address, as S3 reports for IPv6 clients", () => {
            for (const ip of ["2001:db8::1", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::ffff:192.0.2.1"]) {
                const event = objectCreatedEvent();
                event.detail["source-ip-address"] = ip;
                expect(audit.parseUpload(JSON.stringify(event)).sourceIp, ip).to.equal(ip);
            }
        });

        it("still refuses a source address that is neither IPv4 nor IPv6", () => {
            for (const ip of ["not-an-ip", "999.1.1.1", "2001:db8:::1"]) {
                const event = objectCreatedEvent();
                event.detail["source-ip-address"] = ip;
                expect(thrown(() => audit.parseUpload(JSON.stringify(event))), ip).to.match(
                    /^message is not an S3 Object Created event: detail\.source-ip-address: /,
                );
            }
        });

        it("refuses a body that is not JSON, in one line saying what was expected", () => {
            const message = thrown(() => audit.parseUpload("<xml>not json</xml>"));
            expect(message).to.equal("message body is not JSON (expected an S3 Object Created event): <xml>not json</xml>");
        });

        it("keeps the message to one line and a bounded excerpt when the body spans lines", () => {
            const text = `line one\nline two\r\n${"x".repeat(500)}`;
            const message = thrown(() => audit.parseUpload(text));
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
            for (const text of ["null", "[]", '"text"', "42"]) {
                const message = thrown(() => audit.parseUpload(text));
                expect(message, text).to.match(/^message is not an S3 Object Created event: \(root\): .*expected object/);
                expect(message, text).not.to.contain("\n");
            }
        });

        it("refuses an S3 event that is not a creation, saying what was expected", () => {
            const deleted = { ...objectCreatedEvent(), "detail-type": "Object Deleted" };
            expect(thrown(() => audit.parseUpload(JSON.stringify(deleted)))).to.equal(
                'message is a "Object Deleted" event from aws.s3, expected an "Object Created" event from aws.s3',
            );
        });

        it("refuses an SNS envelope (raw delivery turned off), naming the first missing field", () => {
            const envelope = { Type: "Notification", MessageId: "x", TopicArn: "arn:aws:sns:us-east-1:123456789012:uploads", Message: body() };
            expect(thrown(() => audit.parseUpload(JSON.stringify(envelope)))).to.match(/^message is not an S3 Object Created event: [a-z-]+: /);
        });
    });

    describe("auditKey", () => {
        const upload = { bucket: "uploads", key: "photos/cat.jpg", sequencer: "00617F08299329D189" };

        it("is the object version: s3://bucket/key#versionId", () => {
            expect(audit.auditKey({ ...upload, versionId: VERSION_1 })).to.equal(`s3://uploads/photos/cat.jpg#${VERSION_1}`);
        });

        it("is the sequencer when the bucket is unversioned", () => {
            expect(audit.auditKey(upload)).to.equal("s3://uploads/photos/cat.jpg#seq:00617F08299329D189");
        });

        it('is the sequencer when the version id is "null" (versioning suspended: every overwrite shares it)', () => {
            expect(audit.auditKey({ ...upload, versionId: "null" })).to.equal("s3://uploads/photos/cat.jpg#seq:00617F08299329D189");
        });

        it("is the same for every delivery of one event, and differs between versions and sequencers", () => {
            const of = (text: string) => audit.auditKey(audit.parseUpload(text));
            expect(of(body())).to.equal(of(body()));
            expect(of(body({ versionId: VERSION_1 }))).not.to.equal(of(body({ versionId: VERSION_2 })));
            expect(of(body({ versionId: null, sequencer: "01" }))).not.to.equal(of(body({ versionId: null, sequencer: "02" })));
        });

        it("refuses an event with neither a version id nor a sequencer", () => {
            expect(thrown(() => audit.auditKey({ bucket: "uploads", key: "a.txt" }))).to.equal(
                "event for s3://uploads/a.txt has neither a version id nor a sequencer: no key tells its deliveries apart from other writes",
            );
        });
    });

    describe("handler, on dynalite", () => {
        let emulator: Emulator;
        let client: DynamoDBClient;
        let tables = 0;

        before(async () => {
            emulator = await startDynalite();
            client = dynamoClient(emulator);
        });

        after(async () => {
            client?.destroy();
            await emulator?.stop();
        });

        /** A fresh audit table, and a handler writing to it with a recording logger and a settable clock. */
        async function deploy() {
            const tableName = `audit-${++tables}`;
            await createHashKeyTable(client, tableName, audit.AUDIT_TABLE_KEY);
            const log = recordingLogger();
            const clock = { now: T0 };
            const handler = audit.createHandler({ client, tableName, logger: log.logger, now: () => clock.now });
            const items = async () => {
                const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
                return (page.Items ?? []).map((i) => unmarshall(i)).sort((a, b) => String(a.auditId).localeCompare(String(b.auditId)));
            };
            return { tableName, handler, items, logs: log.lines, clock };
        }

        const summaries = (logs: LogLine[]) => logs.filter((l) => l.message === "batch audited");

        it("writes one item per valid event, with the upload's fields, its key and when it was recorded", async () => {
            const { handler, items, logs } = await deploy();
            expect(await handler(sqsEvent(sqsRecord("m-1", body())), lambdaContext)).to.deep.equal({ batchItemFailures: [] });
            expect(await items()).to.deep.equal([
                {
                    auditId: `s3://uploads/photos/2025/cat.jpg#${VERSION_1}`,
                    ...SAMPLE_UPLOAD,
                    recordedAt: "2025-01-01T12:00:01.500Z",
                },
            ]);
            const uploaded = logs.filter((l) => l.message === "object uploaded");
            expect(uploaded).to.have.length(1);
            expect(uploaded[0]).to.include({ level: "INFO", messageId: "m-1", auditId: `s3://uploads/photos/2025/cat.jpg#${VERSION_1}` });
            expect(summaries(logs)).to.deep.equal([{ level: "INFO", message: "batch audited", records: 1, recorded: 1, duplicates: 0, rejected: 0, failed: 0 }]);
        });

        it("leaves one unchanged item when a message is delivered 3 times, in 3 invocations", async () => {
            const { handler, items, logs, clock } = await deploy();
            const text = body();
            await handler(sqsEvent(sqsRecord("m-1", text)), lambdaContext);
            const first = await items();
            expect(first).to.have.length(1);
            for (const attempt of [2, 3]) {
                // Later deliveries come later: a write that replaced the item would change recordedAt.
                clock.now = T0 + attempt * 60_000;
                expect(await handler(sqsEvent(sqsRecord(`m-${attempt}`, text)), lambdaContext), `delivery ${attempt}`).to.deep.equal({
                    batchItemFailures: [],
                });
            }
            expect(await items()).to.deep.equal(first);
            const duplicates = logs.filter((l) => l.message === "duplicate delivery, already recorded");
            expect(duplicates.map((l) => [l.level, l.messageId, l.auditId])).to.deep.equal([
                ["INFO", "m-2", first[0].auditId],
                ["INFO", "m-3", first[0].auditId],
            ]);
            expect(summaries(logs).map((s) => [s.recorded, s.duplicates])).to.deep.equal([
                [1, 0],
                [0, 1],
                [0, 1],
            ]);
        });

        it("leaves one item when 3 copies of a message arrive in one batch", async () => {
            const { handler, items, logs } = await deploy();
            const text = body();
            const response = await handler(sqsEvent(sqsRecord("m-1", text), sqsRecord("m-2", text), sqsRecord("m-3", text)), lambdaContext);
            expect(response).to.deep.equal({ batchItemFailures: [] });
            const stored = await items();
            expect(stored.map((i) => i.auditId)).to.deep.equal([`s3://uploads/photos/2025/cat.jpg#${VERSION_1}`]);
            expect(summaries(logs)).to.deep.equal([{ level: "INFO", message: "batch audited", records: 3, recorded: 1, duplicates: 2, rejected: 0, failed: 0 }]);
        });

        it("writes one item per version of the same key", async () => {
            const { handler, items } = await deploy();
            const event = sqsEvent(
                sqsRecord("m-v1", body({ versionId: VERSION_1, sequencer: "0001" })),
                sqsRecord("m-v2", body({ versionId: VERSION_2, sequencer: "0002", size: 7 })),
            );
            expect(await handler(event, lambdaContext)).to.deep.equal({ batchItemFailures: [] });
            const stored = await items();
            expect(stored.map((i) => [i.auditId, i.versionId, i.size])).to.deep.equal([
                [`s3://uploads/photos/2025/cat.jpg#${VERSION_2}`, VERSION_2, 7],
                [`s3://uploads/photos/2025/cat.jpg#${VERSION_1}`, VERSION_1, 5],
            ]);
        });

        it("keys an unversioned upload by its sequencer, one item per write to the key", async () => {
            const { handler, items } = await deploy();
            const first = body({ versionId: null, sequencer: "00617F08299329D189" });
            const event = sqsEvent(sqsRecord("m-1", first), sqsRecord("m-2", body({ versionId: null, sequencer: "00617F0829932A0000" })), sqsRecord("m-3", first));
            expect(await handler(event, lambdaContext)).to.deep.equal({ batchItemFailures: [] });
            const stored = await items();
            expect(stored.map((i) => i.auditId)).to.deep.equal([
                "s3://uploads/photos/2025/cat.jpg#seq:00617F08299329D189",
                "s3://uploads/photos/2025/cat.jpg#seq:00617F0829932A0000",
            ]);
            expect(stored[0]).not.to.have.property("versionId");
        });

        it("records an upload from an IPv6 client", async () => {
            const { handler, items } = await deploy();
            const event = objectCreatedEvent();
            event.detail["source-ip-address"] = "2001:db8::1";
            expect(await handler(sqsEvent(sqsRecord("m-1", JSON.stringify(event))), lambdaContext)).to.deep.equal({ batchItemFailures: [] });
            expect((await items()).map((i) => i.sourceIp)).to.deep.equal(["2001:db8::1"]);
        });

        it("records the decoded key (S3 URL-encodes keys in its events), with the event's spelling beside it", async () => {
            const { handler, items } = await deploy();
            expect(await handler(sqsEvent(sqsRecord("m-1", body({ key: "photos/red+flower+%281%29.jpg", versionId: "v1" }))), lambdaContext)).to.deep.equal({
                batchItemFailures: [],
            });
            const [item] = await items();
            expect(item).to.include({ auditId: "s3://uploads/photos/red flower (1).jpg#v1", key: "photos/red flower (1).jpg", eventKey: "photos/red+flower+%281%29.jpg" });
        });

        it("reports exactly the invalid messages as item failures, logs why, and writes only the valid one", async () => {
            const { handler, items, logs } = await deploy();
            const wrongShape = { ...objectCreatedEvent(), detail: { bucket: { name: "uploads" } } };
            const noKey = objectCreatedEvent({ versionId: null });
            delete noKey.detail.object.sequencer;
            const event = sqsEvent(
                sqsRecord("m-valid", body("photos/ok.jpg")),
                sqsRecord("m-not-json", "{ this is not json"),
                sqsRecord("m-wrong-shape", JSON.stringify(wrongShape)),
                sqsRecord("m-no-key", JSON.stringify(noKey)),
            );
            const response = await handler(event, lambdaContext);
            expect(response).to.deep.equal({
                batchItemFailures: [{ itemIdentifier: "m-not-json" }, { itemIdentifier: "m-wrong-shape" }, { itemIdentifier: "m-no-key" }],
            });
            expect((await items()).map((i) => i.key)).to.deep.equal(["photos/ok.jpg"]);
            const rejected = logs.filter((l) => l.message === "rejected message");
            expect(rejected.map((l) => [l.level, l.messageId])).to.deep.equal([
                ["ERROR", "m-not-json"],
                ["ERROR", "m-wrong-shape"],
                ["ERROR", "m-no-key"],
            ]);
            expect(rejected[0].reason).to.match(/^message body is not JSON/);
            expect(rejected[1].reason).to.match(/^message is not an S3 Object Created event: detail\.version: /);
            expect(rejected[2].reason).to.match(/has neither a version id nor a sequencer/);
            expect(summaries(logs)[0]).to.include({ records: 4, recorded: 1, rejected: 3, failed: 0 });
        });

        it("fails the whole invocation when every message is invalid, so Lambda retries the batch, writing nothing", async () => {
            const { handler, items, logs } = await deploy();
            const failure = await rejection(handler(sqsEvent(sqsRecord("m-1", "nope"), sqsRecord("m-2", "{}")), lambdaContext));
            expect(failure.message).to.match(/All records failed processing/);
            expect(await items()).to.deep.equal([]);
            expect(logs.filter((l) => l.message === "rejected message").map((l) => l.messageId)).to.deep.equal(["m-1", "m-2"]);
        });

        it("refuses an event that is not an SQS batch", async () => {
            const { handler } = await deploy();
            expect(await rejection(handler({} as SQSEvent, lambdaContext))).to.be.instanceOf(Error);
        });

        it("reports a message as failed when its table does not exist (an error other than the condition)", async () => {
            const log = recordingLogger();
            const handler = audit.createHandler({ client, tableName: "no-such-table", logger: log.logger });
            const failure = await rejection(handler(sqsEvent(sqsRecord("m-1", body())), lambdaContext));
            expect(failure.message).to.match(/All records failed processing/);
            expect(log.lines.find((l) => l.message === "audit write failed")).to.include({ level: "ERROR", messageId: "m-1" });
        });

        it("as deployed: takes the table from AUDIT_TABLE_NAME and DynamoDB's endpoint from AWS_ENDPOINT_URL_DYNAMODB", async () => {
            const { tableName, items } = await deploy();
            const deployed = loadHandler();
            // The Lambda runtime's environment, with SILENT logs (a level Powertools 2.x supports), set
            // for the whole call: the client reads region, credentials and endpoint on its first send.
            const saved = applyEnv({
                POWERTOOLS_LOG_LEVEL: "SILENT",
                [audit.AUDIT_TABLE_ENV]: tableName,
                AWS_ENDPOINT_URL_DYNAMODB: emulator.endpoint,
                AWS_REGION: emulator.region,
                AWS_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
                AWS_SECRET_ACCESS_KEY: emulator.credentials.secretAccessKey,
            });
            let response;
            try {
                response = await deployed.handler(sqsEvent(sqsRecord("m-1", body())), lambdaContext);
            } finally {
                applyEnv(saved);
            }
            expect(response).to.deep.equal({ batchItemFailures: [] });
            expect((await items()).map((i) => i.auditId)).to.deep.equal([`s3://uploads/photos/2025/cat.jpg#${VERSION_1}`]);
        });
    });

    describe("handler, with DynamoDB faults (aws-sdk-client-mock)", () => {
        const client = new DynamoDBClient({ region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
        const dynamodb = mockClient(client);
        const throttled = `s3://uploads/photos/throttled.jpg#${VERSION_1}`;

        afterEach(() => dynamodb.reset());
        after(() => dynamodb.restore());

        /** Fails the PutItem of `failingKey` with `error`; every other put succeeds. */
        function failPut(failingKey: string, error: Error) {
            dynamodb.on(PutItemCommand).callsFake((input) => {
                if (input.Item?.auditId?.S === failingKey) throw error;
                return {};
            });
        }

        const handlerWithLog = () => {
            const log = recordingLogger();
            return { log, handler: audit.createHandler({ client, tableName: "audit", logger: log.logger }) };
        };

        it("reports a throttled write as an item failure, logging the error, and the rest of the batch as done", async () => {
            failPut(throttled, new ThrottlingException({ message: "Rate exceeded", $metadata: {} }));
            const { handler, log } = handlerWithLog();
            const event = sqsEvent(sqsRecord("m-ok", body("photos/ok.jpg")), sqsRecord("m-throttled", body("photos/throttled.jpg")));
            expect(await handler(event, lambdaContext)).to.deep.equal({ batchItemFailures: [{ itemIdentifier: "m-throttled" }] });
            expect(dynamodb.commandCalls(PutItemCommand)).to.have.length(2);
            const failed = log.lines.filter((l) => l.message === "audit write failed");
            expect(failed).to.deep.equal([
                { level: "ERROR", message: "audit write failed", messageId: "m-throttled", auditId: throttled, reason: "ThrottlingException: Rate exceeded" },
            ]);
            expect(log.lines.find((l) => l.message === "batch audited")).to.include({ recorded: 1, duplicates: 0, failed: 1 });
        });

        it("reports a DynamoDB server error as an item failure", async () => {
            failPut(throttled, new InternalServerError({ message: "Internal server error", $metadata: {} }));
            const { handler } = handlerWithLog();
            const event = sqsEvent(sqsRecord("m-ok", body("photos/ok.jpg")), sqsRecord("m-5xx", body("photos/throttled.jpg")));
            expect(await handler(event, lambdaContext)).to.deep.equal({ batchItemFailures: [{ itemIdentifier: "m-5xx" }] });
        });

        it("takes a failed condition as a duplicate: success, logged at INFO", async () => {
            failPut(throttled, new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} }));
            const { handler, log } = handlerWithLog();
            expect(await handler(sqsEvent(sqsRecord("m-dup", body("photos/throttled.jpg"))), lambdaContext)).to.deep.equal({ batchItemFailures: [] });
            expect(log.lines.filter((l) => l.level === "ERROR")).to.deep.equal([]);
            expect(log.lines.find((l) => l.message === "batch audited")).to.include({ recorded: 0, duplicates: 1, failed: 0 });
        });

        it("puts only if absent, into the named table, without the attributes the event lacks", async () => {
            dynamodb.on(PutItemCommand).resolves({});
            const { handler } = handlerWithLog();
            await handler(sqsEvent(sqsRecord("m-1", body({ versionId: null }))), lambdaContext);
            const [call] = dynamodb.commandCalls(PutItemCommand);
            const input = call.args[0].input;
            expect(input.TableName).to.equal("audit");
            expect(input.ConditionExpression).to.equal("attribute_not_exists(#key)");
            expect(input.ExpressionAttributeNames).to.deep.equal({ "#key": "auditId" });
            expect(input.Item).not.to.have.property("versionId");
        });
    });

    describe("createHandler", () => {
        it(`refuses to start without ${"AUDIT_TABLE_NAME"}, naming it`, () => {
            const message = withEnv({ AUDIT_TABLE_NAME: undefined }, () => thrown(() => audit.createHandler({ client: {} as DynamoDBClient })));
            expect(message).to.equal("audit-logger: environment variable AUDIT_TABLE_NAME is not set");
        });

        it("leaves the module importable without AUDIT_TABLE_NAME, its entry point failing each call, naming it", async () => {
            const loaded = withEnv({ AUDIT_TABLE_NAME: undefined }, () => loadHandler());
            for (let call = 1; call <= 2; call++) {
                const failure = await withEnv({ AUDIT_TABLE_NAME: undefined }, () => rejection(loaded.handler(sqsEvent(sqsRecord("m-1", body())), lambdaContext)));
                expect(failure.message, `call ${call}`).to.equal("audit-logger: environment variable AUDIT_TABLE_NAME is not set");
            }
        });

        it("exports the environment variable and key names the infrastructure uses, also from record.ts", () => {
            expect(audit.AUDIT_TABLE_ENV).to.equal("AUDIT_TABLE_NAME");
            expect(audit.AUDIT_TABLE_KEY).to.equal("auditId");
            expect(record).to.include({ AUDIT_TABLE_ENV: "AUDIT_TABLE_NAME", AUDIT_TABLE_KEY: "auditId", auditKey: audit.auditKey });
        });
    });
});
