import { expect } from "chai";
import { FanOutTopic } from "../../../components/messaging/fan-out-topic";
import { anyCaseSuffixes } from "../../../components/messaging/filter-policies";
import { PolicyStatement } from "../../../components/security/policy-documents";
import { QueueWithDlq } from "../../../components/messaging/queue-with-dlq";
import { Plan, PlannedResource } from "../../../local/plan";
import { ALERT_TOPIC_ARN, childrenOf, ofType, one, policyOf, record, keyPolicyOf, generated } from "../../support/pulumi-harness";

const ACCOUNT = "123456789012";
const T = {
    fanOut: "event-pipelines:index:FanOutTopic",
    key: "aws:kms/key:Key",
    topic: "aws:sns/topic:Topic",
    topicPolicy: "aws:sns/topicPolicy:TopicPolicy",
    subscription: "aws:sns/topicSubscription:TopicSubscription",
    queue: "aws:sqs/queue:Queue",
    queuePolicy: "aws:sqs/queuePolicy:QueuePolicy",
};

const IMAGES_FILTER = { detail: { contentType: [{ prefix: "image/" }] } };

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
/** The resource's ARN, failing when absent (two undefined ARNs must not compare equal). */
function arnOf(r: PlannedResource): string {
    const arn = r.outputs.arn;
    if (typeof arn !== "string" || !arn.startsWith(`arn:aws:`)) throw new Error(`${r.name} has no ARN`);
    return arn;
}
const forService = (statements: PolicyStatement[], service: string) =>
    statements.filter((s) => typeof s.Principal === "object" && list(s.Principal.Service).includes(service));

