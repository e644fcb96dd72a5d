import { expect } from "chai";
import type { Plan, PlannedResource } from "../../local/plan";
import { formatPreview, summarize } from "../../local/preview-printer";

const STACK_URN = "urn:pulumi:dev::event-pipelines::pulumi:pulumi:Stack::event-pipelines-dev";
const DAY = 86_400;

function resource(type: string, name: string, parent: PlannedResource | undefined, inputs: Record<string, unknown> = {}, protect = false): PlannedResource {
    const urn = type === "pulumi:pulumi:Stack" ? STACK_URN : `urn:pulumi:dev::event-pipelines::${type}::${name}`;
    return { urn, type, name, custom: !type.includes(":index:") && type !== "pulumi:pulumi:Stack", parent: parent?.urn, dependencies: [], inputs, outputs: inputs, protect };
}

// The stack, a component with three children, and a second component with one: enough for every
// branch character and both kinds of indentation.
const stack = resource("pulumi:pulumi:Stack", "event-pipelines-dev", undefined);
const orders = resource("event-pipelines:index:QueueWithDlq", "orders", stack);
const ordersQueue = resource("aws:sqs/queue:Queue", "orders-queue", orders, {
    sqsManagedSseEnabled: true,
    messageRetentionSeconds: 4 * DAY,
    visibilityTimeoutSeconds: 180,
    redrivePolicy: JSON.stringify({ deadLetterTargetArn: "arn:aws:sqs:us-east-1:123456789012:orders-dlq", maxReceiveCount: 5 }),
});
const ordersDlq = resource("aws:sqs/queue:Queue", "orders-dlq", orders, { messageRetentionSeconds: 14 * DAY }, true);
const alarm = resource("aws:cloudwatch/metricAlarm:MetricAlarm", "orders-dlq-depth-alarm", orders, {
    namespace: "AWS/SQS",
    metricName: "ApproximateNumberOfMessagesVisible",
    statistic: "Maximum",
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    alarmActions: ["arn:aws:sns:us-east-1:123456789012:alerts"],
    okActions: ["arn:aws:sns:us-east-1:123456789012:alerts"],
});
const alerts = resource("event-pipelines:index:AlertTopic", "alerts", stack);
const alertsTopic = resource("aws:sns/topic:Topic", "alerts-topic", alerts, { kmsMasterKeyId: "arn:aws:kms:us-east-1:123456789012:key/k" });

const plan: Plan = {
    project: "event-pipelines",
    stack: "dev",
    config: {},
    resources: [stack, orders, ordersQueue, ordersDlq, alarm, alerts, alertsTopic],
    outputs: {},
};

/** The table rows as [tree + type, name, properties], cut at the header's column positions. */
function rows(lines: string[]): string[][] {
    const header = lines.findIndex((l) => l.trim().startsWith("Type"));
    const nameAt = lines[header].indexOf("Name");
    const propertiesAt = lines[header].indexOf("Properties");
    const end = lines.indexOf("", header);
    return lines.slice(header + 1, end).map((l) => {
        expect(l.slice(0, 5), l).to.equal(" +   ");
        return [l.slice(5, nameAt).trimEnd(), l.slice(nameAt, propertiesAt).trimEnd(), l.slice(propertiesAt)];
    });
}

