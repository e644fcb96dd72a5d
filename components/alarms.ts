import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ALARM_DEFAULTS } from "./defaults";

/** One CloudWatch alarm, as data: what it watches, with which dimensions, and when it fires. */
export interface AlarmSpec {
    /** Suffix of the alarm's logical name, e.g. "dlq-depth". */
    role: string;
    description: string;
    namespace: string;
    metricName: string;
    dimensions: Record<string, pulumi.Input<string>>;
    statistic: "Sum" | "Maximum" | "Average" | "Minimum" | "SampleCount";
    periodSeconds: number;
    evaluationPeriods: number;
    threshold: number;
    comparison: "GreaterThanOrEqualToThreshold" | "GreaterThanThreshold" | "LessThanThreshold" | "LessThanOrEqualToThreshold";
    treatMissingData: "notBreaching" | "breaching" | "ignore" | "missing";
}

/** A message waits in a dead-letter queue: something failed for good and needs a person. */
export function dlqDepthAlarm(dlqName: pulumi.Input<string>, threshold: number = ALARM_DEFAULTS.dlqDepthThreshold): AlarmSpec {
    return {
        role: "dlq-depth",
        description: `Messages are waiting in the dead-letter queue (>= ${threshold}). Inspect them, fix the cause, then redrive.`,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: dlqName },
        statistic: "Maximum",
        periodSeconds: 60,
        evaluationPeriods: 1,
        threshold,
        comparison: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
    };
}

/** The oldest message has waited too long: the consumer is down, throttled or too slow. */
export function oldestMessageAgeAlarm(queueName: pulumi.Input<string>, seconds: number = ALARM_DEFAULTS.oldestMessageAgeSeconds): AlarmSpec {
    return {
        role: "oldest-message-age",
        description: `The oldest message has waited more than ${seconds} s: the consumer is failing, throttled or too slow.`,
        namespace: "AWS/SQS",
        metricName: "ApproximateAgeOfOldestMessage",
        dimensions: { QueueName: queueName },
        statistic: "Maximum",
        periodSeconds: 60,
        evaluationPeriods: 5,
        threshold: seconds,
        comparison: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
    };
}

/** The function reports errors (whole-invocation failures; partial batch failures are retried and end in the DLQ). */
export function functionErrorsAlarm(functionName: pulumi.Input<string>, threshold: number = ALARM_DEFAULTS.errorsThreshold): AlarmSpec {
    return {
        role: "errors",
        description: `The function failed ${threshold} or more times in ${(ALARM_DEFAULTS.periodSeconds * ALARM_DEFAULTS.evaluationPeriods) / 60} minutes. Check its log group.`,
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: functionName },
        statistic: "Sum",
        periodSeconds: ALARM_DEFAULTS.periodSeconds,
        evaluationPeriods: ALARM_DEFAULTS.evaluationPeriods,
        threshold,
        comparison: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
    };
}

/** Creates the alarm as a child of `parent`, sending both ALARM and OK to the alert topic. */
export function createAlarm(parent: pulumi.Resource, name: string, spec: AlarmSpec, alertTopicArn: pulumi.Input<string>): aws.cloudwatch.MetricAlarm {
    return new aws.cloudwatch.MetricAlarm(
        `${name}-${spec.role}-alarm`,
        {
            alarmDescription: spec.description,
            namespace: spec.namespace,
            metricName: spec.metricName,
            dimensions: spec.dimensions,
            statistic: spec.statistic,
            period: spec.periodSeconds,
            evaluationPeriods: spec.evaluationPeriods,
            threshold: spec.threshold,
            comparisonOperator: spec.comparison,
            treatMissingData: spec.treatMissingData,
            alarmActions: [alertTopicArn],
            okActions: [alertTopicArn],
        },
        { parent },
    );
}
