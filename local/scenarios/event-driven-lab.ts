import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import sharp from "sharp";
import type { LocalRuntime } from "../runtime";
import type { Count } from "../runtime/counters";
import { expectEqual, expectTrue, type FlowReport } from "./report";
import { deniedSince, queueName } from "./stream-to-table";

// Seed 003 on the local runtime. Flow 1: three uploads to the lab's bucket fan out through the
// rule and the topic; the image alone reaches the image processor, all three reach the audit
// logger, and the thumbnail it writes triggers nothing. Flow 2: POST /messages with a valid body
// reaches the consumer through the queue; an invalid body gets 400, a missing key 403, and a
// burst over the usage plan's throttle 429.

/** The uploads: one image (its key has a space, which S3 encodes in events) and two others. */
export const LAB_UPLOADS = [
    { key: "photos/red flower.jpg", image: true },
    { key: "docs/report.pdf", image: false },
    { key: "notes/readme.txt", image: false },
];
/**
 * Requests sent at once to pass the usage plan's throttle: twice its burst plus two seconds of its
 * rate, so that even spread over a slow second or two the burst outruns the refill.
 */
function burstSize(runtime: LocalRuntime): number {
    const plan = runtime.plan.resources.find((r) => r.type === "aws:apigateway/usagePlan:UsagePlan");
    const t = (plan?.inputs.throttleSettings ?? {}) as { burstLimit?: number; rateLimit?: number };
    if (typeof t.burstLimit !== "number" || typeof t.rateLimit !== "number") throw new Error("scenario 003: the API's usage plan sets no throttle (burstLimit, rateLimit)");
    return 2 * t.burstLimit + 2 * t.rateLimit;
}

const STATUS_REASONS: Record<number, string> = { 400: "400 invalid body", 403: "403 missing or wrong key", 429: "429 throttled" };

/** The API's refusals, counted by status. */
function rejectedByStatus(responses: { status: number }[]): Count {
    const out: Count = { count: 0, reasons: new Map() };
    for (const r of responses) {
        if (r.status < 400) continue;
        const reason = STATUS_REASONS[r.status] ?? `${r.status}`;
        out.count++;
        out.reasons.set(reason, (out.reasons.get(reason) ?? 0) + 1);
    }
    return out;
}

