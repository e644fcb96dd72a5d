// Service defaults, in one place. Every component reads its defaults from here and lets an arg
// override them, so a reviewer can see what "secure and operable by default" means at a glance.

export const SQS_DEFAULTS = {
    /** Receives before a message is moved to the DLQ. AWS asks for at least 5 with Lambda consumers. */
    maxReceiveCount: 5,
    /** Retention of a source queue, in days (the SQS default). */
    retentionDays: 4,
    /** Retention of a DLQ, in days: the SQS maximum, so failures outlive their source. */
    dlqRetentionDays: 14,
    /** Visibility timeout when the queue has no consumer, in seconds. */
    visibilityTimeoutSeconds: 30,
    /** Consumer visibility must be at least this multiple of the consumer's timeout (AWS guidance). */
    visibilityToTimeoutRatio: 6,
    /** Long polling for consumers that poll themselves. */
    receiveWaitTimeSeconds: 20,
    /** Seconds SQS reuses a KMS data key (a customer key's requests, and cost, drop as it grows). */
    kmsDataKeyReusePeriodSeconds: 300,
} as const;

export const EVENT_SOURCE_DEFAULTS = {
    batchSize: 10,
    maximumBatchingWindowSeconds: 0,
    /** Caps how far one queue can scale its consumer (2 is the SQS event source minimum). */
    maximumConcurrency: 5,
} as const;

export const LAMBDA_DEFAULTS = {
    runtime: "nodejs22.x",
    architecture: "arm64" as "arm64" | "x86_64",
    memorySizeMb: 256,
    timeoutSeconds: 30,
    logRetentionDays: 30,
    tracing: true,
    /** esbuild target: the bundle must also run in this repository's tests on Node 20. */
    bundleTarget: "node20",
    /**
     * Packages the Lambda Node.js runtime ships; never bundled. Only the service clients: the
     * runtime's set of SDK utility packages is partial (@aws-sdk/util-base64 has been missing), so
     * utilities such as @aws-sdk/util-dynamodb are bundled.
     */
    runtimeProvided: ["@aws-sdk/client-*"],
} as const;

/** UploadFanOut's image processor, which decodes whole images and so needs more than LAMBDA_DEFAULTS. */
export const IMAGE_PROCESSOR_DEFAULTS = {
    memorySizeMb: 1024,
    /** The least timeout it gets: a batch decodes one image at a time. */
    minTimeoutSeconds: 60,
    /** sharp ships in its archive with the linux-x64 build this package installs. */
    architecture: "x86_64" as const,
} as const;

export const KINESIS_DEFAULTS = {
    /** ON_DEMAND scales by itself; PROVISIONED with one shard is the seed's dev setup. */
    streamMode: "ON_DEMAND" as "ON_DEMAND" | "PROVISIONED",
    shardCount: 1,
    retentionHours: 24,
} as const;

/** A Kinesis event source, bounded so a poison batch can neither block a shard forever nor vanish. */
export const STREAM_EVENT_SOURCE_DEFAULTS = {
    batchSize: 100,
    maximumBatchingWindowSeconds: 1,
    parallelizationFactor: 1,
    maximumRetryAttempts: 10,
    /** Older records go to the on-failure destination instead of being retried. */
    maximumRecordAgeSeconds: 21_600,
} as const;

/** A SecureBucket's lifecycle: versioning keeps every overwritten or deleted version until these rules remove it. */
export const S3_DEFAULTS = {
    /** Days a version is kept once a newer one replaced it (or it was deleted): long enough to undo a mistake. */
    noncurrentVersionExpirationDays: 30,
    /** Days before the parts of a multipart upload that never completed are removed (they are billed, and invisible). */
    abortIncompleteUploadDays: 7,
} as const;

export const S3_LIMITS = {
    /** 0 turns the rule off (kept forever); otherwise days, as S3 lifecycle rules take them. */
    lifecycleDays: [0, 36_500],
} as const;

/** StreamToTable's tables. */
export const STREAM_TO_TABLE_DEFAULTS = {
    /** What names the rejects table after an explicit events-table name: `<tableName>Rejected`. */
    rejectsTableSuffix: "Rejected",
} as const;

