import { expect } from "chai";
import { oneLineError } from "../../support/errors";
import type { Plan, PlannedResource } from "../../../local/plan";
import { Identifiers, queueAttributes, queuesInRedriveOrder, streamRequest, subscriptionAttributes, tableRequest } from "../../../local/runtime/provision";
import { timeScale } from "../../../local/runtime/types";
import { stackPlan } from "../../support/stack-plans";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const LOCAL_QUEUE_ARN = (name: string) => `arn:aws:sqs:${REGION}:000000000000:${name}`;

function planned(plan: Plan, type: string, name: string): PlannedResource {
    const hits = plan.resources.filter((r) => r.type === type && r.name === name);
    if (hits.length !== 1) expect.fail(`expected one ${type} ${name} in the plan, found ${hits.length}`);
    return hits[0];
}

/** A resource of `type` with just these inputs; its outputs are what a mock provider gives: the inputs, the name, an ARN. */
function resource(type: string, name: string, inputs: Record<string, unknown>, outputs: Record<string, unknown> = {}): PlannedResource {
    return { urn: `urn:pulumi:dev::event-pipelines::${type}::${name}`, type, name, custom: true, dependencies: [], inputs, outputs: { ...inputs, name: inputs.name ?? name, ...outputs }, protect: false };
}

function queue(name: string, inputs: Record<string, unknown> = {}): PlannedResource {
    return resource("aws:sqs/queue:Queue", name, inputs, { arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}` });
}

const redriveTo = (name: string, maxReceiveCount = 5) => JSON.stringify({ deadLetterTargetArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`, maxReceiveCount });


