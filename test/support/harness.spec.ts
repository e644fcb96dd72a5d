import { expect } from "chai";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { generated, one, record } from "./pulumi-harness";

describe("mock harness", () => {
    it("records every resource with its inputs, parent and dependencies", async () => {
        const plan = await record(() => {
            const parent = new pulumi.ComponentResource("test:index:Group", "group", {});
            const queue = new aws.sqs.Queue("q", { messageRetentionSeconds: 60 }, { parent });
            new aws.sqs.QueuePolicy("p", { queueUrl: queue.url, policy: "{}" }, { parent });
        });
        const queue = one(plan, "aws:sqs/queue:Queue", "q");
        const policy = one(plan, "aws:sqs/queuePolicy:QueuePolicy", "p");
        const group = one(plan, "test:index:Group", "group");
        expect(queue.inputs.messageRetentionSeconds).to.equal(60);
        expect(queue.parent).to.equal(group.urn);
        expect(policy.inputs.queueUrl).to.equal(`https://sqs.us-east-1.amazonaws.com/123456789012/${generated("aws:sqs/queue:Queue", "q")}`);
        expect(policy.dependencies).to.deep.equal([queue.urn]);
        expect(queue.outputs.arn).to.equal(`arn:aws:sqs:us-east-1:123456789012:${generated("aws:sqs/queue:Queue", "q")}`);
    });

    it("surfaces an error thrown inside an apply instead of losing it", async () => {
        let failure: Error | undefined;
        await record(() => {
            const queue = new aws.sqs.Queue("q", {});
            new aws.sqs.QueuePolicy("p", {
                queueUrl: queue.url,
                policy: queue.arn.apply((): string => {
                    throw new Error("boom in apply");
                }),
            });
        }).catch((e: Error) => (failure = e));
        expect(failure?.message).to.contain("boom in apply");
    });
});
