import * as pulumi from "@pulumi/pulumi";

// What components need of the resources they are handed: an ARN, a name, a way to grant. Our own
// components fit these shapes; so can a resource an importer already has, through a small object
// of its own (for a queue it cannot let us change the policy of, its allowSendFrom grants in the
// policy it manages, or throws to say so).

/** A queue that a service may be allowed to send to (QueueWithDlq, or an adapter over an existing queue). */
export interface SendableQueue {
    arn: pulumi.Input<string>;
    /**
     * Lets `service` send to the queue, or with `{ to: "dlq" }` to its dead-letter queue, only on
     * behalf of `sourceArn` (and use the queue's KMS key, if any). Called while the program runs.
     */
    allowSendFrom(service: string, sourceArn: pulumi.Input<string>, options?: { to?: "queue" | "dlq" }): void;
}

/** A queue with a dead-letter queue, for an SNS subscription: what SNS cannot deliver goes to the DLQ. */
export interface SubscribableQueue extends SendableQueue {
    dlqArn: pulumi.Input<string>;
}

/** The queue an API sends to: its ARN, its name (in the integration's path) and its KMS key, if it has one. */
export interface NamedQueue {
    arn: pulumi.Input<string>;
    name: pulumi.Input<string>;
    /** The queue's customer-managed key, which senders must be allowed to use. Default none (SSE-SQS). */
    kmsKeyArn?: pulumi.Input<string>;
}

/** A topic that EventBridge may publish to, granting per source ARN (FanOutTopic, EncryptedTopic, AlertTopic). */
export interface PublishableTopic {
    arn: pulumi.Input<string>;
    allowPublishFrom(service: string, sourceArn: pulumi.Input<string>): void;
}

/** A topic that services and roles publish alerts to: with its customer-managed key, which a publishing role must be allowed to use. */
export interface AlertDestination extends PublishableTopic {
    keyArn: pulumi.Input<string>;
}

/** A bucket whose events reach EventBridge (SecureBucket, or an existing bucket with EventBridge notifications on). */
export interface EventBucket {
    bucketName: pulumi.Input<string>;
}