describe("preview printer", () => {
    let lines: string[];
    before(() => {
        lines = formatPreview(plan);
    });

    it("says which stack is previewed and that nothing is deployed", () => {
        expect(lines[0]).to.equal("Previewing update (dev) — offline, Pulumi mock engine, nothing is deployed");
        expect(lines[2]).to.match(/^ {5}Type +Name +Properties$/);
    });

    it("draws the tree: each child under its parent, in plan order, with branch characters and indentation", () => {
        expect(rows(lines).map(([tree, name]) => [tree, name])).to.deep.equal([
            ["pulumi:pulumi:Stack", "event-pipelines-dev"],
            ["├─ event-pipelines:index:QueueWithDlq", "orders"],
            ["│  ├─ aws:sqs/queue:Queue", "orders-queue"],
            ["│  ├─ aws:sqs/queue:Queue", "orders-dlq"],
            ["│  └─ aws:cloudwatch/metricAlarm:MetricAlarm", "orders-dlq-depth-alarm"],
            ["└─ event-pipelines:index:AlertTopic", "alerts"],
            ["   └─ aws:sns/topic:Topic", "alerts-topic"],
        ]);
    });

    it("shows the properties a reviewer checks first, per type, and marks protected resources", () => {
        const properties = Object.fromEntries(rows(lines).map(([, name, props]) => [name, props]));
        expect(properties).to.deep.equal({
            "event-pipelines-dev": "",
            orders: "",
            "orders-queue": "sse=sqs retention=4d visibility=180s maxReceiveCount=5",
            "orders-dlq": "sse=NONE retention=14d protected",
            "orders-dlq-depth-alarm": "AWS/SQS/ApproximateNumberOfMessagesVisible Maximum >= 1 actions=1+ok=1",
            alerts: "",
            "alerts-topic": "sse=kms",
        });
    });

    it("totals resources by type, most numerous first then by name, and the number to create", () => {
        const from = lines.indexOf("Resources by type:");
        expect(from, "totals heading").to.be.greaterThan(0);
        expect(lines.slice(from + 1)).to.deep.equal([
            "      2  aws:sqs/queue:Queue",
            "      1  aws:cloudwatch/metricAlarm:MetricAlarm",
            "      1  aws:sns/topic:Topic",
            "      1  event-pipelines:index:AlertTopic",
            "      1  event-pipelines:index:QueueWithDlq",
            "      1  pulumi:pulumi:Stack",
            "      7  to create",
        ]);
    });

    describe("summarize", () => {
        const summary = (type: string, inputs: Record<string, unknown>, protect = false) => summarize(resource(type, "r", stack, inputs, protect));

        it("tells SSE-KMS from SSE-SQS on queues and names every comparison operator", () => {
            expect(summary("aws:sqs/queue:Queue", { kmsMasterKeyId: "k", messageRetentionSeconds: DAY })).to.equal("sse=kms retention=1d");
            const alarmWith = (comparisonOperator: string) =>
                summary("aws:cloudwatch/metricAlarm:MetricAlarm", { namespace: "AWS/Lambda", metricName: "Errors", statistic: "Sum", threshold: 3, comparisonOperator });
            expect(alarmWith("GreaterThanThreshold")).to.equal("AWS/Lambda/Errors Sum > 3 actions=0+ok=0");
            expect(alarmWith("LessThanThreshold")).to.contain("Sum < 3");
            expect(alarmWith("LessThanOrEqualToThreshold")).to.contain("Sum <= 3");
        });

        it("summarizes keys, functions, event source mappings, log groups and subscriptions", () => {
            expect(summary("aws:kms/key:Key", { enableKeyRotation: false, deletionWindowInDays: 7 }, true)).to.equal("rotation=OFF deletionWindow=7d protected");
            expect(
                summary("aws:lambda/function:Function", {
                    runtime: "nodejs22.x",
                    architectures: ["arm64"],
                    memorySize: 256,
                    timeout: 30,
                    tracingConfig: { mode: "Active" },
                    codeSha256: "0123456789abcdef0123",
                }),
            ).to.equal("nodejs22.x arm64 memory=256MB timeout=30s tracing=Active sha256=0123456789ab…");
            expect(
                summary("aws:lambda/eventSourceMapping:EventSourceMapping", {
                    batchSize: 10,
                    scalingConfig: { maximumConcurrency: 5 },
                    functionResponseTypes: ["ReportBatchItemFailures"],
                }),
            ).to.equal("batch=10 window=0s maxConcurrency=5 ReportBatchItemFailures");
            expect(summary("aws:cloudwatch/logGroup:LogGroup", { retentionInDays: 30 })).to.equal("retention=30d");
            expect(
                summary("aws:sns/topicSubscription:TopicSubscription", { protocol: "sqs", filterPolicy: "{}", filterPolicyScope: "MessageBody", rawMessageDelivery: true, redrivePolicy: "{}" }),
            ).to.equal("sqs filter(MessageBody) raw dlq");
        });

        it("shows nothing for other types but protection", () => {
            expect(summary("aws:iam/role:Role", { name: "r" })).to.equal("");
            expect(summary("aws:iam/role:Role", { name: "r" }, true)).to.equal("protected");
        });
    });
    it("says when a value is unset instead of printing NaN or undefined", () => {
        const bare = (type: string) => summarize({ urn: "u", type, name: "n", custom: true, dependencies: [], inputs: {}, outputs: {}, protect: false });
        expect(bare("aws:sqs/queue:Queue")).to.equal("sse=NONE retention=default(4d)");
        expect(bare("aws:cloudwatch/logGroup:LogGroup")).to.equal("retention=NEVER-EXPIRES");
        expect(bare("aws:lambda/function:Function")).to.equal("memory=default(128MB) timeout=default(3s) tracing=OFF inline");
    });
});
