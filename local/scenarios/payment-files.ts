import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import * as fs from "fs";
import * as path from "path";
import { manifestKey, PAYMENT_FILE_DEFAULTS, PAYMENT_FILE_ENV, PAYMENT_PREFIXES } from "../../functions/shared/contract";
import type { Manifest } from "../../functions/payment-file/manifest";
import type { LocalRuntime } from "../runtime";
import type { Count } from "../runtime/counters";
import { generatePaymentFile, type ExpectedTotals } from "./payment-file-generator";
import { expectEqual, expectTrue, type Check, type FlowReport } from "./report";
import { deniedSince, queueName } from "./stream-to-table";

// Seed 000 on the local runtime: a payment file uploaded under payments/ goes through the planned
// rule, the files queue and the file function; a file over the threshold is split into chunks
// that the chunk workers read in parallel; the file's manifest (manifests/<key>.json) is read
// back and, for the generated file, checked against the generator's own count. Then the same file
// is uploaded again: it applies nothing new.

export interface PaymentFilesOptions {
    /** A file to run instead of the generated one (its manifest is reported, not checked against a count). */
    file?: string;
    /** Key under payments/. Default: the file's name, or generated-<n>.ndjson. */
    key?: string;
}

/** The sizes the deployed functions run with (their planned environment). */
export function paymentSizes(runtime: LocalRuntime): { thresholdBytes: number; chunkBytes: number; maxLineBytes: number } {
    const fn = runtime.plan.resources.find((r) => r.type === "aws:lambda/function:Function" && (r.inputs.environment as { variables?: Record<string, string> })?.variables?.[PAYMENT_FILE_ENV.chunksQueueUrl] !== undefined);
    const vars = (fn?.inputs.environment as { variables?: Record<string, string> } | undefined)?.variables;
    if (!vars) throw new Error("scenario 000: the plan has no payment file function (a function with CHUNKS_QUEUE_URL)");
    const size = (name: string, fallback: number) => (vars[name] ? Number(vars[name]) : fallback);
    return {
        thresholdBytes: size(PAYMENT_FILE_ENV.thresholdBytes, PAYMENT_FILE_DEFAULTS.thresholdBytes),
        chunkBytes: size(PAYMENT_FILE_ENV.chunkBytes, PAYMENT_FILE_DEFAULTS.chunkBytes),
        maxLineBytes: size(PAYMENT_FILE_ENV.maxLineBytes, PAYMENT_FILE_DEFAULTS.maxLineBytes),
    };
}

/** The deployed pipeline's bucket and tables, from the plan's outputs. */
export function paymentTargets(runtime: LocalRuntime): { bucket: string; table: string } {
    const outputs = runtime.plan.outputs as Record<string, string>;
    if (!outputs.paymentsBucketName || !outputs.paymentsTableName) throw new Error("scenario 000: the plan lacks the pipeline's outputs (paymentsBucketName, paymentsTableName)");
    return { bucket: outputs.paymentsBucketName, table: outputs.paymentsTableName };
}

/** Uploads `bytes` under payments/<name>, waits for the runtime to settle, and reads the manifest. */
export async function runPaymentFile(runtime: LocalRuntime, name: string, bytes: Buffer): Promise<Manifest | undefined> {
    const { bucket } = paymentTargets(runtime);
    const key = `${PAYMENT_PREFIXES.landing}${name}`;
    await runtime.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: "application/x-ndjson" }));
    await runtime.idle();
    return readManifest(runtime, bucket, key);
}

export async function readManifest(runtime: LocalRuntime, bucket: string, key: string): Promise<Manifest | undefined> {
    try {
        const out = await runtime.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey(key) }));
        return JSON.parse(await out.Body!.transformToString()) as Manifest;
    } catch (err) {
        if ((err as Error).name === "NoSuchKey") return undefined;
        throw err;
    }
}

/** Every item of the payments table. */
export async function paymentItems(runtime: LocalRuntime): Promise<Record<string, unknown>[]> {
    const { table } = paymentTargets(runtime);
    const items: Record<string, unknown>[] = [];
    let start: Record<string, any> | undefined;
    do {
        const out = await runtime.clients.dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
        items.push(...(out.Items ?? []).map((i) => unmarshall(i)));
        start = out.LastEvaluatedKey;
    } while (start);
    return items;
}

const totalsOf = (m: Manifest): ExpectedTotals => ({ lines: m.lines, applied: m.applied, duplicates: m.duplicates, conflicts: m.conflicts, quarantined: m.quarantined, blank: m.blank, amounts: m.amounts });

/** The quarantine entries, counted by the subject of their reason. */
async function quarantineReasons(runtime: LocalRuntime, bucket: string, m: Manifest): Promise<Count> {
    const out: Count = { count: 0, reasons: new Map() };
    for (const part of m.parts) {
        if (!part.quarantineKey) continue;
        const body = await (await runtime.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: part.quarantineKey }))).Body!.transformToString();
        for (const line of body.split("\n").filter(Boolean)) {
            // The reason's subject, without the values it quotes: "amount 12.5: expected ..." counts as "amount".
            const reason = String((JSON.parse(line) as { reason: string }).reason).split(":")[0].replace(/ ("[^"]*"|-?\d[\d.]*)(?=[\s]|$)/g, "");
            out.count++;
            out.reasons.set(reason, (out.reasons.get(reason) ?? 0) + 1);
        }
    }
    return out;
}

