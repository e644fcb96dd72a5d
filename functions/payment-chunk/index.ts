import { Logger } from "@aws-lambda-powertools/logger";
import { paymentBatchHandler } from "../payment-file/batch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { paymentMetrics } from "../payment-file/metrics";
import { runChunk, type HandlerDeps, type PipelineDeps } from "../payment-file/pipeline";
import { parseChunkMessage } from "../payment-file/plan-file";
import { readPaymentSettings } from "../payment-file/settings";

// The chunk worker: consumes the `chunks` queue. Parse → read → claim → report: each message
// names a byte range of one file version; the worker reads the lines it owns with a ranged GET
// pinned to that version, claims each payment once, writes the chunk's curated and quarantine
// objects, records the chunk in the file's manifest item, and, when it was the file's last chunk,
// writes the file's manifest. A failed chunk is retried whole; what it already claimed stays its.

export type PaymentChunkHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export function createHandler(deps: HandlerDeps = {}): PaymentChunkHandler {
    const settings = deps.settings ?? readPaymentSettings("payment-chunk");
    const logger = deps.logger ?? new Logger({ serviceName: "payment-chunk" });
    const metrics = deps.metrics ?? paymentMetrics();
    const pipeline: PipelineDeps = { s3: deps.s3 ?? new S3Client({}), dynamodb: deps.dynamodb ?? new DynamoDBClient({}), settings, metrics, claimsInFlight: deps.claimsInFlight };

    const recordHandler = async (record: SQSRecord): Promise<void> => {
        let chunk;
        try {
            chunk = parseChunkMessage(record.body);
        } catch (err) {
            logger.error("rejected message", { messageId: record.messageId, reason: (err as Error).message });
            throw err;
        }
        const where = { file: `s3://${chunk.bucket}/${chunk.key}`, chunk: chunk.index, chunks: chunk.chunks, range: [chunk.start, chunk.end] };
        try {
            const { summary, recorded, manifest } = await runChunk(chunk, pipeline);
            logger.info(recorded ? "chunk read" : "chunk read again (already recorded)", { ...where, summary });
            if (manifest) logger.info("file complete", { file: manifest.file, lines: manifest.lines, applied: manifest.applied, duplicates: manifest.duplicates, conflicts: manifest.conflicts, quarantined: manifest.quarantined, blank: manifest.blank });
        } catch (err) {
            logger.error("chunk failed", { messageId: record.messageId, ...where, reason: `${(err as Error).name}: ${(err as Error).message}` });
            throw err;
        }
    };

    return paymentBatchHandler(recordHandler, metrics);
}

let built: PaymentChunkHandler | undefined;

/** The Lambda entry point, built on its first call (the module stays importable without its environment). */
export const handler: PaymentChunkHandler = async (event, context) => (built ??= createHandler())(event, context);
