import { expect } from "chai";
import { EventPattern, InputTransformer, OBJECT_ENVELOPE, applyInputTransformer, matchesEventPattern } from "../../components/messaging/event-patterns";
import { FilterPolicy, FilterPolicyScope, checkFilterPolicy, filterPolicyCombinations, matchesFilterPolicy } from "../../components/messaging/filter-policies";
import { Plan, PlannedResource } from "../../local/plan";
import { ObjectCreatedFields, objectCreatedEvent } from "../support/lambda-events";
import { one, ofType } from "../support/pulumi-harness";
import { stackPlan } from "../support/stack-plans";

// Routing of the lab's uploads (seed 003), as the dev stack would deploy it: S3 "Object Created"
// event → EventBridge rule "uploads-created" (its target's input transformer wraps the event as
// `{"object", "event"}`) → SNS fan-out "uploads" → subscriptions `images` and `audit`. The
// rule's event pattern, the transformer and the subscriptions' filter policies are read from the
// stack's plan, not rebuilt here, so this checks what would be deployed.
//
// Where the matching semantics come from: AWS's documented operators, implemented by
// matchesEventPattern and matchesFilterPolicy (components/), not by this test:
// - EventBridge: "Creating event patterns" and "Comparison operators for use in event patterns in
//   Amazon EventBridge" (EventBridge User Guide): fields ANDed, values ORed, exact case-sensitive
//   values, `anything-but` with `prefix`; "Amazon EventBridge input transformation" for the
//   target's template (applyInputTransformer);
// - SNS: "Amazon SNS message filtering", "Amazon SNS subscription filter policies", "String value
//   matching" and "Filter policy constraints in Amazon SNS" (SNS Developer Guide): MessageBody scope
//   matches nested properties of the JSON body, `suffix` is case-sensitive, a subscription without
//   a filter policy receives every message.
// The expected destinations in the table below are stated from those rules and the lab's intent
// (images get image objects in any letter case; audit gets every object; nothing under
// thumbnails/, which the image processor writes, is routed at all).

const SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription";
const RULE = "uploads-created-rule";
const IMAGE_SUFFIXES = [".jpg", ".jpeg", ".png", ".gif", ".webp"];

/** Every letter-case spelling of `text`, written here independently of components/filter-policies. */
function spellings(text: string): string[] {
    const letters = [...text].filter((c) => c.toLowerCase() !== c.toUpperCase()).length;
    const out: string[] = [];
    for (let mask = 0; mask < 2 ** letters; mask++) {
        let bit = 0;
        out.push([...text].map((c) => (c.toLowerCase() === c.toUpperCase() ? c : mask & (1 << bit++) ? c.toUpperCase() : c.toLowerCase())).join(""));
    }
    return out;
}

interface Subscription {
    resource: PlannedResource;
    destination: string;
    filterPolicy?: FilterPolicy;
    scope?: FilterPolicyScope;
}

const BOTH = ["audit", "images"];
const AUDIT = ["audit"];
const NOTHING: string[] = [];

