import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { awsContext } from "../shared/aws-context";
import { EncryptedTopic } from "../messaging/encrypted-topic";
import { PublishableTopic } from "../shared/references";

export interface AlertTopicArgs {
    /** Addresses subscribed by e-mail; each must confirm. Default none. */
    emails?: string[];
    /** Days before the topic's deleted KMS key is destroyed (7 to 30). Default 30. */
    kmsKeyDeletionWindowDays?: pulumi.Input<number>;
    /** Set Pulumi `protect` on the topic and its key. Default false. */
    protect?: boolean;
}

/**
 * Where every alarm goes: a KMS-encrypted SNS topic that CloudWatch alarms of this account and
 * region may publish to (ALARM and OK), with e-mail subscriptions. Other services (EventBridge
 * rules for Glue failures, say) are added with `allowPublishFrom`.
 */
export class AlertTopic extends pulumi.ComponentResource implements PublishableTopic {
    readonly topic: EncryptedTopic;
    readonly arn: pulumi.Output<string>;
    /** The topic's customer-managed key: a role that publishes (a state machine's) needs kms:GenerateDataKey and kms:Decrypt on it. */
    readonly keyArn: pulumi.Output<string>;
    readonly subscriptions: aws.sns.TopicSubscription[];

    constructor(name: string, args: AlertTopicArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:AlertTopic", name, {}, opts);
        this.topic = new EncryptedTopic(
            `${name}-topic`,
            { kmsKeyDeletionWindowDays: args.kmsKeyDeletionWindowDays, protect: args.protect },
            { parent: this },
        );
        this.arn = this.topic.arn;
        this.keyArn = this.topic.key.arn;
        const alarms = awsContext(this).apply(({ accountId, region, partition }) => `arn:${partition}:cloudwatch:${region}:${accountId}:alarm:*`);
        this.topic.allowPublishFrom("cloudwatch.amazonaws.com", alarms);
        // Named by address, not position: removing one address must not replace (and make
        // re-confirm) every subscription after it.
        this.subscriptions = (args.emails ?? []).map(
            (email) => new aws.sns.TopicSubscription(`${name}-email-${addressId(email)}`, { topic: this.arn, protocol: "email", endpoint: email }, { parent: this }),
        );
        this.registerOutputs({ arn: this.arn });
    }

    /** Lets another AWS service publish alerts, only on behalf of `sourceArn`. */
    allowPublishFrom(service: string, sourceArn: pulumi.Input<string>): void {
        this.topic.allowPublishFrom(service, sourceArn);
    }
}

/** A short, stable id for an e-mail address (case-insensitive, as mailboxes usually are). */
export function addressId(email: string): string {
    return createHash("sha256").update(email.trim().toLowerCase()).digest("hex").slice(0, 10);
}
