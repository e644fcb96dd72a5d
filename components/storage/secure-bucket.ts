import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { policyDocument, tlsOnlyStatement, writeOnceStatements } from "../security/policy-documents";
import { S3_DEFAULTS, S3_LIMITS } from "../shared/defaults";
import { checkInteger } from "../shared/validation";
import { autoName } from "../shared/naming";
import { EventBucket } from "../shared/references";

export interface SecureBucketArgs {
    /**
     * ARN of a customer-managed KMS key for SSE-KMS. Default: SSE-KMS with the AWS-managed key
     * `aws/s3` (auditable in CloudTrail, no key policy to maintain), with an S3 Bucket Key to cut KMS
     * requests. Readers (e.g. a Lambda's role) then need kms:Decrypt only when a CMK is given.
     */
    kmsKeyArn?: pulumi.Input<string>;
    /** Send the bucket's events to EventBridge (the default bus). Default true. */
    eventBridge?: boolean;
    /**
     * How long S3 keeps what versioning would otherwise keep forever: versions replaced or deleted
     * (`noncurrentVersionExpirationDays`, default 30; the delete markers left with no versions
     * behind them go too) and the parts of uploads that never completed (`abortIncompleteUploadDays`,
     * default 7). 0 turns a rule off.
     */
    lifecycle?: {
        noncurrentVersionExpirationDays?: number;
        abortIncompleteUploadDays?: number;
        /** Current versions move to these storage classes after so many days (never expire). Default none. */
        transitions?: { days: number; storageClass: "STANDARD_IA" | "INTELLIGENT_TIERING" | "GLACIER_IR" | "GLACIER" | "DEEP_ARCHIVE" }[];
    };
    /**
     * A write-once prefix: only `writerArn` (a role) may write under `prefix`, and no one may
     * delete there (only lifecycle rules remove objects). Default none.
     */
    writeOnce?: { prefix: string; writerArn: pulumi.Input<string> };
    /** Set Pulumi `protect` on the bucket. Default false. The bucket is never force-destroyed. */
    protect?: boolean;
}

/**
 * An S3 bucket that is private and encrypted by default: all four public-access blocks on,
 * SSE-KMS with a Bucket Key, versioning, object ownership enforced by the bucket owner (ACLs off),
 * a policy denying any request without TLS on the bucket and its objects, and EventBridge
 * notifications on, so rules such as ObjectCreatedRule can route its "Object Created" events.
 */
export class SecureBucket extends pulumi.ComponentResource implements EventBucket {
    readonly bucket: aws.s3.Bucket;
    readonly bucketName: pulumi.Output<string>;
    readonly arn: pulumi.Output<string>;
    readonly policy: aws.s3.BucketPolicy;
    readonly notification?: aws.s3.BucketNotification;
    readonly lifecycle?: aws.s3.BucketLifecycleConfiguration;

    constructor(name: string, args: SecureBucketArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:SecureBucket", name, {}, opts);
        const rules = lifecycleRules(name, args.lifecycle);
        this.bucket = new aws.s3.Bucket(autoName(`SecureBucket "${name}"`, "aws:s3/bucket:Bucket", `${name}-bucket`), { forceDestroy: false }, { parent: this, protect: args.protect });
        this.bucketName = this.bucket.bucket;
        this.arn = this.bucket.arn;
        const bucket = this.bucket.id;

        const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
            `${name}-public-access-block`,
            { bucket, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
            { parent: this },
        );
        new aws.s3.BucketServerSideEncryptionConfiguration(
            `${name}-encryption`,
            {
                bucket,
                rules: [
                    {
                        // No kmsMasterKeyId: S3 uses the AWS-managed key aws/s3.
                        applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: args.kmsKeyArn },
                        bucketKeyEnabled: true,
                    },
                ],
            },
            { parent: this },
        );
        const versioning = new aws.s3.BucketVersioning(`${name}-versioning`, { bucket, versioningConfiguration: { status: "Enabled" } }, { parent: this });
        if (rules.length > 0) {
            // After versioning: noncurrent-version rules are about the versions it keeps.
            this.lifecycle = new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, { bucket, rules }, { parent: this, dependsOn: [versioning] });
        }
        const ownership = new aws.s3.BucketOwnershipControls(
            `${name}-ownership`,
            { bucket, rule: { objectOwnership: "BucketOwnerEnforced" } },
            { parent: this },
        );
        // After the public-access block, so S3 evaluates the policy with the blocks in place.
        this.policy = new aws.s3.BucketPolicy(
            `${name}-policy`,
            {
                bucket,
                policy: pulumi
                    .all([this.bucket.arn, args.writeOnce?.writerArn])
                    .apply(([arn, writer]) =>
                        JSON.stringify(
                            policyDocument([tlsOnlyStatement("s3", [arn, `${arn}/*`]), ...(args.writeOnce && writer ? writeOnceStatements(arn, args.writeOnce.prefix, writer) : [])]),
                        ),
                    ),
            },
            { parent: this, dependsOn: [publicAccessBlock, ownership] },
        );
        if (args.eventBridge ?? true) {
            this.notification = new aws.s3.BucketNotification(`${name}-notification`, { bucket, eventbridge: true }, { parent: this });
        }
        this.registerOutputs({ bucketName: this.bucketName, arn: this.arn });
    }
}

/** The lifecycle rules of a SecureBucket: each default applied, 0 leaving a rule out; refuses other values in one line. */
export function lifecycleRules(name: string, lifecycle: SecureBucketArgs["lifecycle"] = {}): aws.types.input.s3.BucketLifecycleConfigurationRule[] {
    const label = `SecureBucket "${name}": lifecycle`;
    checkInteger(`${label}.noncurrentVersionExpirationDays`, lifecycle.noncurrentVersionExpirationDays, S3_LIMITS.lifecycleDays);
    checkInteger(`${label}.abortIncompleteUploadDays`, lifecycle.abortIncompleteUploadDays, S3_LIMITS.lifecycleDays);
    const noncurrentDays = lifecycle.noncurrentVersionExpirationDays ?? S3_DEFAULTS.noncurrentVersionExpirationDays;
    const abortDays = lifecycle.abortIncompleteUploadDays ?? S3_DEFAULTS.abortIncompleteUploadDays;
    const rules: aws.types.input.s3.BucketLifecycleConfigurationRule[] = [];
    if (noncurrentDays > 0) {
        rules.push({
            id: "expire-noncurrent-versions",
            status: "Enabled",
            filter: {},
            noncurrentVersionExpiration: { noncurrentDays },
            // A delete marker whose versions have all expired only hides an empty key.
            expiration: { expiredObjectDeleteMarker: true },
        });
    }
    (lifecycle.transitions ?? []).forEach((t, i) => checkInteger(`${label}.transitions[${i}].days`, t.days, [1, S3_LIMITS.lifecycleDays[1]]));
    if (lifecycle.transitions && lifecycle.transitions.length > 0) {
        rules.push({
            id: "transition-current-versions",
            status: "Enabled",
            filter: {},
            transitions: [...lifecycle.transitions].sort((a, b) => a.days - b.days).map((t) => ({ days: t.days, storageClass: t.storageClass })),
        });
    }
    if (abortDays > 0) {
        rules.push({ id: "abort-incomplete-uploads", status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: abortDays } });
    }
    return rules;
}
