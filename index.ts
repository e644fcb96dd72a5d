import { AlertTopic, ConsumerSettings, FunctionSettings, MessagesApi, PaymentFilePipeline, QueueSettings, ResilientReportingPipeline, StreamToTable, UploadFanOut } from "./components";
import { StackConfig, loadStackConfig } from "./config/stack-config";
import { MESSAGES_ALIASES_FROM_0_1_0, UPLOADS_ALIASES_FROM_0_1_0 } from "./migrations/from-0.1.0";

// The whole system, from the stack's config: the alert topic every alarm reports to, then one
// component per seed system.

const cfg: StackConfig = loadStackConfig();
const protect = cfg.protectStatefulResources;

const alerts = new AlertTopic("alerts", { emails: cfg.alertEmails, kmsKeyDeletionWindowDays: cfg.kmsKeyDeletionWindowDays, protect });

// What every function, queue and queue consumer of the systems below shares.
const functions: FunctionSettings = {
    runtime: cfg.lambdaRuntime,
    architecture: cfg.lambdaArchitecture,
    memorySizeMb: cfg.lambdaMemoryMb,
    timeoutSeconds: cfg.lambdaTimeoutSeconds,
    logRetentionDays: cfg.logRetentionDays,
};
const queues: QueueSettings = {
    maxReceiveCount: cfg.maxReceiveCount,
    retentionDays: cfg.queueRetentionDays,
    dlqRetentionDays: cfg.dlqRetentionDays,
    oldestMessageAgeAlarmSeconds: cfg.oldestMessageAgeAlarmSeconds,
};
const consumers: ConsumerSettings = {
    batchSize: cfg.consumerBatchSize,
    maximumBatchingWindowSeconds: cfg.consumerBatchingWindowSeconds,
    maximumConcurrency: cfg.consumerMaxConcurrency,
    errorsAlarmThreshold: cfg.consumerErrorsAlarmThreshold,
};

// Seed 000: payment files, each payment applied once however often a file or a chunk is delivered;
// big files split into byte-range chunks read in parallel.
const payments = new PaymentFilePipeline("payments", {
    alertTopicArn: alerts.arn,
    queues,
    functions: { runtime: functions.runtime, architecture: functions.architecture, logRetentionDays: functions.logRetentionDays },
    sizes: { thresholdBytes: cfg.paymentThresholdBytes, chunkBytes: cfg.paymentChunkBytes, maxLineBytes: cfg.paymentMaxLineBytes, gzipMaxBytes: cfg.paymentGzipMaxBytes },
    fileFunction: { memorySizeMb: cfg.paymentFunctionMemoryMb },
    chunkWorker: { memorySizeMb: cfg.paymentFunctionMemoryMb, maximumConcurrency: cfg.paymentChunkConcurrency },
    bucket: { lifecycle: { noncurrentVersionExpirationDays: cfg.uploadsNoncurrentVersionDays, abortIncompleteUploadDays: cfg.abortIncompleteUploadDays } },
    protect,
});

// Seed 001: events from a Kinesis stream, each written once to the EventLogs table.
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
    protect,
    consumer: {
        batchSize: cfg.streamBatchSize,
        maximumBatchingWindowSeconds: cfg.streamBatchingWindowSeconds,
        parallelizationFactor: cfg.streamParallelizationFactor,
        maximumRetryAttempts: cfg.streamMaxRetryAttempts,
        maximumRecordAgeSeconds: cfg.streamMaxRecordAgeSeconds,
        function: functions,
    },
});

