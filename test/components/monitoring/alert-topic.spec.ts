import { expect } from "chai";
import { AlertTopic, AlertTopicArgs, addressId } from "../../../components/monitoring/alert-topic";
import { PolicyStatement } from "../../../components/security/policy-documents";
import { Plan } from "../../../local/plan";
import { childrenOf, ofType, one, policyOf, record, keyPolicyOf, generated, descendantsOf } from "../../support/pulumi-harness";

const ACCOUNT = "123456789012";
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const ALARMS = `arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:*`;
const RULE = `arn:aws:events:us-east-1:${ACCOUNT}:rule/glue-failures`;

const T = {
    alertTopic: "event-pipelines:index:AlertTopic",
    encryptedTopic: "event-pipelines:index:EncryptedTopic",
    encryptionKey: "event-pipelines:index:EncryptionKey",
    key: "aws:kms/key:Key",
    topic: "aws:sns/topic:Topic",
    topicPolicy: "aws:sns/topicPolicy:TopicPolicy",
    subscription: "aws:sns/topicSubscription:TopicSubscription",
};

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const allows = (statements: PolicyStatement[]) => statements.filter((s) => s.Effect === "Allow");
const forService = (statements: PolicyStatement[], service: string) =>
    statements.filter((s) => s.Effect === "Allow" && typeof s.Principal === "object" && list(s.Principal.Service).includes(service));

function build(args: AlertTopicArgs, extra?: (t: AlertTopic) => void): Promise<Plan> {
    return record(() => {
        const t = new AlertTopic("alerts", args);
        extra?.(t);
    });
}

const keyOf = (plan: Plan) => one(plan, T.key, "alerts-topic-key-cmk");
const topicOf = (plan: Plan) => one(plan, T.topic, "alerts-topic-sns");
const topicPolicyOf = (plan: Plan) => one(plan, T.topicPolicy, "alerts-topic-policy");