describe("FanOutTopic", () => {
    let plan: Plan;
    let topicArn: string;
    const subscription = (role: string) => one(plan, T.subscription, `uploads-${role}-subscription`);
    const queue = (name: string) => one(plan, T.queue, name);

    before(async () => {
        plan = await record(() => {
            const images = new QueueWithDlq("images", { alertTopicArn: ALERT_TOPIC_ARN });
            const audit = new QueueWithDlq("audit", { alertTopicArn: ALERT_TOPIC_ARN });
            new FanOutTopic("uploads", {
                subscribers: {
                    images: { queue: images, filterPolicy: IMAGES_FILTER, filterPolicyScope: "MessageBody" },
                    audit: { queue: audit },
                },
            });
        });
        topicArn = arnOf(one(plan, T.topic, "uploads-topic-sns"));
        expect(topicArn).to.equal(`arn:aws:sns:us-east-1:${ACCOUNT}:${generated("aws:sns/topic:Topic", "uploads-topic-sns")}`);
    });

    it("encrypts the topic with its own KMS key", () => {
        const key = one(plan, T.key, "uploads-topic-key-cmk");
        expect(arnOf(key)).to.match(/^arn:aws:kms:us-east-1:123456789012:key\//);
        expect(one(plan, T.topic, "uploads-topic-sns").inputs.kmsMasterKeyId).to.equal(arnOf(key));
        expect(key.inputs.enableKeyRotation).to.equal(true);
    });

    it("subscribes each queue once, over SQS, to this topic, with raw delivery by default", () => {
        expect(ofType(plan, T.subscription).map((s) => s.name)).to.have.members(["uploads-images-subscription", "uploads-audit-subscription"]);
        for (const [role, q] of [["images", "images-queue"], ["audit", "audit-queue"]]) {
            const s = subscription(role);
            expect(s.inputs.protocol, role).to.equal("sqs");
            expect(s.inputs.topic, role).to.equal(topicArn);
            expect(s.inputs.endpoint, role).to.equal(arnOf(queue(q)));
            expect(s.inputs.rawMessageDelivery, role).to.equal(true);
        }
    });

    it("gives the filtered subscriber its filter policy and scope", () => {
        const s = subscription("images");
        expect(JSON.parse(s.inputs.filterPolicy as string)).to.deep.equal(IMAGES_FILTER);
        expect(s.inputs.filterPolicyScope).to.equal("MessageBody");
    });

    it("gives the unfiltered subscriber no filter policy nor scope", () => {
        const s = subscription("audit");
        expect(s.inputs).to.not.have.property("filterPolicy");
        expect(s.inputs).to.not.have.property("filterPolicyScope");
    });

    it("redrives each subscription's undeliverable messages to that queue's DLQ", () => {
        for (const role of ["images", "audit"]) {
            const redrive = JSON.parse(subscription(role).inputs.redrivePolicy as string);
            expect(redrive, role).to.deep.equal({ deadLetterTargetArn: arnOf(queue(`${role}-dlq`)) });
        }
    });

    for (const role of ["images", "audit"]) {
        for (const target of ["queue", "dlq"] as const) {
            it(`${role}: the ${target} denies non-TLS access and admits this topic alone`, () => {
                const q = queue(`${role}-${target}`);
                const policyResource = one(plan, T.queuePolicy, `${role}-${target}-policy`);
                expect(policyResource.inputs.queueUrl).to.equal(q.outputs.url);
                const statements = policyOf(policyResource).Statement;

                const deny = statements.filter((s) => s.Effect === "Deny");
                expect(deny).to.have.length(1);
                expect(deny[0].Principal).to.equal("*");
                expect(list(deny[0].Action)).to.deep.equal(["sqs:*"]);
                expect(list(deny[0].Resource)).to.deep.equal([arnOf(q)]);
                expect(deny[0].Condition).to.deep.equal({ Bool: { "aws:SecureTransport": "false" } });

                const allow = statements.filter((s) => s.Effect === "Allow");
                expect(allow).to.have.length(1);
                expect(allow[0].Principal).to.deep.equal({ Service: "sns.amazonaws.com" });
                expect(list(allow[0].Action)).to.deep.equal(["sqs:SendMessage"]);
                expect(list(allow[0].Resource)).to.deep.equal([arnOf(q)]);
                expect(allow[0].Condition).to.deep.equal({
                    ArnEquals: { "aws:SourceArn": topicArn },
                    StringEquals: { "aws:SourceAccount": ACCOUNT },
                });
            });
        }
    }

    it("opens the topic to no publisher until one is allowed", () => {
        const statements = policyOf(one(plan, T.topicPolicy, "uploads-topic-policy")).Statement;
        expect(statements.filter((s) => s.Effect === "Allow")).to.have.length(0);
        expect(statements.filter((s) => s.Effect === "Deny").map((s) => s.Condition)).to.deep.equal([{ Bool: { "aws:SecureTransport": "false" } }]);
    });

    it("parents the subscriptions under the component", () => {
        const component = one(plan, T.fanOut, "uploads");
        const children = childrenOf(plan, component).map((c) => c.name);
        expect(children).to.have.members(["uploads-topic", "uploads-images-subscription", "uploads-audit-subscription"]);
    });

    describe("options", () => {
        let options: Plan;
        before(async () => {
            options = await record(() => {
                const raw = new QueueWithDlq("raw", { alertTopicArn: ALERT_TOPIC_ARN });
                const sealed = new QueueWithDlq("sealed", { alertTopicArn: ALERT_TOPIC_ARN, encryption: "kms" });
                new FanOutTopic("events", {
                    subscribers: {
                        raw: { queue: raw, rawMessageDelivery: false, filterPolicy: { kind: ["a"] } },
                        sealed: { queue: sealed },
                    },
                });
            });
        });

        it("turns raw delivery off when asked", () => {
            expect(one(options, T.subscription, "events-raw-subscription").inputs.rawMessageDelivery).to.equal(false);
            expect(one(options, T.subscription, "events-sealed-subscription").inputs.rawMessageDelivery).to.equal(true);
        });

        it("scopes a filter policy to message attributes by default", () => {
            const s = one(options, T.subscription, "events-raw-subscription");
            expect(JSON.parse(s.inputs.filterPolicy as string)).to.deep.equal({ kind: ["a"] });
            expect(s.inputs.filterPolicyScope).to.equal("MessageAttributes");
        });

        it("lets SNS use a KMS-encrypted subscriber's key, for this topic only, once for queue and DLQ", () => {
            const arn = arnOf(one(options, T.topic, "events-topic-sns"));
            const statements = keyPolicyOf(options, "sealed-key-cmk").Statement;
            const sns = forService(statements, "sns.amazonaws.com");
            expect(sns).to.have.length(1);
            for (const s of sns) {
                expect(list(s.Action)).to.have.members(["kms:Decrypt", "kms:GenerateDataKey"]);
                expect(s.Condition).to.deep.equal({ ArnEquals: { "aws:SourceArn": arn }, StringEquals: { "aws:SourceAccount": ACCOUNT } });
            }
            const sids = statements.map((s) => s.Sid);
            expect(new Set(sids).size).to.equal(sids.length);
        });
    });

    it("refuses a filter policy SNS would refuse, naming the topic and subscriber, before any resource", async () => {
        let message = "";
        await record(() => {
            const q = new QueueWithDlq("images", { alertTopicArn: ALERT_TOPIC_ARN });
            new FanOutTopic("uploads", {
                subscribers: { images: { queue: q, filterPolicyScope: "MessageBody", filterPolicy: { detail: { object: { key: anyCaseSuffixes([".jpg", ".jpeg", ".png", ".gif", ".webp"]) } } } } },
            });
        }).catch((e: Error) => (message = e.message));
        expect(message).to.equal('FanOutTopic "uploads": subscriber "images": filterPolicy (MessageBody): 168 value combinations exceed the 150 SNS allows (a nested key counts its values times its depth)');
    });

    it("subscribes a queue it did not build: anything with an ARN, a DLQ ARN and allowSendFrom", async () => {
        const grants: [string, string, string | undefined][] = [];
        const existing = {
            arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:legacy-orders`,
            dlqArn: `arn:aws:sqs:us-east-1:${ACCOUNT}:legacy-orders-dlq`,
            allowSendFrom: (service: string, sourceArn: unknown, options?: { to?: "queue" | "dlq" }) => void grants.push([service, typeof sourceArn, options?.to]),
        };
        const plan = await record(() => void new FanOutTopic("legacy", { subscribers: { orders: { queue: existing } } }));
        const sub = one(plan, T.subscription, "legacy-orders-subscription").inputs;
        expect(sub.endpoint).to.equal(existing.arn);
        expect(JSON.parse(sub.redrivePolicy as string)).to.deep.equal({ deadLetterTargetArn: existing.dlqArn });
        // Both grants are asked of the queue's owner: the queue and its DLQ.
        expect(grants).to.deep.equal([
            ["sns.amazonaws.com", "object", undefined],
            ["sns.amazonaws.com", "object", "dlq"],
        ]);
    });
});
