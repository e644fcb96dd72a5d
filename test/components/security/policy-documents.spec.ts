import { expect } from "chai";
import { functionBaseGrants, grantStatements, keyPolicy, serviceStatement, tlsOnlyStatement } from "../../../components/security/policy-documents";

describe("policy documents", () => {
    describe("grantStatements", () => {
        it("turns grants into sorted Allow statements on exact resources", () => {
            expect(grantStatements([{ actions: ["sqs:SendMessage", "sqs:GetQueueUrl"], resources: ["arn:b", "arn:a"] }])).to.deep.equal([
                { Effect: "Allow", Action: ["sqs:GetQueueUrl", "sqs:SendMessage"], Resource: ["arn:a", "arn:b"] },
            ]);
        });

        const refusals: [string[], string[], RegExp][] = [
            [["sqs:*"], ["arn:q"], /action "sqs:\*" must be one exact action/],
            [["sqs:Send*"], ["arn:q"], /action "sqs:Send\*" must be one exact action/],
            [["*"], ["arn:q"], /action "\*" must be one exact action/],
            [["s3:GetObject"], ["*"], /resource "\*" is only allowed for actions without resource types/],
            [[], ["arn:q"], /expected at least one action/],
            [["sqs:SendMessage"], [], /expected at least one resource ARN/],
        ];
        for (const [actions, resources, message] of refusals) {
            it(`refuses ${JSON.stringify({ actions, resources })}`, () => {
                expect(() => grantStatements([{ actions, resources }])).to.throw(message);
            });
        }

        it('allows "*" for X-Ray, which has no resource types', () => {
            expect(() => grantStatements([{ actions: ["xray:PutTraceSegments"], resources: ["*"] }])).to.not.throw();
        });
    });

    it("gives a function its own log group and, with tracing, X-Ray", () => {
        const group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f";
        expect(functionBaseGrants(group, false)).to.deep.equal([{ actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [`${group}:*`] }]);
        expect(functionBaseGrants(group, true)[1]).to.deep.equal({ actions: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources: ["*"] });
    });

    it("denies non-TLS requests on the given resources", () => {
        expect(tlsOnlyStatement("s3", ["arn:aws:s3:::b", "arn:aws:s3:::b/*"])).to.deep.equal({
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
        });
    });

    it("scopes a service by source ARN, with ArnLike only for patterns", () => {
        const exact = serviceStatement({ sid: "S", service: "events.amazonaws.com", actions: ["sqs:SendMessage"], resource: "arn:q", sourceArn: "arn:aws:events:us-east-1:1:rule/r", accountId: "1" });
        expect(exact.Condition).to.deep.equal({ ArnEquals: { "aws:SourceArn": "arn:aws:events:us-east-1:1:rule/r" }, StringEquals: { "aws:SourceAccount": "1" } });
        expect(exact.Action).to.equal("sqs:SendMessage");
        const pattern = serviceStatement({ sid: "S", service: "cloudwatch.amazonaws.com", actions: ["sns:Publish"], resource: "arn:t", sourceArn: "arn:aws:cloudwatch:us-east-1:1:alarm:*" });
        expect(pattern.Condition).to.deep.equal({ ArnLike: { "aws:SourceArn": "arn:aws:cloudwatch:us-east-1:1:alarm:*" } });
    });

    it("lists each service and source once in a key policy, and EventBridge without source conditions", () => {
        const rule = "arn:aws:events:us-east-1:1:rule/a";
        const doc = keyPolicy("1", [
            { service: "sns.amazonaws.com", sourceArn: "arn:t" },
            { service: "sns.amazonaws.com", sourceArn: "arn:t" },
            { service: "events.amazonaws.com", sourceArn: rule },
            { service: "events.amazonaws.com", sourceArn: "arn:aws:events:us-east-1:1:rule/b" },
        ]);
        const services = doc.Statement.slice(2);
        expect(services.map((s) => [s.Sid, (s.Principal as { Service: string }).Service])).to.deep.equal([
            ["AllowServiceUse1", "sns.amazonaws.com"],
            ["AllowServiceUse2", "events.amazonaws.com"],
        ]);
        expect(services[1].Condition).to.equal(undefined);
    });

    it("uses the partition in the account's root ARN", () => {
        expect(keyPolicy("1", [], "aws-us-gov").Statement[0].Principal).to.deep.equal({ AWS: "arn:aws-us-gov:iam::1:root" });
    });

    it("builds a key policy without wildcard actions, the account administering and each service scoped", () => {
        const doc = keyPolicy("111122223333", [{ sid: "Cw", service: "cloudwatch.amazonaws.com", sourceArn: "arn:aws:cloudwatch:us-east-1:111122223333:alarm:*" }]);
        const actions = doc.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
        expect(actions.filter((a) => a.includes("*"))).to.deep.equal([]);
        expect(actions).to.include("kms:PutKeyPolicy"); // without it, KMS refuses the policy (lockout check)
        expect(doc.Statement[0].Principal).to.deep.equal({ AWS: "arn:aws:iam::111122223333:root" });
        expect(doc.Statement[2]).to.deep.equal({
            Sid: "Cw",
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: ["kms:Decrypt", "kms:GenerateDataKey"],
            Resource: "*",
            Condition: { ArnLike: { "aws:SourceArn": "arn:aws:cloudwatch:us-east-1:111122223333:alarm:*" }, StringEquals: { "aws:SourceAccount": "111122223333" } },
        });
    });
});
