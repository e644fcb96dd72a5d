import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
    FILES_TABLE,
    PAYMENT_FILE_DEFAULTS,
    PAYMENT_FILE_ENV,
    PAYMENT_FILE_LIMITS,
    PAYMENT_FILE_SUFFIXES,
    PAYMENT_METRICS,
    PAYMENT_PREFIXES,
    PAYMENTS_TABLE,
} from "../../functions/shared/contract";
import { FunctionSettings, functionEntry, GrantInput } from "../compute/lambda-function";
import { ObjectCreatedRule } from "../messaging/object-created-rule";
import { QueueSettings, QueueWithDlq } from "../messaging/queue-with-dlq";
import { AlarmOverrides, ComponentAlarms, countAlarm } from "../monitoring/alarms";
import { PAYMENT_FILE_PIPELINE_DEFAULTS, SQS_LIMITS } from "../shared/defaults";
import { checkInteger } from "../shared/validation";
import { KeyedTable } from "../storage/keyed-table";
import { SecureBucket, SecureBucketArgs } from "../storage/secure-bucket";

/** How one of the pipeline's two functions runs. */
export interface PaymentFunctionSettings {
    /** Memory in MB. Default 1024. */
    memorySizeMb?: number;
    /** Timeout in seconds. Default 900 (Lambda's longest): a file or a chunk takes minutes. */
    timeoutSeconds?: number;
    /** Invocations its queue may drive at once (2 to 1000). Defaults: 2 for the file function, 10 for the chunk worker (the fan-out). */
    maximumConcurrency?: number;
}

export interface PaymentFilePipelineArgs {
    /** ARN of the topic every alarm sends ALARM and OK to (an AlertTopic's `arn`). Required. */
    alertTopicArn: pulumi.Input<string>;
    /** Settings of the files and chunks queues. Default: QueueWithDlq's. */
    queues?: QueueSettings;
    /** Runtime, architecture and log retention of both functions (memory and timeout are below). Default: LambdaFunction's. */
    functions?: FunctionSettings;
    /**
     * Sizes in bytes. Defaults: `thresholdBytes` 32 MiB (a file up to it is read by the file
     * function itself), `chunkBytes` 32 MiB (a bigger file is split into chunks of this size),
     * `maxLineBytes` 1 MiB (a longer line is quarantined), `gzipMaxBytes` 64 MiB (a bigger gzip
     * file is refused: it cannot be split).
     */
    sizes?: { thresholdBytes?: number; chunkBytes?: number; maxLineBytes?: number; gzipMaxBytes?: number };
    /** The file function: reads small files, splits big ones. Defaults as PaymentFunctionSettings. */
    fileFunction?: PaymentFunctionSettings;
    /** The chunk worker: reads one byte range of a big file. Defaults as PaymentFunctionSettings. */
    chunkWorker?: PaymentFunctionSettings;
    /** The landing bucket's encryption key and lifecycle. Default: SecureBucket's. */
    bucket?: Omit<SecureBucketArgs, "eventBridge" | "protect">;
    /** Changes to its own alarms, "payment-conflicts" and "quarantined-lines". Default: from the first of each in 5 minutes. */
    alarms?: AlarmOverrides<"payment-conflicts" | "quarantined-lines">;
    /** Set Pulumi `protect` on the stateful parts (bucket, queues, tables, log groups). Default false. */
    protect?: boolean;
}

type Sizes = Required<NonNullable<PaymentFilePipelineArgs["sizes"]>>;

function checkArgs(name: string, args: PaymentFilePipelineArgs): Sizes {
    const label = `PaymentFilePipeline "${name}"`;
    const sizes = { ...PAYMENT_FILE_DEFAULTS, ...args.sizes };
    for (const k of Object.keys(PAYMENT_FILE_DEFAULTS) as (keyof typeof PAYMENT_FILE_DEFAULTS)[]) checkInteger(`${label}: sizes.${k}`, sizes[k], PAYMENT_FILE_LIMITS[k]);
    for (const [role, f] of [["fileFunction", args.fileFunction], ["chunkWorker", args.chunkWorker]] as const) {
        checkInteger(`${label}: ${role}.maximumConcurrency`, f?.maximumConcurrency, SQS_LIMITS.maximumConcurrency);
    }
    return sizes;
}

/**
 * Seed 000: payment files processed exactly once in effect. Files land in a SecureBucket under
 * `payments/`; an ObjectCreatedRule sends each `payments/*.ndjson` (or `.ndjson.gz`) event to the
 * `files` queue, whose file function reads a small file itself, streaming, and splits a big one
 * into byte-range chunks sent to the `chunks` queue, whose chunk workers read their ranges in
 * parallel. Each payment is claimed once in the `payments` table (keyed `event_id`); each file's
 * manifest item in the `files` table counts its chunks done; applied payments go to `curated/`,
 * bad lines and conflicts to `quarantine/`, each file's counts and sums to `manifests/<key>.json`.
 * Both queues have DLQs and alarms; the functions' roles read only `payments/`; only the file
 * function sends, and only to `chunks`.
 */
export class PaymentFilePipeline extends pulumi.ComponentResource {
    readonly bucket: SecureBucket;
    readonly rule: ObjectCreatedRule;
    readonly files: QueueWithDlq;
    readonly chunks: QueueWithDlq;
    readonly payments: KeyedTable;
    readonly fileItems: KeyedTable;
    readonly alarms: aws.cloudwatch.MetricAlarm[];
    readonly bucketName: pulumi.Output<string>;

