import type { S3rverRecord } from "./emulators";
import { encodeS3EventKey } from "./s3-event-keys";

// S3's EventBridge notifications: for a bucket whose BucketNotification turns `eventbridge` on,
// every object created or deleted becomes the event S3 sends to the default bus, with the key
// URL-encoded as S3 encodes it.

const REASONS: Record<string, string> = {
    "ObjectCreated:Put": "PutObject",
    "ObjectCreated:Post": "PostObject",
    "ObjectCreated:Copy": "CopyObject",
    "ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
};

/** The EventBridge event (before the bus stamps id, account, time and region) for one s3rver record. */
export function eventBridgeEventOf(record: S3rverRecord, account: string): { source: string; "detail-type": string; detail: Record<string, unknown>; resources: string[]; time: string } {
    const bucket = record.s3.bucket.name;
    const created = record.eventName.startsWith("ObjectCreated:");
    const object: Record<string, unknown> = { key: encodeS3EventKey(record.s3.object.key), sequencer: record.s3.object.sequencer };
    if (created) {
        object.size = record.s3.object.size ?? 0;
        if (record.s3.object.eTag !== undefined) object.etag = record.s3.object.eTag;
    }
    const detail: Record<string, unknown> = {
        version: "0",
        bucket: { name: bucket },
        object,
        "request-id": record.responseElements["x-amz-request-id"],
        requester: account,
        "source-ip-address": record.requestParameters.sourceIPAddress,
    };
    if (created) detail.reason = REASONS[record.eventName] ?? "PutObject";
    else {
        detail.reason = "DeleteObject";
        detail["deletion-type"] = "Permanently Deleted";
    }
    return { source: "aws.s3", "detail-type": created ? "Object Created" : "Object Deleted", detail, resources: [`arn:aws:s3:::${bucket}`], time: record.eventTime.replace(/\.\d{3}Z$/, "Z") };
}
