import { expect } from "chai";
import { buildFlowGraph, renderSvg, toDot, toMermaid, type FlowEdge } from "../../local/flow-graph";
import type { Plan, PlannedResource } from "../../local/plan";

const REGION_ACCOUNT = "us-east-1:123456789012";

function resource(type: string, name: string, inputs: Record<string, unknown>, computed: Record<string, unknown> = {}): PlannedResource {
    return {
        urn: `urn:pulumi:dev::event-pipelines::${type}::${name}`,
        type,
        name,
        custom: true,
        parent: "urn:pulumi:dev::event-pipelines::pulumi:pulumi:Stack::event-pipelines-dev",
        dependencies: [],
        inputs,
        outputs: { ...inputs, ...computed },
        protect: false,
    };
}

const queueArn = (name: string) => `arn:aws:sqs:${REGION_ACCOUNT}:${name}`;
const topicArn = (name: string) => `arn:aws:sns:${REGION_ACCOUNT}:${name}`;
const functionArn = (name: string) => `arn:aws:lambda:${REGION_ACCOUNT}:function:${name}`;
const roleArn = (name: string) => `arn:aws:iam::123456789012:role/${name}`;
const tableArn = (name: string) => `arn:aws:dynamodb:${REGION_ACCOUNT}:table/${name}`;

function queue(name: string, dlq?: string): PlannedResource {
    const url = `https://sqs.us-east-1.amazonaws.com/123456789012/${name}`;
    const inputs = dlq ? { redrivePolicy: JSON.stringify({ deadLetterTargetArn: queueArn(dlq), maxReceiveCount: 5 }) } : {};
    return resource("aws:sqs/queue:Queue", name, inputs, { arn: queueArn(name), url, id: url, name });
}
const topic = (name: string) => resource("aws:sns/topic:Topic", name, {}, { arn: topicArn(name), id: topicArn(name), name });
const role = (name: string) => resource("aws:iam/role:Role", name, {}, { arn: roleArn(name), name, id: name });
const table = (name: string) => resource("aws:dynamodb/table:Table", name, { hashKey: "pk" }, { arn: tableArn(name), name, id: name });
const fn = (name: string, roleName: string) =>
    resource("aws:lambda/function:Function", name, { role: roleArn(roleName), runtime: "nodejs20.x" }, { arn: functionArn(name), name, id: name });
const subscription = (name: string, inputs: Record<string, unknown>) =>
    resource("aws:sns/topicSubscription:TopicSubscription", name, inputs, { id: `${topicArn("x")}:${name}` });
const mapping = (name: string, source: string, functionName: string) =>
    resource("aws:lambda/eventSourceMapping:EventSourceMapping", name, { eventSourceArn: source, functionName }, { id: name });
const alarm = (name: string, actions: string[]) =>
    resource("aws:cloudwatch/metricAlarm:MetricAlarm", name, { alarmActions: actions, metricName: "Errors" }, { id: name });
const policy = (name: string, roleName: string, statements: unknown[]) =>
    resource("aws:iam/rolePolicy:RolePolicy", name, { role: roleName, policy: JSON.stringify({ Version: "2012-10-17", Statement: statements }) }, { id: `${roleName}:${name}` });

function plan(resources: PlannedResource[]): Plan {
    return { project: "event-pipelines", stack: "dev", config: {}, resources, outputs: {} };
}