/** [what, event fields (bucket defaults to the uploads bucket), expected destinations]. */
type Case = [string, ObjectCreatedFields & { detailType?: string; source?: string }, string[]];
const CASES: Case[] = [
    ["a .jpg", { key: "photos/2025/cat.jpg" }, BOTH],
    ["a .jpeg", { key: "a.jpeg" }, BOTH],
    ["a .png", { key: "shots/p.png" }, BOTH],
    ["a .gif", { key: "anim/x.gif" }, BOTH],
    ["a .webp", { key: "pic.webp" }, BOTH],
    ["an upper-case .JPG", { key: "photos/CAT.JPG" }, BOTH],
    ["an upper-case .JPEG", { key: "B.JPEG" }, BOTH],
    ["an upper-case .PNG", { key: "P.PNG" }, BOTH],
    ["an upper-case .GIF", { key: "anim/X.GIF" }, BOTH],
    ["an upper-case .WEBP", { key: "PIC.WEBP" }, BOTH],
    ["a mixed-case .Jpg", { key: "photos/cat.Jpg" }, BOTH],
    ["a mixed-case .JpEg", { key: "x.JpEg" }, BOTH],
    ["a mixed-case .pNg", { key: "shot.pNg" }, BOTH],
    ["a mixed-case .gIf", { key: "x.gIf" }, BOTH],
    ["a mixed-case .WebP", { key: "pic.WebP" }, BOTH],
    ["a text file", { key: "docs/readme.txt" }, AUDIT],
    ["a pdf", { key: "reports/q3.pdf" }, AUDIT],
    ["a key without extension", { key: "incoming/README" }, AUDIT],
    ["'jpg' without the dot", { key: "photos/catjpg" }, AUDIT],
    ["'.jpg' before another extension", { key: "x.jpg.txt" }, AUDIT],
    ["a .jpgx", { key: "x.jpgx" }, AUDIT],
    ["'.png/' in a folder name", { key: "albums/best.png/notes.txt" }, AUDIT],
    ["a thumbnail .jpg (excluded prefix)", { key: "thumbnails/cat.jpg" }, NOTHING],
    ["an upper-case thumbnail .PNG (excluded prefix)", { key: "thumbnails/photos/CAT.PNG" }, NOTHING],
    ["thumbnail metadata JSON (excluded prefix)", { key: "thumbnails/photos/cat.json" }, NOTHING],
    ["the thumbnails/ folder marker itself", { key: "thumbnails/" }, NOTHING],
    ["'thumbnailsX/' (only the exact prefix is excluded)", { key: "thumbnailsX/a.jpg" }, BOTH],
    ["thumbnails/ inside the key, not at its start", { key: "photos/thumbnails/a.jpg" }, BOTH],
    ["'Thumbnails/' in another case (S3 keys and prefix are case-sensitive)", { key: "Thumbnails/a.jpg" }, BOTH],
    ["'thumbnails' without the slash", { key: "thumbnails" }, AUDIT],
    ["an image in another bucket", { key: "photos/cat.jpg", bucket: "other-bucket" }, NOTHING],
    ["an Object Deleted event", { key: "photos/cat.jpg", detailType: "Object Deleted" }, NOTHING],
    ["an Object Restore Completed event", { key: "photos/cat.jpg", detailType: "Object Restore Completed" }, NOTHING],
    ["a custom event imitating S3", { key: "photos/cat.jpg", source: "my.app" }, NOTHING],
];

