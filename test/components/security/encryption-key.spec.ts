import { expect } from "chai";
import * as aws from "@pulumi/aws";
import { EncryptionKey, EncryptionKeyArgs } from "../../../components/security/encryption-key";
import { KMS_ADMIN_ACTIONS, KMS_USE_ACTIONS, PolicyStatement, keyPolicy } from "../../../components/security/policy-documents";
import { Plan } from "../../../local/plan";
import { ofType, one, record, keyPolicyOf } from "../../support/pulumi-harness";

const ACCOUNT = "123456789012";
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const ALARMS = `arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:*`;
const TOPIC_A = `arn:aws:sns:us-east-1:${ACCOUNT}:orders`;
const TOPIC_B = `arn:aws:sns:us-east-1:${ACCOUNT}:refunds`;
const KEY = "aws:kms/key:Key";

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const serviceStatements = (statements: PolicyStatement[]) =>
    statements.filter((s) => typeof s.Principal === "object" && s.Principal.Service !== undefined);

describe("keyPolicy (pure)", () => {
    it("lets the account root administer the key with exact actions, never kms:*", () => {
        const [admin] = keyPolicy(ACCOUNT, []).Statement;
        expect(admin).to.deep.equal({ Sid: "AccountAdministersKey", Effect: "Allow", Principal: { AWS: ROOT }, Action: KMS_ADMIN_ACTIONS, Resource: "*" });
        for (const action of list(admin.Action)) expect(action).to.match(/^kms:[A-Za-z]+$/);
        // Administration, not use: the admin statement cannot decrypt.
        expect(list(admin.Action)).to.not.include("kms:Decrypt");
        expect(list(admin.Action)).to.include.members(["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:EnableKeyRotation"]);
    });

    it("lets the account delegate cryptographic use through IAM", () => {
        const [, use] = keyPolicy(ACCOUNT, []).Statement;
        expect(use).to.deep.equal({ Sid: "AccountDelegatesUseThroughIam", Effect: "Allow", Principal: { AWS: ROOT }, Action: KMS_USE_ACTIONS, Resource: "*" });
        for (const action of list(use.Action)) expect(action).to.not.contain("*");
    });

    it("holds only the two account statements when no service is allowed", () => {
        const doc = keyPolicy(ACCOUNT, []);
        expect(doc.Version).to.equal("2012-10-17");
        expect(doc.Statement.map((s) => s.Sid)).to.deep.equal(["AccountAdministersKey", "AccountDelegatesUseThroughIam"]);
    });

    it("lets a service decrypt and generate data keys only for its source, in this account", () => {
        const doc = keyPolicy(ACCOUNT, [
            { sid: "Alarms", service: "cloudwatch.amazonaws.com", sourceArn: ALARMS },
            { sid: "Orders", service: "sns.amazonaws.com", sourceArn: TOPIC_A },
        ]);
        const [alarms, orders] = serviceStatements(doc.Statement);
        expect(alarms).to.deep.equal({
            Sid: "Alarms",
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: ["kms:Decrypt", "kms:GenerateDataKey"],
            Resource: "*",
            // A pattern is matched with ArnLike...
            Condition: { ArnLike: { "aws:SourceArn": ALARMS }, StringEquals: { "aws:SourceAccount": ACCOUNT } },
        });
        // ...an exact ARN with ArnEquals.
        expect(orders.Condition).to.deep.equal({ ArnEquals: { "aws:SourceArn": TOPIC_A }, StringEquals: { "aws:SourceAccount": ACCOUNT } });
        expect(orders.Principal).to.deep.equal({ Service: "sns.amazonaws.com" });
    });

    it("keeps a service's own accountId when given one", () => {
        const [s] = serviceStatements(keyPolicy(ACCOUNT, [{ sid: "Other", service: "sns.amazonaws.com", sourceArn: TOPIC_A, accountId: "210987654321" }]).Statement);
        expect(s.Condition!.StringEquals).to.deep.equal({ "aws:SourceAccount": "210987654321" });
    });

    it("never allows anyone (Principal *)", () => {
        const doc = keyPolicy(ACCOUNT, [{ sid: "A", service: "sns.amazonaws.com", sourceArn: TOPIC_A }]);
        for (const s of doc.Statement) expect(s.Principal, s.Sid).to.not.equal("*");
    });
});

