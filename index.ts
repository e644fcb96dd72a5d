import * as pulumi from "@pulumi/pulumi";
import {
    AlertTopic,
    ApiGatewayAccount,
    ApiToQueue,
    FanOutTopic,
    KeyedTable,
    OBJECT_ENVELOPE,
    ObjectCreatedRule,
    QueueConsumerArgs,
    QueueWithDlq,
    SecureBucket,
    StreamToTable,
    anyCaseSuffixes,
    functionEntry,
} from "./components";
import { StackConfig, loadStackConfig } from "./config/stack-config";
import {
    API_MESSAGE_SCHEMA,
    AUDIT_TABLE_ENV,
    AUDIT_TABLE_KEY,
    DEFAULT_DERIVED_PREFIX,
    IMAGE_KEY_SUFFIXES,
    IMAGE_PROCESSOR_ENV,
    ImageProcessorEnvName,
} from "./functions/shared/contract";

// The whole system, composed from the stack's config: the alert topic every alarm reports to; the
// lab of seed 003 (uploads fanned out to an image processor and an audit logger, and an API that
// queues messages with no Lambda in between); and the event stream landing in the EventLogs table
// (seed 001).

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

function queue(name: string, consumer: Pick<QueueConsumerArgs, "function" | "sendsRejectsToDlq">): QueueWithDlq {
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

// Flow 1 of the lab. Uploads land in the bucket; EventBridge sends their "Object Created" events
// to the fan-out, except for derived objects under thumbnails/, so the image processor's own
// writes cannot trigger it again. Each event travels in an envelope with its object on top
// (OBJECT_ENVELOPE): the `images` subscription picks image keys by suffix at `object.key`, in any
// case (one EventBridge pattern cannot both pick suffixes and exclude a prefix on the same key, and
// SNS counts a nested key's values once per level); the `audit` subscription takes every object.
const uploadsBucket = new SecureBucket("uploads", { protect: cfg.protectStatefulResources });
const uploadObjects = pulumi.interpolate`${uploadsBucket.arn}/*`;

// The handler's defaults, with the two the stack config sets.
const imageEnv: Record<ImageProcessorEnvName, string> = {
    ...IMAGE_PROCESSOR_ENV,
    THUMBNAIL_SIZE: String(cfg.thumbnailSizePx),
    MAX_IMAGE_BYTES: String(cfg.imageMaxBytes),
};
const images = queue("images", {
    function: {
        ...functionDefaults,
        entry: functionEntry("image-processor"),
        // sharp is a native module shipped in the archive; this machine kind installs its
        // linux-x64 build, so the function runs on x86_64 whatever the stack's default.
        nativePackages: ["sharp"],
        architecture: "x86_64",
        memorySizeMb: cfg.imageProcessorMemoryMb,
        // Records run one at a time (one decoded image in memory): give a batch room.
        timeoutSeconds: Math.max(cfg.lambdaTimeoutSeconds, 60),
        environment: imageEnv,
        grants: [
            // Reads a key's current version; writes only under the derived prefix the rule ignores.
            // The bucket's key is the AWS-managed aws/s3, usable through S3 without a key grant.
            { actions: ["s3:GetObject"], resources: [uploadObjects] },
            // Without it S3 answers a deleted object with 403, not 404, and the processor would
            // retry it into the DLQ instead of skipping it.
            { actions: ["s3:ListBucket"], resources: [uploadsBucket.arn] },
            { actions: ["s3:PutObject"], resources: [pulumi.interpolate`${uploadsBucket.arn}/${DEFAULT_DERIVED_PREFIX}*`] },
        ],
    },
});

const auditRecords = new KeyedTable("audit-records", {
    hashKey: AUDIT_TABLE_KEY,
    alertTopicArn: alerts.arn,
    protect: cfg.protectStatefulResources,
});
const audit = queue("audit", {
    function: {
        ...functionDefaults,
        entry: functionEntry("audit-logger"),
        environment: { [AUDIT_TABLE_ENV]: auditRecords.name },
        grants: [{ actions: ["dynamodb:PutItem"], resources: [auditRecords.arn] }],
    },
});

const uploads = new FanOutTopic("uploads", {
    kmsKeyDeletionWindowDays: cfg.kmsKeyDeletionWindowDays,
    protect: cfg.protectStatefulResources,
    subscribers: {
        images: {
            queue: images,
            filterPolicyScope: "MessageBody",
            // 56 spellings at depth 2 count 112, within SNS's 150 combinations.
            filterPolicy: { object: { key: anyCaseSuffixes([...IMAGE_KEY_SUFFIXES]) } },
        },
        audit: { queue: audit },
    },
});

new ObjectCreatedRule("uploads-created", {
    bucket: uploadsBucket,
    alertTopicArn: alerts.arn,
    excludePrefixes: [DEFAULT_DERIVED_PREFIX],
    target: { topic: uploads },
    inputTransformer: OBJECT_ENVELOPE,
    protect: cfg.protectStatefulResources,
});

// Flow 2 of the lab: POST /messages goes straight to the `api` queue (API Gateway validates the
// body against the schema the consumer checks again); the consumer moves what it refuses to its
// DLQ with the reason. API logging needs the region's API Gateway CloudWatch role, set here
// unless another stack of the account owns it.
const apiLogging = cfg.manageApiGatewayAccount ? new ApiGatewayAccount("api-gateway-account", { protect: cfg.protectStatefulResources }) : undefined;
const apiMessages = queue("api", {
    function: { ...functionDefaults, entry: functionEntry("api-consumer") },
    sendsRejectsToDlq: true,
});
const api = new ApiToQueue("messages", {
    queue: apiMessages,
    alertTopicArn: alerts.arn,
    requestSchema: API_MESSAGE_SCHEMA,
    throttle: { rateLimit: cfg.apiRateLimit, burstLimit: cfg.apiBurstLimit },
    quota: { limit: cfg.apiQuotaLimit, period: cfg.apiQuotaPeriod },
    logRetentionDays: cfg.logRetentionDays,
    accountLogging: apiLogging,
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
export const auditTableName = auditRecords.name;
export const apiQueueUrl = apiMessages.url;
export const s3_bucket_name = uploadsBucket.bucketName;
/** The stage URL: clients POST to `${api_endpoint}/messages` with header x-api-key. */
export const api_endpoint = api.invokeUrl;
/** The key's value is read with `aws apigateway get-api-key --api-key <id> --include-value`. */
export const apiKeyId = api.apiKeyId;
