import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AlarmOverrides, ComponentAlarms, dlqDepthAlarm, functionErrorsAlarm, oldestMessageAgeAlarm, queueDepthAlarm } from "../monitoring/alarms";
import { awsContext } from "../shared/aws-context";
import { CONSUMER_ENV } from "../../functions/shared/contract";
import { ALARM_DEFAULTS, EVENT_SOURCE_DEFAULTS, LAMBDA_DEFAULTS, SQS_DEFAULTS, SQS_LIMITS } from "../shared/defaults";
import { EncryptionKey } from "../security/encryption-key";
import { LambdaFunction, LambdaFunctionArgs } from "../compute/lambda-function";
import { PolicyStatement, policyDocument, serviceStatement, tlsOnlyStatement } from "../security/policy-documents";
import { StatementCollector } from "../security/statement-collector";
import { InvalidArgument, checkInteger } from "../shared/validation";
import { autoName } from "../shared/naming";
import { NamedQueue, SubscribableQueue } from "../shared/references";

const DAY = 86_400;

export interface QueueConsumerArgs {
    /** The consumer function (bundled `entry` or inline `callback`); the queue adds its receive/delete grants. Required. */
    function: LambdaFunctionArgs;
    /** Messages per invocation (1 to 10000; above 10 needs a batching window). Default 10. */
    batchSize?: number;
    /** Seconds to wait to fill a batch (0 to 300). Default 0. */
    maximumBatchingWindowSeconds?: number;
    /** Concurrent invocations this queue may drive (2 to 1000). Default 5. */
    maximumConcurrency?: number;
    /** Alarm when the consumer has at least this many errors in 5 minutes. Default 1. */
    errorsAlarmThreshold?: number;
    /**
     * The consumer moves messages it refuses for good (invalid, not worth retrying) straight to the
     * DLQ, with their reason: it gets sqs:SendMessage on the DLQ (and the key, if any) and the DLQ's
     * URL in `DEAD_LETTER_QUEUE_URL`. Default false (refused messages wait for maxReceiveCount).
     */
    sendsRejectsToDlq?: boolean;
}

export interface QueueWithDlqArgs {
    /** ARN of the topic every alarm sends ALARM and OK to (an AlertTopic's `arn`). Required. */
    alertTopicArn: pulumi.Input<string>;
    /**
     * "sqs-managed" (SSE-SQS: SNS, EventBridge and S3 can send to it) or "kms" (a customer-managed
     * key whose policy admits exactly the services granted with `allowSendFrom`). Default "sqs-managed".
     */
    encryption?: "sqs-managed" | "kms";
    /** Days before the queue's deleted KMS key is destroyed, with encryption "kms". Default 30. */
    kmsKeyDeletionWindowDays?: pulumi.Input<number>;
    /** Receives before a message moves to the DLQ (AWS asks at least 5 with Lambda consumers). Default 5. */
    maxReceiveCount?: number;
    /** Retention of the queue, in days (1 to 13). Default 4. */
    retentionDays?: number;
    /** Retention of the DLQ, in days: at most 14 and more than `retentionDays`. Default 14. */
    dlqRetentionDays?: number;
    /**
     * Visibility timeout, in seconds. Default 6 x the consumer's timeout plus its batching window
     * (30 without a consumer). A smaller value than that is a construction error.
     */
    visibilityTimeoutSeconds?: number;
    /** A Lambda consumer wired with an event source mapping that reports partial batch failures. Default none. */
    consumer?: QueueConsumerArgs;
    /** Alarm when the oldest message is older than this, in seconds. Default 900. */
    oldestMessageAgeAlarmSeconds?: number;
    /**
     * Also alarm when this many messages wait in the queue itself, for queues people read (an
     * on-failure destination, say). Default: no such alarm.
     */
    depthAlarmThreshold?: number;
    /**
     * Changes to its alarms by role, "dlq-depth", "oldest-message-age", "depth" and
     * "consumer-errors": threshold, periodSeconds, evaluationPeriods, datapointsToAlarm. Default:
     * each alarm's own (see components/monitoring/alarms.ts).
     */
    alarms?: AlarmOverrides<"dlq-depth" | "oldest-message-age" | "depth" | "consumer-errors">;
    /** Long polling of consumers that receive themselves, in seconds (0 to 20). Default 20. */
    receiveWaitTimeSeconds?: number;
    /** With encryption "kms": seconds SQS reuses a data key before asking KMS again (60 to 86400). Default 300. */
    kmsDataKeyReusePeriodSeconds?: number;
    /** Set Pulumi `protect` on both queues (and the key). Default false. */
    protect?: boolean;
}

