import { SendMessageCommand, SQSClient, type MessageAttributeValue } from "@aws-sdk/client-sqs";
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { CONSUMER_ENV } from "../shared/contract";
import { oneLine, validateMessage, MAX_REASON_LENGTH, type ApiMessage } from "./message-schema";

// Consumes the `api` queue that API Gateway's POST /messages feeds (seed 003, flow 2).
// Parse → validate → act → report, one record at a time under Powertools' BatchProcessor:
// - a valid message is processed (processMessage) and the record succeeds;
// - an invalid one is copied, body unchanged, to the queue's DLQ with the reason as message
//   attributes, and the record succeeds too: retrying cannot make it valid;
// - if that copy fails, or processing throws, the record is a batch item failure and SQS
//   redelivers it (and, after maxReceiveCount, moves it to the DLQ itself): nothing is lost.

export { API_MESSAGE_SCHEMA, API_MESSAGE_LIMITS, validateMessage } from "./message-schema";
export type { ApiMessage, MessageCheck } from "./message-schema";

/**
 * Environment variable holding the URL of the queue rejected messages are sent to (the `api`
 * queue's DLQ), as QueueWithDlq sets it for a consumer with `sendsRejectsToDlq`.
 */
export const DEAD_LETTER_QUEUE_URL_ENV = CONSUMER_ENV.deadLetterQueueUrl;

/** Message attributes set on a rejected message in the DLQ. */
export const REJECT_REASON_ATTRIBUTE = "rejectReason";
export const SOURCE_MESSAGE_ID_ATTRIBUTE = "sourceMessageId";
export const SOURCE_QUEUE_ARN_ATTRIBUTE = "sourceQueueArn";

export const SERVICE_NAME = "api-consumer";

export type Log = Pick<Logger, "info" | "warn" | "error"> & Partial<Pick<Logger, "addContext">>;

/** What acting on a valid message means. Replaceable: the lab's processing is one log line. */
export type MessageProcessor = (message: ApiMessage, record: SQSRecord, logger: Log) => Promise<void> | void;

export interface ApiConsumerDeps {
    /** Client for the DLQ. Default: a new SQSClient for the function's region. */
    client?: SQSClient;
    /** URL of the DLQ. Default: the DEAD_LETTER_QUEUE_URL environment variable. */
    deadLetterQueueUrl?: string;
    /** Default: a Powertools Logger with service "api-consumer". */
    logger?: Log;
    /** Default: processMessage. */
    processMessage?: MessageProcessor;
}

/**
 * The lab's processing of a valid message: one structured INFO line. A real team replaces this
 * function (createHandler's `processMessage`); throwing from it makes SQS redeliver the message.
 */
export function processMessage(message: ApiMessage, record: SQSRecord, logger: Log): void {
    // Nested under `apiMessage`: Powertools drops a top-level `message` key (it is the log line's own).
    logger.info("message processed", { messageId: record.messageId, apiMessage: message });
}

/** Reads the DLQ URL from the environment; throws one line naming the variable when it is missing. */
export function deadLetterQueueUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
    const url = env[DEAD_LETTER_QUEUE_URL_ENV]?.trim();
    if (!url) throw new Error(`${SERVICE_NAME}: environment variable ${DEAD_LETTER_QUEUE_URL_ENV} is not set`);
    return url;
}

/** The SendMessage that parks a rejected record in the DLQ: its body as received, the reason and origin as attributes. */
export function rejectCommand(deadLetterQueueUrl: string, record: SQSRecord, reason: string): SendMessageCommand {
    const attribute = (value: string): MessageAttributeValue => ({ DataType: "String", StringValue: value });
    const attributes: Record<string, MessageAttributeValue> = {
        // Bounded and cleaned again: SQS refuses control characters, and attributes count toward the message size.
        [REJECT_REASON_ATTRIBUTE]: attribute(oneLine(reason, MAX_REASON_LENGTH) || "rejected"),
        [SOURCE_MESSAGE_ID_ATTRIBUTE]: attribute(record.messageId),
    };
    // SQS refuses an empty attribute value; a record from a real queue always names it.
    if (record.eventSourceARN) attributes[SOURCE_QUEUE_ARN_ATTRIBUTE] = attribute(record.eventSourceARN);
    // A standard queue (API Gateway's SendMessage sets no MessageGroupId), so no FIFO fields.
    return new SendMessageCommand({ QueueUrl: deadLetterQueueUrl, MessageBody: record.body, MessageAttributes: attributes });
}

/** Builds the handler around its DLQ client and URL, logger and processing (tests pass their own). */
export function createHandler(deps: ApiConsumerDeps = {}): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
    const deadLetterQueueUrl = deps.deadLetterQueueUrl ?? deadLetterQueueUrlFromEnv();
    const client = deps.client ?? new SQSClient({});
    const logger: Log = deps.logger ?? new Logger({ serviceName: SERVICE_NAME });
    const act = deps.processMessage ?? processMessage;
    const processor = new BatchProcessor(EventType.SQS);

    const recordHandler = async (record: SQSRecord): Promise<void> => {
        const checked = validateMessage(record.body);
        if (checked.ok) {
            await act(checked.message, record, logger);
            return;
        }
        logger.warn("message rejected", { messageId: record.messageId, reason: checked.reason });
        try {
            await client.send(rejectCommand(deadLetterQueueUrl, record, checked.reason));
        } catch (err) {
            // Thrown on: the record fails alone and SQS redelivers it, rather than losing it.
            const detail = oneLine((err as Error).message ?? String(err), 300);
            logger.error("rejected message not sent to the dead-letter queue; it will be retried", { messageId: record.messageId, error: detail });
            throw new Error(`could not send rejected message ${record.messageId} to the dead-letter queue: ${detail}`);
        }
    };

    return async (event, context) => {
        logger.addContext?.(context);
        return processPartialResponse(event, recordHandler, processor, { context });
    };
}

export const handler = createHandler();
