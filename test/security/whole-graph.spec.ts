import { expect } from "chai";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Plan } from "../../local/plan";
import { record } from "../support/pulumi-harness";
import { STACKS, stackPlan } from "../support/stack-plans";
import { RULES } from "./security-rules";

describe("whole-graph security", () => {
    for (const stack of STACKS) {
        describe(`stack ${stack}`, () => {
            let plan: Plan;
            before(async () => {
                plan = await stackPlan(stack);
            });
            for (const [name, rule] of Object.entries(RULES)) {
                it(`${name}: no violations`, () => {
                    expect(rule(plan)).to.deep.equal([]);
                });
            }
        });
    }

    describe("each rule catches what it is for", () => {
        let bad: Plan;
        before(async () => {
            bad = await record(() => {
                const policy = (...statements: object[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });
                const tlsDeny = (action: string, resources: string[]) => ({
                    Effect: "Deny",
                    Principal: "*",
                    Action: action,
                    Resource: resources,
                    Condition: { Bool: { "aws:SecureTransport": "false" } },
                });

                const queue = new aws.sqs.Queue("plain-queue", {});
                new aws.sns.Topic("plain-topic", { kmsMasterKeyId: "alias/aws/sns" });
                new aws.s3.Bucket("plain-bucket", {});
                new aws.kinesis.Stream("plain-stream", { shardCount: 1 });
                new aws.dynamodb.Table("plain-table", { hashKey: "id", attributes: [{ name: "id", type: "S" }] });
                const role = new aws.iam.Role("r", { assumeRolePolicy: "{}" });
                new aws.iam.RolePolicy("broad", {
                    role: role.id,
                    policy: queue.arn.apply((arn) =>
                        JSON.stringify({
                            Version: "2012-10-17",
                            Statement: [
                                { Effect: "Allow", Action: "sqs:*", Resource: arn },
                                { Effect: "Allow", Action: "s3:GetObject", Resource: "*" },
                                { Effect: "Allow", Action: "sqs:SendMessag?", Resource: arn },
                                { Effect: "Allow", NotAction: "iam:*", Resource: arn },
                                { Effect: "Allow", Action: "sqs:SendMessage", NotResource: arn },
                            ],
                        }),
                    ),
                });
                new aws.iam.RolePolicyAttachment("attached", { role: role.name, policyArn: "arn:aws:iam::aws:policy/AmazonSQSFullAccess" });
                new aws.cloudwatch.MetricAlarm("silent", { comparisonOperator: "GreaterThanThreshold", evaluationPeriods: 1, threshold: 1, metricName: "Errors", namespace: "AWS/Lambda", period: 60, statistic: "Sum" });
                new aws.lambda.Function("dark", { role: role.arn, runtime: "nodejs22.x", handler: "index.handler", code: new pulumi.asset.AssetArchive({}) });
                new aws.kms.Key("default-policy-key", {});
                const keyed = new aws.kms.Key("keyed-key", {});
                new aws.kms.KeyPolicy("keyed-key-policy", { keyId: keyed.id, policy: policy({ Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "kms:DescribeKey", Resource: "*" }) });
                new aws.kms.Key("inline-key", { policy: policy({ Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "kms:DescribeKey", Resource: "*" }) });

                // Resource policies that let everyone in, and one that is scoped to its source.
                const open = new aws.sqs.Queue("open-queue", { sqsManagedSseEnabled: true });
                new aws.sqs.QueuePolicy("open-queue-policy", {
                    queueUrl: open.url,
                    policy: open.arn.apply((arn) =>
                        policy(
                            tlsDeny("sqs:*", [arn]),
                            { Sid: "Star", Effect: "Allow", Principal: "*", Action: "sqs:SendMessage", Resource: arn },
                            { Sid: "AwsStar", Effect: "Allow", Principal: { AWS: "*" }, Action: "sqs:ReceiveMessage", Resource: arn },
                            { Sid: "StarInList", Effect: "Allow", Principal: { AWS: ["arn:aws:iam::123456789012:root", "*"] }, Action: "sqs:DeleteMessage", Resource: arn },
                            { Sid: "AllButOne", Effect: "Allow", NotPrincipal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "sqs:PurgeQueue", Resource: arn },
                            // AWS refuses partial wildcards in principals; the rule treats them as public all the same.
                            { Sid: "StarInArn", Effect: "Allow", Principal: { AWS: "arn:aws:iam::*:root" }, Action: "sqs:ChangeMessageVisibility", Resource: arn },
                            {
                                Sid: "UnrelatedCondition",
                                Effect: "Allow",
                                Principal: "*",
                                Action: "sqs:ListQueueTags",
                                Resource: arn,
                                Condition: { StringEquals: { "aws:RequestedRegion": "us-east-1" } },
                            },
                            {
                                Sid: "AnySource",
                                Effect: "Allow",
                                Principal: "*",
                                Action: "sqs:ListDeadLetterSourceQueues",
                                Resource: arn,
                                Condition: { ArnLike: { "aws:SourceArn": "*" } },
                            },
                            {
                                Sid: "NegatedCondition",
                                Effect: "Allow",
                                Principal: "*",
                                Action: "sqs:GetQueueUrl",
                                Resource: arn,
                                Condition: { StringNotEquals: { "aws:SourceAccount": "123456789012" } },
                            },
                            {
                                Sid: "ScopedToSource",
                                Effect: "Allow",
                                Principal: "*",
                                Action: "sqs:SendMessage",
                                Resource: arn,
                                Condition: { ArnEquals: { "aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:uploads" } },
                            },
                            // NotResource is a wildcard only in identity policies.
                            { Sid: "ServiceNotResource", Effect: "Allow", Principal: { Service: "sns.amazonaws.com" }, Action: "sqs:SendMessage", NotResource: `${arn}-other` },
                        ),
                    ),
                });
                // IAM accepts one statement object instead of a list: it is still read.
                const loneTopic = new aws.sns.Topic("lone-topic", {});
                new aws.sns.TopicPolicy("lone-topic-policy", {
                    arn: loneTopic.arn,
                    policy: loneTopic.arn.apply((arn) =>
                        JSON.stringify({ Version: "2012-10-17", Statement: { Sid: "LoneStar", Effect: "Allow", Principal: { AWS: "*" }, Action: "sns:Publish", Resource: arn } }),
                    ),
                });

                // TLS-only must be the resource's own policy, covering the right ARNs and every action.
                const lender = new aws.sqs.Queue("lender-queue", { sqsManagedSseEnabled: true });
                const borrower = new aws.sqs.Queue("borrower-queue", { sqsManagedSseEnabled: true });
                new aws.sqs.QueuePolicy("lender-queue-policy", {
                    queueUrl: lender.url,
                    policy: pulumi.all([lender.arn, borrower.arn]).apply(([a, b]) => policy(tlsDeny("sqs:*", [a, b]))),
                });
                const narrow = new aws.sqs.Queue("narrow-tls-queue", { sqsManagedSseEnabled: true });
                new aws.sqs.QueuePolicy("narrow-tls-queue-policy", {
                    queueUrl: narrow.url,
                    policy: narrow.arn.apply((arn) => policy(tlsDeny("sqs:SendMessage", [arn]))),
                });
                const otherDeny = new aws.sqs.Queue("other-deny-queue", { sqsManagedSseEnabled: true });
                new aws.sqs.QueuePolicy("other-deny-queue-policy", {
                    queueUrl: otherDeny.url,
                    policy: otherDeny.arn.apply((arn) =>
                        policy({ ...tlsDeny("sqs:*", [arn]), Condition: { StringNotEquals: { "aws:SourceAccount": "123456789012" } } }),
                    ),
                });
                const tlsBucket = new aws.s3.Bucket("tls-bucket", {});
                new aws.s3.BucketPolicy("tls-bucket-policy", {
                    bucket: tlsBucket.bucket,
                    policy: tlsBucket.arn.apply((arn) => policy(tlsDeny("s3:*", [arn, `${arn}/*`]))),
                });
                const halfBucket = new aws.s3.Bucket("half-tls-bucket", {});
                new aws.s3.BucketPolicy("half-tls-bucket-policy", {
                    bucket: halfBucket.bucket,
                    policy: halfBucket.arn.apply((arn) => policy(tlsDeny("s3:*", [arn]))),
                });
            });
        });
        const expected: Record<string, RegExp[]> = {
            noWildcardActions: [
                /broad.policy: Allow with wildcard action sqs:\*/,
                /broad.policy: Allow with wildcard action sqs:SendMessag\?/,
                /broad.policy: Allow with NotAction iam:\*/,
                /broad.policy: Allow with NotResource arn:aws:sqs:us-east-1:123456789012:plain-queue/,
            ],
            noPublicAccess: [
                /open-queue-policy.policy: public Allow \(Principal "\*"\) sqs:SendMessage \[Star\]/,
                /open-queue-policy.policy: public Allow \(Principal \{"AWS":"\*"\}\) sqs:ReceiveMessage \[AwsStar\]/,
                /open-queue-policy.policy: public Allow .* \[StarInList\]/,
                /open-queue-policy.policy: public Allow \(NotPrincipal .* \[AllButOne\]/,
                /open-queue-policy.policy: public Allow .* \[StarInArn\]/,
                /open-queue-policy.policy: public Allow .* \[UnrelatedCondition\]/,
                /open-queue-policy.policy: public Allow .* \[AnySource\]/,
                /open-queue-policy.policy: public Allow .* \[NegatedCondition\]/,
                /lone-topic-policy.policy: public Allow .* \[LoneStar\]/,
            ],
            exactResources: [/broad: s3:GetObject on resource "\*"/],
            noBroadManagedPolicies: [/attached: .*AmazonSQSFullAccess/],
            encryptedAtRest: [
                /plain-queue: queue not encrypted/,
                /plain-topic: topic not encrypted/,
                /plain-bucket: bucket has no server-side encryption/,
                /plain-stream: stream not KMS-encrypted/,
                /plain-table: table without server-side encryption/,
            ],
            tlsOnly: [
                /plain-queue: no TLS-only policy/,
                /plain-bucket: no TLS-only policy/,
                /borrower-queue: no TLS-only policy of its own/,
                /narrow-tls-queue: no TLS-only policy/,
                /other-deny-queue: no TLS-only policy/,
                /half-tls-bucket: no TLS-only policy/,
            ],
            alarmsNotify: [/silent: alarmActions missing/, /silent: okActions missing/],
            queuesHaveDlqs: [/plain-queue: neither redrives to a DLQ nor is one/],
            functionsObservable: [/dark: X-Ray tracing off/, /dark: no own log group/],
            keysHavePolicies: [/default-policy-key: no key policy of its own/],
        };
        // What a rule must let through, so it cannot pass by flagging everything.
        const allowed: Record<string, RegExp[]> = {
            noWildcardActions: [/open-queue-policy.policy: Allow with NotResource/],
            // A source-scoped Allow, a service principal, and the TLS denies (Deny with Principal "*").
            noPublicAccess: [/\[ScopedToSource\]/, /\[ServiceNotResource\]/, /lender-queue-policy/, /tls-bucket-policy/],
            tlsOnly: [/^lender-queue:/m, /^open-queue:/m, /^tls-bucket:/m],
            keysHavePolicies: [/keyed-key:/, /inline-key:/],
        };
        for (const [name, rule] of Object.entries(RULES)) {
            it(`${name} reports the offending resource`, () => {
                expect(expected[name], `no expectation for rule ${name}`).to.be.an("array").that.is.not.empty;
                const found = rule(bad).join("\n");
                for (const pattern of expected[name]) expect(found).to.match(pattern);
                for (const pattern of allowed[name] ?? []) expect(found, `${name} must not report ${pattern}`).not.to.match(pattern);
            });
        }
    });
});
