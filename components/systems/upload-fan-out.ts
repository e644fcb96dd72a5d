import * as pulumi from "@pulumi/pulumi";
import {
    AUDIT_TABLE_ENV,
    AUDIT_TABLE_KEY,
    DEFAULT_DERIVED_PREFIX,
    IMAGE_KEY_SUFFIXES,
    IMAGE_PROCESSOR_ENV,
    ImageProcessorEnvName,
    UPLOAD_ENVELOPE,
} from "../../functions/shared/contract";
import { FunctionSettings, functionEntry } from "../compute/lambda-function";
import { OBJECT_ENVELOPE } from "../messaging/event-patterns";
import { FanOutTopic } from "../messaging/fan-out-topic";
import { anyCaseSuffixes } from "../messaging/filter-policies";
import { ObjectCreatedRule } from "../messaging/object-created-rule";
import { ConsumerSettings, QueueConsumerArgs, QueueSettings, QueueWithDlq, QueueWithDlqArgs } from "../messaging/queue-with-dlq";
import { IMAGE_PROCESSOR_DEFAULTS, LAMBDA_DEFAULTS } from "../shared/defaults";
import { KeyedTable } from "../storage/keyed-table";
import { SecureBucket, SecureBucketArgs } from "../storage/secure-bucket";

/** The parts of an UploadFanOut, for `partAliases`. */
export type UploadFanOutPart = "bucket" | "rule" | "topic" | "images" | "audit" | "auditRecords";

export interface UploadFanOutArgs {
    /** ARN of the topic every alarm sends ALARM and OK to (an AlertTopic's `arn`). Required. */
    alertTopicArn: pulumi.Input<string>;
    /** Settings of the images and audit queues (and the rule's undelivered-events queue keeps its own). Default: QueueWithDlq's. */
    queues?: QueueSettings;
    /** Event-source settings of both consumers. Default: QueueWithDlq's. */
    consumers?: ConsumerSettings;
    /** Runtime, architecture, memory, timeout and log retention of both consumers. Default: LambdaFunction's. */
    functions?: FunctionSettings;
    /**
     * The image processor's own settings. Defaults: memory 1024 MB (decoding needs far more than the
     * other functions), timeout the greater of `functions.timeoutSeconds` and 60 s (a batch decodes
     * one image at a time), and the handler's THUMBNAIL_SIZE and MAX_IMAGE_BYTES defaults.
     * It always runs on x86_64: sharp ships in its archive with the linux-x64 build this package installs.
     */
    imageProcessor?: { memorySizeMb?: number; timeoutSeconds?: number; thumbnailSizePx?: number; maxImageBytes?: number };
    /** Where the image processor writes, which the rule ignores so its writes never come back to it. Default "thumbnails/". */
    derivedPrefix?: string;
    /** The uploads bucket's encryption key and lifecycle. Default: SecureBucket's. */
    bucket?: Omit<SecureBucketArgs, "eventBridge" | "protect">;
    /** Days before the fan-out topic's deleted KMS key is destroyed (7 to 30). Default 30. */
    kmsKeyDeletionWindowDays?: pulumi.Input<number>;
    /** Set Pulumi `protect` on the stateful parts (bucket, queues, topic, table, keys, log groups). Default false. */
    protect?: boolean;
    /**
     * Aliases of each part, for a program that built these parts itself before using this component
     * (event-pipelines 0.1.0 did, at the stack root): the parts keep their URNs. Default none.
     */
    partAliases?: Partial<Record<UploadFanOutPart, pulumi.Input<string | pulumi.Alias>[]>>;
}

/**
 * Seed 003, flow 1: uploads fanned out. A SecureBucket whose "Object Created" events an
 * ObjectCreatedRule sends (except under the derived prefix) to a FanOutTopic, in the uploads
 * envelope; the `images` queue gets image keys only (by suffix, in any letter case) and feeds the
 * image processor, which writes a thumbnail and a metadata JSON under the derived prefix; the
 * `audit` queue gets every object and feeds the audit logger, which writes one item per object
 * version to the `audit-records` table. Each queue has its DLQ and alarms; each function a role of
 * exact grants.
 */
export class UploadFanOut extends pulumi.ComponentResource {
    readonly bucket: SecureBucket;
    readonly rule: ObjectCreatedRule;
    readonly topic: FanOutTopic;
    readonly images: QueueWithDlq;
    readonly audit: QueueWithDlq;
    readonly auditRecords: KeyedTable;
    readonly bucketName: pulumi.Output<string>;

