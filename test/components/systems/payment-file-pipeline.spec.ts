import { expect } from "chai";
import { matchesEventPattern } from "../../../components/messaging/event-patterns";
import { PolicyStatement } from "../../../components/security/policy-documents";
import { PaymentFilePipeline, PaymentFilePipelineArgs } from "../../../components/systems/payment-file-pipeline";
import { PAYMENT_FILE_ENV, PAYMENT_METRICS, PAYMENT_PREFIXES } from "../../../functions/shared/contract";
import { Plan } from "../../../local/plan";
import { objectCreatedEvent } from "../../support/lambda-events";
import { ALERT_TOPIC_ARN, childrenOf, descendantsOf, ofType, one, policyOf, record } from "../../support/pulumi-harness";

const T = {
    component: "event-pipelines:index:PaymentFilePipeline",
    bucket: "aws:s3/bucket:Bucket",
    notification: "aws:s3/bucketNotification:BucketNotification",
    rule: "aws:cloudwatch/eventRule:EventRule",
    target: "aws:cloudwatch/eventTarget:EventTarget",
    queue: "aws:sqs/queue:Queue",
    queuePolicy: "aws:sqs/queuePolicy:QueuePolicy",
    redriveAllow: "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    esm: "aws:lambda/eventSourceMapping:EventSourceMapping",
    fn: "aws:lambda/function:Function",
    logGroup: "aws:cloudwatch/logGroup:LogGroup",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    table: "aws:dynamodb/table:Table",
    alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
};

// The two functions, by the QueueWithDlq that feeds them.
const FILE = "pay-files";
const CHUNK = "pay-chunks";

const build = (args: Partial<PaymentFilePipelineArgs> = {}): Promise<Plan> =>
    record(() => void new PaymentFilePipeline("pay", { alertTopicArn: ALERT_TOPIC_ARN, ...args }));

async function refusal(args: Partial<PaymentFilePipelineArgs>): Promise<string> {
    try {
        await build(args);
    } catch (e) {
        return (e as Error).message;
    }
    return expect.fail("expected the program to fail");
}

const out = (plan: Plan, type: string, name: string, field: string) => one(plan, type, name).outputs[field] as string;
const env = (plan: Plan, queue: string) => (one(plan, T.fn, `${queue}-consumer-function`).inputs.environment as { variables: Record<string, string> }).variables;
const statements = (plan: Plan, queue: string): PolicyStatement[] => policyOf(one(plan, T.rolePolicy, `${queue}-consumer-policy`)).Statement;
const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every (action, resource) a policy allows, as "action resource", sorted: widening any grant changes it. */
function allowed(s: PolicyStatement[]): string[] {
    return s.flatMap((st) => list(st.Action).flatMap((a) => list(st.Resource).map((r) => `${a} ${r}`))).sort();
}
const pairs = (actions: string[], resources: string[]) => actions.flatMap((a) => resources.map((r) => `${a} ${r}`));