describe("upload routing (seed 003), as the dev stack deploys it", () => {
    let plan: Plan;
    let pattern: EventPattern;
    let bucket: string;
    let subscriptions: Subscription[];
    let transformer: InputTransformer;

    before(async () => {
        plan = await stackPlan("dev");
        const rule = one(plan, "aws:cloudwatch/eventRule:EventRule", RULE);
        pattern = JSON.parse(rule.inputs.eventPattern as string);
        bucket = String(plan.outputs.s3_bucket_name);
        // Follow the rule to its target topic, and the topic to its subscriptions.
        const ruleName = rule.outputs.name ?? rule.name;
        const targets = ofType(plan, "aws:cloudwatch/eventTarget:EventTarget").filter((t) => t.inputs.rule === ruleName);
        expect(targets, "targets of the uploads rule").to.have.length(1);
        const target = targets[0];
        // No fixed input or input path: the transformer builds the SNS message from the event.
        for (const field of ["input", "inputPath"]) expect(target.inputs, field).to.not.have.property(field);
        transformer = target.inputs.inputTransformer as InputTransformer;
        subscriptions = ofType(plan, SUBSCRIPTION)
            .filter((s) => s.inputs.topic === target.inputs.arn)
            .map((resource) => ({
                resource,
                destination: resource.name.replace(/^uploads-/, "").replace(/-subscription$/, ""),
                filterPolicy: resource.inputs.filterPolicy === undefined ? undefined : JSON.parse(resource.inputs.filterPolicy as string),
                scope: resource.inputs.filterPolicyScope as FilterPolicyScope | undefined,
            }));
    });

    /** The destinations an event reaches: rule pattern, then each subscription's filter policy on the event JSON. */
    function route(event: unknown): string[] {
        if (!matchesEventPattern(pattern, event as Record<string, unknown>)) return [];
        const message = applyInputTransformer(transformer, event as Record<string, unknown>);
        return subscriptions
            .filter((s) => matchesFilterPolicy(s.filterPolicy, message, s.scope))
            .map((s) => s.destination)
            .sort();
    }

    function subscription(destination: string): Subscription {
        const hit = subscriptions.find((s) => s.destination === destination);
        if (!hit) throw new Error(`no ${destination} subscription on the uploads topic (have: ${subscriptions.map((s) => s.resource.name).join(", ")})`);
        return hit;
    }

    describe("what the plan deploys", () => {
        it("the rule matches Object Created events of the uploads bucket, except keys under thumbnails/", () => {
            expect(pattern).to.deep.equal({
                source: ["aws.s3"],
                "detail-type": ["Object Created"],
                detail: { bucket: { name: [bucket] }, object: { key: [{ "anything-but": { prefix: "thumbnails/" } }] } },
            });
        });

        it("the uploads topic has exactly the images and audit subscriptions, raw delivery to their queues", () => {
            expect(subscriptions.map((s) => s.resource.name).sort()).to.deep.equal(["uploads-audit-subscription", "uploads-images-subscription"]);
            for (const s of subscriptions) {
                expect(s.resource.inputs.protocol, s.destination).to.equal("sqs");
                expect(s.resource.inputs.endpoint, s.destination).to.equal(one(plan, "aws:sqs/queue:Queue", `uploads-${s.destination}-queue`).outputs.arn);
                expect(s.resource.inputs.rawMessageDelivery, s.destination).to.equal(true);
            }
        });

        it("the rule's target wraps each event in the envelope with its object on top", () => {
            expect(transformer).to.deep.equal({
                inputPaths: { object: "$.detail.object" },
                inputTemplate: '{"object": <object>, "event": <aws.events.event.json>}',
            });
            expect(transformer).to.deep.equal(OBJECT_ENVELOPE);
        });

        it("images filters the message body on object.key, by the 56 letter-case spellings of the five image suffixes", () => {
            const expected = IMAGE_SUFFIXES.flatMap(spellings).sort();
            expect(expected).to.have.length(56);
            const images = subscription("images");
            expect(images.scope).to.equal("MessageBody");
            expect(images.filterPolicy).to.deep.equal({ object: { key: expected.map((suffix) => ({ suffix })) } });
        });

        it("audit has no filter policy: it receives every message the rule sends", () => {
            const audit = subscription("audit");
            expect(audit.resource.inputs).to.not.have.property("filterPolicy");
            expect(audit.resource.inputs).to.not.have.property("filterPolicyScope");
        });

        // SNS counts a nested key's values times its depth toward the 150 combinations ("Filter
        // policy constraints in Amazon SNS", payload-based example 3 x 4 x 2 x 3 = 72): at
        // detail.object.key (depth 3) the 56 spellings would count 168, hence the envelope.
        it("images' filter policy is within SNS's documented constraints (56 spellings at depth 2: 112)", () => {
            const images = subscription("images");
            expect(filterPolicyCombinations(images.filterPolicy!, images.scope)).to.equal(112);
            expect(() => checkFilterPolicy(images.filterPolicy!, images.scope)).to.not.throw();
            expect(() => checkFilterPolicy({ detail: images.filterPolicy! }, "MessageBody")).to.throw(/168 value combinations exceed the 150/);
        });
    });

    describe("sample S3 events, through the rule and each subscription's filter policy", () => {
        it("covers at least 20 events and every outcome", () => {
            expect(CASES.length).to.be.at.least(20);
            const outcomes = new Set(CASES.map(([, , expected]) => expected.join("+")));
            expect([...outcomes].sort()).to.deep.equal(["", "audit", "audit+images"]);
        });

        for (const [what, fields, expected] of CASES) {
            it(`${what} (${fields.key}) → ${expected.length ? `{${expected.join(", ")}}` : "nothing"}`, () => {
                const { detailType, source, ...objectFields } = fields;
                const event = objectCreatedEvent({ bucket, ...objectFields });
                if (detailType) event["detail-type"] = detailType;
                if (source) event.source = source;
                expect(route(event)).to.deep.equal(expected);
            });
        }
    });
});
