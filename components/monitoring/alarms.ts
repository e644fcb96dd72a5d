import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ALARM_DEFAULTS } from "../shared/defaults";
import { autoName } from "../shared/naming";

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

/**
 * A count over the default period: alarm when its Sum reaches `threshold` (missing data is fine:
 * no datapoint means nothing happened). The shape shared by errors, throttles and failures.
 */
export function countAlarm(
    spec: Pick<AlarmSpec, "role" | "description" | "namespace" | "metricName" | "dimensions" | "threshold">,
): AlarmSpec {
    return {
        ...spec,
        statistic: "Sum",
        periodSeconds: ALARM_DEFAULTS.periodSeconds,
        evaluationPeriods: ALARM_DEFAULTS.evaluationPeriods,
        comparison: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
    };
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

/** Messages are waiting in a queue that people, not functions, read (an on-failure destination). */
export function queueDepthAlarm(queueName: pulumi.Input<string>, threshold: number): AlarmSpec {
    return { ...dlqDepthAlarm(queueName, threshold), role: "depth", description: `Messages are waiting in the queue (>= ${threshold}). Each describes records that failed for good.` };
}

/** The consumer falls behind the stream: records get older than the threshold before they are read. */
export function streamIteratorAgeAlarm(streamName: pulumi.Input<string>, thresholdMs: number): AlarmSpec {
    return {
        role: "iterator-age",
        description: `Records wait more than ${Math.round(thresholdMs / 60_000)} minutes before they are read: the consumer is failing or too slow, and data expires with the stream's retention.`,
        namespace: "AWS/Kinesis",
        metricName: "GetRecords.IteratorAgeMilliseconds",
        dimensions: { StreamName: streamName },
        statistic: "Maximum",
        periodSeconds: 60,
        evaluationPeriods: 5,
        threshold: thresholdMs,
        comparison: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
    };
}

/** The function is throttled: its concurrency limit, or the account's, is reached. */
export function functionThrottlesAlarm(functionName: pulumi.Input<string>): AlarmSpec {
    return {
        ...functionErrorsAlarm(functionName, 1),
        role: "throttles",
        description: "The function was throttled. Check its reserved concurrency and the account's limit.",
        metricName: "Throttles",
    };
}

/** Writes to the table are throttled (on-demand tables throttle too, above their peak or partition limits). */
export function tableWriteThrottlesAlarm(tableName: pulumi.Input<string>, indexName?: string): AlarmSpec {
    return countAlarm({
        role: "write-throttles",
        description: "Writes to the table were throttled; the handler retries them, and reports what it could not write.",
        namespace: "AWS/DynamoDB",
        metricName: "WriteThrottleEvents",
        dimensions: indexName ? { TableName: tableName, GlobalSecondaryIndexName: indexName } : { TableName: tableName },
        threshold: 1,
    });
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
    return countAlarm({
        role: "errors",
        description: `The function failed ${threshold} or more times in ${(ALARM_DEFAULTS.periodSeconds * ALARM_DEFAULTS.evaluationPeriods) / 60} minutes. Check its log group.`,
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: functionName },
        threshold,
    });
}

/** Creates the alarm as a child of `parent`, sending both ALARM and OK to the alert topic. */
export function createAlarm(parent: pulumi.Resource, name: string, spec: AlarmSpec, alertTopicArn: pulumi.Input<string>): aws.cloudwatch.MetricAlarm {
    return new aws.cloudwatch.MetricAlarm(
        autoName(`alarm "${spec.role}" of "${name}"`, "aws:cloudwatch/metricAlarm:MetricAlarm", `${name}-${spec.role}-alarm`),
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
