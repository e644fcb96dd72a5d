import { S3EventNotificationEventBridgeSchema } from "@aws-lambda-powertools/parser/schemas/s3";
import { z } from "zod";
import { UPLOAD_ENVELOPE } from "./contract";

// The message the uploads fan-out delivers to its queues (raw SNS delivery), parsed once for every
// consumer: the EventBridge target wraps each S3 "Object Created" event in an envelope,
// `{"object": <detail.object>, "event": <event>}` (UPLOAD_ENVELOPE in ./contract),
// so SNS can filter on `object.key` near the top. Only `event` is read: it is the whole event, and
// the envelope's copy of the object adds nothing. A bare event is read too: messages queued before
// the envelope, or a redrive of them, are still consumed.

/** What one S3 "Object Created" event says about an upload. */
export interface ObjectCreated {
    bucket: string;
    /** The object's key, decoded (see decodeEventKey). */
    key: string;
    /** The key exactly as the event spelled it, when that differs from `key`. */
    eventKey?: string;
    size?: number;
    etag?: string;
    versionId?: string;
    sequencer?: string;
    eventTime: string;
    requester?: string;
    sourceIp?: string;
    /** The EventBridge event's id. */
    eventId: string;
}

// Powertools' schema takes IPv4 only for source-ip-address, but S3 reports IPv6 clients by their
// IPv6 address: such an upload would be refused.
function buildEventSchema() {
    return S3EventNotificationEventBridgeSchema.extend({
        detail: S3EventNotificationEventBridgeSchema.shape.detail.extend({
            "source-ip-address": z.union([z.ipv4(), z.ipv6()]).optional(),
        }),
    });
}

// Built on first use, not at import: Pulumi serializes what a CallbackFunction captures by value
// (see bench/), and a zod schema object cannot be serialized; unset, it can.
let eventSchema: ReturnType<typeof buildEventSchema> | undefined;

/**
 * S3 writes keys into its events URL-encoded the way a form is (a space as "+", other reserved
 * characters as %XX, "/" kept): "red flower.jpg" arrives as "red+flower.jpg". Powertools for AWS
 * Lambda (Python) decodes the key of these EventBridge events the same way (unquote_plus).
 * Throws one line for a key that is not encoded so.
 */
export function decodeEventKey(raw: string): string {
    try {
        return decodeURIComponent(raw.replace(/\+/g, " "));
    } catch {
        throw new Error(`object key ${JSON.stringify(raw)} is not URL-encoded as S3 encodes keys in its events`);
    }
}

function isEnvelope(json: unknown): json is Record<(typeof UPLOAD_ENVELOPE)[keyof typeof UPLOAD_ENVELOPE], unknown> {
    return typeof json === "object" && json !== null && !Array.isArray(json) && UPLOAD_ENVELOPE.event in json && UPLOAD_ENVELOPE.object in json;
}

/** Parses and validates one message body; throws one line naming what was expected. */
export function parseObjectCreatedMessage(body: string): ObjectCreated {
    let json: unknown;
    try {
        json = JSON.parse(body);
    } catch {
        throw new Error(`message body is not JSON (expected an S3 Object Created event): ${body.slice(0, 80).replace(/\s+/g, " ")}`);
    }
    const envelope = isEnvelope(json) ? json : undefined;
    const parsed = (eventSchema ??= buildEventSchema()).safeParse(envelope ? envelope[UPLOAD_ENVELOPE.event] : json);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const path = [...(envelope ? [UPLOAD_ENVELOPE.event] : []), ...issue.path].join(".") || "(root)";
        throw new Error(`message is not an S3 Object Created event: ${path}: ${issue.message}`);
    }
    // The schema fits every S3 event EventBridge sends; consumers act on creations only.
    if (parsed.data.source !== "aws.s3" || parsed.data["detail-type"] !== "Object Created") {
        throw new Error(`message is a "${parsed.data["detail-type"]}" event from ${parsed.data.source}, expected an "Object Created" event from aws.s3`);
    }
    const { detail, time, id } = parsed.data;
    const key = decodeEventKey(detail.object.key);
    return {
        bucket: detail.bucket.name,
        key,
        ...(key === detail.object.key ? {} : { eventKey: detail.object.key }),
        size: detail.object.size,
        etag: detail.object.etag,
        versionId: detail.object["version-id"],
        sequencer: detail.object.sequencer,
        eventTime: time,
        requester: detail.requester,
        sourceIp: detail["source-ip-address"],
        eventId: id,
    };
}
