import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { policyDocument, tlsOnlyStatement } from "../security/policy-documents";

export interface SecureBucketArgs {
    /**
     * ARN of a customer-managed KMS key for SSE-KMS. Default: SSE-KMS with the AWS-managed key
     * `aws/s3` (auditable in CloudTrail, no key policy to maintain), with an S3 Bucket Key to cut KMS
     * requests. Readers (e.g. a Lambda's role) then need kms:Decrypt only when a CMK is given.
     */
    kmsKeyArn?: pulumi.Input<string>;
    /** Send the bucket's events to EventBridge (the default bus). Default true. */
    eventBridge?: boolean;
    /** Set Pulumi `protect` on the bucket. Default false. The bucket is never force-destroyed. */
    protect?: boolean;
}

/**
 * An S3 bucket that is private and encrypted by default: all four public-access blocks on,
 * SSE-KMS with a Bucket Key, versioning, object ownership enforced by the bucket owner (ACLs off),
 * a policy denying any request without TLS on the bucket and its objects, and EventBridge
 * notifications on, so rules such as ObjectCreatedRule can route its "Object Created" events.
 */
export class SecureBucket extends pulumi.ComponentResource {
    readonly bucket: aws.s3.Bucket;
    readonly bucketName: pulumi.Output<string>;
    readonly arn: pulumi.Output<string>;
    readonly policy: aws.s3.BucketPolicy;
    readonly notification?: aws.s3.BucketNotification;

    constructor(name: string, args: SecureBucketArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:SecureBucket", name, {}, opts);
        this.bucket = new aws.s3.Bucket(`${name}-bucket`, { forceDestroy: false }, { parent: this, protect: args.protect });
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
        new aws.s3.BucketVersioning(`${name}-versioning`, { bucket, versioningConfiguration: { status: "Enabled" } }, { parent: this });
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
                policy: this.bucket.arn.apply((arn) => JSON.stringify(policyDocument([tlsOnlyStatement("s3", [arn, `${arn}/*`])]))),
            },
            { parent: this, dependsOn: [publicAccessBlock, ownership] },
        );
        if (args.eventBridge ?? true) {
            this.notification = new aws.s3.BucketNotification(`${name}-notification`, { bucket, eventbridge: true }, { parent: this });
        }
        this.registerOutputs({ bucketName: this.bucketName, arn: this.arn });
    }
}