/** What a system component lets its caller set for every queue it builds (each field keeps QueueWithDlqArgs' default). */
export type QueueSettings = Pick<QueueWithDlqArgs, "maxReceiveCount" | "retentionDays" | "dlqRetentionDays" | "oldestMessageAgeAlarmSeconds" | "protect">;

/** What a system component lets its caller set for every queue consumer it builds (each field keeps QueueConsumerArgs' default). */
export type ConsumerSettings = Pick<QueueConsumerArgs, "batchSize" | "maximumBatchingWindowSeconds" | "maximumConcurrency" | "errorsAlarmThreshold">;

/**
 * An encrypted SQS queue with its encrypted dead-letter queue: TLS-only policies on both, redrive
 * after `maxReceiveCount` receives, a DLQ that keeps messages longer than its source and accepts
 * redrive from that source only, an optional Lambda consumer reporting partial batch failures,
 * and alarms (DLQ depth, oldest message age, consumer errors) sent to the alert topic.
 */
export class QueueWithDlq extends pulumi.ComponentResource implements SubscribableQueue, NamedQueue {
    readonly queue: aws.sqs.Queue;
    readonly deadLetterQueue: aws.sqs.Queue;
    readonly key?: EncryptionKey;
    readonly consumer?: LambdaFunction;
    readonly eventSourceMapping?: aws.lambda.EventSourceMapping;
    readonly alarms: aws.cloudwatch.MetricAlarm[];
    readonly arn: pulumi.Output<string>;
    readonly url: pulumi.Output<string>;
    /** The queue's physical name. */
    readonly name: pulumi.Output<string>;
    /** The customer-managed key of both queues, with encryption "kms". */
    readonly kmsKeyArn?: pulumi.Output<string>;
    readonly dlqArn: pulumi.Output<string>;
    readonly visibilityTimeoutSeconds: number;
    readonly #queueSenders: StatementCollector<PolicyStatement>;
    readonly #dlqSenders: StatementCollector<PolicyStatement>;
    private readonly accountId: pulumi.Output<string>;
    private senderCount = 0;