/** PaymentFilePipeline's functions: a file read or a chunk takes minutes, so both get Lambda's longest timeout and more memory (CPU) than LAMBDA_DEFAULTS. */
export const PAYMENT_FILE_PIPELINE_DEFAULTS = {
    memorySizeMb: 1024,
    timeoutSeconds: 900,
    /** One file, or one chunk, per invocation: each is minutes of work, retried alone. */
    batchSize: 1,
    fileConcurrency: 2,
    chunkConcurrency: 10,
    /** Alarm from the first conflicting payment (two contents for one event_id) and the first quarantined line. */
    conflictsAlarmThreshold: 1,
    quarantinedAlarmThreshold: 1,
} as const;

/**
 * ResilientReportingPipeline: Firehose, Glue, Redshift Serverless, Athena and the state machine.
 * Firehose's floor is AWS's (GZIP, 300 s); with dynamic partitioning Firehose requires a buffer
 * of at least 64 MB.
 */
export const REPORTING_DEFAULTS = {
    firehoseBufferSeconds: 300,
    firehoseBufferMb: 64,
    /** How long Firehose retries a record whose partition key it could not write, in seconds. */
    firehosePartitioningRetrySeconds: 300,
    glueVersion: "5.0",
    glueWorkerType: "G.1X" as (typeof GLUE_WORKER_TYPES)[number],
    glueWorkers: 2,
    /** A day's ETL is minutes; a run past this is stuck. */
    glueTimeoutMinutes: 60,
    /** Base RPUs of the Redshift Serverless workgroup (8 is the smallest). */
    redshiftBaseCapacity: 8,
    redshiftDatabase: "reporting",
    /** Bytes one Athena query may scan before Athena cancels it (validation and the fallback read one day). */
    athenaBytesScannedCutoff: 10 * 1024 * 1024 * 1024,
    /** Daily at 02:00 UTC: yesterday's last Firehose flush (at most 900 s late) is in raw by then. */
    schedule: "cron(0 2 * * ? *)",
    scheduleTimezone: "UTC",
    /** Glue retries: ConcurrentRunsExceeded and transient errors, with full jitter. */
    glueRetry: { maxAttempts: 3, intervalSeconds: 60, backoffRate: 2, maxDelaySeconds: 600 },
    /** Redshift statements: polled every 10 s, at most 90 times (15 minutes). */
    pollIntervalSeconds: 10,
    maxPolls: 90,
    /** The whole execution, Glue included. */
    executionTimeoutSeconds: 4 * 3600,
    /** Raw moves to cheaper storage, never away: it is the source of truth. 0 turns a transition off. */
    rawInfrequentAccessDays: 30,
    rawGlacierDays: 365,
    /** Seconds Firehose's oldest record may wait before DeliveryToS3.DataFreshness alarms (its buffer is 300 s). */
    dataFreshnessAlarmSeconds: 900,
    /** Ingest stream iterator age alarm, in milliseconds. */
    iteratorAgeAlarmMs: 600_000,
    /** Log level of the state machine: everything in dev, errors in prod (set by the stack). */
    stateMachineLogLevel: "ERROR" as "ALL" | "ERROR" | "FATAL" | "OFF",
} as const;

/** Glue's worker types for Spark jobs (G.025X is for streaming jobs only). */
export const GLUE_WORKER_TYPES = ["G.1X", "G.2X", "G.4X", "G.8X"] as const;

export const REPORTING_LIMITS = {
    firehoseBufferSeconds: [0, 900],
    /** Dynamic partitioning needs at least 64 MB; Firehose takes up to 128. */
    firehoseBufferMb: [64, 128],
    glueWorkers: [2, 299],
    glueTimeoutMinutes: [1, 2880],
    /** Redshift Serverless base capacity, in RPUs: 8 to 512, in steps of 8. */
    redshiftBaseCapacity: [8, 512],
    athenaBytesScannedCutoff: [10 * 1024 * 1024, Number.MAX_SAFE_INTEGER],
    maxPolls: [1, 1000],
    pollIntervalSeconds: [1, 3600],
} as const;

export const DYNAMODB_DEFAULTS = {
    billingMode: "PAY_PER_REQUEST",
    pointInTimeRecovery: true,
} as const;

