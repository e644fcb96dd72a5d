import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";

/**
 * Both payment functions' SQS handler around their record handler: Powertools batch processing
 * (each failed record reported alone), and the metrics published whatever happened.
 */
export function paymentBatchHandler(recordHandler: (record: SQSRecord) => Promise<void>, metrics: { publishStoredMetrics(): void }): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
    const processor = new BatchProcessor(EventType.SQS);
    return async (event, context) => {
        try {
            return await processPartialResponse(event, recordHandler, processor, { context });
        } finally {
            metrics.publishStoredMetrics();
        }
    };
}
