import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { PAYMENT_METRICS } from "../shared/contract";
import type { ObjectCreated } from "../shared/object-created";
import { completeFile } from "./complete-file";
import { markFile, openFile, type ChunkSummary, type FileItem } from "./ledger";
import type { Manifest } from "./manifest";
import { planFile, sendChunks } from "./plan-file";
import { processChunk, type ChunkJob } from "./read-chunk";
import type { PaymentSettings } from "./settings";

// The two functions' work, apart from their events: a file decided and planned (read inline, split
// into chunks, or refused); a chunk read, counted in metrics, and, when it is the file's last, the
// file completed. Handlers parse their messages and call these.

/** What the functions count with (Powertools Metrics' addMetric, or a test's recorder). */
export interface MetricSink {
    addMetric(name: string, unit: "Count", value: number): void;
}

export interface PipelineDeps {
    s3: S3Client;
    dynamodb: DynamoDBClient;
    sqs?: SQSClient;
    settings: PaymentSettings;
    metrics: MetricSink;
    /** Claims in flight per chunk. Default read-chunk's. */
    claimsInFlight?: number;
}

/** What a handler may be given instead of what it builds at cold start (tests, the bench). */
export interface HandlerDeps extends Partial<Omit<PipelineDeps, "metrics">> {
    logger?: { info(message: string, extra?: object): void; warn(message: string, extra?: object): void; error(message: string, extra?: object): void };
    metrics?: MetricSink & { publishStoredMetrics(): void };
}

export type FileOutcome =
    | { kind: "read"; summary: ChunkSummary; manifest?: Manifest }
    | { kind: "split"; chunks: number; enqueued: boolean }
    | { kind: "refused"; reason: string; manifest?: Manifest }
    | { kind: "empty"; manifest?: Manifest };

const N = PAYMENT_METRICS.names;

function countChunk(metrics: MetricSink, s: ChunkSummary): void {
    metrics.addMetric(N.lines, "Count", s.lines);
    metrics.addMetric(N.applied, "Count", s.applied);
    metrics.addMetric(N.duplicates, "Count", s.duplicates);
    metrics.addMetric(N.conflicts, "Count", s.conflicts);
    metrics.addMetric(N.quarantined, "Count", s.quarantined);
    metrics.addMetric(N.blank, "Count", s.blank);
}

/** Completes the file unless its manifest is written: after the completing chunk, or after a crash that followed it. */
async function complete(file: FileItem, deps: PipelineDeps, refused?: string): Promise<Manifest> {
    const manifest = await completeFile(file, { s3: deps.s3, dynamodb: deps.dynamodb, filesTable: deps.settings.filesTable }, refused);
    deps.metrics.addMetric(refused ? N.filesRefused : N.filesCompleted, "Count", 1);
    return manifest;
}

/**
 * Reads one chunk and records it. The chunk's metrics count once, when its summary is recorded; a
 * chunk recorded before (a redelivery) only completes the file if a crash left it incomplete.
 */
export async function runChunk(job: ChunkJob, deps: PipelineDeps): Promise<{ summary: ChunkSummary; recorded: boolean; manifest?: Manifest }> {
    const { summary, recorded, completed, file } = await processChunk(job, {
        s3: deps.s3,
        dynamodb: deps.dynamodb,
        paymentsTable: deps.settings.paymentsTable,
        filesTable: deps.settings.filesTable,
        maxLineBytes: deps.settings.maxLineBytes,
        claimsInFlight: deps.claimsInFlight,
    });
    if (recorded) countChunk(deps.metrics, summary);
    const stranded = !recorded && file.done === file.chunks && !file.manifest_key;
    return { summary, recorded, manifest: completed || stranded ? await complete(file, deps) : undefined };
}

/** The file function's work for one uploaded file. */
export async function runFile(object: ObjectCreated, deps: PipelineDeps): Promise<FileOutcome> {
    let decision = planFile(object, deps.settings);
    deps.metrics.addMetric(N.filesReceived, "Count", 1);
    const { created, file } = await openFile(deps.dynamodb, deps.settings.filesTable, decision.plan);
    if (!created && file.chunks > 0 && file.chunk_bytes !== decision.plan.chunk_bytes) {
        // Planned before with other sizes (the config changed since): its chunks are counted by that plan.
        decision = planFile(object, { ...deps.settings, thresholdBytes: file.chunks > 1 ? 0 : Number.MAX_SAFE_INTEGER, chunkBytes: file.chunk_bytes });
    }
    // Nothing to read: complete now, unless a delivery before this one did.
    const done = async (refused?: string) => (file.manifest_key ? undefined : await complete(file, deps, refused));
    if (decision.kind === "refuse") return { kind: "refused", reason: decision.reason, manifest: await done(decision.reason) };
    if (file.chunks === 0) return { kind: "empty", manifest: await done() };
    if (decision.kind === "inline") {
        const { summary, manifest } = await runChunk(decision.job, deps);
        return { kind: "read", summary, manifest };
    }
    // A redelivered event after every chunk went out has nothing to send.
    if (file.enqueued) return { kind: "split", chunks: file.chunks, enqueued: false };
    if (!deps.sqs || !deps.settings.chunksQueueUrl) throw new Error("payment-file: no chunks queue to send to (CHUNKS_QUEUE_URL)");
    await sendChunks(deps.sqs, deps.settings.chunksQueueUrl, decision.messages);
    await markFile(deps.dynamodb, deps.settings.filesTable, file.file_id, "enqueued", true);
    return { kind: "split", chunks: decision.messages.length, enqueued: true };
}
