import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { awsContext } from "../shared/aws-context";
import { KMS_DEFAULTS, KMS_LIMITS } from "../shared/defaults";
import { checkInteger } from "../shared/validation";
import { KeyUser, keyPolicy } from "./policy-documents";
import { StatementCollector } from "./statement-collector";

export interface EncryptionKeyArgs {
    /** What the key protects, shown in the KMS console. Required. */
    description: pulumi.Input<string>;
    /** Days before a deleted key is destroyed (7 to 30). Default 30. */
    deletionWindowInDays?: pulumi.Input<number>;
    /** Set Pulumi `protect` on the key. Default false. */
    protect?: boolean;
}

/**
 * A customer-managed KMS key with yearly rotation. Its policy lets the account administer it and
 * delegate its use through IAM, and lets each AWS service named through `allowService` use it
 * only on behalf of one source ARN: AWS services cannot use the AWS-managed SNS or SQS keys.
 */
export class EncryptionKey extends pulumi.ComponentResource {
    readonly key: aws.kms.Key;
    readonly arn: pulumi.Output<string>;
    readonly #services: StatementCollector<KeyUser>;

    constructor(name: string, args: EncryptionKeyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:EncryptionKey", name, {}, opts);
        checkInteger(`EncryptionKey "${name}": deletionWindowInDays`, args.deletionWindowInDays, KMS_LIMITS.deletionWindowInDays);
        this.#services = new StatementCollector(`EncryptionKey "${name}"`);
        this.key = new aws.kms.Key(
            `${name}-cmk`,
            {
                description: args.description,
                enableKeyRotation: KMS_DEFAULTS.enableKeyRotation,
                deletionWindowInDays: args.deletionWindowInDays ?? KMS_DEFAULTS.deletionWindowInDays,
            },
            { parent: this, protect: args.protect },
        );
        // The policy is its own resource: it is built once every service has been granted (see
        // StatementCollector), and the key, with everything encrypted by it, need not wait for that.
        // Until then the key has KMS's default policy, which gives the account the same administration.
        const ctx = awsContext(this);
        new aws.kms.KeyPolicy(
            `${name}-policy`,
            {
                keyId: this.key.id,
                policy: pulumi
                    .all([ctx, this.#services.items])
                    .apply(([{ accountId, partition }, services]) => JSON.stringify(keyPolicy(accountId, services, partition))),
            },
            { parent: this },
        );
        this.arn = this.key.arn;
        this.registerOutputs({ arn: this.arn });
    }

    /**
     * Lets `service` (e.g. "cloudwatch.amazonaws.com") encrypt and decrypt with the key for
     * `sourceArn` only (EventBridge excepted: see KMS_UNSCOPED_SERVICES).
     */
    allowService(service: string, sourceArn: pulumi.Input<string>): void {
        this.#services.add(pulumi.output(sourceArn).apply((arn) => ({ service, sourceArn: arn })));
    }
}