describe("EncryptionKey", () => {
    const build = (args: Partial<EncryptionKeyArgs> = {}, grant?: (k: EncryptionKey) => void) =>
        record(() => {
            const k = new EncryptionKey("orders-key", { description: "SNS topic orders", ...args });
            grant?.(k);
        });

    describe("defaults", () => {
        let plan: Plan;
        before(async () => {
            plan = await build();
        });

        it("creates one rotating key, with a 30-day deletion window, parented under the component", () => {
            const key = one(plan, KEY, "orders-key-cmk");
            expect(ofType(plan, KEY)).to.have.length(1);
            expect(key.inputs.enableKeyRotation).to.equal(true);
            expect(key.inputs.deletionWindowInDays).to.equal(30);
            expect(key.inputs.description).to.equal("SNS topic orders");
            expect(key.parent).to.equal(one(plan, "event-pipelines:index:EncryptionKey", "orders-key").urn);
            expect(key.protect).to.equal(false);
        });

        it("holds the account statements for the mock account and no service", () => {
            const doc = keyPolicyOf(plan, "orders-key-cmk");
            expect(doc).to.deep.equal(keyPolicy(ACCOUNT, []));
        });
    });

    it("takes the deletion window and protect from the args", async () => {
        const plan = await build({ deletionWindowInDays: 7, protect: true });
        const key = one(plan, KEY, "orders-key-cmk");
        expect(key.inputs.deletionWindowInDays).to.equal(7);
        expect(key.protect).to.equal(true);
    });

    it("gives unique Sids when the same service is allowed for two sources", async () => {
        const plan = await build({}, (k) => {
            k.allowService("sns.amazonaws.com", TOPIC_A);
            k.allowService("sns.amazonaws.com", TOPIC_B);
        });
        const statements = keyPolicyOf(plan, "orders-key-cmk").Statement;
        const sns = serviceStatements(statements);
        expect(sns).to.have.length(2);
        expect(sns.map((s) => s.Condition!.ArnEquals["aws:SourceArn"])).to.deep.equal([TOPIC_A, TOPIC_B]);
        for (const s of sns) {
            expect(s.Principal).to.deep.equal({ Service: "sns.amazonaws.com" });
            expect(list(s.Action)).to.have.members(["kms:Decrypt", "kms:GenerateDataKey"]);
            expect(s.Condition!.StringEquals).to.deep.equal({ "aws:SourceAccount": ACCOUNT });
        }
        const sids = statements.map((s) => s.Sid);
        expect(sids.every((sid) => typeof sid === "string" && sid.length > 0)).to.equal(true);
        expect(new Set(sids).size).to.equal(sids.length);
    });

    it("resolves an Output source ARN before writing the policy", async () => {
        const plan = await record(() => {
            const alarm = new aws.cloudwatch.MetricAlarm("orders-alarm", {
                comparisonOperator: "GreaterThanThreshold",
                evaluationPeriods: 1,
                threshold: 1,
            });
            const k = new EncryptionKey("orders-key", { description: "d" });
            k.allowService("cloudwatch.amazonaws.com", alarm.arn);
        });
        const [cw] = serviceStatements(keyPolicyOf(plan, "orders-key-cmk").Statement);
        expect(cw.Condition!.ArnEquals).to.deep.equal({ "aws:SourceArn": one(plan, "aws:cloudwatch/metricAlarm:MetricAlarm", "orders-alarm").outputs.arn });
        expect(cw.Condition!.ArnEquals["aws:SourceArn"]).to.match(new RegExp(`^arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:orders-alarm-[0-9a-f]{7}$`));
    });

    describe("when the grant comes", () => {
        it("keeps the key apart from its policy: the key waits for no grant, the KeyPolicy names it", async () => {
            const plan = await record(() => {
                new EncryptionKey("orders-key", { description: "d" });
            });
            expect(one(plan, KEY, "orders-key-cmk").inputs.policy).to.equal(undefined);
            const policy = one(plan, "aws:kms/keyPolicy:KeyPolicy", "orders-key-policy");
            expect(policy.inputs.keyId).to.equal(one(plan, KEY, "orders-key-cmk").outputs.id);
        });

        it("includes a grant made after the program awaited a timer, or the key's own ARN", async () => {
            const plan = await record(async () => {
                const k = new EncryptionKey("orders-key", { description: "d" });
                await new Promise((resolve) => setTimeout(resolve, 20));
                k.allowService("sns.amazonaws.com", TOPIC_A);
                await new Promise<void>((resolve) => k.arn.apply(() => resolve()));
                k.allowService("sqs.amazonaws.com", TOPIC_A);
            });
            const services = serviceStatements(keyPolicyOf(plan, "orders-key-cmk").Statement).map((s) => (s.Principal as { Service: string }).Service);
            expect(services).to.deep.equal(["sns.amazonaws.com", "sqs.amazonaws.com"]);
        });

        it("refuses a grant made once the program returned, naming the key; the refused grant is in no policy", async () => {
            let late: unknown;
            let detached!: Promise<void>;
            const plan = await record(() => {
                const k = new EncryptionKey("orders-key", { description: "d" });
                detached = new Promise<void>((resolve) =>
                    setTimeout(() => {
                        try {
                            k.allowService("sns.amazonaws.com", TOPIC_A);
                        } catch (e) {
                            late = e;
                        }
                        resolve();
                    }, 20),
                );
            });
            await detached;
            expect((late as Error).message).to.match(/^EncryptionKey "orders-key": grant refused, its policy was already built \(the program returned\)/);
            expect(serviceStatements(keyPolicyOf(plan, "orders-key-cmk").Statement)).to.have.length(0);
        });
    });
});
