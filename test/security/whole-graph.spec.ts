import { expect } from "chai";
import * as aws from "@pulumi/aws";
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
                const queue = new aws.sqs.Queue("plain-queue", {});
                new aws.sns.Topic("plain-topic", { kmsMasterKeyId: "alias/aws/sns" });
                new aws.s3.Bucket("plain-bucket", {});
                const role = new aws.iam.Role("r", { assumeRolePolicy: "{}" });
                new aws.iam.RolePolicy("broad", {
                    role: role.id,
                    policy: queue.arn.apply((arn) =>
                        JSON.stringify({
                            Version: "2012-10-17",
                            Statement: [
                                { Effect: "Allow", Action: "sqs:*", Resource: arn },
                                { Effect: "Allow", Action: "s3:GetObject", Resource: "*" },
                            ],
                        }),
                    ),
                });
                new aws.iam.RolePolicyAttachment("attached", { role: role.name, policyArn: "arn:aws:iam::aws:policy/AmazonSQSFullAccess" });
                new aws.cloudwatch.MetricAlarm("silent", { comparisonOperator: "GreaterThanThreshold", evaluationPeriods: 1, threshold: 1, metricName: "Errors", namespace: "AWS/Lambda", period: 60, statistic: "Sum" });
                new aws.lambda.Function("dark", { role: role.arn, runtime: "nodejs22.x", handler: "index.handler", code: new (require("@pulumi/pulumi").asset.AssetArchive)({}) });
            });
        });
        const expected: Record<string, RegExp[]> = {
            noWildcardActions: [/broad.policy: Allow with wildcard action sqs:\*/],
            exactResources: [/broad: s3:GetObject on resource "\*"/],
            noBroadManagedPolicies: [/attached: .*AmazonSQSFullAccess/],
            encryptedAtRest: [/plain-queue: queue not encrypted/, /plain-topic: topic not encrypted/, /plain-bucket: bucket has no server-side encryption/],
            tlsOnly: [/plain-queue: no TLS-only policy/, /plain-bucket: no TLS-only policy/],
            alarmsNotify: [/silent: alarmActions missing/, /silent: okActions missing/],
            queuesHaveDlqs: [/plain-queue: neither redrives to a DLQ nor is one/],
            functionsObservable: [/dark: X-Ray tracing off/, /dark: no own log group/],
        };
        for (const [name, rule] of Object.entries(RULES)) {
            it(`${name} reports the offending resource`, () => {
                expect(expected[name], `no expectation for rule ${name}`).to.be.an("array").that.is.not.empty;
                const found = rule(bad).join("\n");
                for (const pattern of expected[name]) expect(found).to.match(pattern);
            });
        }
    });
});
