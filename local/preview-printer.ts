import { Plan, PlannedResource } from "./plan";

// Prints a plan the way `pulumi preview` lays it out: a tree of resources with their type and
// name, plus the few properties a reviewer checks first, and totals by type.

type Summary = (inputs: Record<string, any>) => (string | undefined)[];

const DAY = 86_400;

/** `name=value+unit`, or `name=<fallback>` when the input is unset (the service default applies). */
function prop(name: string, value: unknown, unit = "", fallback = "default"): string {
    return typeof value === "number" || (typeof value === "string" && value !== "") ? `${name}=${value}${unit}` : `${name}=${fallback}`;
}

/** The properties worth a glance, per type; other types show none. */
const SUMMARIES: Record<string, Summary> = {
    "aws:sqs/queue:Queue": (i) => [
        i.kmsMasterKeyId ? "sse=kms" : i.sqsManagedSseEnabled ? "sse=sqs" : "sse=NONE",
        prop("retention", typeof i.messageRetentionSeconds === "number" ? i.messageRetentionSeconds / DAY : undefined, "d", "default(4d)"),
        i.visibilityTimeoutSeconds !== undefined ? `visibility=${i.visibilityTimeoutSeconds}s` : undefined,
        i.redrivePolicy ? `maxReceiveCount=${JSON.parse(i.redrivePolicy).maxReceiveCount}` : undefined,
    ],
    "aws:sns/topic:Topic": (i) => [i.kmsMasterKeyId ? "sse=kms" : "sse=NONE"],
    "aws:kms/key:Key": (i) => [`rotation=${i.enableKeyRotation ? "on" : "OFF"}`, prop("deletionWindow", i.deletionWindowInDays, "d", "default(30d)")],
    "aws:lambda/function:Function": (i) => [
        i.runtime,
        i.architectures?.[0],
        prop("memory", i.memorySize, "MB", "default(128MB)"),
        prop("timeout", i.timeout, "s", "default(3s)"),
        prop("tracing", i.tracingConfig?.mode, "", "OFF"),
        i.codeSha256 ? `sha256=${String(i.codeSha256).slice(0, 12)}…` : "inline",
    ],
    "aws:lambda/eventSourceMapping:EventSourceMapping": (i) => [
        `batch=${i.batchSize}`,
        `window=${i.maximumBatchingWindowInSeconds ?? 0}s`,
        i.scalingConfig?.maximumConcurrency ? `maxConcurrency=${i.scalingConfig.maximumConcurrency}` : undefined,
        ...(i.functionResponseTypes ?? []),
    ],
    "aws:cloudwatch/metricAlarm:MetricAlarm": (i) => [
        `${i.namespace}/${i.metricName}`,
        `${i.statistic} ${comparison(i.comparisonOperator)} ${i.threshold}`,
        `actions=${(i.alarmActions ?? []).length}+ok=${(i.okActions ?? []).length}`,
    ],
    // No retention means logs are kept forever: say so plainly.
    "aws:cloudwatch/logGroup:LogGroup": (i) => [prop("retention", i.retentionInDays, "d", "NEVER-EXPIRES")],
    "aws:sns/topicSubscription:TopicSubscription": (i) => [
        i.protocol,
        i.filterPolicy ? `filter(${i.filterPolicyScope ?? "MessageAttributes"})` : undefined,
        i.rawMessageDelivery ? "raw" : undefined,
        i.redrivePolicy ? "dlq" : undefined,
    ],
};

function comparison(op: string): string {
    return { GreaterThanOrEqualToThreshold: ">=", GreaterThanThreshold: ">", LessThanThreshold: "<", LessThanOrEqualToThreshold: "<=" }[op] ?? op;
}

export function summarize(r: PlannedResource): string {
    const summary = SUMMARIES[r.type];
    const parts = summary ? summary(r.inputs).filter((p): p is string => Boolean(p)) : [];
    if (r.protect) parts.push("protected");
    return parts.join(" ");
}

/** The plan as preview-like lines: a tree, then totals by type. */
export function formatPreview(plan: Plan): string[] {
    const children = new Map<string | undefined, PlannedResource[]>();
    for (const r of plan.resources) {
        const list = children.get(r.parent) ?? [];
        list.push(r);
        children.set(r.parent, list);
    }
    const rows: [string, string, string][] = [];
    const walk = (parent: string | undefined, prefix: string) => {
        const list = children.get(parent) ?? [];
        list.forEach((r, i) => {
            const last = i === list.length - 1;
            const branch = parent === undefined ? "" : last ? "└─ " : "├─ ";
            rows.push([`${prefix}${branch}${r.type}`, r.name, summarize(r)]);
            walk(r.urn, parent === undefined ? "" : prefix + (last ? "   " : "│  "));
        });
    };
    walk(undefined, "");
    const typeWidth = Math.max(...rows.map(([t]) => t.length), 4);
    const nameWidth = Math.max(...rows.map(([, n]) => n.length), 4);
    const lines = [
        `Previewing update (${plan.stack}) — offline, Pulumi mock engine, nothing is deployed`,
        "",
        `     ${"Type".padEnd(typeWidth)}  ${"Name".padEnd(nameWidth)}  Properties`,
        ...rows.map(([t, n, p]) => ` +   ${t.padEnd(typeWidth)}  ${n.padEnd(nameWidth)}  ${p}`.trimEnd()),
        "",
        "Resources by type:",
    ];
    const totals = new Map<string, number>();
    for (const r of plan.resources) totals.set(r.type, (totals.get(r.type) ?? 0) + 1);
    for (const [type, n] of [...totals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) {
        lines.push(`    ${String(n).padStart(3)}  ${type}`);
    }
    lines.push(`    ${String(plan.resources.length).padStart(3)}  to create`);
    return lines;
}