describe("AlertTopic", () => {
    let plan: Plan;
    let topicArn: string;
    before(async () => {
        plan = await build({ emails: ["oncall@example.com", "team@example.com"], kmsKeyDeletionWindowDays: 7 });
        topicArn = topicOf(plan).outputs.arn as string;
        expect(topicArn).to.equal(`arn:aws:sns:us-east-1:${ACCOUNT}:${generated("aws:sns/topic:Topic", "alerts-topic-sns")}`);
    });

    describe("encryption", () => {
        it("encrypts the topic with its own customer-managed key, by the key's ARN", () => {
            const keyArn = keyOf(plan).outputs.arn as string;
            expect(keyArn).to.match(/^arn:aws:kms:us-east-1:123456789012:key\/[0-9a-f-]{36}$/);
            expect(topicOf(plan).inputs.kmsMasterKeyId).to.equal(keyArn);
            expect(topicOf(plan).dependencies).to.include(keyOf(plan).urn);
        });

        it("rotates the key and uses the deletion window from the args", () => {
            expect(keyOf(plan).inputs.enableKeyRotation).to.equal(true);
            expect(keyOf(plan).inputs.deletionWindowInDays).to.equal(7);
        });

        it("defaults the deletion window to 30 days", async () => {
            const defaults = await build({});
            expect(keyOf(defaults).inputs.deletionWindowInDays).to.equal(30);
            expect(keyOf(defaults).inputs.enableKeyRotation).to.equal(true);
        });
    });

    describe("key policy", () => {
        it("lets the account root administer the key, action by action, never with a wildcard", () => {
            const statements = keyPolicyOf(plan, "alerts-topic-key-cmk").Statement;
            const admin = statements.find((s) => s.Sid === "AccountAdministersKey");
            expect(admin, "admin statement").to.not.equal(undefined);
            expect(admin!.Effect).to.equal("Allow");
            expect(admin!.Principal).to.deep.equal({ AWS: ROOT });
            expect(list(admin!.Action)).to.include.members(["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"]);
            for (const s of statements) {
                for (const action of list(s.Action)) expect(action, `${s.Sid} action`).to.not.contain("*");
                expect(s.Principal, `${s.Sid} principal`).to.not.equal("*");
            }
        });

        it("lets CloudWatch only decrypt and generate data keys, for this account's alarms", () => {
            const statements = keyPolicyOf(plan, "alerts-topic-key-cmk").Statement;
            const cw = forService(statements, "cloudwatch.amazonaws.com");
            expect(cw).to.have.length(1);
            expect(cw[0].Principal).to.deep.equal({ Service: "cloudwatch.amazonaws.com" });
            expect(list(cw[0].Action)).to.have.members(["kms:Decrypt", "kms:GenerateDataKey"]);
            expect(cw[0].Condition).to.deep.equal({
                ArnLike: { "aws:SourceArn": ALARMS },
                StringEquals: { "aws:SourceAccount": ACCOUNT },
            });
        });

        it("names no other service until one is allowed", () => {
            const services = allows(keyPolicyOf(plan, "alerts-topic-key-cmk").Statement).filter((s) => typeof s.Principal === "object" && s.Principal.Service);
            expect(services).to.have.length(1);
        });
    });

    describe("topic policy", () => {
        it("applies to the topic", () => {
            expect(topicPolicyOf(plan).inputs.arn).to.equal(topicArn);
            expect(topicArn).to.equal(`arn:aws:sns:us-east-1:${ACCOUNT}:${generated("aws:sns/topic:Topic", "alerts-topic-sns")}`);
        });

        it("denies every request that does not use TLS", () => {
            const deny = policyOf(topicPolicyOf(plan)).Statement.filter((s) => s.Effect === "Deny");
            expect(deny).to.have.length(1);
            expect(deny[0].Principal).to.equal("*");
            expect(list(deny[0].Action)).to.deep.equal(["sns:*"]);
            expect(list(deny[0].Resource)).to.deep.equal([topicArn]);
            expect(deny[0].Condition).to.deep.equal({ Bool: { "aws:SecureTransport": "false" } });
        });

        it("allows CloudWatch sns:Publish on exactly this topic, for this account's alarms only", () => {
            const statements = allows(policyOf(topicPolicyOf(plan)).Statement);
            expect(statements).to.have.length(1);
            const [cw] = statements;
            expect(cw.Principal).to.deep.equal({ Service: "cloudwatch.amazonaws.com" });
            expect(list(cw.Action)).to.deep.equal(["sns:Publish"]);
            expect(list(cw.Resource)).to.deep.equal([topicArn]);
            expect(cw.Condition).to.deep.equal({
                ArnLike: { "aws:SourceArn": ALARMS },
                StringEquals: { "aws:SourceAccount": ACCOUNT },
            });
        });
    });

    describe("e-mail subscriptions", () => {
        it("subscribes each address once, by e-mail, to the topic", () => {
            const subs = ofType(plan, T.subscription);
            expect(subs.map((s) => s.name)).to.have.members([`alerts-email-${addressId("oncall@example.com")}`, `alerts-email-${addressId("team@example.com")}`]);
            expect(subs.map((s) => s.inputs.endpoint)).to.have.members(["oncall@example.com", "team@example.com"]);
            for (const s of subs) {
                expect(s.inputs.protocol, s.name).to.equal("email");
                expect(s.inputs.topic, s.name).to.equal(topicArn);
            }
            expect(one(plan, T.subscription, `alerts-email-${addressId("team@example.com")}`).inputs.endpoint).to.equal("team@example.com");
        });

        it("creates no subscription without addresses", async () => {
            const none = await build({});
            expect(ofType(none, T.subscription)).to.have.length(0);
            const empty = await build({ emails: [] });
            expect(ofType(empty, T.subscription)).to.have.length(0);
        });
    });

    describe("allowPublishFrom", () => {
        let withRule: Plan;
        before(async () => {
            withRule = await build({}, (t) => t.allowPublishFrom("events.amazonaws.com", RULE));
        });

        it("adds a second publish statement, scoped to that rule by ArnEquals", () => {
            const arn = topicOf(withRule).outputs.arn as string;
            expect(arn).to.match(/^arn:aws:sns:us-east-1:123456789012:/);
            const statements = allows(policyOf(topicPolicyOf(withRule)).Statement);
            expect(statements).to.have.length(2);
            expect(forService(statements, "cloudwatch.amazonaws.com")).to.have.length(1);
            const events = forService(statements, "events.amazonaws.com");
            expect(events).to.have.length(1);
            expect(list(events[0].Action)).to.deep.equal(["sns:Publish"]);
            expect(list(events[0].Resource)).to.deep.equal([arn]);
            expect(events[0].Condition).to.deep.equal({
                ArnEquals: { "aws:SourceArn": RULE },
                StringEquals: { "aws:SourceAccount": ACCOUNT },
            });
            const sids = policyOf(topicPolicyOf(withRule)).Statement.map((s) => s.Sid);
            expect(new Set(sids).size).to.equal(sids.length);
        });

        it("lets EventBridge use the key without source conditions, which KMS does not support for it", () => {
            // The SNS documentation: aws:SourceArn/aws:SourceAccount in a key policy are not supported
            // for EventBridge publishing to an encrypted topic; the topic policy above scopes it.
            const statements = keyPolicyOf(withRule, "alerts-topic-key-cmk").Statement;
            const events = forService(statements, "events.amazonaws.com");
            expect(events).to.have.length(1);
            expect(list(events[0].Action)).to.have.members(["kms:Decrypt", "kms:GenerateDataKey"]);
            expect(events[0].Condition).to.equal(undefined);
            expect(forService(statements, "cloudwatch.amazonaws.com")).to.have.length(1);
            const sids = statements.map((s) => s.Sid);
            expect(new Set(sids).size).to.equal(sids.length);
        });
    });

    describe("resource tree", () => {
        it("parents its topic and subscriptions under the component", () => {
            const component = one(plan, T.alertTopic, "alerts");
            const children = childrenOf(plan, component);
            expect(children.map((c) => `${c.type} ${c.name}`)).to.have.members([
                `${T.encryptedTopic} alerts-topic`,
                `${T.subscription} alerts-email-${addressId("oncall@example.com")}`,
                `${T.subscription} alerts-email-${addressId("team@example.com")}`,
            ]);
        });

        it("nests key, topic and policy under the encrypted topic, and the CMK under the key", () => {
            const encrypted = one(plan, T.encryptedTopic, "alerts-topic");
            const key = one(plan, T.encryptionKey, "alerts-topic-key");
            expect(encrypted.parent).to.equal(one(plan, T.alertTopic, "alerts").urn);
            expect(key.parent).to.equal(encrypted.urn);
            expect(topicOf(plan).parent).to.equal(encrypted.urn);
            expect(topicPolicyOf(plan).parent).to.equal(encrypted.urn);
            expect(keyOf(plan).parent).to.equal(key.urn);
        });

        it("names every descendant `alerts-<role>` and leaves nothing at the stack root", () => {
            const component = one(plan, T.alertTopic, "alerts");
            const descendants = descendantsOf(plan, component);
            expect(descendants.map((d) => d.name)).to.have.members([
                "alerts-topic",
                "alerts-topic-key",
                "alerts-topic-key-cmk",
                "alerts-topic-key-policy",
                "alerts-topic-sns",
                "alerts-topic-policy",
                `alerts-email-${addressId("oncall@example.com")}`,
                `alerts-email-${addressId("team@example.com")}`,
            ]);
            // Everything but the stack and the component itself sits somewhere below the component.
            expect(plan.resources.length).to.equal(descendants.length + 2);
        });
    });
});
