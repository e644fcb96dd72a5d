import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { Logger } from "@aws-lambda-powertools/logger";
import { S3Client } from "@aws-sdk/client-s3";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { parseObjectCreatedMessage } from "../shared/object-created";
import { ImageUpload, processUpload } from "./process";
import { readSettings } from "./settings";

// Consumes the fan-out's `images` queue: each message carries an S3 "Object Created" event that
// EventBridge sent through SNS (raw delivery; see functions/shared/object-created.ts).
// Per message: parse → validate → act → report.
// A permanent problem with the object (not an image, too big, corrupt, gone, or our own output)
// is skipped with one WARN line and acknowledged, so it is not retried forever; a transient one
// (S3 5xx, throttling, network) and an unparseable message fail alone, are retried by SQS and end
// in the DLQ after maxReceiveCount, with their reason logged.

export * from "./keys";
export { IMAGE_PROCESSOR_ENV, readSettings } from "./settings";
export type { ImageProcessorEnvName, Settings } from "./settings";
export { MAX_RENDER_ROUNDS } from "./process";
export type { ImageMetadata, ImageUpload, Outcome, SkipReason } from "./process";

/**
 * Parses and validates one message body (the rule's `{"object", "event"}` envelope, or a bare
 * event): the parser every uploads consumer shares. Throws one line naming what was expected.
 */
export function parseImageUpload(body: string): ImageUpload {
    return parseObjectCreatedMessage(body);
}

export interface ImageProcessorDeps {
    /** S3 client; default one built from the Lambda environment (region, credentials, AWS_ENDPOINT_URL_S3). */
    s3?: S3Client;
    /** Environment to read the settings from; default process.env. */
    env?: Record<string, string | undefined>;
}

/**
 * Builds the handler with its S3 client, logger and batch processor. The settings are read here,
 * once, so a bad environment fails the cold start with one line. Tests inject the S3 client.
 */
export function createHandler(deps: ImageProcessorDeps = {}): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
    const env = deps.env ?? process.env;
    const settings = readSettings(env);
    // Region, credentials and an endpoint override (AWS_ENDPOINT_URL_S3, e.g. an emulator on
    // 127.0.0.1, which the SDK addresses path-style by itself) all come from the environment.
    const s3 = deps.s3 ?? new S3Client({});
    const logger = new Logger({ serviceName: "image-processor" });
    const processor = new BatchProcessor(EventType.SQS);

    const recordHandler = async (record: SQSRecord): Promise<void> => {
        const messageId = record.messageId;
        let upload: ImageUpload;
        try {
            upload = parseImageUpload(record.body);
        } catch (err) {
            logger.error("rejected message", { messageId, reason: (err as Error).message });
            throw err;
        }
        const object = { bucket: upload.bucket, key: upload.key, versionId: upload.versionId };
        let outcome;
        try {
            outcome = await processUpload(upload, { s3, settings });
        } catch (err) {
            const e = err as Error & { $metadata?: { httpStatusCode?: number } };
            logger.error("image processing failed, the message will be retried", {
                messageId,
                ...object,
                error: `${e.name}: ${e.message}`,
                httpStatusCode: e.$metadata?.httpStatusCode,
            });
            throw err;
        }
        if (outcome.status === "skipped") {
            logger.warn("image skipped", { messageId, ...object, reason: outcome.reason, detail: outcome.detail });
        } else {
            const { image, thumbnail, source } = outcome.metadata;
            logger.info("thumbnail written", {
                messageId,
                ...object,
                key: source.key, // the key read: the event's key decoded, or as spelled (see processUpload)
                thumbnailKey: outcome.thumbnailKey,
                metadataKey: outcome.metadataKey,
                format: image.format,
                width: image.width,
                height: image.height,
                thumbnailWidth: thumbnail.width,
                thumbnailHeight: thumbnail.height,
            });
        }
    };
    // One record at a time: peak memory stays that of one decoded image, whatever the batch size.
    return async (event, context) => processPartialResponse(event, recordHandler, processor, { context, processInParallel: false });
}

export const handler = createHandler();
