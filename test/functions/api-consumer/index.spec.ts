import { SendMessageCommand, SQSClient, type SendMessageCommandInput } from "@aws-sdk/client-sqs";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import { expect } from "chai";
import type { SQSRecord } from "aws-lambda";
import type * as ApiConsumer from "../../../functions/api-consumer";
import { lambdaContext, sqsEvent, sqsRecord } from "../../support/lambda-events";
import { captureJsonLines, withEnv } from "../../support/process-io";

// SQS is mocked (sqslite does not speak the JSON protocol of the current client), which also lets
// a spec make the DLQ refuse a send.

const MODULE = "../../../functions/api-consumer";
const DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/api-dlq";
const SOURCE_ARN = "arn:aws:sqs:us-east-1:123456789012:audit"; // what sqsRecord sets

const SEED_BODY = '{"message": "test event from API"}';
const FULL = { message: "order 42 shipped", type: "order.shipped", correlationId: "c-42", attributes: { source: "web" } };
// Not JSON, with the spacing kept: the DLQ copy must be byte for byte what was received.
const NOT_JSON = "  test event from API \n";
const NO_MESSAGE = '{ "type": "order.created" }';
const EXTRA_FIELD = '{"message": "m", "priority": "high"}';

/** Loads the module afresh: its `handler` reads the environment, and builds its logger, when it loads. */
function loadModule(vars: Record<string, string | undefined> = {}): typeof ApiConsumer {
    delete require.cache[require.resolve(MODULE)];
    return withEnv({ DEAD_LETTER_QUEUE_URL: DLQ_URL, POWERTOOLS_LOG_LEVEL: "SILENT", ...vars }, () => require(MODULE));
}

interface LogLine {
    level: string;
    message: string;
    extra: Record<string, any>;
}

