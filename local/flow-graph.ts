// Derives the architecture's data-flow graph from a Plan, so the diagram can never drift from
// the program, and renders it as Mermaid text or as SVG (Graphviz DOT through WASM).

import type { Viz } from "@viz-js/viz" with { "resolution-mode": "import" };
import type { Plan, PlannedResource } from "./plan";

export interface FlowNode {
    id: string;
    kind: string;
    label: string;
    urn: string;
    group?: string;
}

export interface FlowEdge {
    from: string;
    to: string;
    label?: string;
    style: "data" | "failure" | "alert";
}

export interface FlowGraph {
    nodes: FlowNode[];
    edges: FlowEdge[];
}

/** Resource types that data flows through, and the node kind each becomes. */
const NODE_KINDS: Record<string, string> = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:s3/bucketV2:BucketV2": "bucket",
    "aws:cloudwatch/eventRule:EventRule": "rule",
    "aws:sns/topic:Topic": "topic",
    "aws:sqs/queue:Queue": "queue",
    "aws:lambda/function:Function": "function",
    "aws:dynamodb/table:Table": "table",
    "aws:kinesis/stream:Stream": "stream",
    "aws:sfn/stateMachine:StateMachine": "stateMachine",
    "aws:apigateway/restApi:RestApi": "api",
    "aws:glue/job:Job": "glueJob",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": "firehose",
};

/**
 * IAM actions that push data into the resource they name (keys lower-cased: IAM actions are
 * case-insensitive), the verb shown on the edge, and the only node kind that action can target.
 * Read actions are absent on purpose: event source mappings already draw those flows.
 */
const WRITE_ACTIONS: Record<string, { verb: string; kind: string }> = {
    "sqs:sendmessage": { verb: "sends", kind: "queue" },
    "sns:publish": { verb: "publishes", kind: "topic" },
    "dynamodb:putitem": { verb: "writes", kind: "table" },
    "dynamodb:batchwriteitem": { verb: "writes", kind: "table" },
    "dynamodb:updateitem": { verb: "writes", kind: "table" },
    "s3:putobject": { verb: "writes", kind: "bucket" },
    "kinesis:putrecord": { verb: "puts", kind: "stream" },
    "kinesis:putrecords": { verb: "puts", kind: "stream" },
    "firehose:putrecordbatch": { verb: "puts", kind: "firehose" },
    "states:startexecution": { verb: "starts", kind: "stateMachine" },
};

const ALARMS_ID = "alarms";

