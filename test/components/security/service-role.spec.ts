import { expect } from "chai";
import { ServiceRole, serviceTrustPolicy } from "../../../components/security/service-role";
import { one, policyOf, record } from "../../support/pulumi-harness";

describe("ServiceRole", () => {
    it("is trusted by its services for this account only, and for the given sources", () => {
        expect(serviceTrustPolicy(["glue.amazonaws.com"], "123456789012").Statement).to.deep.equal([
            { Effect: "Allow", Principal: { Service: "glue.amazonaws.com" }, Action: "sts:AssumeRole", Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } } },
        ]);
        const two = serviceTrustPolicy(["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"], "123456789012", ["arn:b", "arn:a"]).Statement[0];
        expect(two.Principal).to.deep.equal({ Service: ["redshift-serverless.amazonaws.com", "redshift.amazonaws.com"] });
        expect(two.Condition).to.deep.equal({ StringEquals: { "aws:SourceAccount": "123456789012" }, ArnEquals: { "aws:SourceArn": ["arn:a", "arn:b"] } });
    });

    it("holds exactly its grants in one inline policy, given at once or later through allow()", async () => {
        const plan = await record(() => {
            new ServiceRole("now", { services: ["glue.amazonaws.com"], grants: [{ actions: ["s3:GetObject"], resources: ["arn:aws:s3:::b/raw/*"] }] });
            const later = new ServiceRole("later", { services: ["states.amazonaws.com"] });
            later.allow([{ actions: ["glue:StartJobRun"], resources: ["arn:aws:glue:us-east-1:123456789012:job/j"], condition: { StringEquals: { "aws:RequestTag/x": "y" } } }]);
        });
        expect(policyOf(one(plan, "aws:iam/rolePolicy:RolePolicy", "now-policy")).Statement).to.deep.equal([{ Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::b/raw/*"] }]);
        expect(policyOf(one(plan, "aws:iam/rolePolicy:RolePolicy", "later-policy")).Statement).to.deep.equal([
            { Effect: "Allow", Action: ["glue:StartJobRun"], Resource: ["arn:aws:glue:us-east-1:123456789012:job/j"], Condition: { StringEquals: { "aws:RequestTag/x": "y" } } },
        ]);
        const trust = JSON.parse(one(plan, "aws:iam/role:Role", "later-role").inputs.assumeRolePolicy as string);
        expect(trust.Statement[0].Principal).to.deep.equal({ Service: "states.amazonaws.com" });
    });

    it("refuses a wildcard grant and a second allow(), in one line naming the role", async () => {
        let thrown: string[] = [];
        await record(() => {
            const role = new ServiceRole("r", { services: ["glue.amazonaws.com"] });
            for (const attempt of [() => role.allow([{ actions: ["s3:*"], resources: ["arn:aws:s3:::b/*"] }]), () => role.policy]) {
                try {
                    attempt();
                } catch (e) {
                    thrown.push((e as Error).message);
                }
            }
            role.allow([{ actions: ["s3:GetObject"], resources: ["arn:aws:s3:::b/*"] }]);
            try {
                role.allow([{ actions: ["s3:GetObject"], resources: ["arn:aws:s3:::b/*"] }]);
            } catch (e) {
                thrown.push((e as Error).message);
            }
        });
        expect(thrown).to.deep.equal([
            'ServiceRole "r": grant 1: action "s3:*" must be one exact action such as "sqs:SendMessage" (no wildcards)',
            'ServiceRole "r": no grants yet; call allow() first',
            'ServiceRole "r": allow() was already called; pass every grant at once',
        ]);
    });
});
