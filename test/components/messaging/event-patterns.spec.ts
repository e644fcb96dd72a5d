import { expect } from "chai";
import { EventPattern, ObjectCreatedPatternArgs, OBJECT_ENVELOPE, applyInputTransformer, checkContentFilter, EVENTBRIDGE_DIALECT, matchesEventPattern, objectCreatedPattern, wildcardRegExp } from "../../../components/messaging/event-patterns";

// Routing semantics. The matcher implements AWS's documented EventBridge content-filtering
// operators ("Comparison operators for use in event patterns in Amazon EventBridge",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html):
// values in one array are ORed, fields are ANDed, a named field must be present, matching is
// case-sensitive unless `equals-ignore-case` is used (also inside `suffix`), and `anything-but`
// with `{ prefix }` matches values that do not begin with it. The expectations below follow those
// documented semantics, not the matcher's code.

const BUCKET = "lab-uploads";
const IMAGE_SUFFIXES = [".jpg", ".jpeg", ".png", ".gif", ".webp"];

/** An S3 "Object Created" event as EventBridge delivers it (the documented shape). */
function s3Event(key: string, overrides: { bucket?: string; detailType?: string; source?: string } = {}) {
    return {
        version: "0",
        id: "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": overrides.detailType ?? "Object Created",
        source: overrides.source ?? "aws.s3",
        account: "123456789012",
        time: "2026-11-23T15:00:00Z",
        region: "us-east-1",
        resources: [`arn:aws:s3:::${overrides.bucket ?? BUCKET}`],
        detail: {
            version: "0",
            bucket: { name: overrides.bucket ?? BUCKET },
            object: { key, size: 5, etag: "b1946ac92492d2347c6235b4d2611184", "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", sequencer: "617f08299329d189" },
            "request-id": "N4N7GDK58NMKJ12R",
            requester: "123456789012",
            "source-ip-address": "1.2.3.4",
            reason: "PutObject",
        },
    };
}