export const KMS_DEFAULTS = {
    deletionWindowInDays: 30,
    enableKeyRotation: true,
} as const;

export const ALARM_DEFAULTS = {
    /** Alarm as soon as one message sits in a DLQ. */
    dlqDepthThreshold: 1,
    /** Oldest message in a source queue, in seconds. */
    oldestMessageAgeSeconds: 900,
    /** Function errors in one period. */
    errorsThreshold: 1,
    periodSeconds: 300,
    evaluationPeriods: 1,
} as const;

// What AWS accepts (or, where stricter, what these components allow), checked at construction so a
// bad argument fails with one line at `pulumi preview` rather than at `pulumi up`.

/** Retention values CloudWatch Logs accepts (PutRetentionPolicy). */
export const LOG_RETENTION_DAYS = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Node.js runtimes Lambda supports and these bundles target (Node 20 reached end of life in April 2026). */
export const LAMBDA_RUNTIMES = ["nodejs22.x", "nodejs24.x"] as const;
export const LAMBDA_ARCHITECTURES = ["arm64", "x86_64"] as const;

export const SQS_LIMITS = {
    maxReceiveCount: [1, 1000],
    retentionDays: [1, 14],
    visibilityTimeoutSeconds: [0, 43_200],
    batchSize: [1, 10_000],
    /** Above this batch size an SQS event source needs a batching window of at least 1 s. */
    batchSizeWithoutWindow: 10,
    maximumBatchingWindowSeconds: [0, 300],
    maximumConcurrency: [2, 1000],
    receiveWaitTimeSeconds: [0, 20],
    kmsDataKeyReusePeriodSeconds: [60, 86_400],
} as const;

export const LAMBDA_LIMITS = {
    memorySizeMb: [128, 10_240],
    timeoutSeconds: [1, 900],
} as const;

export const KINESIS_LIMITS = {
    retentionHours: [24, 8760],
    shardCount: [1, 10_000],
    batchSize: [1, 10_000],
    maximumBatchingWindowSeconds: [0, 300],
    parallelizationFactor: [1, 10],
    maximumRetryAttempts: [0, 10_000],
    maximumRecordAgeSeconds: [60, 604_800],
} as const;

export const KMS_LIMITS = {
    deletionWindowInDays: [7, 30],
} as const;

export const API_QUOTA_PERIODS = ["DAY", "WEEK", "MONTH"] as const;
export type ApiQuotaPeriod = (typeof API_QUOTA_PERIODS)[number];

export const API_DEFAULTS = {
    /** Steady-state requests per second, per stage and per usage plan. */
    rateLimit: 50,
    /** Requests allowed in a burst above the rate. */
    burstLimit: 100,
    /** Requests per quota period, per API key. */
    quotaLimit: 100_000,
    quotaPeriod: "DAY" as ApiQuotaPeriod,
    logRetentionDays: 30,
    stageName: "v1",
    /** The path segment clients POST to. */
    path: "messages",
    /** Alarm on any 5XX in a period. */
    serverErrorsThreshold: 1,
    /** Alarm when this share of requests (0.05 = 5 %) ends in a 4XX over a period. */
    clientErrorRate: 0.05,
} as const;

export const API_LIMITS = {
    /** API Gateway's default account-level throttle per region (10,000 rps, 5,000 burst). */
    rateLimit: [1, 10_000],
    burstLimit: [1, 5_000],
    quotaLimit: [1, 2_147_483_647],
} as const;

/** Retry defaults of an EventBridge target (the EventBridge maxima: 24 hours, 185 attempts). */
export const EVENT_TARGET_DEFAULTS = {
    /** Give up on an event after one hour of retries; it then goes to the target's DLQ. */
    maximumEventAgeInSeconds: 3600,
    maximumRetryAttempts: 24,
    /** Days the undelivered-events queue keeps events: read by people, so as long as a source queue may (its DLQ keeps 14). */
    undeliveredRetentionDays: 13,
} as const;

export const EVENT_TARGET_LIMITS = {
    maximumEventAgeInSeconds: [60, 86_400],
    maximumRetryAttempts: [0, 185],
} as const;