// Seed 002: a daily report that survives failures: ingest → raw (Firehose, the source of truth) →
// Glue → Athena's check → Redshift → the report, orchestrated with retries, alerts and a fallback.
const reporting = new ResilientReportingPipeline("reporting", {
    alertTopic: alerts,
    firehose: { bufferSeconds: cfg.reportingFirehoseBufferSeconds },
    glue: { workerType: cfg.reportingGlueWorkerType, workers: cfg.reportingGlueWorkers },
    redshift: { baseCapacity: cfg.reportingRedshiftBaseCapacity },
    athena: { bytesScannedCutoff: cfg.reportingAthenaBytesScannedCutoff },
    schedule: { expression: cfg.reportingSchedule, enabled: cfg.reportingScheduleEnabled },
    stateMachine: { logLevel: cfg.reportingStateMachineLogLevel },
    logRetentionDays: cfg.logRetentionDays,
    kmsKeyDeletionWindowDays: cfg.kmsKeyDeletionWindowDays,
    protect,
});

// Seed 003, flow 1: uploads fanned out through EventBridge and SNS to an image processor and an
// audit logger, each behind its own queue and DLQ.
const uploads = new UploadFanOut("uploads", {
    alertTopicArn: alerts.arn,
    queues,
    consumers,
    functions,
    imageProcessor: { memorySizeMb: cfg.imageProcessorMemoryMb, thumbnailSizePx: cfg.thumbnailSizePx, maxImageBytes: cfg.imageMaxBytes },
    bucket: { lifecycle: { noncurrentVersionExpirationDays: cfg.uploadsNoncurrentVersionDays, abortIncompleteUploadDays: cfg.abortIncompleteUploadDays } },
    kmsKeyDeletionWindowDays: cfg.kmsKeyDeletionWindowDays,
    protect,
    partAliases: UPLOADS_ALIASES_FROM_0_1_0,
});

// Seed 003, flow 2: POST /messages straight to a queue (no Lambda in between), and its consumer.
const messages = new MessagesApi("messages", {
    alertTopicArn: alerts.arn,
    queues,
    consumers,
    functions,
    api: {
        throttle: { rateLimit: cfg.apiRateLimit, burstLimit: cfg.apiBurstLimit },
        quota: { limit: cfg.apiQuotaLimit, period: cfg.apiQuotaPeriod },
        logRetentionDays: cfg.logRetentionDays,
    },
    manageAccountLogging: cfg.manageApiGatewayAccount,
    protect,
    partAliases: MESSAGES_ALIASES_FROM_0_1_0,
});

export const alertTopicArn = alerts.arn;
/** Payment files go under payments/ in this bucket; manifests/<key>.json reports each. */
export const paymentsBucketName = payments.bucketName;
export const paymentsTableName = payments.payments.name;
export const eventStreamName = events.stream.name;
export const eventStreamArn = events.stream.arn;
export const eventStreamKeyArn = events.streamKey.arn;
export const eventTableName = events.table.name;
export const eventRejectsTableName = events.rejectsTable.name;
/** Send raw transactions here (Kinesis PutRecords); Firehose lands them under raw/ of the raw bucket. */
export const reportIngestStreamName = reporting.stream.name;
export const reportRawBucketName = reporting.rawBucket.bucketName;
/** curated/, rejects, reports/dt=… and reports/fallback/dt=…. */
export const reportLakeBucketName = reporting.lakeBucket.bucketName;
/** What `npm run report:replay` starts. */
export const reportStateMachineArn = reporting.stateMachine.arn;
export const reportRedshiftWorkgroup = reporting.workgroup.workgroupName;
export const reportAthenaWorkgroup = reporting.athenaWorkgroup.name;
export const s3_bucket_name = uploads.bucketName;
export const uploadsTopicArn = uploads.topic.arn;
export const imagesQueueUrl = uploads.images.url;
export const auditQueueUrl = uploads.audit.url;
export const auditTableName = uploads.auditRecords.name;
/** The stage URL: clients POST to `${api_endpoint}/messages` with header x-api-key. */
export const api_endpoint = messages.invokeUrl;
/** The key's value is read with `aws apigateway get-api-key --api-key <id> --include-value`. */
export const apiKeyId = messages.apiKeyId;
export const apiQueueUrl = messages.inbox.url;
