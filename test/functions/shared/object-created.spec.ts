import { expect } from "chai";
import { decodeEventKey, parseObjectCreatedMessage } from "../../../functions/shared/object-created";
import { objectCreatedEvent, uploadMessage } from "../../support/lambda-events";

describe("parseObjectCreatedMessage (what every uploads consumer reads)", () => {
    const expected = {
        bucket: "uploads",
        key: "photos/2025/cat.jpg",
        size: 5,
        etag: "b1946ac92492d2347c6235b4d2611184",
        versionId: "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
        sequencer: "00617F08299329D189",
        eventTime: "2025-01-01T12:00:00Z",
        requester: "123456789012",
        sourceIp: "203.0.113.15",
        eventId: "17793124-05d4-b198-2fde-7ededc63b103",
    };

    it("reads the envelope the rule's input transformer builds", () => {
        const body = uploadMessage();
        expect(Object.keys(JSON.parse(body))).to.deep.equal(["object", "event"]);
        expect(parseObjectCreatedMessage(body)).to.deep.equal(expected);
    });

    it("reads a bare event too (messages queued before the envelope, or their redrive)", () => {
        expect(parseObjectCreatedMessage(JSON.stringify(objectCreatedEvent()))).to.deep.equal(expected);
    });

    it("reads the object from the event itself, whatever the envelope's copy says", () => {
        expect(parseObjectCreatedMessage(JSON.stringify({ object: { key: "other.jpg" }, event: objectCreatedEvent("a.jpg") })).key).to.equal("a.jpg");
    });

    it("decodes the key as S3 encodes it in its events, keeping the event's spelling beside it", () => {
        const parsed = parseObjectCreatedMessage(uploadMessage("photos/red+flower+%281%29+%2B+caf%C3%A9.jpg"));
        expect(parsed.key).to.equal("photos/red flower (1) + café.jpg");
        expect(parsed.eventKey).to.equal("photos/red+flower+%281%29+%2B+caf%C3%A9.jpg");
        // A key that needs no decoding carries no second spelling.
        expect(parseObjectCreatedMessage(uploadMessage("photos/cat.jpg"))).to.not.have.property("eventKey");
        expect(decodeEventKey("a/b/c.png")).to.equal("a/b/c.png");
        expect(() => parseObjectCreatedMessage(uploadMessage("photos/100%.jpg"))).to.throw('object key "photos/100%.jpg" is not URL-encoded as S3 encodes keys in its events');
    });

    it("takes IPv6 clients, which Powertools' schema alone refuses", () => {
        const event = objectCreatedEvent();
        event.detail["source-ip-address"] = "2001:db8::1";
        expect(parseObjectCreatedMessage(JSON.stringify({ object: event.detail.object, event })).sourceIp).to.equal("2001:db8::1");
        event.detail["source-ip-address"] = "not-an-address";
        expect(() => parseObjectCreatedMessage(JSON.stringify({ object: event.detail.object, event }))).to.throw(/event\.detail\.source-ip-address/);
    });

    const refusals: [string, string, RegExp][] = [
        ["not JSON", "<xml/>", /^message body is not JSON \(expected an S3 Object Created event\): <xml\/>$/],
        ["an envelope whose event lacks its object", JSON.stringify({ object: { key: "a.jpg" }, event: { ...objectCreatedEvent(), detail: { bucket: { name: "b" } } } }), /^message is not an S3 Object Created event: event\.detail\.[a-z-]+: /],
        ["a bare event without detail", JSON.stringify({ ...objectCreatedEvent(), detail: undefined }), /^message is not an S3 Object Created event: detail: /],
        ["an Object Deleted event", JSON.stringify({ ...objectCreatedEvent(), "detail-type": "Object Deleted" }), /^message is a "Object Deleted" event from aws\.s3, expected an "Object Created" event from aws\.s3$/],
        ["an SNS notification (raw delivery off)", JSON.stringify({ Type: "Notification", Message: uploadMessage() }), /^message is not an S3 Object Created event: /],
    ];
    for (const [what, body, message] of refusals) {
        it(`refuses ${what}, in one line`, () => {
            expect(() => parseObjectCreatedMessage(body)).to.throw(message);
        });
    }
});
