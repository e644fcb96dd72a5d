import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { EncryptedTopic } from "./encrypted-topic";
import { checkFilterPolicy } from "./filter-policies";
import { PublishableTopic, SubscribableQueue } from "../shared/references";

export interface FanOutSubscriber {
    /** The queue that receives the matching messages, and whose DLQ takes what SNS cannot deliver (a QueueWithDlq, or any SubscribableQueue). */
    queue: SubscribableQueue;
    /** SNS filter policy (an object); only matching messages reach this queue. Default: every message. */
    filterPolicy?: Record<string, unknown>;
    /** Whether the filter applies to message attributes or to the JSON message body. Default "MessageAttributes". */
    filterPolicyScope?: "MessageAttributes" | "MessageBody";
    /** Deliver the published message as the SQS body, without the SNS envelope. Default true. */
    rawMessageDelivery?: boolean;
}

export interface FanOutTopicArgs {
    /** Subscribers by role (the role names their subscription, e.g. "images"). Required. */
    subscribers: Record<string, FanOutSubscriber>;
    /** Days before the topic's deleted KMS key is destroyed (7 to 30). Default 30. */
    kmsKeyDeletionWindowDays?: pulumi.Input<number>;
    /** Set Pulumi `protect` on the topic and its key. Default false. */
    protect?: boolean;
}

/**
 * A KMS-encrypted SNS topic fanning out to QueueWithDlq subscribers, each with its own filter
 * policy. Each queue admits this topic only (aws:SourceArn), and each subscription has a redrive
 * policy so that messages SNS cannot deliver land in that queue's DLQ instead of being dropped.
 */
export class FanOutTopic extends pulumi.ComponentResource implements PublishableTopic {
    readonly topic: EncryptedTopic;
    readonly arn: pulumi.Output<string>;
    readonly subscriptions: Record<string, aws.sns.TopicSubscription> = {};

    constructor(name: string, args: FanOutTopicArgs, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:FanOutTopic", name, {}, opts);
        // A policy SNS would refuse fails here, in one line, instead of halfway through `pulumi up`.
        for (const [role, sub] of Object.entries(args.subscribers)) {
            if (sub.filterPolicy) checkFilterPolicy(sub.filterPolicy, sub.filterPolicyScope ?? "MessageAttributes", `FanOutTopic "${name}": subscriber "${role}": filterPolicy`);
        }
        this.topic = new EncryptedTopic(`${name}-topic`, { kmsKeyDeletionWindowDays: args.kmsKeyDeletionWindowDays, protect: args.protect }, { parent: this });
        this.arn = this.topic.arn;
        for (const [role, sub] of Object.entries(args.subscribers)) {
            sub.queue.allowSendFrom("sns.amazonaws.com", this.arn);
            sub.queue.allowSendFrom("sns.amazonaws.com", this.arn, { to: "dlq" });
            this.subscriptions[role] = new aws.sns.TopicSubscription(
                `${name}-${role}-subscription`,
                {
                    topic: this.arn,
                    protocol: "sqs",
                    endpoint: sub.queue.arn,
                    rawMessageDelivery: sub.rawMessageDelivery ?? true,
                    filterPolicy: sub.filterPolicy ? JSON.stringify(sub.filterPolicy) : undefined,
                    filterPolicyScope: sub.filterPolicy ? (sub.filterPolicyScope ?? "MessageAttributes") : undefined,
                    redrivePolicy: pulumi.output(sub.queue.dlqArn).apply((deadLetterTargetArn) => JSON.stringify({ deadLetterTargetArn })),
                },
                { parent: this },
            );
        }
        this.registerOutputs({ arn: this.arn });
    }

    /** Lets an AWS service (e.g. "events.amazonaws.com") publish, only on behalf of `sourceArn`. */
    allowPublishFrom(service: string, sourceArn: pulumi.Input<string>): void {
        this.topic.allowPublishFrom(service, sourceArn);
    }
}
