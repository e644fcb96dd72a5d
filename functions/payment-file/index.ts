import { Logger } from "@aws-lambda-powertools/logger";
import { paymentBatchHandler } from "./batch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { parseObjectCreatedMessage } from "../shared/object-created";
import { paymentMetrics } from "./metrics";
import { runFile, type HandlerDeps, type PipelineDeps } from "./pipeline";
import { readPaymentSettings } from "./settings";

// The file function: consumes the `files` queue, where the rule puts each "Object Created" event
// of payments/*.ndjson. Parse → decide → act → report: a file at most THRESHOLD_BYTES (or gzip)
// is read here, streaming; a bigger one is split into byte-range chunks sent to the `chunks`
// queue. An event that is not a payment file's fails alone and ends in the DLQ with its reason.

export type PaymentFileHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export function createHandler(deps: HandlerDeps = {}): PaymentFileHandler {
    const settings = deps.settings ?? readPaymentSettings("payment-file");
    const logger = deps.logger ?? new Logger({ serviceName: "payment-file" });
    const metrics = deps.metrics ?? paymentMetrics();
    const pipeline: PipelineDeps = { s3: deps.s3 ?? new S3Client({}), dynamodb: deps.dynamodb ?? new DynamoDBClient({}), sqs: deps.sqs ?? new SQSClient({}), settings, metrics, claimsInFlight: deps.claimsInFlight };

    const recordHandler = async (record: SQSRecord): Promise<void> => {
        let object;
        try {
            object = parseObjectCreatedMessage(record.body);
        } catch (err) {
            logger.error("rejected message", { messageId: record.messageId, reason: (err as Error).message });
            throw err;
        }
        const file = `s3://${object.bucket}/${object.key}`;
        try {
            const outcome = await runFile(object, pipeline);
            if (outcome.kind === "refused") logger.error("file refused", { file, reason: outcome.reason, manifest: outcome.manifest?.file_id });
            else if (outcome.kind === "split") logger.info("file split into chunks", { file, size: object.size, chunks: outcome.chunks, enqueued: outcome.enqueued });
            else if (outcome.kind === "empty") logger.warn("empty file", { file });
            else logger.info("file read", { file, summary: outcome.summary, completed: outcome.manifest !== undefined });
        } catch (err) {
            logger.error("file failed", { messageId: record.messageId, file, reason: `${(err as Error).name}: ${(err as Error).message}` });
            throw err;
        }
    };

    return paymentBatchHandler(recordHandler, metrics);
}

let built: PaymentFileHandler | undefined;

/** The Lambda entry point, built on its first call (the module stays importable without its environment). */
export const handler: PaymentFileHandler = async (event, context) => (built ??= createHandler())(event, context);