describe("api-consumer", () => {
    let mod: typeof ApiConsumer;
    // Mocked only while this suite runs (every SQSClient, the module's own included).
    let sqs: AwsClientStub<SQSClient>;
    const client = new SQSClient({ region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    let logs: LogLine[];
    const capture = (level: string) => (message: unknown, ...extra: unknown[]) =>
        void logs.push({ level, message: String(message), extra: (extra[0] ?? {}) as Record<string, any> });
    const logger = { info: capture("info"), warn: capture("warn"), error: capture("error") };

    const build = (overrides: Partial<ApiConsumer.ApiConsumerDeps> = {}) => mod.createHandler({ client, deadLetterQueueUrl: DLQ_URL, logger, ...overrides });
    const sends = (): SendMessageCommandInput[] => sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    const at = (level: string) => logs.filter((l) => l.level === level);

    /** The DLQ refuses the messages whose source id is in `ids`, and accepts the others. */
    function dlqRefuses(...ids: string[]): void {
        sqs.on(SendMessageCommand).callsFake((input: SendMessageCommandInput) => {
            const id = input.MessageAttributes?.[mod.SOURCE_MESSAGE_ID_ATTRIBUTE]?.StringValue ?? "";
            if (ids.includes(id)) throw Object.assign(new Error("Access to KMS is not allowed"), { name: "KmsAccessDenied" });
            return { MessageId: `dlq-${id}` };
        });
    }

    before(() => {
        mod = loadModule();
        sqs = mockClient(SQSClient);
    });

    beforeEach(() => {
        sqs.reset();
        sqs.on(SendMessageCommand).resolves({ MessageId: "dlq-1" });
        logs = [];
    });

    after(() => {
        sqs.restore();
    });

    describe("valid messages", () => {
        it("are processed: one INFO line each with the message's fields and SQS id, no DLQ send, no failure", async () => {
            const event = sqsEvent(sqsRecord("m-seed", SEED_BODY), sqsRecord("m-full", JSON.stringify(FULL)));
            expect(await build()(event, lambdaContext)).to.deep.equal({ batchItemFailures: [] });
            expect(sends()).to.deep.equal([]);
            expect(logs).to.deep.equal([
                { level: "info", message: "message processed", extra: { messageId: "m-seed", apiMessage: { message: "test event from API" } } },
                { level: "info", message: "message processed", extra: { messageId: "m-full", apiMessage: FULL } },
            ]);
        });

        it("fail alone, without going to the DLQ, when processing throws: SQS redelivers them", async () => {
            const processMessage = (message: ApiConsumer.ApiMessage) => {
                if (message.message === "boom") throw new Error("downstream unavailable");
            };
            const event = sqsEvent(sqsRecord("m-ok", SEED_BODY), sqsRecord("m-boom", '{"message": "boom"}'));
            expect(await build({ processMessage })(event, lambdaContext)).to.deep.equal({ batchItemFailures: [{ itemIdentifier: "m-boom" }] });
            expect(sends()).to.deep.equal([]);
        });
    });

    describe("invalid messages", () => {
        it("go to the DLQ with the body unchanged, the reason and the source message, and count as done", async () => {
            const event = sqsEvent(sqsRecord("m-text", NOT_JSON), sqsRecord("m-missing", NO_MESSAGE), sqsRecord("m-extra", EXTRA_FIELD));
            expect(await build()(event, lambdaContext)).to.deep.equal({ batchItemFailures: [] });

            const byId = new Map(sends().map((s) => [s.MessageAttributes?.[mod.SOURCE_MESSAGE_ID_ATTRIBUTE]?.StringValue, s]));
            expect([...byId.keys()].sort()).to.deep.equal(["m-extra", "m-missing", "m-text"]);
            const expected: [string, string, RegExp][] = [
                ["m-text", NOT_JSON, /^body is not JSON: /],
                ["m-missing", NO_MESSAGE, /^body does not match the message schema: \/message: is required$/],
                ["m-extra", EXTRA_FIELD, /^body does not match the message schema: \/priority: is not an allowed property$/],
            ];
            for (const [id, body, reason] of expected) {
                const sent = byId.get(id)!;
                expect(sent.QueueUrl, id).to.equal(DLQ_URL);
                expect(sent.MessageBody, id).to.equal(body);
                expect(Object.keys(sent.MessageAttributes ?? {}).sort(), id).to.deep.equal(
                    [mod.REJECT_REASON_ATTRIBUTE, mod.SOURCE_MESSAGE_ID_ATTRIBUTE, mod.SOURCE_QUEUE_ARN_ATTRIBUTE].sort(),
                );
                const attrs = sent.MessageAttributes!;
                expect(attrs[mod.REJECT_REASON_ATTRIBUTE].DataType, id).to.equal("String");
                expect(attrs[mod.REJECT_REASON_ATTRIBUTE].StringValue, id).to.match(reason);
                expect(attrs[mod.SOURCE_MESSAGE_ID_ATTRIBUTE], id).to.deep.equal({ DataType: "String", StringValue: id });
                expect(attrs[mod.SOURCE_QUEUE_ARN_ATTRIBUTE], id).to.deep.equal({ DataType: "String", StringValue: SOURCE_ARN });
                // The WARN line says the same reason as the attribute.
                const warn = at("warn").find((l) => l.extra.messageId === id);
                expect(warn, id).to.deep.include({ message: "message rejected" });
                expect(warn?.extra.reason, id).to.equal(attrs[mod.REJECT_REASON_ATTRIBUTE].StringValue);
            }
            expect(at("warn")).to.have.length(3);
            expect(at("info")).to.deep.equal([]);
            expect(at("error")).to.deep.equal([]);
        });

        it("carry a bounded, one-line reason attribute whatever the body, and no empty source queue attribute", async () => {
            const hostile = JSON.stringify(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`bad\u0000key\n${i}${"z".repeat(100)}`, i])));
            const record: SQSRecord = { ...sqsRecord("m-hostile", hostile), eventSourceARN: "" };
            expect(await build()(sqsEvent(record), lambdaContext)).to.deep.equal({ batchItemFailures: [] });
            const [sent] = sends();
            expect(sent.MessageBody).to.equal(hostile);
            const reason = sent.MessageAttributes![mod.REJECT_REASON_ATTRIBUTE].StringValue!;
            expect(reason).to.match(/^body does not match the message schema: \/message: is required; /);
            expect(Array.from(reason).length).to.be.at.most(512);
            expect(reason).not.to.match(/[\u0000-\u001f]/);
            expect(sent.MessageAttributes).not.to.have.property(mod.SOURCE_QUEUE_ARN_ATTRIBUTE);
        });

        it("are batch item failures, retried by SQS, when the DLQ refuses them: that record only", async () => {
            dlqRefuses("m-refused");
            const event = sqsEvent(sqsRecord("m-refused", NOT_JSON), sqsRecord("m-parked", NO_MESSAGE));
            expect(await build()(event, lambdaContext)).to.deep.equal({ batchItemFailures: [{ itemIdentifier: "m-refused" }] });
            expect(sends()).to.have.length(2);
            expect(at("error")).to.deep.equal([
                {
                    level: "error",
                    message: "rejected message not sent to the dead-letter queue; it will be retried",
                    extra: { messageId: "m-refused", error: "Access to KMS is not allowed" },
                },
            ]);
        });

        it("fail the whole invocation when the DLQ refuses every record, so Lambda retries the batch", async () => {
            dlqRefuses("m-1", "m-2");
            let failure: Error | undefined;
            await build()(sqsEvent(sqsRecord("m-1", NOT_JSON), sqsRecord("m-2", NO_MESSAGE)), lambdaContext).catch((e: Error) => (failure = e));
            expect(failure?.message).to.match(/All records failed processing/);
        });
    });

    it("handles a mixed batch: valid processed, invalid parked, the refused one alone retried", async () => {
        dlqRefuses("m-3");
        const event = sqsEvent(
            sqsRecord("m-1", SEED_BODY),
            sqsRecord("m-2", EXTRA_FIELD),
            sqsRecord("m-3", "[1, 2, 3]"),
            sqsRecord("m-4", JSON.stringify(FULL)),
            sqsRecord("m-5", '{"message": 42}'),
        );
        expect(await build()(event, lambdaContext)).to.deep.equal({ batchItemFailures: [{ itemIdentifier: "m-3" }] });
        expect(at("info").map((l) => l.extra.messageId)).to.deep.equal(["m-1", "m-4"]);
        expect(at("warn").map((l) => [l.extra.messageId, l.extra.reason])).to.deep.equal([
            ["m-2", "body does not match the message schema: /priority: is not an allowed property"],
            ["m-3", "body does not match the message schema: (root): must be object"],
            ["m-5", "body does not match the message schema: /message: must be string"],
        ]);
        expect(sends().map((s) => [s.MessageAttributes?.[mod.SOURCE_MESSAGE_ID_ATTRIBUTE]?.StringValue, s.MessageBody])).to.deep.equal([
            ["m-2", EXTRA_FIELD],
            ["m-3", "[1, 2, 3]"],
            ["m-5", '{"message": 42}'],
        ]);
    });

    describe("configuration", () => {
        it("reads the DLQ URL from DEAD_LETTER_QUEUE_URL and refuses to start without it", () => {
            expect(mod.DEAD_LETTER_QUEUE_URL_ENV).to.equal("DEAD_LETTER_QUEUE_URL");
            expect(mod.deadLetterQueueUrlFromEnv({ DEAD_LETTER_QUEUE_URL: ` ${DLQ_URL} ` })).to.equal(DLQ_URL);
            expect(() => mod.deadLetterQueueUrlFromEnv({})).to.throw("api-consumer: environment variable DEAD_LETTER_QUEUE_URL is not set");
            expect(() => loadModule({ DEAD_LETTER_QUEUE_URL: undefined })).to.throw(/DEAD_LETTER_QUEUE_URL is not set/);
        });

        it("the exported handler logs JSON lines of service api-consumer: INFO for processed, WARN with the reason for rejected", async () => {
            const fresh = loadModule({ POWERTOOLS_LOG_LEVEL: "INFO", POWERTOOLS_DEV: undefined });
            const { result: response, lines } = await captureJsonLines(() =>
                fresh.handler(sqsEvent(sqsRecord("m-ok", SEED_BODY), sqsRecord("m-bad", NO_MESSAGE)), lambdaContext),
            );
            expect(response).to.deep.equal({ batchItemFailures: [] });
            expect(lines).to.have.length(2);
            for (const line of lines) {
                expect(line).to.include({ service: "api-consumer", function_request_id: lambdaContext.awsRequestId });
            }
            const info = lines.find((l) => l.level === "INFO");
            const warn = lines.find((l) => l.level === "WARN");
            expect(info).to.deep.include({ message: "message processed", messageId: "m-ok", apiMessage: { message: "test event from API" } });
            expect(warn).to.deep.include({ message: "message rejected", messageId: "m-bad", reason: "body does not match the message schema: /message: is required" });
            expect(sends().map((s) => s.QueueUrl)).to.deep.equal([DLQ_URL]);
        });
    });
});
