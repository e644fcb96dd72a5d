import { expect } from "chai";
import { QueueConsumerArgs, QueueWithDlq, QueueWithDlqArgs, visibilityTimeout } from "../../../components/messaging/queue-with-dlq";
import { Plan } from "../../../local/plan";
import { ALERT_TOPIC_ARN, ofType, one, policyOf, record, keyPolicyOf, generated } from "../../support/pulumi-harness";

const ACCOUNT = "123456789012";
const arn = (name: string) => `arn:aws:sqs:us-east-1:${ACCOUNT}:${generated("aws:sqs/queue:Queue", name)}`;
const TOPIC = `arn:aws:sns:us-east-1:${ACCOUNT}:uploads`;

const consumer = (timeoutSeconds = 30): QueueConsumerArgs => ({
    function: { callback: async () => ({ batchItemFailures: [] }), timeoutSeconds },
    batchSize: 25,
    maximumBatchingWindowSeconds: 5,
    maximumConcurrency: 7,
    errorsAlarmThreshold: 3,
});

function build(args: Partial<QueueWithDlqArgs> = {}, withSender = true): Promise<Plan> {
    return record(() => {
        const q = new QueueWithDlq("orders", { alertTopicArn: ALERT_TOPIC_ARN, ...args });
        if (withSender) q.allowSendFrom("sns.amazonaws.com", TOPIC);
    });
}