describe("event patterns", () => {
    describe("objectCreatedPattern", () => {
        it("matches Object Created events of one bucket, every key by default", () => {
            expect(objectCreatedPattern({ bucketName: BUCKET })).to.deep.equal({
                source: ["aws.s3"],
                "detail-type": ["Object Created"],
                detail: { bucket: { name: [BUCKET] } },
            });
        });

        it("filters image suffixes in any letter case", () => {
            expect(objectCreatedPattern({ bucketName: BUCKET, suffixes: [".jpg", ".JPEG", ".png"] })).to.deep.equal({
                source: ["aws.s3"],
                "detail-type": ["Object Created"],
                detail: {
                    bucket: { name: [BUCKET] },
                    object: {
                        key: [
                            { suffix: { "equals-ignore-case": ".jpg" } },
                            { suffix: { "equals-ignore-case": ".jpeg" } },
                            { suffix: { "equals-ignore-case": ".png" } },
                        ],
                    },
                },
            });
        });

        it("filters a prefix", () => {
            expect(objectCreatedPattern({ bucketName: BUCKET, prefix: "incoming/" }).detail).to.deep.equal({
                bucket: { name: [BUCKET] },
                object: { key: [{ prefix: "incoming/" }] },
            });
        });

        it("excludes a prefix with anything-but", () => {
            expect(objectCreatedPattern({ bucketName: BUCKET, excludePrefixes: ["thumbnails/"] }).detail).to.deep.equal({
                bucket: { name: [BUCKET] },
                object: { key: [{ "anything-but": { prefix: "thumbnails/" } }] },
            });
        });

        const refusals: [Parameters<typeof objectCreatedPattern>[0], RegExp][] = [
            [
                { bucketName: BUCKET, suffixes: [".jpg"], excludePrefixes: ["thumbnails/"] },
                /objectCreatedPattern for bucket "lab-uploads": suffixes \[".jpg"\] and excludePrefixes \["thumbnails\/"\] cannot be expressed in one EventBridge pattern/,
            ],
            [{ bucketName: BUCKET, prefix: "in/", suffixes: [".png"] }, /prefix "in\/" and suffixes \[".png"\] cannot be expressed in one EventBridge pattern/],
            [{ bucketName: BUCKET, excludePrefixes: ["a/", "b/"] }, /excludePrefixes \["a\/","b\/"\] must hold exactly one non-empty prefix/],
            [{ bucketName: BUCKET, suffixes: [] }, /suffixes \[\] must be non-empty strings/],
            [{ bucketName: BUCKET, prefix: "" }, /prefix must not be empty/],
        ];
        for (const [args, message] of refusals) {
            it(`refuses ${JSON.stringify(args)}, naming what was asked`, () => {
                expect(() => objectCreatedPattern(args)).to.throw(message);
            });
        }
    });

    describe("wildcards", () => {
        it("match the whole key, \"*\" standing for any characters, \"/\" included", () => {
            const re = wildcardRegExp("payments/*.ndjson");
            expect(["payments/a.ndjson", "payments/2026/12/b.ndjson", "payments/.ndjson"].filter((k) => re.test(k))).to.have.length(3);
            expect(["payments/a.ndjson.bak", "xpayments/a.ndjson", "payments/aXndjson", "payments/a.NDJSON"].filter((k) => re.test(k))).to.deep.equal([]);
        });

        it("take a backslash before \"*\" or itself literally", () => {
            expect(wildcardRegExp("a\\*b").test("a*b")).to.equal(true);
            expect(wildcardRegExp("a\\*b").test("axb")).to.equal(false);
            expect(wildcardRegExp("a\\\\b").test("a\\b")).to.equal(true);
        });

        it("are refused with two \"*\" in a row, as EventBridge refuses them, unless the first is escaped", () => {
            expect(() => checkContentFilter({ key: [{ wildcard: "a**b" }] }, EVENTBRIDGE_DIALECT)).to.throw('expected a string without two "*" in a row');
            expect(() => checkContentFilter({ key: [{ wildcard: "a\\**" }] }, EVENTBRIDGE_DIALECT)).to.not.throw();
        });

        it("in objectCreatedPattern: each must hold a \"*\", alone among the key conditions, with characters S3 does not encode", () => {
            expect(objectCreatedPattern({ bucketName: "b", wildcards: ["payments/*.ndjson"] }).detail).to.deep.equal({ bucket: { name: ["b"] }, object: { key: [{ wildcard: "payments/*.ndjson" }] } });
            expect(() => objectCreatedPattern({ bucketName: "b", wildcards: ["payments/a.ndjson"] })).to.throw('must each hold a "*"');
            expect(() => objectCreatedPattern({ bucketName: "b", prefix: "payments/", wildcards: ["*.ndjson"] })).to.throw("cannot be expressed in one EventBridge pattern");
            expect(() => objectCreatedPattern({ bucketName: "b", wildcards: ["payments/é*"] })).to.throw("URL-encodes");
        });
    });

    describe("routing of sample S3 Object Created events", () => {
        const images = objectCreatedPattern({ bucketName: BUCKET, suffixes: IMAGE_SUFFIXES });
        const audit = objectCreatedPattern({ bucketName: BUCKET, excludePrefixes: ["thumbnails/"] });
        const incoming = objectCreatedPattern({ bucketName: BUCKET, prefix: "incoming/" });

        // [description, event, images rule, audit rule (all but thumbnails/), incoming/ rule]
        const cases: [string, unknown, boolean, boolean, boolean][] = [
            ["a .jpg photo", s3Event("photos/cat.jpg"), true, true, false],
            ["an upper-case .JPG", s3Event("photos/CAT.JPG"), true, true, false],
            ["a mixed-case .Png", s3Event("incoming/shot.Png"), true, true, true],
            ["a .jpeg", s3Event("a.jpeg"), true, true, false],
            ["an upper-case .JPEG", s3Event("incoming/B.JPEG"), true, true, true],
            ["a .gif", s3Event("anim/x.gif"), true, true, false],
            ["a .GIF", s3Event("anim/X.GIF"), true, true, false],
            ["a .webp", s3Event("incoming/pic.webp"), true, true, true],
            ["a .WebP", s3Event("pic.WebP"), true, true, false],
            ["a .png", s3Event("p.png"), true, true, false],
            ["a text file", s3Event("docs/readme.txt"), false, true, false],
            ["a pdf", s3Event("incoming/report.pdf"), false, true, true],
            ["a key with no extension", s3Event("incoming/jpg"), false, true, true],
            ["'.jpg' in the middle of the key", s3Event("x.jpg.txt"), false, true, false],
            ["a .jpgx", s3Event("x.jpgx"), false, true, false],
            ["a thumbnail .jpg (excluded prefix)", s3Event("thumbnails/photos/cat.jpg"), true, false, false],
            ["thumbnail metadata JSON (excluded prefix)", s3Event("thumbnails/photos/cat.json"), false, false, false],
            ["'Thumbnails/' in another case (S3 keys are case-sensitive)", s3Event("Thumbnails/cat.jpg"), true, true, false],
            ["a key containing thumbnails/ not as a prefix", s3Event("photos/thumbnails/cat.jpg"), true, true, false],
            ["'INCOMING/' in another case (prefix is case-sensitive)", s3Event("INCOMING/a.png"), true, true, false],
            ["an image in another bucket", s3Event("photos/cat.jpg", { bucket: "other-bucket" }), false, false, false],
            ["an Object Deleted event", s3Event("photos/cat.jpg", { detailType: "Object Deleted" }), false, false, false],
            ["an Object Restore Completed event", s3Event("incoming/cat.png", { detailType: "Object Restore Completed" }), false, false, false],
            ["a custom event that imitates S3", s3Event("photos/cat.jpg", { source: "my.app" }), false, false, false],
        ];

        it("covers at least 20 sample events", () => {
            expect(cases.length).to.be.at.least(20);
        });

        for (const [what, event, toImages, toAudit, toIncoming] of cases) {
            it(`${what}: images ${toImages}, audit ${toAudit}, incoming ${toIncoming}`, () => {
                expect(matchesEventPattern(images, event), "images").to.equal(toImages);
                expect(matchesEventPattern(audit, event), "audit").to.equal(toAudit);
                expect(matchesEventPattern(incoming, event), "incoming").to.equal(toIncoming);
            });
        }

        it("does not match an event without the object key the pattern filters on", () => {
            const event = s3Event("a.jpg");
            delete (event.detail as Partial<typeof event.detail>).object;
            expect(matchesEventPattern(images, event)).to.equal(false);
            expect(matchesEventPattern(audit, event)).to.equal(false);
            expect(matchesEventPattern(objectCreatedPattern({ bucketName: BUCKET }), event)).to.equal(true);
        });
    });

    describe("matchesEventPattern, by documented operator", () => {
        const event = { source: "aws.s3", detail: { state: "Running", tags: ["a", "b"], n: 5 } };
        const cases: [string, EventPattern, boolean][] = [
            ["exact values are ORed", { source: ["x", "aws.s3"] }, true],
            ["exact match is case-sensitive", { source: ["AWS.S3"] }, false],
            ["equals-ignore-case", { source: [{ "equals-ignore-case": "AWS.S3" }] }, true],
            ["fields are ANDed", { source: ["aws.s3"], detail: { state: ["Stopped"] } }, false],
            ["prefix", { detail: { state: [{ prefix: "Run" }] } }, true],
            ["prefix is case-sensitive", { detail: { state: [{ prefix: "run" }] } }, false],
            ["prefix with equals-ignore-case", { detail: { state: [{ prefix: { "equals-ignore-case": "run" } }] } }, true],
            ["suffix is case-sensitive", { detail: { state: [{ suffix: "NING" }] } }, false],
            ["suffix with equals-ignore-case", { detail: { state: [{ suffix: { "equals-ignore-case": "NING" } }] } }, true],
            ["anything-but a value", { detail: { state: [{ "anything-but": "Running" }] } }, false],
            ["anything-but a list", { detail: { state: [{ "anything-but": ["Stopped", "Pending"] }] } }, true],
            ["anything-but a prefix", { detail: { state: [{ "anything-but": { prefix: "Run" } }] } }, false],
            ["anything-but a suffix", { detail: { state: [{ "anything-but": { suffix: "x" } }] } }, true],
            ["anything-but needs the field", { detail: { missing: [{ "anything-but": "x" }] } }, false],
            ["exists true", { detail: { state: [{ exists: true }] } }, true],
            ["exists false on a present field", { detail: { state: [{ exists: false }] } }, false],
            ["exists false on an absent field", { detail: { missing: [{ exists: false }] } }, true],
            ["an array in the event matches if any element does", { detail: { tags: ["b"] } }, true],
            ["numbers match exactly", { detail: { n: [5] } }, true],
        ];
        for (const [what, pattern, expected] of cases) {
            it(`${what}: ${expected}`, () => {
                expect(matchesEventPattern(pattern, event)).to.equal(expected);
            });
        }

        it("refuses operators it does not implement rather than guessing", () => {
            expect(() => matchesEventPattern({ detail: { n: [{ numeric: [">", 1] }] } }, event)).to.throw(/operator "numeric" is not supported/);
        });
    });

    it("refuses a key condition with a character S3 URL-encodes in its event keys, which would never match", () => {
        const cases: [Partial<ObjectCreatedPatternArgs>, string][] = [
            [{ prefix: "raw data/" }, '"raw data/" contains " "'],
            [{ excludePrefixes: ["derived files/"] }, '"derived files/" contains " "'],
            [{ suffixes: [".jpg", "(1).png"] }, '"(1).png" contains "("'],
            [{ prefix: "été/" }, '"été/" contains "é"'],
        ];
        for (const [args, named] of cases) {
            expect(() => objectCreatedPattern({ bucketName: "b", ...args }), named).to.throw(
                `objectCreatedPattern for bucket "b": ${named}, which S3 URL-encodes in the keys of its events; the pattern would be compared with the encoded key and miss. Use letters, digits and / . _ - only`,
            );
        }
        expect(() => objectCreatedPattern({ bucketName: "b", prefix: "raw-data_2025/v1.0/" })).to.not.throw();
    });

    describe("applyInputTransformer (EventBridge input transformation, JSON templates)", () => {
        const event = { source: "aws.s3", detail: { object: { key: 'odd "name"\\.jpg', size: 3 } } };

        it("puts each path's JSON value in place of its placeholder, and the whole event for <aws.events.event.json>", () => {
            const text = applyInputTransformer(OBJECT_ENVELOPE, event);
            expect(JSON.parse(text)).to.deep.equal({ object: event.detail.object, event });
            const sized = applyInputTransformer({ inputPaths: { n: "$.detail.object.size", o: "$.detail.object" }, inputTemplate: '{"n": <n>, "o": <o>}' }, event);
            expect(JSON.parse(sized)).to.deep.equal({ n: 3, o: event.detail.object });
        });

        it("inside a JSON string puts a value in as text (a string without its quotes), escaped so the result stays JSON", () => {
            const text = applyInputTransformer(
                { inputPaths: { k: "$.detail.object.key", n: "$.detail.object.size", o: "$.detail.object" }, inputTemplate: '"Object <k> (<n> bytes): <o>, \\"<k>\\""' },
                event,
            );
            expect(JSON.parse(text)).to.equal(`Object ${event.detail.object.key} (3 bytes): ${JSON.stringify(event.detail.object)}, "${event.detail.object.key}"`);
            const mixed = applyInputTransformer({ inputPaths: { k: "$.detail.object.key" }, inputTemplate: '{"text": "key <k>", "key": <k>}' }, event);
            expect(JSON.parse(mixed)).to.deep.equal({ text: `key ${event.detail.object.key}`, key: event.detail.object.key });
        });

        it("refuses what it does not model, or a path the event lacks, rather than guessing", () => {
            expect(() => applyInputTransformer({ inputPaths: { k: "$.detail.missing" }, inputTemplate: '{"k": <k>}' }, event)).to.throw(/the event has nothing at \$\.detail\.missing for <k>/);
            expect(() => applyInputTransformer({ inputPaths: { k: "$.detail['object']" }, inputTemplate: '{"k": <k>}' }, event)).to.throw(/is not a dotted path/);
            expect(() => applyInputTransformer({ inputPaths: {}, inputTemplate: '{"t": <aws.events.rule-name>}' }, event)).to.throw(/<aws\.events\.rule-name> is neither an input path nor a modelled reserved variable/);
            expect(() => applyInputTransformer({ inputPaths: { k: "$.source" }, inputTemplate: "key <k>" }, event)).to.throw(SyntaxError);
        });
    });
});