export async function runEventDrivenLab(runtime: LocalRuntime): Promise<FlowReport> {
    const started = Date.now();
    const before = runtime.counters.snapshot();
    const outputs = runtime.plan.outputs as Record<string, string>;
    const bucket = outputs.s3_bucket_name;
    const auditTable = outputs.auditTableName;
    const fnOf = (queueUrl: string) => {
        const queue = runtime.plan.resources.find((r) => r.type === "aws:sqs/queue:Queue" && r.outputs.url === queueUrl);
        const mapping = runtime.plan.resources.find((r) => r.type === "aws:lambda/eventSourceMapping:EventSourceMapping" && r.inputs.eventSourceArn === queue?.outputs.arn);
        const fn = [...runtime.functions.entries()].find(([, f]) => f.arn === mapping?.inputs.functionName);
        if (!queue || !fn) throw new Error(`scenario 003: no function consumes ${queueUrl}`);
        return { queue, name: fn[0], fn: fn[1] };
    };
    if (!bucket || !auditTable || !outputs.imagesQueueUrl || !outputs.auditQueueUrl || !outputs.apiQueueUrl) {
        throw new Error("scenario 003: the plan lacks the lab's outputs (s3_bucket_name, auditTableName, imagesQueueUrl, auditQueueUrl, apiQueueUrl)");
    }
    const images = fnOf(outputs.imagesQueueUrl);
    const audit = fnOf(outputs.auditQueueUrl);
    const consumer = fnOf(outputs.apiQueueUrl);
    const imageInvocations = images.fn.stats.invocations;

    // ---- flow 1: uploads ----
    const photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 40, b: 60 } } }).jpeg().toBuffer();
    for (const u of LAB_UPLOADS) {
        await runtime.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: u.key, Body: u.image ? photo : Buffer.from(`not an image: ${u.key}\n`), ContentType: u.image ? "image/jpeg" : "text/plain" }));
    }
    await runtime.idle();
    const audited = ((await runtime.clients.dynamodb.send(new ScanCommand({ TableName: auditTable }))).Items ?? []).map((i) => unmarshall(i));
    const auditedKeys = audited.map((a) => String(a.key ?? a.objectKey ?? "")).sort();
    const derived = ((await runtime.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "thumbnails/" }))).Contents ?? []).map((o) => o.Key!).sort();
    const imageLog = (runtime.logs.get(images.name) ?? []).join("\n");
    // Since this flow began: other flows' files pass through the same bus.
    const busEvents = runtime.counters.get("bus", "events") - (before.get("bus/events") ?? 0);
    const busMatched = runtime.counters.get("bus", "matched") - (before.get("bus/matched") ?? 0);

    // ---- flow 2: the API ----
    const key = runtime.api.apis[0]?.keys[0]?.value;
    const url = Object.values(runtime.api.apis[0]?.stageUrls ?? {})[0];
    if (!key || !url) throw new Error("scenario 003: the plan has no API with a stage and a key");
    const post = (body: string, headers: Record<string, string> = { "x-api-key": key }) =>
        fetch(`${url}/messages`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body }).then(async (r) => ({ status: r.status, body: await r.text() }));
    const correlationId = `scenario-003-${Date.now()}`;
    const valid = await post(JSON.stringify({ message: "hello from the local runtime", type: "greeting", correlationId }));
    const invalid = await post(JSON.stringify({ text: "no message field" }));
    const missingKey = await post(JSON.stringify({ message: "who am I?" }), {});
    await runtime.idle();
    const consumed = (runtime.logs.get(consumer.name) ?? []).some((line) => line.includes("message processed") && line.includes(correlationId));
    // A client retrying a bad request in a tight loop: throttling comes before validation, so each
    // answer is a 400 until the bucket is empty, then a 429. Bodies that would be queued cost this
    // one event loop (the API, fauxqs, the mappings) enough that, on a busy machine, the bucket
    // refills as fast as they arrive; invalid ones measure the throttle alone.
    const burst = await Promise.all(Array.from({ length: burstSize(runtime) }, (_, i) => post(JSON.stringify({ text: `burst ${i}` }))));
    const statuses = new Map<number, number>();
    for (const r of burst) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    await runtime.idle();

    const dlq: Record<string, number> = {};
    for (const q of runtime.plan.resources.filter((r) => r.type === "aws:sqs/queue:Queue" && /dlq|undelivered/.test(r.name) && /^(uploads|messages)-/.test(r.name))) {
        dlq[queueName(runtime, String(q.outputs.arn))] = await runtime.queueDepth(q.name);
    }
    const accepted = [valid, ...burst].filter((r) => r.status === 200).length;
    return {
        id: "003",
        title: "uploads → rule → topic → images / audit; POST /messages → queue → consumer",
        sent: LAB_UPLOADS.length + 3 + burst.length,
        // Audit items, and the API messages the consumer processed.
        landed: audited.length + (runtime.logs.get(consumer.name) ?? []).filter((line) => line.includes("message processed")).length,
        // Deliveries the audit logger recognised as already recorded (SNS and SQS deliver at least once).
        duplicates: (runtime.logs.get(audit.name) ?? []).filter((line) => line.includes("duplicate delivery, already recorded")).length,
        rejected: rejectedByStatus([invalid, missingKey, ...burst]),
        dlq,
        denied: deniedSince(runtime, before),
        ms: Date.now() - started,
        notes: [`API: ${accepted} accepted; a burst of ${burst.length} invalid requests: ${[...statuses].map(([s, n]) => `${n}× ${s}`).join(", ")}`, `thumbnails/: ${derived.join(", ") || "nothing"}`],
        checks: [
            expectEqual("all three uploads reach audit, once each", auditedKeys, LAB_UPLOADS.map((u) => u.key).sort()),
            expectTrue("only the image reaches images", images.fn.stats.invocations > imageInvocations && imageLog.includes("photos/red flower.jpg") && !imageLog.includes("docs/report.pdf") && !imageLog.includes("notes/readme.txt"), `image processor saw: ${imageLog.slice(0, 300)}`),
            expectTrue("a thumbnail appears for the image", derived.some((k) => k.startsWith("thumbnails/photos/red flower.jpg.thumb.")), `thumbnails/: ${derived.join(", ")}`),
            expectEqual("the thumbnail and its metadata trigger nothing (events on the bus, rule matches)", [busEvents, busMatched], [LAB_UPLOADS.length + derived.length, LAB_UPLOADS.length]),
            expectTrue("a valid API body is queued (200, messageId)", valid.status === 200 && /"messageId"\s*:\s*"[^"]+"/.test(valid.body), `${valid.status} ${valid.body}`),
            expectTrue("the valid body reaches the consumer", consumed, `${consumer.name} logged no "message processed" line with ${correlationId}`),
            expectTrue("an invalid body gets 400", invalid.status === 400, `${invalid.status} ${invalid.body}`),
            expectTrue("a missing key gets 403", missingKey.status === 403, `${missingKey.status} ${missingKey.body}`),
            expectTrue(`a burst of ${burst.length} over the throttle gets 429`, (statuses.get(429) ?? 0) > 0 && (statuses.get(200) ?? 0) === 0, `statuses: ${JSON.stringify([...statuses])}`),
            expectEqual("no dead letters", Object.values(dlq).reduce((a, b) => a + b, 0), 0),
            expectEqual("nothing denied", deniedSince(runtime, before).count, 0),
            expectEqual("no SDK call the runtime could not authorize", runtime.counters.total("unsupported").count, 0),
        ],
    };
}
