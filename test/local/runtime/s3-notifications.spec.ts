import { expect } from "chai";
import type { S3rverRecord } from "../../../local/runtime/emulators";
import { eventBridgeEventOf } from "../../../local/runtime/s3-notifications";

const ACCOUNT = "123456789012";
const BUCKET = "uploads-bucket-6cba64a";

/**
 * A record as s3rver emits it (node_modules/s3rver/lib/models/event.js): the key as stored,
 * undecoded; size and eTag for Put and Post, size alone for Copy, neither for Delete; the event
 * time with milliseconds.
 */
function s3rverRecord(eventName: string, key: string, object: { size?: number; eTag?: string } = {}): S3rverRecord {
    return {
        eventName,
        eventTime: "2024-05-01T12:34:56.789Z",
        requestParameters: { sourceIPAddress: "127.0.0.1" },
        responseElements: { "x-amz-request-id": "8A3F0C2E1B4D5F60", "x-amz-id-2": "aGVsbG8=" },
        s3: { bucket: { name: BUCKET }, object: { key, sequencer: "18F3A2B4C5D", ...object } },
    };
}

describe("eventBridgeEventOf", () => {
    it("turns a Put into S3's Object Created event: source, detail-type, resources, time to the second", () => {
        const event = eventBridgeEventOf(s3rverRecord("ObjectCreated:Put", "photos/a.png", { size: 42, eTag: "d41d8cd98f00b204e9800998ecf8427e" }), ACCOUNT);
        expect(event).to.deep.equal({
            source: "aws.s3",
            "detail-type": "Object Created",
            resources: [`arn:aws:s3:::${BUCKET}`],
            time: "2024-05-01T12:34:56Z",
            detail: {
                version: "0",
                bucket: { name: BUCKET },
                object: { key: "photos/a.png", size: 42, etag: "d41d8cd98f00b204e9800998ecf8427e", sequencer: "18F3A2B4C5D" },
                "request-id": "8A3F0C2E1B4D5F60",
                requester: ACCOUNT,
                "source-ip-address": "127.0.0.1",
                reason: "PutObject",
            },
        });
    });

    it("gives each kind of creation its reason: PostObject, CopyObject, CompleteMultipartUpload", () => {
        const reason = (eventName: string) => eventBridgeEventOf(s3rverRecord(eventName, "a.txt", { size: 1 }), ACCOUNT).detail.reason;
        expect(reason("ObjectCreated:Post")).to.equal("PostObject");
        expect(reason("ObjectCreated:Copy")).to.equal("CopyObject");
        expect(reason("ObjectCreated:CompleteMultipartUpload")).to.equal("CompleteMultipartUpload");
    });

    it("keeps a Copy's size and writes no etag when s3rver gives none", () => {
        const { detail } = eventBridgeEventOf(s3rverRecord("ObjectCreated:Copy", "copies/a.txt", { size: 7 }), ACCOUNT);
        expect(detail.object).to.deep.equal({ key: "copies/a.txt", size: 7, sequencer: "18F3A2B4C5D" });
    });

    it("turns a Delete into Object Deleted: DeleteObject, Permanently Deleted, no size or etag", () => {
        const event = eventBridgeEventOf(s3rverRecord("ObjectRemoved:Delete", "photos/a.png"), ACCOUNT);
        expect(event["detail-type"]).to.equal("Object Deleted");
        expect(event.detail).to.deep.equal({
            version: "0",
            bucket: { name: BUCKET },
            object: { key: "photos/a.png", sequencer: "18F3A2B4C5D" },
            "request-id": "8A3F0C2E1B4D5F60",
            requester: ACCOUNT,
            "source-ip-address": "127.0.0.1",
            reason: "DeleteObject",
            "deletion-type": "Permanently Deleted",
        });
    });

    it("URL-encodes the key as S3 does: spaces as +, parentheses and non-ASCII as %XX of UTF-8, slashes kept", () => {
        const key = (raw: string, eventName = "ObjectCreated:Put") => (eventBridgeEventOf(s3rverRecord(eventName, raw, { size: 1, eTag: "e" }), ACCOUNT).detail.object as { key: string }).key;
        expect(key("red flower (1).png")).to.equal("red+flower+%281%29.png");
        expect(key("photos/café/naïve.jpg")).to.equal("photos/caf%C3%A9/na%C3%AFve.jpg");
        expect(key("emoji/😀.txt")).to.equal("emoji/%F0%9F%98%80.txt");
        expect(key("a+b=c&d.txt")).to.equal("a%2Bb%3Dc%26d.txt");
        expect(key("kept/a-b_c.d*e.txt")).to.equal("kept/a-b_c.d*e.txt");
        // The same encoding for deletions.
        expect(key("red flower (1).png", "ObjectRemoved:Delete")).to.equal("red+flower+%281%29.png");
    });
});