    constructor(name: string, args: PaymentFilePipelineArgs, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:PaymentFilePipeline", name, {}, opts);
        const sizes = checkArgs(name, args);
        const protect = args.protect;
        const d = PAYMENT_FILE_PIPELINE_DEFAULTS;

        // First: a misspelt alarm role is refused before any other part exists.
        const label = `PaymentFilePipeline "${name}"`;
        const metric = (role: string, metricName: string, threshold: number, description: string) =>
            countAlarm({ role, description, namespace: PAYMENT_METRICS.namespace, metricName, dimensions: { service: PAYMENT_METRICS.service }, threshold });
        const alarms = new ComponentAlarms(this, name, label, args.alertTopicArn, args.alarms);
        alarms.add(
            metric(
                "payment-conflicts",
                PAYMENT_METRICS.names.conflicts,
                d.conflictsAlarmThreshold,
                "A payment file carried an event_id already applied with different content. The first version is kept; both are in quarantine/: settle with the sender.",
            ),
        );
        alarms.add(
            metric(
                "quarantined-lines",
                PAYMENT_METRICS.names.quarantined,
                d.quarantinedAlarmThreshold,
                "Payment lines were quarantined (invalid, or too long). Each entry in quarantine/ names its file, line, offset and reason; the rest of the file was applied.",
            ),
        );
        this.alarms = alarms.done();

        this.bucket = new SecureBucket(name, { ...args.bucket, protect }, { parent: this });
        this.bucketName = this.bucket.bucketName;
        const under = (prefix: string) => pulumi.interpolate`${this.bucket.arn}/${prefix}*`;
        this.payments = new KeyedTable(`${name}-payments`, { hashKey: PAYMENTS_TABLE.hashKey, alertTopicArn: args.alertTopicArn, protect }, { parent: this });
        this.fileItems = new KeyedTable(`${name}-files`, { hashKey: FILES_TABLE.hashKey, alertTopicArn: args.alertTopicArn, protect }, { parent: this });

        // What both functions do with a file: read its version under payments/ (GetObjectVersion
        // when the event names a version), claim payments, count chunks, write their own prefixes.
        const reading: GrantInput[] = [
            { actions: ["s3:GetObject", "s3:GetObjectVersion"], resources: [under(PAYMENT_PREFIXES.landing)] },
            { actions: ["dynamodb:PutItem"], resources: [this.payments.arn] },
            { actions: ["dynamodb:PutItem", "dynamodb:UpdateItem"], resources: [this.fileItems.arn] },
            { actions: ["s3:PutObject"], resources: [PAYMENT_PREFIXES.curated, PAYMENT_PREFIXES.quarantine, PAYMENT_PREFIXES.manifests].map(under) },
            // A chunk streams its outputs (multipart past 5 MiB) and gives up a half-written one when it fails.
            { actions: ["s3:AbortMultipartUpload"], resources: [PAYMENT_PREFIXES.curated, PAYMENT_PREFIXES.quarantine].map(under) },
        ];
        const environment = {
            [PAYMENT_FILE_ENV.paymentsTable]: this.payments.name,
            [PAYMENT_FILE_ENV.filesTable]: this.fileItems.name,
            [PAYMENT_FILE_ENV.thresholdBytes]: String(sizes.thresholdBytes),
            [PAYMENT_FILE_ENV.chunkBytes]: String(sizes.chunkBytes),
            [PAYMENT_FILE_ENV.maxLineBytes]: String(sizes.maxLineBytes),
            [PAYMENT_FILE_ENV.gzipMaxBytes]: String(sizes.gzipMaxBytes),
        };
        const fn = (settings: PaymentFunctionSettings | undefined) => ({
            ...args.functions,
            protect,
            memorySizeMb: settings?.memorySizeMb ?? d.memorySizeMb,
            timeoutSeconds: settings?.timeoutSeconds ?? d.timeoutSeconds,
        });
        const queueArgs = { alertTopicArn: args.alertTopicArn, ...args.queues, protect };

        this.chunks = new QueueWithDlq(
            `${name}-chunks`,
            {
                ...queueArgs,
                consumer: {
                    batchSize: d.batchSize,
                    maximumConcurrency: args.chunkWorker?.maximumConcurrency ?? d.chunkConcurrency,
                    function: { ...fn(args.chunkWorker), entry: functionEntry("payment-chunk"), environment, grants: reading },
                },
            },
            { parent: this },
        );
        this.files = new QueueWithDlq(
            `${name}-files`,
            {
                ...queueArgs,
                consumer: {
                    batchSize: d.batchSize,
                    maximumConcurrency: args.fileFunction?.maximumConcurrency ?? d.fileConcurrency,
                    function: {
                        ...fn(args.fileFunction),
                        entry: functionEntry("payment-file"),
                        environment: { ...environment, [PAYMENT_FILE_ENV.chunksQueueUrl]: this.chunks.url },
                        grants: [...reading, { actions: ["sqs:SendMessage"], resources: [this.chunks.arn] }],
                    },
                },
            },
            { parent: this },
        );
        this.rule = new ObjectCreatedRule(
            `${name}-created`,
            { bucket: this.bucket, alertTopicArn: args.alertTopicArn, wildcards: PAYMENT_FILE_SUFFIXES.map((s) => `${PAYMENT_PREFIXES.landing}*${s}`), target: { queue: this.files }, protect },
            { parent: this },
        );

        this.registerOutputs({ bucketName: this.bucketName, paymentsTableName: this.payments.name, filesTableName: this.fileItems.name, filesQueueUrl: this.files.url, chunksQueueUrl: this.chunks.url });
    }
}
