import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ALARM_DEFAULTS } from "../shared/defaults";
import { InvalidArgument, checkInteger } from "../shared/validation";
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
    /** Of the evaluation periods, how many must breach. Default: all of them. */
    datapointsToAlarm?: number;
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

/** What a component's `alarms` argument may change in one of its alarms; each field keeps the alarm's own value when unset. */
export interface AlarmOverride {
    /** The value that trips the alarm, in the metric's unit. */
    threshold?: number;
    /** Seconds per datapoint: 10, 30, or a multiple of 60. */
    periodSeconds?: number;
    /** Datapoints looked at (1 to 100). */
    evaluationPeriods?: number;
    /** Of those, how many must breach (1 to evaluationPeriods). Default: all of them. */
    datapointsToAlarm?: number;
}

/**
 * Changes to a component's alarms, keyed by role: the alarm's name without the component's name and
 * "-alarm" (e.g. "dlq-depth"). Each component names its roles in the type, so a misspelt one fails
 * the type check; ComponentAlarms refuses it at run time too, for JavaScript callers.
 */
export type AlarmOverrides<Role extends string = string> = Partial<Record<Role, AlarmOverride>>;

/** The spec with the override applied, refusing values CloudWatch would reject, in one line naming the alarm. */
export function applyAlarmOverride(spec: AlarmSpec, override: AlarmOverride | undefined, label: string): AlarmSpec {
    if (!override) return spec;
    const what = `${label}: alarms["${spec.role}"]`;
    if (override.threshold !== undefined && !Number.isFinite(override.threshold)) {
        throw new InvalidArgument(`${what}.threshold = ${override.threshold}: expected a number`);
    }
    if (override.periodSeconds !== undefined) {
        const p = override.periodSeconds;
        if (!Number.isInteger(p) || !(p === 10 || p === 30 || (p >= 60 && p % 60 === 0)) || p > 86_400) {
            throw new InvalidArgument(`${what}.periodSeconds = ${p}: expected 10, 30 or a multiple of 60 up to 86400`);
        }
    }
    checkInteger(`${what}.evaluationPeriods`, override.evaluationPeriods, [1, 100]);
    const merged: AlarmSpec = {
        ...spec,
        threshold: override.threshold ?? spec.threshold,
        periodSeconds: override.periodSeconds ?? spec.periodSeconds,
        evaluationPeriods: override.evaluationPeriods ?? spec.evaluationPeriods,
        datapointsToAlarm: override.datapointsToAlarm ?? spec.datapointsToAlarm,
    };
    checkInteger(`${what}.datapointsToAlarm`, override.datapointsToAlarm, [1, merged.evaluationPeriods]);
    return merged;
}

/**
 * The alarms of one component: each created as its child with ALARM and OK sent to the alert
 * topic, the component's `alarms` overrides applied by role. `done()` refuses an override whose
 * role matched no alarm, so a misspelt role never goes unnoticed.
 */
export class ComponentAlarms {
    readonly created: aws.cloudwatch.MetricAlarm[] = [];
    private readonly roles = new Set<string>();

    constructor(
        private readonly parent: pulumi.Resource,
        private readonly name: string,
        private readonly label: string,
        private readonly alertTopicArn: pulumi.Input<string>,
        private readonly overrides: Record<string, AlarmOverride | undefined> = {},
    ) {}

    add(spec: AlarmSpec): aws.cloudwatch.MetricAlarm {
        this.roles.add(spec.role);
        const alarm = createAlarm(this.parent, this.name, applyAlarmOverride(spec, this.overrides[spec.role], this.label), this.alertTopicArn);
        this.created.push(alarm);
        return alarm;
    }

    done(): aws.cloudwatch.MetricAlarm[] {
        const unknown = Object.keys(this.overrides).filter((role) => !this.roles.has(role));
        if (unknown.length > 0) {
            throw new InvalidArgument(`${this.label}: alarms has no alarm ${unknown.map((r) => `"${r}"`).join(", ")}; its alarms are ${[...this.roles].map((r) => `"${r}"`).join(", ")}`);
        }
        return this.created;
    }
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
            datapointsToAlarm: spec.datapointsToAlarm,
            threshold: spec.threshold,
            comparisonOperator: spec.comparison,
            treatMissingData: spec.treatMissingData,
            alarmActions: [alertTopicArn],
            okActions: [alertTopicArn],
        },
        { parent },
    );
}