    constructor(name: string, args: UploadFanOutArgs, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:UploadFanOut", name, {}, opts);
        const part = (p: UploadFanOutPart): pulumi.CustomResourceOptions => ({ parent: this, aliases: args.partAliases?.[p] });
        const derivedPrefix = args.derivedPrefix ?? DEFAULT_DERIVED_PREFIX;
        const protect = args.protect;
        const queueArgs = (consumer: QueueConsumerArgs): QueueWithDlqArgs => ({
            alertTopicArn: args.alertTopicArn,
            ...args.queues,
            protect,
            consumer: { ...args.consumers, ...consumer },
        });
        const functions = { ...args.functions, protect };

        this.bucket = new SecureBucket(name, { ...args.bucket, protect }, part("bucket"));
        this.bucketName = this.bucket.bucketName;
        const objects = pulumi.interpolate`${this.bucket.arn}/*`;

        const image = args.imageProcessor ?? {};
        const imageEnv: Record<ImageProcessorEnvName, string> = {
            ...IMAGE_PROCESSOR_ENV,
            DERIVED_PREFIX: derivedPrefix,
            ...(image.thumbnailSizePx !== undefined ? { THUMBNAIL_SIZE: String(image.thumbnailSizePx) } : {}),
            ...(image.maxImageBytes !== undefined ? { MAX_IMAGE_BYTES: String(image.maxImageBytes) } : {}),
        };
        this.images = new QueueWithDlq(
            `${name}-images`,
            queueArgs({
                function: {
                    ...functions,
                    entry: functionEntry("image-processor"),
                    nativePackages: ["sharp"],
                    architecture: IMAGE_PROCESSOR_DEFAULTS.architecture,
                    memorySizeMb: image.memorySizeMb ?? IMAGE_PROCESSOR_DEFAULTS.memorySizeMb,
                    timeoutSeconds: image.timeoutSeconds ?? Math.max(functions.timeoutSeconds ?? LAMBDA_DEFAULTS.timeoutSeconds, IMAGE_PROCESSOR_DEFAULTS.minTimeoutSeconds),
                    environment: imageEnv,
                    grants: [
                        // Reads a key's current version; writes only under the derived prefix the rule ignores.
                        // The bucket's key is the AWS-managed aws/s3, usable through S3 without a key grant.
                        { actions: ["s3:GetObject"], resources: [objects] },
                        // Without it S3 answers a deleted object with 403, not 404, and the processor would
                        // retry it into the DLQ instead of skipping it.
                        { actions: ["s3:ListBucket"], resources: [this.bucket.arn] },
                        { actions: ["s3:PutObject"], resources: [pulumi.interpolate`${this.bucket.arn}/${derivedPrefix}*`] },
                    ],
                },
            }),
            part("images"),
        );

        this.auditRecords = new KeyedTable(`${name}-audit-records`, { hashKey: AUDIT_TABLE_KEY, alertTopicArn: args.alertTopicArn, protect }, part("auditRecords"));
        this.audit = new QueueWithDlq(
            `${name}-audit`,
            queueArgs({
                function: {
                    ...functions,
                    entry: functionEntry("audit-logger"),
                    environment: { [AUDIT_TABLE_ENV]: this.auditRecords.name },
                    grants: [{ actions: ["dynamodb:PutItem"], resources: [this.auditRecords.arn] }],
                },
            }),
            part("audit"),
        );

        this.topic = new FanOutTopic(
            name,
            {
                kmsKeyDeletionWindowDays: args.kmsKeyDeletionWindowDays,
                protect,
                subscribers: {
                    images: {
                        queue: this.images,
                        filterPolicyScope: "MessageBody",
                        // 56 spellings at depth 2 count 112, within SNS's 150 combinations.
                        filterPolicy: { [UPLOAD_ENVELOPE.object]: { key: anyCaseSuffixes([...IMAGE_KEY_SUFFIXES]) } },
                    },
                    audit: { queue: this.audit },
                },
            },
            part("topic"),
        );

        this.rule = new ObjectCreatedRule(
            `${name}-created`,
            {
                bucket: this.bucket,
                alertTopicArn: args.alertTopicArn,
                excludePrefixes: [derivedPrefix],
                target: { topic: this.topic },
                inputTransformer: OBJECT_ENVELOPE,
                protect,
            },
            part("rule"),
        );
        this.registerOutputs({ bucketName: this.bucketName, topicArn: this.topic.arn, imagesQueueUrl: this.images.url, auditQueueUrl: this.audit.url, auditTableName: this.auditRecords.name });
    }
}
