import type { SQSEvent } from "aws-lambda";
import {
    AlertTopic,
    FanOutTopic,
    ObjectCreatedRule,
    QueueConsumerArgs,
    QueueWithDlq,
    SecureBucket,
    StreamToTable,
    anyCaseSuffixes,
    functionEntry,
} from "./components";
import { StackConfig, loadStackConfig } from "./config/stack-config";

// The whole system, composed from the stack's config: the alert topic every alarm reports to; the
// lab's upload fan-out (seed 003): one topic, an `images` queue that only receives image objects
// and an `audit` queue that receives every object, each with its DLQ; and the event stream landing
// in the EventLogs table (seed 001).

const cfg: StackConfig = loadStackConfig();

const alerts = new AlertTopic("alerts", {
    emails: cfg.alertEmails,
    kmsKeyDeletionWindowDays: cfg.kmsKeyDeletionWindowDays,
    protect: cfg.protectStatefulResources,
});

const functionDefaults = {
    runtime: cfg.lambdaRuntime,
    architecture: cfg.lambdaArchitecture,
    memorySizeMb: cfg.lambdaMemoryMb,
    timeoutSeconds: cfg.lambdaTimeoutSeconds,
    logRetentionDays: cfg.logRetentionDays,
    protect: cfg.protectStatefulResources,
};

function queue(name: string, consumer: Pick<QueueConsumerArgs, "function">): QueueWithDlq {
    return new QueueWithDlq(name, {
        alertTopicArn: alerts.arn,
        maxReceiveCount: cfg.maxReceiveCount,
        retentionDays: cfg.queueRetentionDays,
        dlqRetentionDays: cfg.dlqRetentionDays,
        oldestMessageAgeAlarmSeconds: cfg.oldestMessageAgeAlarmSeconds,
        protect: cfg.protectStatefulResources,
        consumer: {
            batchSize: cfg.consumerBatchSize,
            maximumBatchingWindowSeconds: cfg.consumerBatchingWindowSeconds,
            maximumConcurrency: cfg.consumerMaxConcurrency,
            errorsAlarmThreshold: cfg.consumerErrorsAlarmThreshold,
            ...consumer,
        },
    });
}

// S3 "Object Created" events as EventBridge delivers them; image keys by suffix, in any case.
const IMAGE_SUFFIXES = [".jpg", ".jpeg", ".png", ".gif", ".webp"];
/** Where derived objects (thumbnails, metadata) are written; the upload rule ignores it. */
const DERIVED_PREFIX = "thumbnails/";

const images = queue("images", {
    // Inline until the image processor lands (seed 003): logs each queued image.
    function: {
        ...functionDefaults,
        callback: async (event: SQSEvent) => {
            const batchItemFailures: { itemIdentifier: string }[] = [];
            for (const record of event.Records) {
                try {
                    const { detail } = JSON.parse(record.body);
                    const image = { bucket: detail.bucket.name, key: detail.object.key, size: detail.object.size };
                    console.log(JSON.stringify({ level: "INFO", message: "image queued", ...image }));
                } catch (err) {
                    // Only this message returns to the queue; after maxReceiveCount it lands in the DLQ.
                    console.error(JSON.stringify({ level: "ERROR", message: "rejected message", messageId: record.messageId, reason: String(err) }));
                    batchItemFailures.push({ itemIdentifier: record.messageId });
                }
            }
            return { batchItemFailures };
        },
    },
});

const audit = queue("audit", { function: { ...functionDefaults, entry: functionEntry("audit-logger") } });

const uploads = new FanOutTopic("uploads", {
    kmsKeyDeletionWindowDays: cfg.kmsKeyDeletionWindowDays,
    protect: cfg.protectStatefulResources,
    subscribers: {
        images: {
            queue: images,
            filterPolicyScope: "MessageBody",
            filterPolicy: { detail: { object: { key: anyCaseSuffixes(IMAGE_SUFFIXES) } } },
        },
        audit: { queue: audit },
    },
});

// Flow 1 of the lab: uploads land in the bucket; EventBridge sends their "Object Created" events to
// the fan-out, except for derived objects under thumbnails/ (so processing an image cannot trigger
// itself). Image selection happens in the `images` subscription's filter policy: one EventBridge
// pattern cannot both pick suffixes and exclude a prefix on the same key.
const uploadsBucket = new SecureBucket("uploads", { protect: cfg.protectStatefulResources });
new ObjectCreatedRule("uploads-created", {
    bucket: uploadsBucket,
    alertTopicArn: alerts.arn,
    excludePrefixes: [DERIVED_PREFIX],
    target: { topic: uploads },
    protect: cfg.protectStatefulResources,
});

const events = new StreamToTable("events", {
    alertTopicArn: alerts.arn,
    streamName: cfg.eventStreamName,
    tableName: cfg.eventTableName,
    streamMode: cfg.eventStreamMode,
    shardCount: cfg.eventStreamMode === "PROVISIONED" ? cfg.eventStreamShardCount : undefined,
    retentionHours: cfg.eventStreamRetentionHours,
    kmsKeyDeletionWindowDays: cfg.kmsKeyDeletionWindowDays,
    ttlDays: cfg.eventTableTtlDays || undefined,
    lookupIndex: cfg.eventTableLookupIndex,
    protect: cfg.protectStatefulResources,
    consumer: {
        batchSize: cfg.streamBatchSize,
        maximumBatchingWindowSeconds: cfg.streamBatchingWindowSeconds,
        parallelizationFactor: cfg.streamParallelizationFactor,
        maximumRetryAttempts: cfg.streamMaxRetryAttempts,
        maximumRecordAgeSeconds: cfg.streamMaxRecordAgeSeconds,
        function: functionDefaults,
    },
});

export const alertTopicArn = alerts.arn;
export const uploadsTopicArn = uploads.arn;
export const imagesQueueUrl = images.url;
export const auditQueueUrl = audit.url;
export const eventStreamName = events.stream.name;
export const eventStreamArn = events.stream.arn;
export const eventTableName = events.table.name;
export const eventRejectsTableName = events.rejectsTable.name;
export const eventStreamKeyArn = events.streamKey.arn;
export const s3_bucket_name = uploadsBucket.bucketName;
