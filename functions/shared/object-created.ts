import "./schema";
import * as z from "zod/mini";
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

/**
 * The S3 event as EventBridge delivers it: the fields of Powertools' S3EventNotificationEventBridgeSchema
 * (the envelope, and the detail consumers read), written with zod/mini, since Powertools' parser
 * schemas load the whole of zod (see ./schema.ts). Where Powertools takes an IPv4 source address
 * only, IPv6 is taken too: S3 reports an IPv6 client by its IPv6 address.
 */
function buildEventSchema() {
    return z.object({
        version: z.string(),
        id: z.string(),
        "detail-type": z.string(),
        source: z.string(),
        account: z.string(),
        time: z.iso.datetime(),
        region: z.string(),
        resources: z.array(z.string()),
        detail: z.object({
            version: z.string(),
            bucket: z.object({ name: z.string() }),
            object: z.object({
                key: z.string(),
                size: z.optional(z.number().check(z.gte(0))),
                etag: z.optional(z.string()),
                "version-id": z.optional(z.string()),
                sequencer: z.optional(z.string()),
            }),
            "request-id": z.string(),
            requester: z.string(),
            "source-ip-address": z.optional(z.union([z.ipv4(), z.ipv6()])),
            reason: z.optional(z.string()),
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