export async function runPaymentFiles(runtime: LocalRuntime, options: PaymentFilesOptions = {}): Promise<FlowReport & { manifest?: Manifest }> {
    const started = Date.now();
    const before = runtime.counters.snapshot();
    const sizes = paymentSizes(runtime);
    const { bucket } = paymentTargets(runtime);
    const checks: Check[] = [];
    const notes: string[] = [];
    const itemsBefore = (await paymentItems(runtime)).length;

    let bytes: Buffer;
    let expected: ExpectedTotals | undefined;
    let name: string;
    if (options.file) {
        bytes = fs.readFileSync(options.file);
        name = options.key ?? path.basename(options.file);
    } else {
        // At least four chunks where the stack splits files; capped, so a stack with big chunks reads it whole.
        const target = Math.min(Math.max(4.5 * sizes.chunkBytes, sizes.thresholdBytes + 1), 2 * 1024 * 1024);
        const generated = generatePaymentFile({ targetBytes: Math.round(target), seed: 42, idPrefix: "s000", cutLinesAt: sizes.chunkBytes });
        bytes = generated.bytes;
        expected = generated.expected;
        name = options.key ?? "generated-000.ndjson";
    }
    const manifest = await runPaymentFile(runtime, name, bytes);
    const itemsAfter = (await paymentItems(runtime)).length;
    checks.push(expectTrue("the file's manifest is written", manifest !== undefined, `no s3://${bucket}/${manifestKey(PAYMENT_PREFIXES.landing + name)}`));
    const split = bytes.length > sizes.thresholdBytes;
    notes.push(
        `${bytes.length} bytes, ${split ? `split in ${manifest?.chunks ?? "?"} chunks of ${manifest?.chunk_bytes ?? sizes.chunkBytes} bytes` : `read whole (threshold ${sizes.thresholdBytes} bytes)`}`,
    );
    if (manifest) {
        const q = manifest;
        notes.push(`manifest: ${q.lines} lines: ${q.applied} applied, ${q.duplicates} duplicates, ${q.conflicts} conflicts, ${q.quarantined} quarantined, ${q.blank} blank`);
        notes.push(`applied (minor units): ${Object.entries(q.amounts).map(([c, t]) => `${c} ${Object.entries(t).map(([k, v]) => `${k} ${v}`).join(" ")}`).join("; ") || "none"}`);
        checks.push(expectEqual("the counts add up", q.applied + q.duplicates + q.conflicts + q.quarantined + q.blank, q.lines));
        checks.push(expectEqual("each applied payment is one item", itemsAfter - itemsBefore, q.applied));
        if (expected) {
            checks.push(expectEqual("the manifest equals the generator's own count and sums", totalsOf(q), expected));
            if (split) checks.push(expectTrue("the file was split into chunks", q.chunks > 1, `${q.chunks} chunk(s)`));
        }
    }

    let again: Manifest | undefined;
    if (!options.file && manifest) {
        // The same bytes again, as a sender retrying an upload: nothing new applied.
        again = await runPaymentFile(runtime, name, bytes);
        const itemsAgain = (await paymentItems(runtime)).length;
        checks.push(expectEqual("uploaded again, nothing new is applied", { applied: again?.applied, items: itemsAgain }, { applied: 0, items: itemsAfter }));
        checks.push(expectEqual("uploaded again, every payment is a duplicate or the same conflict", { duplicates: again?.duplicates, conflicts: again?.conflicts }, { duplicates: manifest.applied + manifest.duplicates, conflicts: manifest.conflicts }));
    }

    const dlq: Record<string, number> = {};
    for (const q of runtime.plan.resources.filter((r) => r.type === "aws:sqs/queue:Queue" && /dlq|undelivered/.test(r.name) && /^payments-/.test(r.name))) {
        dlq[queueName(runtime, String(q.outputs.arn))] = await runtime.queueDepth(q.name);
    }
    checks.push(expectEqual("no dead letters", Object.values(dlq).reduce((a, b) => a + b, 0), 0));
    const denied = deniedSince(runtime, before);
    checks.push(expectEqual("no request denied", denied.count, 0));
    return {
        id: "000",
        title: "payment files, exactly once",
        sent: manifest?.lines ?? 0,
        landed: manifest?.applied ?? 0,
        duplicates: (manifest?.duplicates ?? 0) + (again ? again.duplicates : 0),
        rejected: manifest ? await quarantineReasons(runtime, bucket, manifest) : { count: 0, reasons: new Map() },
        dlq,
        denied,
        ms: Date.now() - started,
        checks,
        notes,
        manifest,
    };
}