describe("QueueWithDlq", () => {
    let plan: Plan;
    before(async () => {
        plan = await build({ maxReceiveCount: 7, retentionDays: 3, consumer: consumer(20), oldestMessageAgeAlarmSeconds: 600 });
    });

    it("encrypts both queues with SSE-SQS by default", () => {
        for (const name of ["orders-queue", "orders-dlq"]) {
            const q = one(plan, "aws:sqs/queue:Queue", name);
            expect(q.inputs.sqsManagedSseEnabled, name).to.equal(true);
            expect(q.inputs.kmsMasterKeyId, name).to.equal(undefined);
        }
    });

    it("redrives to the DLQ after maxReceiveCount, and the DLQ keeps messages longer", () => {
        const queue = one(plan, "aws:sqs/queue:Queue", "orders-queue");
        const dlq = one(plan, "aws:sqs/queue:Queue", "orders-dlq");
        expect(JSON.parse(queue.inputs.redrivePolicy as string)).to.deep.equal({ deadLetterTargetArn: arn("orders-dlq"), maxReceiveCount: 7 });
        expect(queue.inputs.messageRetentionSeconds).to.equal(3 * 86_400);
        expect(dlq.inputs.messageRetentionSeconds).to.equal(14 * 86_400);
    });

    it("lets only its source queue redrive into the DLQ", () => {
        const allow = one(plan, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "orders-redrive-allow");
        expect(allow.inputs.queueUrl).to.equal(`https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/${generated("aws:sqs/queue:Queue", "orders-dlq")}`);
        expect(JSON.parse(allow.inputs.redriveAllowPolicy as string)).to.deep.equal({ redrivePermission: "byQueue", sourceQueueArns: [arn("orders-queue")] });
    });

    it("sets the visibility timeout to 6 x the consumer's timeout plus its batching window", () => {
        expect(one(plan, "aws:sqs/queue:Queue", "orders-queue").inputs.visibilityTimeoutSeconds).to.equal(6 * 20 + 5);
    });

    it("denies non-TLS access on both queues and admits the granted service only for its source", () => {
        const queuePolicy = policyOf(one(plan, "aws:sqs/queuePolicy:QueuePolicy", "orders-queue-policy"));
        expect(queuePolicy.Statement).to.deep.equal([
            {
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: "sqs:*",
                Resource: [arn("orders-queue")],
                Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
            {
                Sid: "AllowSend1",
                Effect: "Allow",
                Principal: { Service: "sns.amazonaws.com" },
                Action: "sqs:SendMessage",
                Resource: arn("orders-queue"),
                Condition: { ArnEquals: { "aws:SourceArn": TOPIC }, StringEquals: { "aws:SourceAccount": ACCOUNT } },
            },
        ]);
        const dlqPolicy = policyOf(one(plan, "aws:sqs/queuePolicy:QueuePolicy", "orders-dlq-policy"));
        expect(dlqPolicy.Statement).to.have.length(1);
        expect(dlqPolicy.Statement[0]).to.include({ Effect: "Deny", Action: "sqs:*" });
        expect(dlqPolicy.Statement[0].Resource).to.deep.equal([arn("orders-dlq")]);
    });

    it("wires the consumer with partial batch failures and the batching, window and concurrency args", () => {
        const esm = one(plan, "aws:lambda/eventSourceMapping:EventSourceMapping", "orders-consumer-events");
        expect(esm.inputs).to.deep.include({
            eventSourceArn: arn("orders-queue"),
            functionName: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${generated("aws:lambda/function:Function", "orders-consumer-function")}`,
            batchSize: 25,
            maximumBatchingWindowInSeconds: 5,
            functionResponseTypes: ["ReportBatchItemFailures"],
        });
        expect(esm.inputs.scalingConfig).to.deep.equal({ maximumConcurrency: 7 });
    });

    it("grants the consumer exactly the receive actions on this queue", () => {
        const doc = policyOf(one(plan, "aws:iam/rolePolicy:RolePolicy", "orders-consumer-policy"));
        const sqs = doc.Statement.filter((s) => (s.Action as string[]).some((a) => a.startsWith("sqs:")));
        expect(sqs).to.deep.equal([
            {
                Effect: "Allow",
                Action: ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                Resource: [arn("orders-queue")],
            },
        ]);
    });

    it("alarms on DLQ depth, oldest message age and consumer errors, to the alert topic with OK actions", () => {
        const alarms = Object.fromEntries(ofType(plan, "aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => [a.name, a.inputs]));
        expect(Object.keys(alarms).sort()).to.deep.equal(["orders-consumer-errors-alarm", "orders-dlq-depth-alarm", "orders-oldest-message-age-alarm"]);
        expect(alarms["orders-dlq-depth-alarm"]).to.deep.include({
            namespace: "AWS/SQS",
            metricName: "ApproximateNumberOfMessagesVisible",
            dimensions: { QueueName: generated("aws:sqs/queue:Queue", "orders-dlq") },
            threshold: 1,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
        });
        expect(alarms["orders-oldest-message-age-alarm"]).to.deep.include({
            metricName: "ApproximateAgeOfOldestMessage",
            dimensions: { QueueName: generated("aws:sqs/queue:Queue", "orders-queue") },
            threshold: 600,
            comparisonOperator: "GreaterThanThreshold",
        });
        expect(alarms["orders-consumer-errors-alarm"]).to.deep.include({
            namespace: "AWS/Lambda",
            metricName: "Errors",
            dimensions: { FunctionName: generated("aws:lambda/function:Function", "orders-consumer-function") },
            threshold: 3,
        });
        for (const inputs of Object.values(alarms)) {
            expect(inputs.alarmActions).to.deep.equal([ALERT_TOPIC_ARN]);
            expect(inputs.okActions).to.deep.equal([ALERT_TOPIC_ARN]);
        }
    });

    it("uses a customer-managed key when asked, granting the sending service and the consumer", async () => {
        const kms = await build({ encryption: "kms", consumer: consumer() });
        const key = one(kms, "aws:kms/key:Key", "orders-key-cmk");
        for (const name of ["orders-queue", "orders-dlq"]) {
            expect(one(kms, "aws:sqs/queue:Queue", name).inputs.kmsMasterKeyId).to.equal(key.outputs.arn);
        }
        const service = keyPolicyOf(kms, "orders-key-cmk").Statement.find((s) => s.Principal !== "*" && (s.Principal as { Service?: string }).Service === "sns.amazonaws.com");
        expect(service?.Action).to.deep.equal(["kms:Decrypt", "kms:GenerateDataKey"]);
        expect(service?.Condition).to.deep.equal({ ArnEquals: { "aws:SourceArn": TOPIC }, StringEquals: { "aws:SourceAccount": ACCOUNT } });
        const role = policyOf(one(kms, "aws:iam/rolePolicy:RolePolicy", "orders-consumer-policy"));
        expect(role.Statement).to.deep.include({ Effect: "Allow", Action: ["kms:Decrypt"], Resource: [key.outputs.arn] });
    });

    it("lets a consumer that refuses messages for good send them to its own DLQ, and tells it where", async () => {
        const rejecting = await build({ consumer: { ...consumer(), sendsRejectsToDlq: true } });
        const role = policyOf(one(rejecting, "aws:iam/rolePolicy:RolePolicy", "orders-consumer-policy"));
        expect(role.Statement).to.deep.include({ Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [arn("orders-dlq")] });
        const fn = one(rejecting, "aws:lambda/function:Function", "orders-consumer-function");
        const dlqUrl = one(rejecting, "aws:sqs/queue:Queue", "orders-dlq").outputs.url;
        expect((fn.inputs.environment as { variables: Record<string, string> }).variables.DEAD_LETTER_QUEUE_URL).to.equal(dlqUrl);
        // With a customer key, sending to the DLQ also needs the key to encrypt.
        const kms = await build({ encryption: "kms", consumer: { ...consumer(), sendsRejectsToDlq: true } });
        const key = one(kms, "aws:kms/key:Key", "orders-key-cmk");
        expect(policyOf(one(kms, "aws:iam/rolePolicy:RolePolicy", "orders-consumer-policy")).Statement).to.deep.include({
            Effect: "Allow",
            Action: ["kms:GenerateDataKey"],
            Resource: [key.outputs.arn],
        });
        // Without the option, no send grant on the DLQ and no URL.
        const plain = policyOf(one(plan, "aws:iam/rolePolicy:RolePolicy", "orders-consumer-policy"));
        expect(JSON.stringify(plain)).to.not.include(arn("orders-dlq"));
    });

    it("creates only the DLQ-depth and age alarms without a consumer", async () => {
        const bare = await build({}, false);
        expect(ofType(bare, "aws:lambda/eventSourceMapping:EventSourceMapping")).to.have.length(0);
        expect(ofType(bare, "aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => a.name).sort()).to.deep.equal([
            "orders-dlq-depth-alarm",
            "orders-oldest-message-age-alarm",
        ]);
        expect(one(bare, "aws:sqs/queue:Queue", "orders-queue").inputs.visibilityTimeoutSeconds).to.equal(30);
    });

    describe("refuses at construction", () => {
        it("a visibility timeout below 6 x the consumer's timeout, naming both numbers", () => {
            expect(() => visibilityTimeout("orders", { visibilityTimeoutSeconds: 100, consumer: consumer(30) })).to.throw(
                /QueueWithDlq "orders": visibilityTimeoutSeconds 100 is below 185 \(6 x the consumer's timeout of 30 s \+ batching window 5 s\)/,
            );
        });

        it("accepts exactly the minimum", () => {
            expect(visibilityTimeout("orders", { visibilityTimeoutSeconds: 185, consumer: consumer(30) })).to.equal(185);
        });

        const refusals: [Partial<QueueWithDlqArgs>, string][] = [
            [{ retentionDays: 14, dlqRetentionDays: 14 }, 'QueueWithDlq "orders": dlqRetentionDays 14 must be more than retentionDays 14, so failed messages outlive their source'],
            [{ dlqRetentionDays: 15 }, 'QueueWithDlq "orders": dlqRetentionDays = 15: expected an integer from 1 to 14'],
            [{ maxReceiveCount: 0 }, 'QueueWithDlq "orders": maxReceiveCount = 0: expected an integer from 1 to 1000'],
            [{ maxReceiveCount: 3, consumer: consumer() }, 'QueueWithDlq "orders": maxReceiveCount 3 is below 5, the minimum AWS advises with a Lambda consumer'],
            [{ consumer: { ...consumer(), maximumConcurrency: 1 } }, 'QueueWithDlq "orders": consumer.maximumConcurrency = 1: expected an integer from 2 to 1000'],
            [
                { consumer: { ...consumer(), batchSize: 50, maximumBatchingWindowSeconds: 0 } },
                'QueueWithDlq "orders": consumer.batchSize 50 needs maximumBatchingWindowSeconds of at least 1 (SQS event sources allow at most 10 without a window)',
            ],
            [{ visibilityTimeoutSeconds: 50_000 }, 'QueueWithDlq "orders": visibilityTimeoutSeconds = 50000: expected an integer from 0 to 43200'],
        ];
        for (const [args, message] of refusals) {
            it(`${JSON.stringify(args, (k, v) => (k === "function" ? "…" : v))}, in one line`, async () => {
                let error: Error | undefined;
                await build(args, false).catch((e: Error) => (error = e));
                expect(error?.message.startsWith(message), error?.message).to.equal(true);
            });
        }
    });

    describe("overrides", () => {
        it("takes the long-poll wait, the KMS data key reuse and alarm changes by role", async () => {
            const custom = await build({
                encryption: "kms",
                receiveWaitTimeSeconds: 5,
                kmsDataKeyReusePeriodSeconds: 3600,
                consumer: consumer(),
                alarms: { "dlq-depth": { threshold: 3, periodSeconds: 300 }, "consumer-errors": { evaluationPeriods: 3, datapointsToAlarm: 2 } },
            });
            expect(one(custom, "aws:sqs/queue:Queue", "orders-queue").inputs).to.deep.include({ receiveWaitTimeSeconds: 5, kmsDataKeyReusePeriodSeconds: 3600 });
            const alarm = (n: string) => one(custom, "aws:cloudwatch/metricAlarm:MetricAlarm", n).inputs;
            expect(alarm("orders-dlq-depth-alarm")).to.deep.include({ threshold: 3, period: 300, evaluationPeriods: 1 });
            expect(alarm("orders-consumer-errors-alarm")).to.deep.include({ evaluationPeriods: 3, datapointsToAlarm: 2, threshold: 3 });
            expect(alarm("orders-oldest-message-age-alarm")).to.not.have.property("datapointsToAlarm");
        });

        it("types its alarm roles, so a misspelt one fails the type check", () => {
            const misspelt = () =>
                // @ts-expect-error "dlq-dept" is not one of QueueWithDlq's alarm roles.
                new QueueWithDlq("typed", { alertTopicArn: ALERT_TOPIC_ARN, alarms: { "dlq-dept": { threshold: 2 } } });
            expect(misspelt).to.be.a("function");
        });

        it("refuses a wait SQS would not take and an alarm role it does not have", async () => {
            expect(() => new QueueWithDlq("bad", { alertTopicArn: ALERT_TOPIC_ARN, receiveWaitTimeSeconds: 21 })).to.throw(
                'QueueWithDlq "bad": receiveWaitTimeSeconds = 21: expected an integer from 0 to 20',
            );
            const message = await record(() => void new QueueWithDlq("bad", { alertTopicArn: ALERT_TOPIC_ARN, alarms: { "consumer-errors": { threshold: 2 } } })).then(
                () => "accepted",
                (err: Error) => err.message,
            );
            expect(message).to.equal('QueueWithDlq "bad": alarms has no alarm "consumer-errors"; its alarms are "dlq-depth", "oldest-message-age"');
        });
    });
});
