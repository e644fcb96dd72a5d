import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { parseObjectCreatedMessage } from "../shared/object-created";
import { AUDIT_TABLE_ENV, AUDIT_TABLE_KEY, auditKey, type AuditItem, type UploadAudit } from "./record";

// Consumes the fan-out's `audit` queue: each message carries an S3 "Object Created" event that
// EventBridge sent through SNS (raw delivery; see functions/shared/object-created.ts). Parse → validate → act → report: each valid event
// becomes one item of the audit table, keyed by the object version it describes, written only if
// absent, so a redelivered message (SQS and SNS deliver at least once) changes nothing. An invalid
// message or a failed write fails alone, is retried, and ends in the DLQ with its reason logged.

export { AUDIT_TABLE_ENV, AUDIT_TABLE_KEY, auditKey } from "./record";
export type { AuditItem, UploadAudit } from "./record";

/** Parses and validates one message body (the uploads envelope or a bare event); throws one line naming what was expected. */
export function parseUpload(body: string): UploadAudit {
    return parseObjectCreatedMessage(body);
}

type Log = Pick<Logger, "info" | "error">;

export interface AuditLoggerDeps {
    /** Default `new DynamoDBClient({})`: region, credentials and AWS_ENDPOINT_URL_DYNAMODB from the environment. */
    client?: DynamoDBClient;
    /** Default: the AUDIT_TABLE_NAME environment variable. */
    tableName?: string;
    logger?: Log;
    /** Clock for recordedAt (epoch ms). */
    now?: () => number;
}

export type AuditLoggerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * Builds the handler with its client, logger and batch processor. A factory, so that tests can
 * inject a client and an inline CallbackFunction (`callbackFactory`) can build the same handler
 * at cold start (see bench/). Throws when no table is named.
 */
export function createHandler(deps: AuditLoggerDeps = {}): AuditLoggerHandler {
    const tableName = deps.tableName ?? process.env[AUDIT_TABLE_ENV]?.trim();
    if (!tableName) throw new Error(`audit-logger: environment variable ${AUDIT_TABLE_ENV} is not set`);
    // The SDK's default retries (3 attempts) absorb a brief throttle; past them SQS redelivers.
    const client = deps.client ?? new DynamoDBClient({});
    const logger = deps.logger ?? new Logger({ serviceName: "audit-logger" });
    const now = deps.now ?? Date.now;
    const processor = new BatchProcessor(EventType.SQS);

    return async (event, context) => {
        const counts = { recorded: 0, duplicates: 0, rejected: 0, failed: 0 };
        const recordHandler = async (record: SQSRecord): Promise<void> => {
            let audit: UploadAudit;
            let auditId: string;
            try {
                audit = parseUpload(record.body);
                auditId = auditKey(audit);
            } catch (err) {
                counts.rejected++;
                logger.error("rejected message", { messageId: record.messageId, reason: (err as Error).message });
                throw err;
            }
            const item: AuditItem = { ...audit, [AUDIT_TABLE_KEY]: auditId, recordedAt: new Date(now()).toISOString() };
            try {
                await client.send(
                    new PutItemCommand({
                        TableName: tableName,
                        Item: marshall(item, { removeUndefinedValues: true }),
                        // First write wins: a redelivery must not replace the record (nor its recordedAt).
                        ConditionExpression: "attribute_not_exists(#key)",
                        ExpressionAttributeNames: { "#key": AUDIT_TABLE_KEY },
                    }),
                );
            } catch (err) {
                // By name: holds whichever copy of the SDK the client comes from (runtime, test).
                if ((err as Error).name === "ConditionalCheckFailedException") {
                    counts.duplicates++;
                    logger.info("duplicate delivery, already recorded", { messageId: record.messageId, auditId });
                    return;
                }
                counts.failed++;
                logger.error("audit write failed", { messageId: record.messageId, auditId, reason: `${(err as Error).name}: ${(err as Error).message}` });
                throw err;
            }
            counts.recorded++;
            logger.info("object uploaded", { messageId: record.messageId, auditId, audit });
        };
        try {
            return await processPartialResponse(event, recordHandler, processor, { context });
        } finally {
            logger.info("batch audited", { records: event?.Records?.length ?? 0, ...counts });
        }
    };
}

let built: AuditLoggerHandler | undefined;

/**
 * The Lambda entry point, built on its first call rather than at import: the module stays
 * importable where AUDIT_TABLE_NAME is not set (a Pulumi program serializing createHandler for a
 * CallbackFunction, the bench). Without the variable every invocation fails, naming it, and SQS
 * redelivers its messages.
 */
export const handler: AuditLoggerHandler = async (event, context) => (built ??= createHandler())(event, context);
