import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { awsContext } from "../shared/aws-context";
import { EncryptionKey } from "../security/encryption-key";
import { PolicyStatement, policyDocument, serviceStatement, tlsOnlyStatement } from "../security/policy-documents";
import { StatementCollector } from "../security/statement-collector";
import { autoName } from "../shared/naming";
import { PublishableTopic } from "../shared/references";

export interface EncryptedTopicArgs {
    /** Days before the topic's deleted KMS key is destroyed (7 to 30). Default 30. */
    kmsKeyDeletionWindowDays?: pulumi.Input<number>;
    /** Set Pulumi `protect` on the topic and its key. Default false. */
    protect?: boolean;
}

/**
 * An SNS topic encrypted with its own customer-managed key (services that publish cannot use
 * alias/aws/sns, and their deliveries would then fail silently), a policy that refuses non-TLS
 * publishing, and publisher grants scoped by aws:SourceArn. AlertTopic and FanOutTopic build on it.
 */
export class EncryptedTopic extends pulumi.ComponentResource implements PublishableTopic {
    readonly topic: aws.sns.Topic;
    readonly key: EncryptionKey;
    readonly arn: pulumi.Output<string>;
    readonly #publishers: StatementCollector<PolicyStatement>;
    private readonly accountId: pulumi.Output<string>;
    private publisherCount = 0;

    constructor(name: string, args: EncryptedTopicArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:EncryptedTopic", name, {}, opts);
        this.key = new EncryptionKey(
            `${name}-key`,
            { description: `SNS topic ${name}`, deletionWindowInDays: args.kmsKeyDeletionWindowDays, protect: args.protect },
            { parent: this },
        );
        this.topic = new aws.sns.Topic(autoName(`EncryptedTopic "${name}"`, "aws:sns/topic:Topic", `${name}-sns`), { kmsMasterKeyId: this.key.arn }, { parent: this, protect: args.protect });
        this.arn = this.topic.arn;
        this.#publishers = new StatementCollector(`EncryptedTopic "${name}"`);
        this.accountId = awsContext(this).accountId;
        new aws.sns.TopicPolicy(
            `${name}-policy`,
            {
                arn: this.topic.arn,
                policy: pulumi
                    .all([this.topic.arn, this.#publishers.items])
                    .apply(([arn, publishers]) => JSON.stringify(policyDocument([tlsOnlyStatement("sns", [arn]), ...publishers]))),
            },
            { parent: this },
        );
        this.registerOutputs({ arn: this.arn });
    }

    /**
     * Lets an AWS service publish, only on behalf of `sourceArn` (an alarm, a rule, a bucket; ARN
     * patterns with * are matched with ArnLike) in this account, and lets it use the topic's key.
     */
    allowPublishFrom(service: string, sourceArn: pulumi.Input<string>): void {
        const sid = `AllowPublish${++this.publisherCount}`;
        this.#publishers.add(
            pulumi.all([this.topic.arn, sourceArn, this.accountId]).apply(([topicArn, source, accountId]) =>
                serviceStatement({ sid, service, actions: ["sns:Publish"], resource: topicArn, sourceArn: source, accountId }),
            ),
        );
        this.key.allowService(service, sourceArn);
    }
}