describe("provision", () => {
    let dev: Plan;

    before(async function () {
        this.timeout(60_000);
        dev = await stackPlan("dev");
    });

    describe("tableRequest", () => {
        it("creates the dev plan's events table with its keys, attributes, GSI and on-demand billing", () => {
            expect(tableRequest(planned(dev, "aws:dynamodb/table:Table", "events-table"))).to.deep.equal({
                TableName: "EventLogsDev",
                KeySchema: [{ AttributeName: "eventId", KeyType: "HASH" }],
                AttributeDefinitions: [
                    { AttributeName: "eventId", AttributeType: "S" },
                    { AttributeName: "source", AttributeType: "S" },
                    { AttributeName: "eventTime", AttributeType: "S" },
                ],
                BillingMode: "PAY_PER_REQUEST",
                GlobalSecondaryIndexes: [
                    {
                        IndexName: "bySourceAndTime",
                        KeySchema: [
                            { AttributeName: "source", KeyType: "HASH" },
                            { AttributeName: "eventTime", KeyType: "RANGE" },
                        ],
                        Projection: { ProjectionType: "ALL" },
                    },
                ],
            });
        });

        it("names a table without a name input by its planned physical name", () => {
            expect(tableRequest(planned(dev, "aws:dynamodb/table:Table", "uploads-audit-records-table")).TableName).to.equal("uploads-audit-records-table-cdeb2ec");
        });

        it("gives a provisioned table and its indexes their capacity, one unit when unset, and reads hashKey/rangeKey indexes", () => {
            const request = tableRequest(
                resource("aws:dynamodb/table:Table", "t", {
                    name: "T",
                    hashKey: "pk",
                    rangeKey: "sk",
                    attributes: [
                        { name: "pk", type: "S" },
                        { name: "sk", type: "N" },
                        { name: "g", type: "S" },
                        { name: "l", type: "S" },
                    ],
                    readCapacity: 5,
                    writeCapacity: 2,
                    globalSecondaryIndexes: [{ name: "byG", hashKey: "g", projectionType: "INCLUDE", nonKeyAttributes: ["x"], readCapacity: 3 }],
                    localSecondaryIndexes: [{ name: "byL", rangeKey: "l", projectionType: "KEYS_ONLY" }],
                }),
            );
            expect(request.TableName).to.equal("T");
            expect(request.BillingMode).to.equal("PROVISIONED");
            expect(request.KeySchema).to.deep.equal([
                { AttributeName: "pk", KeyType: "HASH" },
                { AttributeName: "sk", KeyType: "RANGE" },
            ]);
            expect(request.ProvisionedThroughput).to.deep.equal({ ReadCapacityUnits: 5, WriteCapacityUnits: 2 });
            expect(request.GlobalSecondaryIndexes).to.deep.equal([
                {
                    IndexName: "byG",
                    KeySchema: [{ AttributeName: "g", KeyType: "HASH" }],
                    Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: ["x"] },
                    ProvisionedThroughput: { ReadCapacityUnits: 3, WriteCapacityUnits: 1 },
                },
            ]);
            expect(request.LocalSecondaryIndexes).to.deep.equal([
                {
                    IndexName: "byL",
                    KeySchema: [
                        { AttributeName: "pk", KeyType: "HASH" },
                        { AttributeName: "l", KeyType: "RANGE" },
                    ],
                    Projection: { ProjectionType: "KEYS_ONLY" },
                },
            ]);
        });

        it("refuses, in one line, an input it does not translate, and a table without a hash key", () => {
            const events = planned(dev, "aws:dynamodb/table:Table", "events-table");
            expect(oneLineError(() => tableRequest({ ...events, inputs: { ...events.inputs, replicas: [{ regionName: "eu-west-1" }] } }))).to.equal(
                "local runtime: aws:dynamodb/table:Table events-table sets replicas, which the runtime does not translate (teach local/runtime/provision.ts, or list them as not emulated)",
            );
            expect(oneLineError(() => tableRequest(resource("aws:dynamodb/table:Table", "t", { name: "T" })))).to.equal("local runtime: table T has no hash key");
        });
    });

    describe("streamRequest", () => {
        it("creates the dev plan's stream with its shards, its KMS settings accepted as not emulated", () => {
            expect(streamRequest(planned(dev, "aws:kinesis/stream:Stream", "events-stream"))).to.deep.equal({ StreamName: "EventStreamDev", ShardCount: 1, StreamModeDetails: { StreamMode: "PROVISIONED" } });
        });

        it("creates an on-demand stream without a shard count", () => {
            expect(streamRequest(resource("aws:kinesis/stream:Stream", "s", { name: "S", streamModeDetails: { streamMode: "ON_DEMAND" } }))).to.deep.equal({ StreamName: "S", StreamModeDetails: { StreamMode: "ON_DEMAND" } });
        });

        it("refuses, in one line, an unknown stream mode, a provisioned stream without shards and an unknown input", () => {
            expect(oneLineError(() => streamRequest(resource("aws:kinesis/stream:Stream", "s", { streamModeDetails: { streamMode: "SERVERLESS" } })))).to.equal(
                "local runtime: stream s has streamMode SERVERLESS, expected PROVISIONED or ON_DEMAND",
            );
            expect(oneLineError(() => streamRequest(resource("aws:kinesis/stream:Stream", "s", {})))).to.equal("local runtime: PROVISIONED stream s has no shardCount");
            expect(oneLineError(() => streamRequest(resource("aws:kinesis/stream:Stream", "s", { shardCount: 1, streamArn: "x" })))).to.match(/^local runtime: aws:kinesis\/stream:Stream s sets streamArn, which/);
        });
    });

    describe("queueAttributes", () => {
        it("scales the visibility timeout and rounds it to whole seconds, at least 1", () => {
            const visibility = (seconds: number | undefined, factor: number) => queueAttributes(queue("q", seconds === undefined ? {} : { visibilityTimeoutSeconds: seconds }), new Identifiers(), timeScale(factor)).VisibilityTimeout;
            expect(visibility(360, 1)).to.equal("360");
            expect(visibility(360, 0.01)).to.equal("4");
            expect(visibility(150, 0.01)).to.equal("2");
            expect(visibility(140, 0.01)).to.equal("1");
            expect(visibility(30, 0.01)).to.equal("1");
            // Unset is SQS's 30 s, scaled as well.
            expect(visibility(undefined, 1)).to.equal("30");
            expect(visibility(undefined, 0.1)).to.equal("3");
        });

        it("translates the dev plan's images queue, its long polling and its DLQ ARN to the stand-in's, and accepts its AWS-only inputs", () => {
            const images = planned(dev, "aws:sqs/queue:Queue", "uploads-images-queue");
            const ids = new Identifiers();
            ids.add(`arn:aws:sqs:${REGION}:${ACCOUNT}:uploads-images-dlq-badea2f`, LOCAL_QUEUE_ARN("uploads-images-dlq-badea2f"));
            expect(images.inputs).to.include.keys("sqsManagedSseEnabled");
            expect(queueAttributes(images, ids, timeScale(0.01))).to.deep.equal({
                VisibilityTimeout: "4",
                MessageRetentionPeriod: "345600",
                // Long polling as planned, unscaled: it bounds a wait, not a redelivery.
                ReceiveMessageWaitTimeSeconds: "20",
                RedrivePolicy: JSON.stringify({ deadLetterTargetArn: LOCAL_QUEUE_ARN("uploads-images-dlq-badea2f"), maxReceiveCount: 5 }),
            });
        });

        it("scales a delay, and passes size, FIFO and deduplication through", () => {
            expect(queueAttributes(queue("q.fifo", { delaySeconds: 300, maxMessageSize: 1024, fifoQueue: true, contentBasedDeduplication: true }), new Identifiers(), timeScale(0.01))).to.deep.equal({
                VisibilityTimeout: "1",
                DelaySeconds: "3",
                MaximumMessageSize: "1024",
                FifoQueue: "true",
                ContentBasedDeduplication: "true",
            });
        });

        it("accepts every input that only matters in AWS, and sets nothing for them", () => {
            const awsOnly = { sqsManagedSseEnabled: true, kmsMasterKeyId: "alias/aws/sqs", kmsDataKeyReusePeriodSeconds: 300, policy: "{}", tags: { team: "data" }, redriveAllowPolicy: "{}" };
            expect(queueAttributes(queue("q", awsOnly), new Identifiers(), timeScale(1))).to.deep.equal({ VisibilityTimeout: "30" });
        });

        it("refuses, in one line, the inputs it does not know", () => {
            expect(oneLineError(() => queueAttributes(queue("q", { fifoThroughputLimit: "perMessageGroupId", deduplicationScope: "messageGroup" }), new Identifiers(), timeScale(1)))).to.equal(
                "local runtime: aws:sqs/queue:Queue q sets fifoThroughputLimit, deduplicationScope, which the runtime does not translate (teach local/runtime/provision.ts, or list them as not emulated)",
            );
        });
    });

    describe("queuesInRedriveOrder", () => {
        it("puts every DLQ of the dev plan before the queues that name it", () => {
            const queues = dev.resources.filter((r) => r.type === "aws:sqs/queue:Queue");
            // The plan itself lists them in an order this must not depend on: reversed, it still holds.
            for (const input of [queues, [...queues].reverse()]) {
                const ordered = queuesInRedriveOrder(input);
                expect(ordered).to.have.members(queues);
                expect(ordered).to.have.length(queues.length);
                for (const [i, q] of ordered.entries()) {
                    if (typeof q.inputs.redrivePolicy !== "string") continue;
                    const dlqArn = (JSON.parse(q.inputs.redrivePolicy) as { deadLetterTargetArn: string }).deadLetterTargetArn;
                    const at = ordered.findIndex((d) => d.outputs.arn === dlqArn);
                    expect(at, `${q.name}'s DLQ`).to.be.within(0, i - 1);
                }
            }
        });

        it("orders a chain of DLQs, deepest first", () => {
            const [a, b, c] = [queue("a", { redrivePolicy: redriveTo("b") }), queue("b", { redrivePolicy: redriveTo("c") }), queue("c")];
            expect(queuesInRedriveOrder([a, b, c]).map((q) => q.name)).to.deep.equal(["c", "b", "a"]);
        });

        it("refuses, in one line, a redrive cycle and a DLQ missing from the plan", () => {
            const cycle = [queue("a", { redrivePolicy: redriveTo("b") }), queue("b", { redrivePolicy: redriveTo("a") })];
            expect(oneLineError(() => queuesInRedriveOrder(cycle))).to.equal("local runtime: queues a → b form a redrive cycle");
            expect(oneLineError(() => queuesInRedriveOrder([queue("a", { redrivePolicy: redriveTo("a") })]))).to.equal("local runtime: queues a form a redrive cycle");
            expect(oneLineError(() => queuesInRedriveOrder([queue("a", { redrivePolicy: redriveTo("gone") })]))).to.equal(
                `local runtime: queue a's DLQ arn:aws:sqs:${REGION}:${ACCOUNT}:gone is not in the plan`,
            );
        });
    });

    describe("subscriptionAttributes", () => {
        it("translates the dev plan's images subscription: filter policy and scope, raw delivery, its DLQ", () => {
            const sub = planned(dev, "aws:sns/topicSubscription:TopicSubscription", "uploads-images-subscription");
            const ids = new Identifiers();
            ids.add(`arn:aws:sqs:${REGION}:${ACCOUNT}:uploads-images-dlq-badea2f`, LOCAL_QUEUE_ARN("uploads-images-dlq-badea2f"));
            expect(subscriptionAttributes(sub, ids)).to.deep.equal({
                FilterPolicy: sub.inputs.filterPolicy,
                FilterPolicyScope: "MessageBody",
                RawMessageDelivery: "true",
                RedrivePolicy: JSON.stringify({ deadLetterTargetArn: LOCAL_QUEUE_ARN("uploads-images-dlq-badea2f") }),
            });
        });

        it("sets no filter for the audit subscription, and nothing for raw delivery off", () => {
            const sub = planned(dev, "aws:sns/topicSubscription:TopicSubscription", "uploads-audit-subscription");
            expect(subscriptionAttributes(sub, new Identifiers())).to.have.keys("RawMessageDelivery", "RedrivePolicy");
            expect(subscriptionAttributes({ ...sub, inputs: { topic: "t", protocol: "sqs", endpoint: "q", rawMessageDelivery: false, confirmationTimeoutInMinutes: 1 } }, new Identifiers())).to.deep.equal({});
        });

        it("refuses, in one line, an input it does not translate", () => {
            const sub = planned(dev, "aws:sns/topicSubscription:TopicSubscription", "uploads-audit-subscription");
            expect(oneLineError(() => subscriptionAttributes({ ...sub, inputs: { ...sub.inputs, deliveryPolicy: "{}" } }, new Identifiers()))).to.match(
                /^local runtime: aws:sns\/topicSubscription:TopicSubscription uploads-audit-subscription sets deliveryPolicy, which the runtime does not translate/,
            );
        });
    });

    describe("Identifiers", () => {
        it("maps planned identifiers to the stand-ins' and back, and leaves unknown ones as they are", () => {
            const ids = new Identifiers();
            const url = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/q-1a2b3c`;
            ids.add(url, "http://127.0.0.1:4566/000000000000/q-1a2b3c");
            expect(ids.local(url)).to.equal("http://127.0.0.1:4566/000000000000/q-1a2b3c");
            expect(ids.planned("http://127.0.0.1:4566/000000000000/q-1a2b3c")).to.equal(url);
            expect(ids.local("uploads-bucket")).to.equal("uploads-bucket");
            expect(ids.planned("uploads-bucket")).to.equal("uploads-bucket");
        });

        it("pairs only the identifiers that differ", () => {
            const ids = new Identifiers();
            ids.add("arn:planned:topic", "arn:local:topic");
            ids.add("same-name", "same-name");
            ids.add("arn:planned:queue", "arn:local:queue");
            expect(ids.pairs()).to.deep.equal([
                ["arn:planned:topic", "arn:local:topic"],
                ["arn:planned:queue", "arn:local:queue"],
            ]);
        });
    });
});