export function buildFlowGraph(plan: Plan): FlowGraph {
    // Sorting by URN makes every "first one wins" choice below deterministic.
    const resources = [...plan.resources].sort((a, b) => compare(a.urn, b.urn));
    const nodes = new Map<string, FlowNode>();
    const nodeOfUrn = new Map<string, string>();
    for (const r of resources) {
        const kind = NODE_KINDS[r.type];
        if (!kind) continue;
        // Logical names are unique per type only under one parent; fall back to the URN.
        const id = nodes.has(`${kind}:${r.name}`) ? r.urn : `${kind}:${r.name}`;
        nodes.set(id, { id, kind, label: r.name, urn: r.urn });
        nodeOfUrn.set(r.urn, id);
    }
    const resolve = referenceResolver(resources, nodeOfUrn, nodes);
    const writesByRole = roleWrites(resources, resolve);

    const edges = new Map<string, FlowEdge>();
    const addEdge = (from: string | undefined, to: string | undefined, style: FlowEdge["style"], label?: string) => {
        if (!from || !to) return; // an unknown reference draws nothing
        edges.set([from, to, style, label].join("\0"), { from, to, style, ...(label ? { label } : {}) });
    };
    const alarms: PlannedResource[] = [];

    for (const r of resources) {
        const { inputs } = r;
        switch (r.type) {
            case "aws:lambda/eventSourceMapping:EventSourceMapping": {
                const fn = resolve(inputs.functionName, "function");
                addEdge(resolve(inputs.eventSourceArn), fn, "data");
                // Batches the event source gives up on are described on its on-failure destination.
                const onFailure = (inputs.destinationConfig as { onFailure?: { destinationArn?: unknown } } | undefined)?.onFailure?.destinationArn;
                addEdge(fn, resolve(onFailure), "failure", "on failure");
                break;
            }
            case "aws:sns/topicSubscription:TopicSubscription": {
                const topic = resolve(inputs.topic, "topic");
                if (!topic) break;
                const endpoint = str(inputs.endpoint);
                let target = resolve(endpoint);
                if ((inputs.protocol === "email" || inputs.protocol === "email-json") && endpoint) {
                    target = `email:${endpoint}`;
                    if (!nodes.has(target)) nodes.set(target, { id: target, kind: "email", label: endpoint, urn: r.urn });
                }
                addEdge(topic, target, "data", inputs.filterPolicy ? "filter" : undefined);
                addEdge(topic, resolve(deadLetterTarget(inputs.redrivePolicy), "queue"), "failure", "undeliverable");
                break;
            }
            case "aws:sqs/queue:Queue":
                addEdge(nodeOfUrn.get(r.urn), resolve(deadLetterTarget(inputs.redrivePolicy), "queue"), "failure", "redrive");
                break;
            case "aws:cloudwatch/eventRule:EventRule": {
                // An S3 rule names its buckets in the pattern: the bucket's events flow into the rule.
                let pattern: { detail?: { bucket?: { name?: unknown } } } = {};
                try {
                    pattern = JSON.parse(str(inputs.eventPattern) ?? "{}");
                } catch {
                    // Not JSON: no bucket to link.
                }
                for (const bucket of list(pattern.detail?.bucket?.name)) addEdge(resolve(bucket, "bucket"), nodeOfUrn.get(r.urn), "data", "events");
                break;
            }
            case "aws:cloudwatch/eventTarget:EventTarget": {
                const rule = resolve(inputs.rule, "rule");
                addEdge(rule, resolve(inputs.arn), "data");
                addEdge(rule, resolve(field(inputs.deadLetterConfig, "arn")), "failure", "undeliverable");
                break;
            }
            case "aws:apigateway/integration:Integration": {
                // An SQS service integration names its queue in the URI: .../sqs:path/<account>/<queue name>.
                const queue = /:sqs:path\/[0-9]+\/([^/]+)$/.exec(str(inputs.uri) ?? "")?.[1];
                addEdge(resolve(inputs.restApi, "api"), resolve(queue, "queue"), "data", "sends");
                break;
            }
            case "aws:lambda/function:Function":
                for (const w of writesByRole.get(str(inputs.role) ?? "") ?? []) {
                    addEdge(nodeOfUrn.get(r.urn), w.to, "data", w.verb);
                }
                break;
            case "aws:cloudwatch/metricAlarm:MetricAlarm":
                alarms.push(r);
                break;
        }
    }

    // Individual alarms would swamp the diagram; what matters is which topics they page.
    if (alarms.length > 0) {
        nodes.set(ALARMS_ID, { id: ALARMS_ID, kind: "alarms", label: `CloudWatch alarms (${alarms.length})`, urn: alarms[0].urn });
        for (const a of alarms) {
            for (const action of list(a.inputs.alarmActions)) addEdge(ALARMS_ID, resolve(action, "topic"), "alert");
        }
    }

    // The grant that lets a function send its failures (an on-failure destination) is the same flow
    // as the failure edge: keep the failure edge only.
    const failures = new Set([...edges.values()].filter((e) => e.style === "failure").map((e) => `${e.from}\0${e.to}`));
    for (const [key, e] of edges) if (e.style === "data" && failures.has(`${e.from}\0${e.to}`)) edges.delete(key);

    const sortedEdges = [...edges.values()].sort(
        (a, b) => compare(a.from, b.from) || compare(a.to, b.to) || compare(a.style, b.style) || compare(a.label ?? "", b.label ?? ""),
    );
    // Any queue that catches failures is a DLQ, whoever sends to it.
    for (const e of sortedEdges) {
        const target = nodes.get(e.to);
        if (e.style === "failure" && target?.kind === "queue") target.group = "dlq";
    }
    return { nodes: [...nodes.values()].sort((a, b) => compare(a.id, b.id)), edges: sortedEdges };
}

type Resolve = (ref: unknown, kind?: string) => string | undefined;