    constructor(name: string, args: QueueWithDlqArgs, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:QueueWithDlq", name, {}, opts);
        checkQueueArgs(name, args);
        const label = `QueueWithDlq "${name}"`;
        const retentionDays = args.retentionDays ?? SQS_DEFAULTS.retentionDays;
        const dlqRetentionDays = args.dlqRetentionDays ?? SQS_DEFAULTS.dlqRetentionDays;
        this.visibilityTimeoutSeconds = visibilityTimeout(name, args);
        this.accountId = awsContext(this).accountId;

        if (args.encryption === "kms") {
            this.key = new EncryptionKey(
                `${name}-key`,
                { description: `SQS queue ${name} and its DLQ`, deletionWindowInDays: args.kmsKeyDeletionWindowDays, protect: args.protect },
                { parent: this },
            );
        }
        const encryption = this.key
            ? { kmsMasterKeyId: this.key.arn, kmsDataKeyReusePeriodSeconds: args.kmsDataKeyReusePeriodSeconds ?? SQS_DEFAULTS.kmsDataKeyReusePeriodSeconds }
            : { sqsManagedSseEnabled: true };
        const stateful = { parent: this, protect: args.protect };

        this.deadLetterQueue = new aws.sqs.Queue(autoName(label, "aws:sqs/queue:Queue", `${name}-dlq`), { ...encryption, messageRetentionSeconds: dlqRetentionDays * DAY }, stateful);
        this.queue = new aws.sqs.Queue(
            autoName(label, "aws:sqs/queue:Queue", `${name}-queue`),
            {
                ...encryption,
                messageRetentionSeconds: retentionDays * DAY,
                visibilityTimeoutSeconds: this.visibilityTimeoutSeconds,
                receiveWaitTimeSeconds: args.receiveWaitTimeSeconds ?? SQS_DEFAULTS.receiveWaitTimeSeconds,
                redrivePolicy: this.deadLetterQueue.arn.apply((deadLetterTargetArn) =>
                    JSON.stringify({ deadLetterTargetArn, maxReceiveCount: args.maxReceiveCount ?? SQS_DEFAULTS.maxReceiveCount }),
                ),
            },
            stateful,
        );
        // Only this queue may redrive into the DLQ.
        new aws.sqs.RedriveAllowPolicy(
            `${name}-redrive-allow`,
            {
                queueUrl: this.deadLetterQueue.url,
                redriveAllowPolicy: this.queue.arn.apply((arn) => JSON.stringify({ redrivePermission: "byQueue", sourceQueueArns: [arn] })),
            },
            { parent: this },
        );
        this.arn = this.queue.arn;
        this.url = this.queue.url;
        this.name = this.queue.name;
        this.kmsKeyArn = this.key?.arn;
        this.dlqArn = this.deadLetterQueue.arn;

        this.#queueSenders = new StatementCollector(`QueueWithDlq "${name}" queue`);
        this.#dlqSenders = new StatementCollector(`QueueWithDlq "${name}" DLQ`);
        this.queuePolicy(`${name}-queue-policy`, this.queue, this.#queueSenders);
        this.queuePolicy(`${name}-dlq-policy`, this.deadLetterQueue, this.#dlqSenders);

        const alarms = new ComponentAlarms(this, name, label, args.alertTopicArn, args.alarms);
        alarms.add(dlqDepthAlarm(this.deadLetterQueue.name));
        alarms.add(oldestMessageAgeAlarm(this.queue.name, args.oldestMessageAgeAlarmSeconds ?? ALARM_DEFAULTS.oldestMessageAgeSeconds));
        if (args.depthAlarmThreshold !== undefined) alarms.add(queueDepthAlarm(this.queue.name, args.depthAlarmThreshold));

        if (args.consumer) {
            const c = args.consumer;
            const queueGrants = [{ actions: ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], resources: [this.queue.arn] }];
            if (this.key) queueGrants.push({ actions: ["kms:Decrypt"], resources: [this.key.arn] });
            let environment = c.function.environment;
            if (c.sendsRejectsToDlq) {
                queueGrants.push({ actions: ["sqs:SendMessage"], resources: [this.deadLetterQueue.arn] });
                if (this.key) queueGrants.push({ actions: ["kms:GenerateDataKey"], resources: [this.key.arn] });
                environment = { ...environment, [CONSUMER_ENV.deadLetterQueueUrl]: this.deadLetterQueue.url };
            }
            this.consumer = new LambdaFunction(
                `${name}-consumer`,
                { ...c.function, environment, grants: [...queueGrants, ...(c.function.grants ?? [])] },
                { parent: this },
            );
            this.eventSourceMapping = new aws.lambda.EventSourceMapping(
                `${name}-consumer-events`,
                {
                    eventSourceArn: this.queue.arn,
                    functionName: this.consumer.arn,
                    batchSize: c.batchSize ?? EVENT_SOURCE_DEFAULTS.batchSize,
                    maximumBatchingWindowInSeconds: c.maximumBatchingWindowSeconds ?? EVENT_SOURCE_DEFAULTS.maximumBatchingWindowSeconds,
                    scalingConfig: { maximumConcurrency: c.maximumConcurrency ?? EVENT_SOURCE_DEFAULTS.maximumConcurrency },
                    // Only the failed messages of a batch return to the queue; the rest are deleted.
                    functionResponseTypes: ["ReportBatchItemFailures"],
                },
                { parent: this },
            );
            alarms.add({ ...functionErrorsAlarm(this.consumer.functionName, c.errorsAlarmThreshold), role: "consumer-errors" });
        }
        this.alarms = alarms.done();
        this.registerOutputs({ arn: this.arn, url: this.url, dlqArn: this.dlqArn });
    }

    /**
     * Lets an AWS service principal (e.g. "sns.amazonaws.com", "events.amazonaws.com") send
     * messages, only on behalf of `sourceArn`, to the queue or (with `{ to: "dlq" }`, for an SNS
     * subscription's or an EventBridge target's own dead letters) to the DLQ. With a KMS key, the
     * service may also use it for that source. Call it while the program runs (see StatementCollector):
     * once the program has returned, the policy is built and a grant is refused.
     */
    allowSendFrom(service: string, sourceArn: pulumi.Input<string>, options: { to?: "queue" | "dlq" } = {}): void {
        const dlq = options.to === "dlq";
        const target = dlq ? this.deadLetterQueue : this.queue;
        const sid = `AllowSend${++this.senderCount}`;
        (dlq ? this.#dlqSenders : this.#queueSenders).add(
            pulumi.all([target.arn, sourceArn, this.accountId]).apply(([arn, source, accountId]) =>
                serviceStatement({ sid, service, actions: ["sqs:SendMessage"], resource: arn, sourceArn: source, accountId }),
            ),
        );
        this.key?.allowService(service, sourceArn);
    }

    private queuePolicy(name: string, queue: aws.sqs.Queue, senders: StatementCollector<PolicyStatement>): aws.sqs.QueuePolicy {
        return new aws.sqs.QueuePolicy(
            name,
            {
                queueUrl: queue.url,
                policy: pulumi
                    .all([queue.arn, senders.items])
                    .apply(([arn, statements]) => JSON.stringify(policyDocument([tlsOnlyStatement("sqs", [arn]), ...statements]))),
            },
            { parent: this },
        );
    }
}

/** Refuses arguments AWS would reject at `pulumi up`, or that would lose failed messages, in one line each. */
export function checkQueueArgs(name: string, args: QueueWithDlqArgs): void {
    const label = `QueueWithDlq "${name}"`;
    checkInteger(`${label}: maxReceiveCount`, args.maxReceiveCount, SQS_LIMITS.maxReceiveCount);
    checkInteger(`${label}: retentionDays`, args.retentionDays, SQS_LIMITS.retentionDays);
    checkInteger(`${label}: dlqRetentionDays`, args.dlqRetentionDays, SQS_LIMITS.retentionDays);
    checkInteger(`${label}: depthAlarmThreshold`, args.depthAlarmThreshold, [1, 1_000_000]);
    checkInteger(`${label}: receiveWaitTimeSeconds`, args.receiveWaitTimeSeconds, SQS_LIMITS.receiveWaitTimeSeconds);
    checkInteger(`${label}: kmsDataKeyReusePeriodSeconds`, args.kmsDataKeyReusePeriodSeconds, SQS_LIMITS.kmsDataKeyReusePeriodSeconds);
    const retentionDays = args.retentionDays ?? SQS_DEFAULTS.retentionDays;
    const dlqRetentionDays = args.dlqRetentionDays ?? SQS_DEFAULTS.dlqRetentionDays;
    if (dlqRetentionDays <= retentionDays) {
        throw new InvalidArgument(`${label}: dlqRetentionDays ${dlqRetentionDays} must be more than retentionDays ${retentionDays}, so failed messages outlive their source`);
    }
    const c = args.consumer;
    if (!c) return;
    // Throttled receives count too: AWS asks for at least 5 before a Lambda consumer's message is dead-lettered.
    if (args.maxReceiveCount !== undefined && args.maxReceiveCount < 5) {
        throw new InvalidArgument(`${label}: maxReceiveCount ${args.maxReceiveCount} is below 5, the minimum AWS advises with a Lambda consumer`);
    }
    checkInteger(`${label}: consumer.batchSize`, c.batchSize, SQS_LIMITS.batchSize);
    checkInteger(`${label}: consumer.maximumBatchingWindowSeconds`, c.maximumBatchingWindowSeconds, SQS_LIMITS.maximumBatchingWindowSeconds);
    checkInteger(`${label}: consumer.maximumConcurrency`, c.maximumConcurrency, SQS_LIMITS.maximumConcurrency);
    if ((c.batchSize ?? 0) > SQS_LIMITS.batchSizeWithoutWindow && !c.maximumBatchingWindowSeconds) {
        throw new InvalidArgument(
            `${label}: consumer.batchSize ${c.batchSize} needs maximumBatchingWindowSeconds of at least 1 (SQS event sources allow at most ${SQS_LIMITS.batchSizeWithoutWindow} without a window)`,
        );
    }
}

/** The visibility timeout to use, refusing one too short for the consumer to finish and be retried safely. */
export function visibilityTimeout(name: string, args: Pick<QueueWithDlqArgs, "visibilityTimeoutSeconds" | "consumer">): number {
    const label = `QueueWithDlq "${name}"`;
    checkInteger(`${label}: visibilityTimeoutSeconds`, args.visibilityTimeoutSeconds, SQS_LIMITS.visibilityTimeoutSeconds);
    if (!args.consumer) return args.visibilityTimeoutSeconds ?? SQS_DEFAULTS.visibilityTimeoutSeconds;
    const timeout = args.consumer.function.timeoutSeconds ?? LAMBDA_DEFAULTS.timeoutSeconds;
    const window = args.consumer.maximumBatchingWindowSeconds ?? EVENT_SOURCE_DEFAULTS.maximumBatchingWindowSeconds;
    const minimum = SQS_DEFAULTS.visibilityToTimeoutRatio * timeout + window;
    const chosen = args.visibilityTimeoutSeconds ?? minimum;
    if (chosen < minimum) {
        throw new InvalidArgument(
            `${label}: visibilityTimeoutSeconds ${chosen} is below ${minimum} (${SQS_DEFAULTS.visibilityToTimeoutRatio} x the consumer's timeout of ${timeout} s + batching window ${window} s); raise it or lower the timeout`,
        );
    }
    return chosen;
}