describe("PaymentFilePipeline", () => {
    let plan: Plan;
    let bucketName: string;
    let bucketArn: string;
    before(async () => {
        plan = await build();
        bucketName = out(plan, T.bucket, "pay-bucket", "bucket");
        bucketArn = out(plan, T.bucket, "pay-bucket", "arn");
    });

    it("holds its bucket, tables, queues and rule below the component, named `<name>-<role>` (or `<name>`)", () => {
        const component = one(plan, T.component, "pay");
        expect(childrenOf(plan, component).map((c) => `${c.type}::${c.name}`).sort()).to.deep.equal([
            "aws:cloudwatch/metricAlarm:MetricAlarm::pay-payment-conflicts-alarm",
            "aws:cloudwatch/metricAlarm:MetricAlarm::pay-quarantined-lines-alarm",
            "event-pipelines:index:KeyedTable::pay-files",
            "event-pipelines:index:KeyedTable::pay-payments",
            "event-pipelines:index:ObjectCreatedRule::pay-created",
            "event-pipelines:index:QueueWithDlq::pay-chunks",
            "event-pipelines:index:QueueWithDlq::pay-files",
            "event-pipelines:index:SecureBucket::pay",
        ]);
        const descendants = descendantsOf(plan, component);
        expect(descendants.every((d) => d.name === "pay" || d.name.startsWith("pay-")), descendants.map((d) => d.name).join(", ")).to.equal(true);
    });

    it("lands files in a SecureBucket with EventBridge notifications on", () => {
        expect(one(plan, "event-pipelines:index:SecureBucket", "pay").parent).to.equal(one(plan, T.component, "pay").urn);
        expect(one(plan, T.notification, "pay-notification").inputs).to.deep.equal({ bucket: bucketName, eventbridge: true });
    });

    describe("the rule's event pattern", () => {
        let pattern: Record<string, any>;
        before(() => {
            pattern = JSON.parse(one(plan, T.rule, "pay-created-rule").inputs.eventPattern as string);
        });
        const event = (key: string, fields: { bucket?: string; detailType?: string } = {}) => {
            const e = objectCreatedEvent({ key, bucket: fields.bucket ?? bucketName });
            if (fields.detailType) e["detail-type"] = fields.detailType;
            return e;
        };

        for (const key of ["payments/a.ndjson", "payments/2026/12/b.ndjson", "payments/c.ndjson.gz"]) {
            it(`matches ${key}`, () => expect(matchesEventPattern(pattern, event(key))).to.equal(true));
        }
        // manifests/ and curated/ are written by the functions themselves: matching them would loop.
        for (const key of ["curated/x.ndjson", "manifests/payments/a.ndjson.json", "payments/a.csv", "other/payments/a.ndjson"]) {
            it(`does not match ${key}`, () => expect(matchesEventPattern(pattern, event(key))).to.equal(false));
        }
        it("does not match another bucket's event, nor an Object Deleted event", () => {
            expect(matchesEventPattern(pattern, event("payments/a.ndjson", { bucket: "other-bucket" }))).to.equal(false);
            expect(matchesEventPattern(pattern, event("payments/a.ndjson", { detailType: "Object Deleted" }))).to.equal(false);
        });
    });

    it("targets the files queue, with a retry policy and the undelivered queue as DLQ, and lets only the rule send to it", () => {
        expect(one(plan, T.target, "pay-created-target").inputs).to.deep.include({
            arn: out(plan, T.queue, "pay-files-queue", "arn"),
            retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 24 },
            deadLetterConfig: { arn: out(plan, T.queue, "pay-created-undelivered-queue", "arn") },
        });
        const senders = policyOf(one(plan, T.queuePolicy, "pay-files-queue-policy")).Statement.filter((s) => s.Effect === "Allow");
        expect(senders).to.have.length(1);
        expect(senders[0]).to.deep.include({ Principal: { Service: "events.amazonaws.com" }, Action: "sqs:SendMessage", Resource: out(plan, T.queue, "pay-files-queue", "arn") });
        expect(senders[0].Condition?.ArnEquals).to.deep.equal({ "aws:SourceArn": out(plan, T.rule, "pay-created-rule", "arn") });
    });

    describe("the queues", () => {
        for (const [queue, concurrency] of [
            [FILE, 2],
            [CHUNK, 10],
        ] as const) {
            it(`${queue}: redrives to its own DLQ, feeds its function one message at a time with partial failures, ${concurrency} at once`, () => {
                const q = one(plan, T.queue, `${queue}-queue`);
                const dlqArn = out(plan, T.queue, `${queue}-dlq`, "arn");
                expect(JSON.parse(q.inputs.redrivePolicy as string)).to.deep.equal({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 });
                expect(JSON.parse(one(plan, T.redriveAllow, `${queue}-redrive-allow`).inputs.redriveAllowPolicy as string)).to.deep.equal({
                    redrivePermission: "byQueue",
                    sourceQueueArns: [q.outputs.arn],
                });
                expect(one(plan, T.esm, `${queue}-consumer-events`).inputs).to.deep.include({
                    eventSourceArn: q.outputs.arn,
                    functionName: out(plan, T.fn, `${queue}-consumer-function`, "arn"),
                    batchSize: 1,
                    functionResponseTypes: ["ReportBatchItemFailures"],
                    scalingConfig: { maximumConcurrency: concurrency },
                });
                expect(one(plan, T.fn, `${queue}-consumer-function`).inputs).to.deep.include({ timeout: 900, memorySize: 1024 });
                expect(q.inputs.visibilityTimeoutSeconds as number).to.be.at.least(6 * 900);
            });
        }

        it("applies each function's memory, timeout and concurrency, and sizes the visibility timeouts from them", async () => {
            const custom = await build({
                fileFunction: { memorySizeMb: 512, timeoutSeconds: 300, maximumConcurrency: 3 },
                chunkWorker: { memorySizeMb: 2048, timeoutSeconds: 600, maximumConcurrency: 50 },
            });
            expect(one(custom, T.fn, "pay-files-consumer-function").inputs).to.deep.include({ memorySize: 512, timeout: 300 });
            expect(one(custom, T.fn, "pay-chunks-consumer-function").inputs).to.deep.include({ memorySize: 2048, timeout: 600 });
            expect(one(custom, T.esm, "pay-files-consumer-events").inputs.scalingConfig).to.deep.equal({ maximumConcurrency: 3 });
            expect(one(custom, T.esm, "pay-chunks-consumer-events").inputs.scalingConfig).to.deep.equal({ maximumConcurrency: 50 });
            expect(one(custom, T.queue, "pay-files-queue").inputs.visibilityTimeoutSeconds as number).to.be.at.least(6 * 300);
            expect(one(custom, T.queue, "pay-chunks-queue").inputs.visibilityTimeoutSeconds as number).to.be.at.least(6 * 600);
        });
    });

    it("keys the payments table by event_id and the files table by file_id: encrypted, with PITR, on demand", () => {
        for (const [name, key] of [
            ["pay-payments-table", "event_id"],
            ["pay-files-table", "file_id"],
        ]) {
            expect(one(plan, T.table, name).inputs, name).to.deep.include({
                hashKey: key,
                attributes: [{ name: key, type: "S" }],
                billingMode: "PAY_PER_REQUEST",
                pointInTimeRecovery: { enabled: true },
                serverSideEncryption: { enabled: true },
            });
        }
    });

    describe("IAM", () => {
        // What both functions may do with a file, beyond their own queue, logs and traces.
        const fileWork = () => [
            ...pairs(["s3:GetObject", "s3:GetObjectVersion"], [`${bucketArn}/payments/*`]),
            ...pairs(["dynamodb:PutItem"], [out(plan, T.table, "pay-payments-table", "arn")]),
            ...pairs(["dynamodb:PutItem", "dynamodb:UpdateItem"], [out(plan, T.table, "pay-files-table", "arn")]),
            ...pairs(["s3:PutObject"], ["curated/*", "quarantine/*", "manifests/*"].map((p) => `${bucketArn}/${p}`)),
            ...pairs(["s3:AbortMultipartUpload"], ["curated/*", "quarantine/*"].map((p) => `${bucketArn}/${p}`)),
        ];
        const base = (queue: string) => [
            ...pairs(["logs:CreateLogStream", "logs:PutLogEvents"], [`${out(plan, T.logGroup, `${queue}-consumer-logs`, "arn")}:*`]),
            ...pairs(["xray:PutTelemetryRecords", "xray:PutTraceSegments"], ["*"]),
            ...pairs(["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], [out(plan, T.queue, `${queue}-queue`, "arn")]),
        ];

        it("the file function: reads payments/ only, sends to the chunks queue only, writes the tables and its own prefixes", () => {
            const chunksArn = out(plan, T.queue, "pay-chunks-queue", "arn");
            expect(allowed(statements(plan, FILE))).to.deep.equal([...base(FILE), ...fileWork(), `sqs:SendMessage ${chunksArn}`].sort());
        });

        it("the chunk worker: the same reads and writes, and sends nothing", () => {
            expect(allowed(statements(plan, CHUNK))).to.deep.equal([...base(CHUNK), ...fileWork()].sort());
            expect(allowed(statements(plan, CHUNK)).filter((p) => p.startsWith("sqs:SendMessage"))).to.deep.equal([]);
        });

        // Independent of the exact sets above: the requirement's invariants, stated directly.
        for (const queue of [FILE, CHUNK]) {
            it(`${queue}: allows only, with no wildcard action, no "*" on s3/dynamodb/sqs, reads only payments/*, never writes payments/ or the whole bucket`, () => {
                const s = statements(plan, queue);
                expect(s.every((st) => st.Effect === "Allow" && !st.Condition && !("NotAction" in st) && !("NotResource" in st))).to.equal(true);
                const all = allowed(s).map((p) => p.split(" ") as [string, string]);
                expect(all.filter(([a]) => a.includes("*"))).to.deep.equal([]);
                expect(all.filter(([a, r]) => /^(s3|dynamodb|sqs):/.test(a) && r === "*")).to.deep.equal([]);
                expect(all.filter(([a, r]) => a.startsWith("s3:Get") && r !== `${bucketArn}/${PAYMENT_PREFIXES.landing}*`)).to.deep.equal([]);
                const forbidden = [`${bucketArn}/${PAYMENT_PREFIXES.landing}*`, `${bucketArn}/*`, bucketArn];
                expect(all.filter(([a, r]) => a === "s3:PutObject" && (forbidden.includes(r) || !r.startsWith(`${bucketArn}/`)))).to.deep.equal([]);
            });
        }
    });

    describe("the environment", () => {
        it("names the tables and the sizes for both functions, and the chunks queue for the file function only", () => {
            const common = {
                NODE_OPTIONS: "--enable-source-maps",
                [PAYMENT_FILE_ENV.paymentsTable]: out(plan, T.table, "pay-payments-table", "name"),
                [PAYMENT_FILE_ENV.filesTable]: out(plan, T.table, "pay-files-table", "name"),
                [PAYMENT_FILE_ENV.thresholdBytes]: String(32 * 1024 * 1024),
                [PAYMENT_FILE_ENV.chunkBytes]: String(32 * 1024 * 1024),
                [PAYMENT_FILE_ENV.maxLineBytes]: String(1024 * 1024),
                [PAYMENT_FILE_ENV.gzipMaxBytes]: String(64 * 1024 * 1024),
            };
            expect(env(plan, FILE)).to.deep.equal({ ...common, [PAYMENT_FILE_ENV.chunksQueueUrl]: out(plan, T.queue, "pay-chunks-queue", "url") });
            expect(env(plan, CHUNK)).to.deep.equal(common);
        });

        it("passes the sizes it is given to both functions", async () => {
            const custom = await build({ sizes: { thresholdBytes: 0, chunkBytes: 4096, maxLineBytes: 2048, gzipMaxBytes: 1_000_000 } });
            for (const queue of [FILE, CHUNK]) {
                expect(env(custom, queue), queue).to.deep.include({ THRESHOLD_BYTES: "0", CHUNK_BYTES: "4096", MAX_LINE_BYTES: "2048", GZIP_MAX_BYTES: "1000000" });
            }
        });
    });

    describe("alarms", () => {
        let alarms: Record<string, Record<string, unknown>>;
        before(() => {
            alarms = Object.fromEntries(ofType(plan, T.alarm).map((a) => [a.name, a.inputs]));
        });

        for (const [role, metricName] of [
            ["payment-conflicts", PAYMENT_METRICS.names.conflicts],
            ["quarantined-lines", PAYMENT_METRICS.names.quarantined],
        ]) {
            it(`"${role}": the functions' ${metricName} metric, from the first in 5 minutes, to the alert topic`, () => {
                expect(alarms[`pay-${role}-alarm`]).to.deep.include({
                    namespace: PAYMENT_METRICS.namespace,
                    metricName,
                    dimensions: { service: PAYMENT_METRICS.service },
                    statistic: "Sum",
                    period: 300,
                    comparisonOperator: "GreaterThanOrEqualToThreshold",
                    threshold: 1,
                    treatMissingData: "notBreaching",
                    alarmActions: [ALERT_TOPIC_ARN],
                    okActions: [ALERT_TOPIC_ARN],
                });
            });
        }

        it("alarms on a message in either queue's DLQ, and sends every alarm's ALARM and OK to the alert topic", () => {
            for (const queue of [FILE, CHUNK]) {
                expect(alarms[`${queue}-dlq-depth-alarm`], queue).to.deep.include({
                    namespace: "AWS/SQS",
                    metricName: "ApproximateNumberOfMessagesVisible",
                    dimensions: { QueueName: out(plan, T.queue, `${queue}-dlq`, "name") },
                    threshold: 1,
                });
            }
            for (const [name, inputs] of Object.entries(alarms)) {
                expect(inputs.alarmActions, name).to.deep.equal([ALERT_TOPIC_ARN]);
                expect(inputs.okActions, name).to.deep.equal([ALERT_TOPIC_ARN]);
            }
        });

        it("applies an override to its own alarm and leaves the other alone", async () => {
            const custom = await build({ alarms: { "quarantined-lines": { threshold: 25 } } });
            expect(one(custom, T.alarm, "pay-quarantined-lines-alarm").inputs.threshold).to.equal(25);
            expect(one(custom, T.alarm, "pay-payment-conflicts-alarm").inputs.threshold).to.equal(1);
        });
    });

    it("protects the bucket, queues, tables and log groups when asked", async () => {
        const guarded = await build({ protect: true });
        for (const [type, name] of [
            [T.bucket, "pay-bucket"],
            [T.queue, "pay-files-queue"],
            [T.queue, "pay-files-dlq"],
            [T.queue, "pay-chunks-queue"],
            [T.queue, "pay-chunks-dlq"],
            [T.table, "pay-payments-table"],
            [T.table, "pay-files-table"],
            [T.logGroup, "pay-files-consumer-logs"],
            [T.logGroup, "pay-chunks-consumer-logs"],
        ]) {
            expect(one(guarded, type, name).protect, name).to.equal(true);
        }
    });

    describe("refuses at construction, in one line naming the field", () => {
        const cases: [Partial<PaymentFilePipelineArgs>, string][] = [
            [{ sizes: { chunkBytes: 10 } }, 'PaymentFilePipeline "pay": sizes.chunkBytes = 10: expected an integer from 1024 to 1073741824'],
            [{ sizes: { maxLineBytes: 17 * 1024 * 1024 } }, 'PaymentFilePipeline "pay": sizes.maxLineBytes = 17825792: expected an integer from 1024 to 16777216'],
            [{ chunkWorker: { maximumConcurrency: 1 } }, 'PaymentFilePipeline "pay": chunkWorker.maximumConcurrency = 1: expected an integer from 2 to 1000'],
            [{ alarms: { "lost-lines": { threshold: 1 } } as PaymentFilePipelineArgs["alarms"] }, 'PaymentFilePipeline "pay": alarms has no alarm "lost-lines"; its alarms are "payment-conflicts", "quarantined-lines"'],
        ];
        for (const [args, message] of cases) {
            it(JSON.stringify(args), async () => {
                const error = await refusal(args);
                expect(error, "one line").to.not.include("\n");
                expect(error.startsWith(message), error).to.equal(true);
            });
        }
    });
});
