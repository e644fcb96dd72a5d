import { expect } from "chai";
import { KINESIS_CONSUMER_ACTIONS, StreamToTable, StreamToTableArgs } from "../../../components/systems/stream-to-table";
import { PolicyStatement } from "../../../components/security/policy-documents";
import { Plan } from "../../../local/plan";
import { ALERT_TOPIC_ARN, ofType, one, policyOf, record, generated } from "../../support/pulumi-harness";

const ACCOUNT = "123456789012";
const R = {
    stream: "aws:kinesis/stream:Stream",
    table: "aws:dynamodb/table:Table",
    esm: "aws:lambda/eventSourceMapping:EventSourceMapping",
    alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    key: "aws:kms/key:Key",
    fn: "aws:lambda/function:Function",
};

const build = (args: Partial<StreamToTableArgs> = {}): Promise<Plan> =>
    record(() => void new StreamToTable("events", { alertTopicArn: ALERT_TOPIC_ARN, streamName: "EventStream", tableName: "EventLogs", ...args }));

async function refusal(args: Partial<StreamToTableArgs>): Promise<string> {
    try {
        await build(args);
    } catch (e) {
        return (e as Error).message;
    }
    expect.fail("expected the program to fail");
}

describe("StreamToTable", () => {
    let plan: Plan;
    before(async () => {
        plan = await build({
            streamMode: "PROVISIONED",
            shardCount: 1,
            retentionHours: 48,
            ttlDays: 30,
            lookupIndex: true,
            consumer: { batchSize: 200, maximumBatchingWindowSeconds: 2, parallelizationFactor: 3, maximumRetryAttempts: 4, maximumRecordAgeSeconds: 3600 },
        });
    });

    it("creates the named stream, KMS-encrypted with its own key, with the mode, shards and retention asked", () => {
        const stream = one(plan, R.stream, "events-stream");
        expect(stream.inputs).to.deep.include({
            name: "EventStream",
            streamModeDetails: { streamMode: "PROVISIONED" },
            shardCount: 1,
            retentionPeriod: 48,
            encryptionType: "KMS",
            kmsKeyId: one(plan, R.key, "events-stream-key-cmk").outputs.arn,
        });
    });

    it("leaves shards to an ON_DEMAND stream", async () => {
        const onDemand = await build({});
        const stream = one(onDemand, R.stream, "events-stream");
        expect(stream.inputs.streamModeDetails).to.deep.equal({ streamMode: "ON_DEMAND" });
        expect(stream.inputs.shardCount).to.equal(undefined);
        expect(ofType(onDemand, R.table).find((t) => t.name === "events-table")?.inputs.globalSecondaryIndexes).to.equal(undefined);
    });

    it("creates the events table keyed by eventId, on demand, with PITR, SSE, TTL and the lookup index", () => {
        const table = one(plan, R.table, "events-table");
        expect(table.inputs).to.deep.include({
            name: "EventLogs",
            hashKey: "eventId",
            billingMode: "PAY_PER_REQUEST",
            pointInTimeRecovery: { enabled: true },
            serverSideEncryption: { enabled: true },
            ttl: { attributeName: "expiresAt", enabled: true },
        });
        expect(table.inputs.globalSecondaryIndexes).to.deep.equal([
            {
                name: "bySourceAndTime",
                keySchemas: [
                    { attributeName: "source", keyType: "HASH" },
                    { attributeName: "eventTime", keyType: "RANGE" },
                ],
                projectionType: "ALL",
            },
        ]);
        expect(table.inputs.attributes).to.deep.equal([
            { name: "eventId", type: "S" },
            { name: "source", type: "S" },
            { name: "eventTime", type: "S" },
        ]);
        const rejects = one(plan, R.table, "events-rejects-table");
        expect(rejects.inputs).to.deep.include({ name: "EventLogsRejected", hashKey: "recordId", serverSideEncryption: { enabled: true } });
    });

    it("maps the stream to the consumer from TRIM_HORIZON, bisecting, bounded, with a failure destination and partial failures", () => {
        const esm = one(plan, R.esm, "events-consumer-events");
        expect(esm.inputs).to.deep.include({
            eventSourceArn: `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/EventStream`,
            functionName: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${generated("aws:lambda/function:Function", "events-consumer-function")}`,
            startingPosition: "TRIM_HORIZON",
            batchSize: 200,
            maximumBatchingWindowInSeconds: 2,
            parallelizationFactor: 3,
            bisectBatchOnFunctionError: true,
            maximumRetryAttempts: 4,
            maximumRecordAgeInSeconds: 3600,
            functionResponseTypes: ["ReportBatchItemFailures"],
        });
        expect(esm.inputs.destinationConfig).to.deep.equal({
            onFailure: { destinationArn: `arn:aws:sqs:us-east-1:${ACCOUNT}:${generated("aws:sqs/queue:Queue", "events-failures-queue")}` },
        });
    });

    it("gives the consumer exactly: Kinesis reads on the stream, kms:Decrypt on its key, writes on the two tables, send on the failure queue", () => {
        const statements = policyOf(one(plan, R.rolePolicy, "events-consumer-policy")).Statement;
        const extra = statements.filter((s: PolicyStatement) => !(s.Action as string[]).some((a) => a.startsWith("logs:") || a.startsWith("xray:")));
        expect(extra).to.deep.equal([
            { Effect: "Allow", Action: [...KINESIS_CONSUMER_ACTIONS].sort(), Resource: [`arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/EventStream`] },
            { Effect: "Allow", Action: ["kms:Decrypt"], Resource: [one(plan, R.key, "events-stream-key-cmk").outputs.arn] },
            {
                Effect: "Allow",
                Action: ["dynamodb:BatchWriteItem", "dynamodb:PutItem"],
                Resource: [`arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/EventLogs`, `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/EventLogsRejected`],
            },
            { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [`arn:aws:sqs:us-east-1:${ACCOUNT}:${generated("aws:sqs/queue:Queue", "events-failures-queue")}`] },
        ]);
    });

    it("tells the handler where to write, which field holds the event id and the TTL", () => {
        const fn = one(plan, R.fn, "events-consumer-function");
        expect((fn.inputs.environment as { variables: Record<string, string> }).variables).to.deep.include({
            TABLE_NAME: "EventLogs",
            REJECTS_TABLE_NAME: "EventLogsRejected",
            EVENT_ID_FIELD: "eventId",
            TTL_DAYS: "30",
        });
        expect(fn.inputs.codeSha256).to.be.a("string");
    });

    it("alarms on iterator age (stream dimension, at half the lesser of retention and record age), consumer errors and throttles, table and index throttles and the failure queue", () => {
        const alarms = Object.fromEntries(ofType(plan, R.alarm).map((a) => [a.name, a.inputs]));
        expect(alarms["events-iterator-age-alarm"]).to.deep.include({
            namespace: "AWS/Kinesis",
            metricName: "GetRecords.IteratorAgeMilliseconds",
            dimensions: { StreamName: "EventStream" },
            statistic: "Maximum",
            // retention 48 h, maximumRecordAgeSeconds 3600: records are dropped after an hour.
            threshold: 1_800_000,
        });
        expect(alarms["events-consumer-errors-alarm"]).to.deep.include({ namespace: "AWS/Lambda", metricName: "Errors", dimensions: { FunctionName: generated("aws:lambda/function:Function", "events-consumer-function") } });
        expect(alarms["events-consumer-throttles-alarm"]).to.deep.include({ namespace: "AWS/Lambda", metricName: "Throttles", dimensions: { FunctionName: generated("aws:lambda/function:Function", "events-consumer-function") } });
        expect(alarms["events-write-throttles-alarm"]).to.deep.include({ namespace: "AWS/DynamoDB", metricName: "WriteThrottleEvents", dimensions: { TableName: "EventLogs" } });
        expect(alarms["events-index-write-throttles-alarm"]).to.deep.include({
            metricName: "WriteThrottleEvents",
            dimensions: { TableName: "EventLogs", GlobalSecondaryIndexName: "bySourceAndTime" },
        });
        // The failure queue keeps messages as long as the stream keeps records, and pages at a quarter of it.
        expect(one(plan, "aws:sqs/queue:Queue", "events-failures-queue").inputs.messageRetentionSeconds).to.equal(2 * 86_400);
        expect(alarms["events-failures-oldest-message-age-alarm"]).to.deep.include({ threshold: 12 * 3600 });
        expect(alarms["events-failures-depth-alarm"]).to.deep.include({
            metricName: "ApproximateNumberOfMessagesVisible",
            dimensions: { QueueName: generated("aws:sqs/queue:Queue", "events-failures-queue") },
            threshold: 1,
        });
        for (const [name, inputs] of Object.entries(alarms)) {
            expect(inputs.alarmActions, name).to.deep.equal([ALERT_TOPIC_ARN]);
            expect(inputs.okActions, name).to.deep.equal([ALERT_TOPIC_ARN]);
        }
    });

    it("protects stream, tables and key, with DynamoDB deletion protection, when asked", async () => {
        const guarded = await build({ protect: true });
        for (const [type, name] of [
            [R.stream, "events-stream"],
            [R.table, "events-table"],
            [R.table, "events-rejects-table"],
            [R.key, "events-stream-key-cmk"],
        ]) {
            expect(one(guarded, type, name).protect, name).to.equal(true);
        }
        expect(one(guarded, R.table, "events-table").inputs.deletionProtectionEnabled).to.equal(true);
    });

    describe("refuses at construction, in one line", () => {
        const cases: [Partial<StreamToTableArgs>, string][] = [
            [{ shardCount: 2 }, 'StreamToTable "events": shardCount applies to streamMode "PROVISIONED" only'],
            [{ retentionHours: 12 }, 'StreamToTable "events": retentionHours = 12: expected an integer from 24 to 8760'],
            [{ consumer: { parallelizationFactor: 11 } }, 'StreamToTable "events": consumer.parallelizationFactor = 11: expected an integer from 1 to 10'],
            [{ consumer: { maximumRecordAgeSeconds: 90_000 } }, 'StreamToTable "events": consumer.maximumRecordAgeSeconds 90000 exceeds the stream\'s retention (24 h = 86400 s)'],
            [{ iteratorAgeAlarmMs: 50_000_000 }, 'StreamToTable "events": iteratorAgeAlarmMs = 50000000: expected from 60000 to 10800000 (half the lesser of the retention and consumer.maximumRecordAgeSeconds)'],
        ];
        for (const [args, message] of cases) {
            it(JSON.stringify(args), async () => {
                const error = await refusal(args);
                expect(error.startsWith(message), error).to.equal(true);
            });
        }
    });
});