/** Maps an ARN, id, name or URL to the one node it denotes (optionally of one kind), if any. */
function referenceResolver(resources: PlannedResource[], nodeOfUrn: Map<string, string>, nodes: Map<string, FlowNode>): Resolve {
    const byRef = new Map<string, Set<string>>();
    for (const r of resources) {
        const id = nodeOfUrn.get(r.urn);
        if (!id) continue;
        for (const ref of [r.outputs.arn, r.outputs.id, r.outputs.name, r.outputs.url, r.inputs.name]) {
            if (typeof ref !== "string" || !ref) continue;
            if (!byRef.has(ref)) byRef.set(ref, new Set());
            byRef.get(ref)!.add(id);
        }
    }
    return (ref, kind) => {
        if (typeof ref !== "string") return undefined;
        // An ARN may name a part of a node (bucket/*, table/t/index/*, table/t/stream/...):
        // strip path segments until the parent resource's ARN matches.
        for (let key = ref; ; key = key.slice(0, key.lastIndexOf("/"))) {
            const ids = [...(byRef.get(key) ?? [])].filter((id) => !kind || nodes.get(id)!.kind === kind);
            if (ids.length === 1) return ids[0];
            // Ambiguous names (e.g. a queue and a table both called "orders") are not guessed.
            if (ids.length > 1 || !key.startsWith("arn:") || !key.includes("/")) return undefined;
        }
    };
}

/** Role ARN → the nodes that role's inline policies allow writing to (functions assume roles by ARN). */
function roleWrites(resources: PlannedResource[], resolve: Resolve): Map<string, { to: string; verb: string }[]> {
    // RolePolicy names its role by name or id; functions name it by ARN.
    const roleArn = new Map<string, string>();
    for (const r of resources) {
        const arn = str(r.outputs.arn);
        if (r.type !== "aws:iam/role:Role" || !arn) continue;
        for (const ref of [r.outputs.name, r.outputs.id, r.inputs.name, arn]) {
            if (typeof ref === "string") roleArn.set(ref, arn);
        }
    }
    const writes = new Map<string, { to: string; verb: string }[]>();
    for (const r of resources) {
        const arn = roleArn.get(str(r.inputs.role) ?? "");
        if (r.type !== "aws:iam/rolePolicy:RolePolicy" || !arn) continue;
        const found = writes.get(arn) ?? [];
        for (const statement of list(field(parseJson(r.inputs.policy), "Statement"))) {
            if (field(statement, "Effect") !== "Allow") continue;
            for (const action of list(field(statement, "Action"))) {
                const write = typeof action === "string" ? WRITE_ACTIONS[action.toLowerCase()] : undefined;
                if (!write) continue;
                for (const resource of list(field(statement, "Resource"))) {
                    const to = resolve(resource, write.kind);
                    if (to) found.push({ to, verb: write.verb });
                }
            }
        }
        writes.set(arn, found);
    }
    return writes;
}

function deadLetterTarget(redrivePolicy: unknown): unknown {
    return field(parseJson(redrivePolicy), "deadLetterTargetArn");
}

/** Policies and redrive policies arrive as JSON strings, but tolerate already-parsed objects. */
function parseJson(value: unknown): unknown {
    if (typeof value !== "string") return value;
    try {
        return JSON.parse(value);
    } catch {
        return undefined;
    }
}

