import { expect } from "chai";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AlarmSpec, ComponentAlarms, applyAlarmOverride, createAlarm, dlqDepthAlarm, functionErrorsAlarm, oldestMessageAgeAlarm } from "../../../components/monitoring/alarms";
import { ALARM_DEFAULTS } from "../../../components/shared/defaults";
import { Plan } from "../../../local/plan";
import { ALERT_TOPIC_ARN, ofType, one, record } from "../../support/pulumi-harness";

const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";

// Everything but the description, which is prose: its numbers are checked separately.
const watched = ({ description, ...rest }: AlarmSpec) => rest;

describe("alarms", () => {
    describe("dlqDepthAlarm", () => {
        it("fires on the DLQ's visible messages, at the default threshold of one message", () => {
            expect(ALARM_DEFAULTS.dlqDepthThreshold).to.equal(1);
            expect(watched(dlqDepthAlarm("orders-dlq"))).to.deep.equal({
                role: "dlq-depth",
                namespace: "AWS/SQS",
                metricName: "ApproximateNumberOfMessagesVisible",
                dimensions: { QueueName: "orders-dlq" },
                statistic: "Maximum",
                periodSeconds: 60,
                evaluationPeriods: 1,
                threshold: 1,
                comparison: "GreaterThanOrEqualToThreshold",
                treatMissingData: "notBreaching",
            });
        });

        it("takes another threshold and says it in the description", () => {
            const spec = dlqDepthAlarm("orders-dlq", 10);
            expect(spec.threshold).to.equal(10);
            expect(spec.description).to.contain(">= 10").and.to.contain("redrive");
        });
    });

    describe("oldestMessageAgeAlarm", () => {
        it("fires when the oldest message is older than the default 900 s for 5 minutes running", () => {
            expect(ALARM_DEFAULTS.oldestMessageAgeSeconds).to.equal(900);
            expect(watched(oldestMessageAgeAlarm("orders-queue"))).to.deep.equal({
                role: "oldest-message-age",
                namespace: "AWS/SQS",
                metricName: "ApproximateAgeOfOldestMessage",
                dimensions: { QueueName: "orders-queue" },
                statistic: "Maximum",
                periodSeconds: 60,
                evaluationPeriods: 5,
                threshold: 900,
                comparison: "GreaterThanThreshold",
                treatMissingData: "notBreaching",
            });
        });

        it("takes another age and says it in the description", () => {
            const spec = oldestMessageAgeAlarm("orders-queue", 120);
            expect(spec.threshold).to.equal(120);
            expect(spec.description).to.contain("more than 120 s");
        });
    });

    describe("functionErrorsAlarm", () => {
        it("sums the function's errors over the default period, at the default threshold", () => {
            expect(ALARM_DEFAULTS).to.include({ errorsThreshold: 1, periodSeconds: 300, evaluationPeriods: 1 });
            expect(watched(functionErrorsAlarm("orders-consumer"))).to.deep.equal({
                role: "errors",
                namespace: "AWS/Lambda",
                metricName: "Errors",
                dimensions: { FunctionName: "orders-consumer" },
                statistic: "Sum",
                periodSeconds: 300,
                evaluationPeriods: 1,
                threshold: 1,
                comparison: "GreaterThanOrEqualToThreshold",
                treatMissingData: "notBreaching",
            });
        });

        it("takes another threshold and states it with the period in minutes", () => {
            const spec = functionErrorsAlarm("orders-consumer", 3);
            expect(spec.threshold).to.equal(3);
            expect(spec.description).to.contain("3 or more times in 5 minutes");
        });
    });

    it("read their defaults from ALARM_DEFAULTS when called", () => {
        const defaults = ALARM_DEFAULTS as { -readonly [K in keyof typeof ALARM_DEFAULTS]: number };
        const saved = { ...defaults };
        try {
            Object.assign(defaults, { dlqDepthThreshold: 4, oldestMessageAgeSeconds: 60, errorsThreshold: 6, periodSeconds: 600, evaluationPeriods: 2 });
            expect(dlqDepthAlarm("q").threshold).to.equal(4);
            expect(oldestMessageAgeAlarm("q").threshold).to.equal(60);
            const errors = functionErrorsAlarm("f");
            expect({ threshold: errors.threshold, periodSeconds: errors.periodSeconds, evaluationPeriods: errors.evaluationPeriods }).to.deep.equal({
                threshold: 6,
                periodSeconds: 600,
                evaluationPeriods: 2,
            });
        } finally {
            Object.assign(defaults, saved);
        }
    });

    describe("createAlarm", () => {
        let plan: Plan;
        before(async () => {
            plan = await record(() => {
                const parent = new pulumi.ComponentResource("test:index:Owner", "owner", {});
                const dlq = new aws.sqs.Queue("orders-dlq", {}, { parent });
                const topic = new aws.sns.Topic("alerts", {});
                createAlarm(parent, "orders", dlqDepthAlarm(dlq.name, 2), topic.arn);
                createAlarm(parent, "orders-consumer", functionErrorsAlarm("orders-consumer-fn"), ALERT_TOPIC_ARN);
            });
        });

        it("names the alarm `${name}-${role}-alarm` and makes it a child of the given parent", () => {
            const owner = one(plan, "test:index:Owner", "owner");
            expect(ofType(plan, ALARM).map((a) => a.name).sort()).to.deep.equal(["orders-consumer-errors-alarm", "orders-dlq-depth-alarm"]);
            for (const alarm of ofType(plan, ALARM)) expect(alarm.parent, alarm.name).to.equal(owner.urn);
        });

        it("passes every field of the spec to CloudWatch, with Outputs resolved", () => {
            const alarm = one(plan, ALARM, "orders-dlq-depth-alarm");
            expect(alarm.inputs).to.deep.include({
                alarmDescription: dlqDepthAlarm("orders-dlq", 2).description,
                namespace: "AWS/SQS",
                metricName: "ApproximateNumberOfMessagesVisible",
                dimensions: { QueueName: one(plan, "aws:sqs/queue:Queue", "orders-dlq").outputs.name },
                statistic: "Maximum",
                period: 60,
                evaluationPeriods: 1,
                threshold: 2,
                comparisonOperator: "GreaterThanOrEqualToThreshold",
                treatMissingData: "notBreaching",
            });
            const errors = one(plan, ALARM, "orders-consumer-errors-alarm");
            expect(errors.inputs).to.deep.include({ namespace: "AWS/Lambda", metricName: "Errors", dimensions: { FunctionName: "orders-consumer-fn" }, period: 300 });
        });

        it("sends both ALARM and OK to the given topic, and only there", () => {
            const topicArn = one(plan, "aws:sns/topic:Topic", "alerts").outputs.arn;
            const alarm = one(plan, ALARM, "orders-dlq-depth-alarm");
            expect(alarm.inputs.alarmActions).to.deep.equal([topicArn]);
            expect(alarm.inputs.okActions).to.deep.equal([topicArn]);
            const errors = one(plan, ALARM, "orders-consumer-errors-alarm");
            expect(errors.inputs.alarmActions).to.deep.equal([ALERT_TOPIC_ARN]);
            expect(errors.inputs.okActions).to.deep.equal([ALERT_TOPIC_ARN]);
        });

        it("depends on the watched queue and the topic it notifies", () => {
            const alarm = one(plan, ALARM, "orders-dlq-depth-alarm");
            expect(alarm.dependencies).to.include.members([one(plan, "aws:sqs/queue:Queue", "orders-dlq").urn, one(plan, "aws:sns/topic:Topic", "alerts").urn]);
        });
    });

    describe("overrides", () => {
        const spec = dlqDepthAlarm("orders-dlq");

        it("change what they name and keep the rest of the alarm", () => {
            expect(applyAlarmOverride(spec, undefined, "X")).to.equal(spec);
            expect(applyAlarmOverride(spec, { threshold: 5, periodSeconds: 300, evaluationPeriods: 3, datapointsToAlarm: 2 }, "X")).to.deep.equal({
                ...spec,
                threshold: 5,
                periodSeconds: 300,
                evaluationPeriods: 3,
                datapointsToAlarm: 2,
            });
        });

        it("take what CloudWatch takes at its bounds: a fractional threshold, 10 s, 30 s, a day, 100 periods", () => {
            expect(applyAlarmOverride(spec, { threshold: 0.05 }, "X").threshold).to.equal(0.05);
            for (const periodSeconds of [10, 30, 60, 86_400]) expect(applyAlarmOverride(spec, { periodSeconds }, "X").periodSeconds).to.equal(periodSeconds);
            expect(applyAlarmOverride(spec, { evaluationPeriods: 100, datapointsToAlarm: 100 }, "X")).to.deep.include({ evaluationPeriods: 100, datapointsToAlarm: 100 });
            expect(() => applyAlarmOverride(spec, { periodSeconds: 86_460 }, "X")).to.throw(/periodSeconds = 86460/);
            expect(() => applyAlarmOverride(spec, { evaluationPeriods: 101 }, "X")).to.throw(/evaluationPeriods = 101: expected an integer from 1 to 100/);
        });

        it("refuse what CloudWatch would, in one line naming the component and the alarm", () => {
            expect(() => applyAlarmOverride(spec, { periodSeconds: 45 }, 'QueueWithDlq "orders"')).to.throw(
                'QueueWithDlq "orders": alarms["dlq-depth"].periodSeconds = 45: expected 10, 30 or a multiple of 60 up to 86400',
            );
            expect(() => applyAlarmOverride(spec, { evaluationPeriods: 0 }, "X")).to.throw(/alarms\["dlq-depth"\]\.evaluationPeriods = 0: expected an integer from 1 to 100/);
            expect(() => applyAlarmOverride(spec, { evaluationPeriods: 2, datapointsToAlarm: 3 }, "X")).to.throw(/datapointsToAlarm = 3: expected an integer from 1 to 2/);
            expect(() => applyAlarmOverride(spec, { threshold: Number.NaN }, "X")).to.throw(/threshold = NaN: expected a number/);
        });

        it("name an unknown role, listing the component's alarms, instead of changing nothing", async () => {
            let message = "";
            await record(() => {
                const parent = new pulumi.ComponentResource("test:index:Owner", "owner", {});
                const alarms = new ComponentAlarms(parent, "orders", 'QueueWithDlq "orders"', ALERT_TOPIC_ARN, { "dlq-dept": { threshold: 2 } });
                alarms.add(spec);
                try {
                    alarms.done();
                } catch (err) {
                    message = (err as Error).message;
                }
            });
            expect(message).to.equal('QueueWithDlq "orders": alarms has no alarm "dlq-dept"; its alarms are "dlq-depth"');
        });
    });
});
