import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { Logger } from "@aws-lambda-powertools/logger";
import { S3EventNotificationEventBridgeSchema } from "@aws-lambda-powertools/parser/schemas/s3";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";

// Consumes the fan-out's `audit` queue: each message is an S3 "Object Created" event that
// EventBridge sent through SNS (raw delivery). Each valid event becomes one structured audit
// line; an invalid one fails alone, is retried, and ends in the DLQ with its reason logged.

export interface UploadAudit {
    bucket: string;
    key: string;
    size?: number;
    etag?: string;
    versionId?: string;
    sequencer?: string;
    eventTime: string;
    requester?: string;
    sourceIp?: string;
}

/** Parses and validates one message body; throws one line naming what was expected. */
export function parseUpload(body: string): UploadAudit {
    let json: unknown;
    try {
        json = JSON.parse(body);
    } catch {
        throw new Error(`message body is not JSON (expected an S3 Object Created event): ${body.slice(0, 80).replace(/\s+/g, " ")}`);
    }
    const parsed = S3EventNotificationEventBridgeSchema.safeParse(json);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(`message is not an S3 Object Created event: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
    }
    // The schema fits every S3 event EventBridge sends; this function audits creations only.
    if (parsed.data.source !== "aws.s3" || parsed.data["detail-type"] !== "Object Created") {
        throw new Error(`message is a "${parsed.data["detail-type"]}" event from ${parsed.data.source}, expected an "Object Created" event from aws.s3`);
    }
    const { detail, time } = parsed.data;
    return {
        bucket: detail.bucket.name,
        key: detail.object.key,
        size: detail.object.size,
        etag: detail.object.etag,
        versionId: detail.object["version-id"],
        sequencer: detail.object.sequencer,
        eventTime: time,
        requester: detail.requester,
        sourceIp: detail["source-ip-address"],
    };
}

/**
 * Builds the handler with its logger and batch processor. A factory, so that an inline
 * CallbackFunction (`callbackFactory`) can build the same handler at cold start (see bench/).
 */
export function createHandler(): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
    const logger = new Logger({ serviceName: "audit-logger" });
    const processor = new BatchProcessor(EventType.SQS);
    const recordHandler = async (record: SQSRecord): Promise<void> => {
        try {
            const audit = parseUpload(record.body);
            logger.info("object uploaded", { messageId: record.messageId, audit });
        } catch (err) {
            logger.error("rejected message", { messageId: record.messageId, reason: (err as Error).message });
            throw err;
        }
    };
    return async (event, context) => processPartialResponse(event, recordHandler, processor, { context });
}

export const handler = createHandler();
