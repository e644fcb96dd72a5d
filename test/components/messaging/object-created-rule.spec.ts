import { expect } from "chai";
import { FanOutTopic } from "../../../components/messaging/fan-out-topic";
import { OBJECT_ENVELOPE } from "../../../components/messaging/event-patterns";
import { ObjectCreatedRule, ObjectCreatedRuleArgs, ObjectCreatedTarget } from "../../../components/messaging/object-created-rule";
import { QueueWithDlq } from "../../../components/messaging/queue-with-dlq";
import { SecureBucket } from "../../../components/storage/secure-bucket";
import { Plan } from "../../../local/plan";
import { ALERT_TOPIC_ARN, ofType, one, policyOf, record, keyPolicyOf, generated } from "../../support/pulumi-harness";

const ACCOUNT = "123456789012";
const RULE_ARN = `arn:aws:events:us-east-1:${ACCOUNT}:rule/${generated("aws:cloudwatch/eventRule:EventRule", "lab-rule")}`;
const sqsArn = (name: string) => `arn:aws:sqs:us-east-1:${ACCOUNT}:${generated("aws:sqs/queue:Queue", name)}`;
const TOPIC_ARN = `arn:aws:sns:us-east-1:${ACCOUNT}:${generated("aws:sns/topic:Topic", "fanout-topic-sns")}`;
const STATE_MACHINE = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:thumbnails`;
const SCOPED = { ArnEquals: { "aws:SourceArn": RULE_ARN }, StringEquals: { "aws:SourceAccount": ACCOUNT } };

type TargetKind = "topic" | "queue" | "stateMachine";

function build(kind: TargetKind, args: Partial<ObjectCreatedRuleArgs> = {}): Promise<Plan> {
    return record(() => {
        const bucket = new SecureBucket("uploads", {});
        let target: ObjectCreatedTarget;
        if (kind === "topic") {
            const audit = new QueueWithDlq("audit", { alertTopicArn: ALERT_TOPIC_ARN });
            target = { topic: new FanOutTopic("fanout", { subscribers: { audit: { queue: audit } } }) };
        } else if (kind === "queue") {
            target = { queue: new QueueWithDlq("work", { alertTopicArn: ALERT_TOPIC_ARN }) };
        } else {
            target = { stateMachineArn: STATE_MACHINE };
        }
        new ObjectCreatedRule("lab", { bucket, alertTopicArn: ALERT_TOPIC_ARN, excludePrefixes: ["thumbnails/"], target, ...args });
    });
}

describe("ObjectCreatedRule", () => {
    let plan: Plan;
    before(async () => {
        plan = await build("topic");
    });

    it("matches Object Created events of the bucket, with the exact pattern", () => {
        const rule = one(plan, "aws:cloudwatch/eventRule:EventRule", "lab-rule");
        expect(JSON.parse(rule.inputs.eventPattern as string)).to.deep.equal({
            source: ["aws.s3"],
            "detail-type": ["Object Created"],
            detail: { bucket: { name: [generated("aws:s3/bucket:Bucket", "uploads-bucket")] }, object: { key: [{ "anything-but": { prefix: "thumbnails/" } }] } },
        });
        expect(one(plan, "event-pipelines:index:ObjectCreatedRule", "lab")).to.not.equal(undefined);
    });

    it("targets the topic with the default retry policy and the undelivered queue as DLQ", () => {
        const target = one(plan, "aws:cloudwatch/eventTarget:EventTarget", "lab-target");
        expect(target.inputs).to.deep.include({
            rule: generated("aws:cloudwatch/eventRule:EventRule", "lab-rule"),
            arn: TOPIC_ARN,
            retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 24 },
            deadLetterConfig: { arn: sqsArn("lab-undelivered-queue") },
        });
        expect(target.inputs.roleArn).to.equal(undefined);
    });

    it("lets EventBridge publish to the topic only on behalf of this rule", () => {
        const policy = policyOf(one(plan, "aws:sns/topicPolicy:TopicPolicy", "fanout-topic-policy"));
        const events = policy.Statement.filter((s) => s.Principal !== "*" && (s.Principal as { Service?: string }).Service === "events.amazonaws.com");
        expect(events).to.deep.equal([
            { Sid: "AllowPublish1", Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "sns:Publish", Resource: TOPIC_ARN, Condition: SCOPED },
        ]);
        const key = keyPolicyOf(plan, "fanout-topic-key-cmk");
        expect(key.Statement.some((s) => (s.Principal as { Service?: string })?.Service === "events.amazonaws.com")).to.equal(true);
    });

    it("lets EventBridge send undelivered events to the DLQ only on behalf of this rule", () => {
        const policy = policyOf(one(plan, "aws:sqs/queuePolicy:QueuePolicy", "lab-undelivered-queue-policy"));
        expect(policy.Statement.slice(1)).to.deep.equal([
            {
                Sid: "AllowSend1",
                Effect: "Allow",
                Principal: { Service: "events.amazonaws.com" },
                Action: "sqs:SendMessage",
                Resource: sqsArn("lab-undelivered-queue"),
                Condition: SCOPED,
            },
        ]);
        expect(policy.Statement[0]).to.include({ Sid: "DenyInsecureTransport", Effect: "Deny" });
    });

    it("keeps undelivered events 13 days, with no consumer", () => {
        expect(one(plan, "aws:sqs/queue:Queue", "lab-undelivered-queue").inputs.messageRetentionSeconds).to.equal(13 * 86_400);
        expect(ofType(plan, "aws:lambda/eventSourceMapping:EventSourceMapping")).to.have.length(0);
    });

    it("alarms on the first undelivered event, on failed invocations and on failed dead-lettering, to the alert topic", () => {
        const alarms = Object.fromEntries(ofType(plan, "aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => [a.name, a.inputs]));
        expect(alarms["lab-undelivered-depth-alarm"]).to.deep.include({
            namespace: "AWS/SQS",
            metricName: "ApproximateNumberOfMessagesVisible",
            dimensions: { QueueName: generated("aws:sqs/queue:Queue", "lab-undelivered-queue") },
            threshold: 1,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
        });
        expect(alarms["lab-failed-invocations-alarm"]).to.deep.include({
            namespace: "AWS/Events",
            metricName: "FailedInvocations",
            dimensions: { RuleName: generated("aws:cloudwatch/eventRule:EventRule", "lab-rule") },
            statistic: "Sum",
            threshold: 1,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
        });
        expect(alarms["lab-dlq-send-failures-alarm"]).to.deep.include({
            namespace: "AWS/Events",
            metricName: "InvocationsFailedToBeSentToDlq",
            dimensions: { RuleName: generated("aws:cloudwatch/eventRule:EventRule", "lab-rule") },
        });
        for (const name of ["lab-undelivered-depth-alarm", "lab-failed-invocations-alarm", "lab-dlq-send-failures-alarm"]) {
            expect(alarms[name].alarmActions, name).to.deep.equal([ALERT_TOPIC_ARN]);
            expect(alarms[name].okActions, name).to.deep.equal([ALERT_TOPIC_ARN]);
        }
    });

    it("passes an input transformer to the target when given one, and none by default", async () => {
        expect(one(plan, "aws:cloudwatch/eventTarget:EventTarget", "lab-target").inputs).to.not.have.property("inputTransformer");
        const enveloped = await build("topic", { inputTransformer: OBJECT_ENVELOPE });
        expect(one(enveloped, "aws:cloudwatch/eventTarget:EventTarget", "lab-target").inputs.inputTransformer).to.deep.equal(OBJECT_ENVELOPE);
    });

    it("targets a queue, granting EventBridge send on it only for this rule, with overridden retries", async () => {
        const q = await build("queue", { retryPolicy: { maximumEventAgeInSeconds: 600, maximumRetryAttempts: 5 } });
        const target = one(q, "aws:cloudwatch/eventTarget:EventTarget", "lab-target");
        expect(target.inputs).to.deep.include({ arn: sqsArn("work-queue"), retryPolicy: { maximumEventAgeInSeconds: 600, maximumRetryAttempts: 5 } });
        const policy = policyOf(one(q, "aws:sqs/queuePolicy:QueuePolicy", "work-queue-policy"));
        expect(policy.Statement.slice(1)).to.deep.equal([
            { Sid: "AllowSend1", Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "sqs:SendMessage", Resource: sqsArn("work-queue"), Condition: SCOPED },
        ]);
    });

    it("targets a state machine through a role EventBridge may assume for this rule only, allowed StartExecution on it only", async () => {
        const sm = await build("stateMachine");
        const role = one(sm, "aws:iam/role:Role", "lab-role");
        expect(policyOf(role, "assumeRolePolicy").Statement).to.deep.equal([
            { Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "sts:AssumeRole", Condition: SCOPED },
        ]);
        expect(policyOf(one(sm, "aws:iam/rolePolicy:RolePolicy", "lab-role-policy")).Statement).to.deep.equal([
            { Effect: "Allow", Action: ["states:StartExecution"], Resource: [STATE_MACHINE] },
        ]);
        expect(one(sm, "aws:cloudwatch/eventTarget:EventTarget", "lab-target").inputs).to.deep.include({
            arn: STATE_MACHINE,
            roleArn: `arn:aws:iam::${ACCOUNT}:role/${generated("aws:iam/role:Role", "lab-role")}`,
        });
    });

    it("uses a given role for a state machine, creating none", async () => {
        const given = "arn:aws:iam::123456789012:role/existing";
        const sm = await record(() => {
            const bucket = new SecureBucket("uploads", {});
            new ObjectCreatedRule("lab", { bucket, alertTopicArn: ALERT_TOPIC_ARN, target: { stateMachineArn: STATE_MACHINE, roleArn: given } });
        });
        expect(ofType(sm, "aws:iam/role:Role")).to.have.length(0);
        expect(one(sm, "aws:cloudwatch/eventTarget:EventTarget", "lab-target").inputs.roleArn).to.equal(given);
    });

    describe("refuses at construction", () => {
        const refusals: [Partial<ObjectCreatedRuleArgs>, string][] = [
            [{ retryPolicy: { maximumRetryAttempts: 200 } }, 'ObjectCreatedRule "lab": retryPolicy.maximumRetryAttempts = 200: expected an integer from 0 to 185'],
            [{ retryPolicy: { maximumEventAgeInSeconds: 30 } }, 'ObjectCreatedRule "lab": retryPolicy.maximumEventAgeInSeconds = 30: expected an integer from 60 to 86400'],
            [{ suffixes: [".jpg"] }, 'ObjectCreatedRule "lab": suffixes [".jpg"] and excludePrefixes ["thumbnails/"] cannot be expressed in one EventBridge pattern'],
        ];
        for (const [args, message] of refusals) {
            it(`${JSON.stringify(args)}, in one line`, async () => {
                let error: Error | undefined;
                await build("queue", args).catch((e: Error) => (error = e));
                expect(error?.message.startsWith(message), error?.message).to.equal(true);
            });
        }
    });

    it("keeps undelivered events 13 days by default, or as long as asked, and takes alarm changes by role", async () => {
        const retention = (p: Plan) => one(p, "aws:sqs/queue:Queue", "lab-undelivered-queue").inputs.messageRetentionSeconds;
        expect(retention(plan)).to.equal(13 * 86_400);
        const custom = await build("topic", { undeliveredRetentionDays: 7, alarms: { "failed-invocations": { threshold: 5 } } });
        expect(retention(custom)).to.equal(7 * 86_400);
        expect(one(custom, "aws:cloudwatch/metricAlarm:MetricAlarm", "lab-failed-invocations-alarm").inputs.threshold).to.equal(5);
    });

    it("matches an existing bucket by name and targets an existing queue through its allowSendFrom", async () => {
        const granted: string[] = [];
        const queue = { arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:legacy`, allowSendFrom: (service: string) => void granted.push(service) };
        const existing = await record(() => void new ObjectCreatedRule("legacy", { bucket: { bucketName: "legacy-uploads" }, alertTopicArn: ALERT_TOPIC_ARN, target: { queue } }));
        const pattern = JSON.parse(one(existing, "aws:cloudwatch/eventRule:EventRule", "legacy-rule").inputs.eventPattern as string);
        expect(pattern.detail.bucket.name).to.deep.equal(["legacy-uploads"]);
        expect(one(existing, "aws:cloudwatch/eventTarget:EventTarget", "legacy-target").inputs.arn).to.equal(queue.arn);
        expect(granted).to.deep.equal(["events.amazonaws.com"]);
    });
});
