/**
 * Lambda inputs for the audit-logger handler, shared by its specs and the bench: an S3
 * "Object Created" event as EventBridge delivers it, the SQS record that carries it (raw SNS
 * delivery), and a Lambda context.
 */
import type { Context, KinesisStreamRecord, SQSEvent, SQSRecord } from "aws-lambda";
import { createHash } from "crypto";
import { OBJECT_ENVELOPE, applyInputTransformer } from "../../components/messaging/event-patterns";

/** Fields of an Object Created event a spec may choose; the rest are fixed sample values. */
export interface ObjectCreatedFields {
    key?: string;
    bucket?: string;
    size?: number;
    /** `null` leaves the version id out (an unversioned bucket). */
    versionId?: string | null;
    sequencer?: string;
    time?: string;
}

/**
 * An S3 "Object Created" event as EventBridge delivers it (what Powertools'
 * S3EventNotificationEventBridgeSchema accepts), with every optional field set.
 * A fresh object on each call, loosely typed, so a spec can delete or break fields.
 * `objectCreatedEvent("a/b.jpg")` sets the key only; an object sets any of the fields.
 */
export function objectCreatedEvent(fields: string | ObjectCreatedFields = {}): Record<string, any> {
    const f: ObjectCreatedFields = typeof fields === "string" ? { key: fields } : fields;
    const bucket = f.bucket ?? "uploads";
    const object: Record<string, unknown> = {
        key: f.key ?? "photos/2025/cat.jpg",
        size: f.size ?? 5,
        etag: "b1946ac92492d2347c6235b4d2611184",
        "version-id": f.versionId === undefined ? "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e" : f.versionId,
        sequencer: f.sequencer ?? "00617F08299329D189",
    };
    if (object["version-id"] === null) delete object["version-id"];
    return {
        version: "0",
        id: "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        source: "aws.s3",
        account: "123456789012",
        time: f.time ?? "2025-01-01T12:00:00Z",
        region: "us-east-1",
        resources: [`arn:aws:s3:::${bucket}`],
        detail: {
            version: "0",
            bucket: { name: bucket },
            object,
            "request-id": "N4N7GDK58NMKJ12R",
            requester: "123456789012",
            "source-ip-address": "203.0.113.15",
            reason: "PutObject",
        },
    };
}

/**
 * The body an uploads queue receives for an Object Created event: the event in the envelope the
 * rule's input transformer builds (`{"object", "event"}`), passed through SNS raw delivery.
 */
export function uploadMessage(fields: string | ObjectCreatedFields = {}): string {
    return applyInputTransformer(OBJECT_ENVELOPE, objectCreatedEvent(fields));
}

/** An SQS record carrying `body`, with the attributes and body MD5 SQS sets. */
export function sqsRecord(messageId: string, body: string): SQSRecord {
    return {
        messageId,
        receiptHandle: `AQEB${messageId}`,
        body,
        attributes: {
            ApproximateReceiveCount: "1",
            SentTimestamp: "1735732800000",
            SenderId: "AIDAIENQZJOLO23YVJ4VO",
            ApproximateFirstReceiveTimestamp: "1735732800001",
        },
        messageAttributes: {},
        md5OfBody: createHash("md5").update(body).digest("hex"),
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:audit",
        awsRegion: "us-east-1",
    };
}

/** The batch Lambda's SQS event source mapping hands the handler. */
export function sqsEvent(...records: SQSRecord[]): SQSEvent {
    return { Records: records };
}

/** A Lambda context with the fields the handler (Powertools batch and logger) may read. */
export const lambdaContext: Context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: "audit-function",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:audit-function",
    memoryLimitInMB: "256",
    awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
    logGroupName: "/aws/lambda/audit-function",
    logStreamName: "2025/01/01/[$LATEST]abcdef",
    getRemainingTimeInMillis: () => 30000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
};

/** What a Kinesis record carries; the rest of the Lambda record is derived from it. */
export interface KinesisRecordFields {
    shardId: string;
    sequenceNumber: string;
    partitionKey: string;
    /** The record's data, base64 as Lambda delivers it. */
    data: string;
    /** Seconds since the epoch, with milliseconds, as Lambda delivers it. */
    approximateArrivalTimestamp: number;
    streamArn: string;
    region?: string;
}

/** A record of a Lambda Kinesis event, in the shape the Lambda service builds (eventID = shard:sequence). */
export function kinesisRecord(f: KinesisRecordFields): KinesisStreamRecord {
    return {
        kinesis: {
            kinesisSchemaVersion: "1.0",
            partitionKey: f.partitionKey,
            sequenceNumber: f.sequenceNumber,
            data: f.data,
            approximateArrivalTimestamp: f.approximateArrivalTimestamp,
        },
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `${f.shardId}:${f.sequenceNumber}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: "arn:aws:iam::123456789012:role/stream-to-table",
        awsRegion: f.region ?? "us-east-1",
        eventSourceARN: f.streamArn,
    };
}
