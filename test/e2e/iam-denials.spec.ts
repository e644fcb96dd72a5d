/**
 * IAM enforced on the local runtime: the dev program with one grant removed (a Pulumi stack
 * transformation, as a program would make it) deploys and runs, and its flow fails the way AWS
 * would make it fail. Each removal is the only difference from the plan the e2e specs run green.
 */
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { evaluateStack } from "../../local/engine";
import { startRuntime, type LocalRuntime } from "../../local/runtime";

interface Statement {
    Sid?: string;
    Action?: string | string[];
    Principal?: unknown;
}

/** A transformation that removes the statements `drop` picks from the policy of the resource named `name`; fails when none matches. */
function withoutStatements(name: string, drop: (s: Statement) => boolean): pulumi.ResourceTransformation {
    return (args) => {
        if (args.name !== name) return undefined;
        const policy = pulumi.output(args.props.policy as pulumi.Input<string>).apply((text) => {
            const doc = JSON.parse(text) as { Statement: Statement[] };
            const kept = doc.Statement.filter((s) => !drop(s));
            if (kept.length === doc.Statement.length) throw new Error(`${name}: no statement to remove`);
            return JSON.stringify({ ...doc, Statement: kept });
        });
        return { props: { ...args.props, policy }, opts: args.opts };
    };
}

const actions = (s: Statement) => [s.Action ?? []].flat();

describe("e2e: IAM enforced on the local runtime", function () {
    this.timeout(120_000);

    describe("the stream consumer without its DynamoDB write grant", () => {
        let runtime: LocalRuntime;
        before(async () => {
            const plan = await evaluateStack({ stack: "dev", transformations: [withoutStatements("events-consumer-policy", (s) => actions(s).includes("dynamodb:BatchWriteItem"))] });
            runtime = await startRuntime({ plan, timeScale: 0.001 });
            const events = [1, 2, 3].map((i) => ({ eventId: `denied-${i}`, source: "iam-spec", sensor: "temperature", value: 20 + i, timestamp: new Date().toISOString() }));
            await runtime.clients.kinesis.send(new PutRecordsCommand({ StreamName: String(plan.outputs.eventStreamName), Records: events.map((e) => ({ PartitionKey: e.eventId, Data: Buffer.from(JSON.stringify(e)) })) }));
            await runtime.idle();
        });
        after(async () => {
            await runtime?.stop();
        });

        it("fails every write with AccessDeniedException, in the function, naming the action and the table", () => {
            const denied = runtime.counters.total("denied");
            expect([...denied.reasons.keys()].some((r) => r.startsWith("dynamodb:BatchWriteItem on arn:aws:dynamodb:us-east-1:123456789012:table/EventLogsDev"))).to.equal(true);
            const logs = (runtime.logs.get("events-consumer-function") ?? []).join("\n");
            expect(logs).to.match(/AccessDeniedException/);
            expect(logs).to.match(/is not authorized to perform: dynamodb:BatchWriteItem/);
        });

        it("stores nothing, and hands the batch to the on-failure queue once its retries are spent", async () => {
            const items = await runtime.clients.dynamodb.send(new ScanCommand({ TableName: String(runtime.plan.outputs.eventTableName), Select: "COUNT" }));
            expect(items.Count).to.equal(0);
            const failures = await runtime.drain("events-failures-queue");
            expect(failures.length).to.be.at.least(1);
            const record = JSON.parse(failures[0].body);
            expect(record.requestContext.condition).to.equal("RetryAttemptsExhausted");
            expect(record.KinesisBatchInfo.batchSize).to.be.greaterThan(0);
            expect(failures[0].body).to.not.match(/iam-spec|temperature/);
        });
    });

    describe("the uploads topic's key without the statement that lets EventBridge use it", () => {
        let runtime: LocalRuntime;
        before(async () => {
            const plan = await evaluateStack({ stack: "dev", transformations: [withoutStatements("uploads-topic-key-policy", (s) => JSON.stringify(s.Principal ?? "").includes("events.amazonaws.com"))] });
            runtime = await startRuntime({ plan, timeScale: 0.01 });
            await runtime.clients.s3.send(new PutObjectCommand({ Bucket: String(plan.outputs.s3_bucket_name), Key: "docs/unencryptable.txt", Body: "not published" }));
            await runtime.idle();
        });
        after(async () => {
            await runtime?.stop();
        });

        it("refuses the publish on the key, without retries, and dead-letters the event to the rule's DLQ", async () => {
            const reasons = [...runtime.counters.total("denied").reasons.keys()].join("\n");
            expect(reasons).to.match(/events\.amazonaws\.com is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:/);
            expect(runtime.counters.get("bus", "retries")).to.equal(0);
            const dead = await runtime.drain("uploads-created-undelivered-queue");
            expect(dead.map((m) => [m.attributes.ERROR_CODE, JSON.parse(m.body).detail.object.key])).to.deep.equal([["AccessDenied", "docs/unencryptable.txt"]]);
            expect(runtime.counters.get("lambda:uploads-audit-consumer-function", "calls")).to.equal(0);
        });
    });

    describe("the audit queue without the statement that lets the topic send to it", () => {
        let runtime: LocalRuntime;
        before(async () => {
            const plan = await evaluateStack({ stack: "dev", transformations: [withoutStatements("uploads-audit-queue-policy", (s) => JSON.stringify(s.Principal ?? "").includes("sns.amazonaws.com"))] });
            runtime = await startRuntime({ plan, timeScale: 0.01 });
            await runtime.clients.s3.send(new PutObjectCommand({ Bucket: String(plan.outputs.s3_bucket_name), Key: "docs/denied.txt", Body: "not delivered" }));
            await runtime.idle();
        });
        after(async () => {
            await runtime?.stop();
        });

        it("does not deliver the upload to audit, counts the denied delivery, and parks the message in the subscription's DLQ", async () => {
            expect(runtime.counters.get("sns:uploads-audit-subscription", "denied")).to.equal(1);
            // As SNS does with a client-side delivery error: the message goes to the subscription's DLQ.
            expect(runtime.counters.get("sns:uploads-audit-subscription", "deadLettered")).to.equal(1);
            const parked = await runtime.drain("uploads-audit-dlq");
            expect(parked.map((m) => JSON.parse(m.body).object.key)).to.deep.equal(["docs/denied.txt"]);
            const reasons = [...runtime.counters.total("denied").reasons.keys()].join("\n");
            expect(reasons).to.match(/sns\.amazonaws\.com .*is not authorized to perform: sqs:SendMessage/);
            const items = await runtime.clients.dynamodb.send(new ScanCommand({ TableName: String(runtime.plan.outputs.auditTableName), Select: "COUNT" }));
            expect(items.Count).to.equal(0);
            expect(await runtime.queueDepth("uploads-audit-queue")).to.equal(0);
        });
    });
});