function field(value: unknown, key: string): unknown {
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** IAM and alarm fields accept a single value or a list. */
function list(value: unknown): unknown[] {
    return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

function str(value: unknown): string | undefined {
    return typeof value === "string" ? value : undefined;
}

/** Locale-independent ordering, so output is byte-identical everywhere. */
function compare(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

const MERMAID_SHAPES: Record<string, [string, string]> = {
    bucket: ["[(", ")]"],
    table: ["[(", ")]"],
    queue: ["[[", "]]"],
    topic: [">", "]"],
    rule: ["{{", "}}"],
    function: ["([", "])"],
    stream: ["[/", "/]"],
    firehose: ["[\\", "\\]"],
    stateMachine: ["[/", "\\]"],
    api: ["[\\", "/]"],
    email: ["(", ")"],
};

const MERMAID_ARROWS: Record<FlowEdge["style"], string> = { data: "-->", failure: "-.->", alert: "==>" };

export function toMermaid(graph: FlowGraph): string {
    const ids = mermaidIds(graph.nodes);
    const quote = (s: string) => `"${s.replace(/"/g, "#quot;")}"`;
    const lines = ["flowchart LR"];
    for (const n of graph.nodes) {
        const [open, close] = MERMAID_SHAPES[n.kind] ?? ["[", "]"];
        lines.push(`    ${ids.get(n.id)}${open}${quote(n.label)}${close}`);
    }
    for (const e of graph.edges) {
        const label = e.label ? `|${quote(e.label)}|` : "";
        lines.push(`    ${ids.get(e.from)} ${MERMAID_ARROWS[e.style]}${label} ${ids.get(e.to)}`);
    }
    const dlqs = graph.nodes.filter((n) => n.group === "dlq").map((n) => ids.get(n.id));
    if (dlqs.length > 0) {
        lines.push("    classDef dlq fill:#f8d7da,stroke:#c0392b,color:#7b241c");
        lines.push(`    class ${dlqs.join(",")} dlq`);
    }
    return lines.join("\n") + "\n";
}

/** Mermaid ids allow only [A-Za-z0-9_]; sanitising can collide, so later duplicates get a suffix. */
function mermaidIds(nodes: FlowNode[]): Map<string, string> {
    const ids = new Map<string, string>();
    const used = new Set<string>();
    for (const n of nodes) {
        const base = n.id.replace(/[^A-Za-z0-9_]/g, "_");
        let id = base;
        for (let i = 2; used.has(id); i++) id = `${base}_${i}`;
        used.add(id);
        ids.set(n.id, id);
    }
    return ids;
}

const DOT_NODES: Record<string, { shape: string; fill: string; style?: string }> = {
    bucket: { shape: "folder", fill: "#e8f5e9" },
    table: { shape: "cylinder", fill: "#e3f2fd" },
    queue: { shape: "box3d", fill: "#fff8e1" },
    topic: { shape: "cds", fill: "#fce4ec" },
    rule: { shape: "hexagon", fill: "#ede7f6" },
    function: { shape: "box", fill: "#fff3e0", style: "rounded,filled" },
    stream: { shape: "parallelogram", fill: "#e0f7fa" },
    firehose: { shape: "parallelogram", fill: "#e0f2f1" },
    stateMachine: { shape: "component", fill: "#f3e5f5" },
    api: { shape: "invhouse", fill: "#e8eaf6" },
    glueJob: { shape: "tab", fill: "#f1f8e9" },
    email: { shape: "note", fill: "#fafafa" },
    alarms: { shape: "octagon", fill: "#eeeeee" },
};

const DOT_EDGES: Record<FlowEdge["style"], string> = {
    data: "",
    failure: `style=dashed, color="#c0392b", fontcolor="#c0392b"`,
    alert: `color="#888888", fontcolor="#888888"`,
};

export function toDot(graph: FlowGraph): string {
    const lines = [
        "digraph flow {",
        "    rankdir=LR;",
        `    node [fontname="Helvetica", fontsize=11];`,
        `    edge [fontname="Helvetica", fontsize=9];`,
    ];
    for (const n of graph.nodes) {
        const look = DOT_NODES[n.kind] ?? { shape: "box", fill: "#ffffff" };
        const dlq = n.group === "dlq" ? `, color="#c0392b"` : "";
        const fill = n.group === "dlq" ? "#f8d7da" : look.fill;
        lines.push(`    ${dotString(n.id)} [label=${dotString(n.label)}, shape=${look.shape}, style="${look.style ?? "filled"}", fillcolor="${fill}"${dlq}];`);
    }
    for (const e of graph.edges) {
        const attrs = [e.label ? `label=${dotString(e.label)}` : "", DOT_EDGES[e.style]].filter(Boolean);
        lines.push(`    ${dotString(e.from)} -> ${dotString(e.to)}${attrs.length > 0 ? ` [${attrs.join(", ")}]` : ""};`);
    }
    lines.push("}");
    return lines.join("\n") + "\n";
}

/** A DOT quoted string; backslashes are escaped too, since \N, \l etc. are label escapes. */
function dotString(s: string): string {
    return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

// Instantiating Graphviz compiles the WASM module, so it is done once and shared.
let viz: Promise<Viz> | undefined;

export async function renderSvg(dot: string): Promise<string> {
    // @viz-js/viz is an ES module: loaded with import() from this CommonJS code.
    viz ??= import("@viz-js/viz").then((m) => m.instance());
    return (await viz).renderString(dot, { format: "svg", engine: "dot" });
}