/** Topic "orders" fans out to two queues with DLQs, each drained by a function; alarms page "alerts". */
function fanOutPlan(): Plan {
    return plan([
        topic("orders"),
        queue("orders-a-dlq"),
        queue("orders-b-dlq"),
        queue("orders-a", "orders-a-dlq"),
        queue("orders-b", "orders-b-dlq"),
        subscription("orders-to-a", {
            topic: topicArn("orders"),
            protocol: "sqs",
            endpoint: queueArn("orders-a"),
            filterPolicy: JSON.stringify({ kind: ["priority"] }),
        }),
        subscription("orders-to-b", { topic: topicArn("orders"), protocol: "sqs", endpoint: queueArn("orders-b") }),
        role("process-a-role"),
        role("process-b-role"),
        fn("process-a", "process-a-role"),
        fn("process-b", "process-b-role"),
        // One mapping names the function, the other uses its ARN: both must resolve.
        mapping("orders-a-mapping", queueArn("orders-a"), "process-a"),
        mapping("orders-b-mapping", queueArn("orders-b"), functionArn("process-b")),
        table("orders-table"),
        policy("process-a-policy", "process-a-role", [
            { Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage"], Resource: queueArn("orders-a") },
            { Effect: "Allow", Action: "dynamodb:PutItem", Resource: [tableArn("orders-table")] },
        ]),
        topic("alerts"),
        subscription("alerts-email", { topic: topicArn("alerts"), protocol: "email", endpoint: "ops@example.com" }),
        alarm("orders-a-dlq-depth", [topicArn("alerts")]),
        alarm("process-a-errors", [topicArn("alerts")]),
    ]);
}

describe("flow graph", () => {
    it("derives the fan-out's data, failure and alert edges", () => {
        const edges: FlowEdge[] = [
            { from: "alarms", to: "topic:alerts", style: "alert" },
            { from: "function:process-a", to: "table:orders-table", style: "data", label: "writes" },
            { from: "queue:orders-a", to: "function:process-a", style: "data" },
            { from: "queue:orders-a", to: "queue:orders-a-dlq", style: "failure", label: "redrive" },
            { from: "queue:orders-b", to: "function:process-b", style: "data" },
            { from: "queue:orders-b", to: "queue:orders-b-dlq", style: "failure", label: "redrive" },
            { from: "topic:alerts", to: "email:ops@example.com", style: "data" },
            { from: "topic:orders", to: "queue:orders-a", style: "data", label: "filter" },
            { from: "topic:orders", to: "queue:orders-b", style: "data" },
        ];
        expect(buildFlowGraph(fanOutPlan()).edges).to.deep.equal(edges);
    });

    it("keeps only data-flow resources as nodes, marks DLQs and collapses alarms", () => {
        const { nodes } = buildFlowGraph(fanOutPlan());
        expect(nodes.map((n) => [n.id, n.kind, n.label, n.group])).to.deep.equal([
            ["alarms", "alarms", "CloudWatch alarms (2)", undefined],
            ["email:ops@example.com", "email", "ops@example.com", undefined],
            ["function:process-a", "function", "process-a", undefined],
            ["function:process-b", "function", "process-b", undefined],
            ["queue:orders-a", "queue", "orders-a", undefined],
            ["queue:orders-a-dlq", "queue", "orders-a-dlq", "dlq"],
            ["queue:orders-b", "queue", "orders-b", undefined],
            ["queue:orders-b-dlq", "queue", "orders-b-dlq", "dlq"],
            ["table:orders-table", "table", "orders-table", undefined],
            ["topic:alerts", "topic", "alerts", undefined],
            ["topic:orders", "topic", "orders", undefined],
        ]);
    });

    it("resolves ARN sub-resources and subscription DLQs, and ignores unknown references", () => {
        const bucketArn = "arn:aws:s3:::reports";
        const graph = buildFlowGraph(
            plan([
                resource("aws:s3/bucketV2:BucketV2", "reports", {}, { arn: bucketArn, id: "reports", bucket: "reports" }),
                topic("orders"),
                queue("orders-undeliverable"),
                role("export-role"),
                fn("export", "export-role"),
                policy("export-policy", "export-role", [
                    { Effect: "Allow", Action: "s3:PutObject", Resource: `${bucketArn}/*` },
                    { Effect: "Allow", Action: "sns:Publish", Resource: topicArn("not-in-this-stack") },
                    { Effect: "Deny", Action: "sns:Publish", Resource: topicArn("orders") },
                ]),
                subscription("orders-to-webhook", {
                    topic: topicArn("orders"),
                    protocol: "https",
                    endpoint: "https://hooks.example.com/orders",
                    redrivePolicy: JSON.stringify({ deadLetterTargetArn: queueArn("orders-undeliverable") }),
                }),
            ]),
        );
        expect(graph.edges).to.deep.equal([
            { from: "function:export", to: "bucket:reports", style: "data", label: "writes" },
            { from: "topic:orders", to: "queue:orders-undeliverable", style: "failure", label: "undeliverable" },
        ]);
        expect(graph.nodes.find((n) => n.id === "queue:orders-undeliverable")?.group).to.equal("dlq");
    });

    it("draws a stream consumer's on-failure destination once, as a failure edge", () => {
        const streamArn = `arn:aws:kinesis:${REGION_ACCOUNT}:stream/events`;
        const graph = buildFlowGraph(
            plan([
                resource("aws:kinesis/stream:Stream", "events", {}, { arn: streamArn, name: "events", id: "events" }),
                queue("failures"),
                role("consumer-role"),
                fn("consumer", "consumer-role"),
                resource(
                    "aws:lambda/eventSourceMapping:EventSourceMapping",
                    "events-mapping",
                    { eventSourceArn: streamArn, functionName: functionArn("consumer"), destinationConfig: { onFailure: { destinationArn: queueArn("failures") } } },
                    { id: "events-mapping" },
                ),
                // The grant behind the destination: the same flow, not a second edge.
                policy("consumer-policy", "consumer-role", [{ Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [queueArn("failures")] }]),
            ]),
        );
        expect(graph.edges).to.deep.equal([
            { from: "function:consumer", to: "queue:failures", style: "failure", label: "on failure" },
            { from: "stream:events", to: "function:consumer", style: "data" },
        ]);
    });

    it("links a bucket to the S3 rule that names it in its event pattern, and the rule to its target", () => {
        const ruleArn = `arn:aws:events:${REGION_ACCOUNT}:rule/uploads-created`;
        const graph = buildFlowGraph(
            plan([
                resource("aws:s3/bucket:Bucket", "uploads", {}, { bucket: "uploads-abc", arn: "arn:aws:s3:::uploads-abc", id: "uploads-abc" }),
                resource(
                    "aws:cloudwatch/eventRule:EventRule",
                    "uploads-created",
                    { eventPattern: JSON.stringify({ source: ["aws.s3"], detail: { bucket: { name: ["uploads-abc"] } } }) },
                    { arn: ruleArn, name: "uploads-created", id: "uploads-created" },
                ),
                topic("fan-out"),
                resource("aws:cloudwatch/eventTarget:EventTarget", "uploads-target", { rule: "uploads-created", arn: topicArn("fan-out") }, { id: "t" }),
            ]),
        );
        expect(graph.edges).to.deep.equal([
            { from: "bucket:uploads", to: "rule:uploads-created", style: "data", label: "events" },
            { from: "rule:uploads-created", to: "topic:fan-out", style: "data" },
        ]);
    });

    it("links a REST API to the queue its SQS service integration sends to", () => {
        const graph = buildFlowGraph(
            plan([
                resource("aws:apigateway/restApi:RestApi", "intake-api", {}, { id: "a1b2c3", name: "intake-api" }),
                queue("intake"),
                queue("other"),
                resource(
                    "aws:apigateway/integration:Integration",
                    "intake-integration",
                    { restApi: "a1b2c3", type: "AWS", uri: "arn:aws:apigateway:us-east-1:sqs:path/123456789012/intake" },
                    { id: "i" },
                ),
                // Another kind of integration names no queue: nothing is drawn.
                resource("aws:apigateway/integration:Integration", "mock", { restApi: "a1b2c3", type: "MOCK" }, { id: "m" }),
            ]),
        );
        expect(graph.edges).to.deep.equal([{ from: "api:intake-api", to: "queue:intake", style: "data", label: "sends" }]);
    });

    it("renders Mermaid with shapes, dotted failure edges and a DLQ class", () => {
        const lines = toMermaid(buildFlowGraph(fanOutPlan())).split("\n");
        expect(lines[0]).to.equal("flowchart LR");
        expect(lines).to.include.members([
            `    queue_orders_a[["orders-a"]]`,
            `    function_process_a(["process-a"])`,
            `    table_orders_table[("orders-table")]`,
            `    topic_orders -->|"filter"| queue_orders_a`,
            `    topic_orders --> queue_orders_b`,
            `    queue_orders_a -.->|"redrive"| queue_orders_a_dlq`,
            `    queue_orders_a --> function_process_a`,
            `    function_process_a -->|"writes"| table_orders_table`,
            `    alarms ==> topic_alerts`,
            `    topic_alerts --> email_ops_example_com`,
            `    class queue_orders_a_dlq,queue_orders_b_dlq dlq`,
        ]);
    });

    it("is deterministic whatever the resource order", () => {
        const shuffled = fanOutPlan();
        shuffled.resources.reverse();
        expect(toMermaid(buildFlowGraph(shuffled))).to.equal(toMermaid(buildFlowGraph(fanOutPlan())));
        expect(toDot(buildFlowGraph(shuffled))).to.equal(toDot(buildFlowGraph(fanOutPlan())));
    });

    it("renders DOT to SVG through Graphviz WASM", async () => {
        const dot = toDot(buildFlowGraph(fanOutPlan()));
        expect(dot).to.include("rankdir=LR;");
        expect(dot).to.include(`"queue:orders-a" -> "queue:orders-a-dlq" [label="redrive", style=dashed, color="#c0392b", fontcolor="#c0392b"];`);
        const svg = await renderSvg(dot);
        expect(svg).to.include("<svg");
        // Graphviz writes "-" as "&#45;" in text; decode numeric entities before matching labels.
        const text = svg.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
        for (const label of ["orders", "orders-a", "orders-b"]) expect(text).to.include(`>${label}</text>`);
    });
});
