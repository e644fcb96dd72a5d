import { expect } from "chai";
import { ApiGatewayAccount, apiGatewayLoggingGrants } from "../../../components/api/api-gateway-account";
import { ApiToQueue } from "../../../components/api/api-to-queue";
import { QueueWithDlq } from "../../../components/messaging/queue-with-dlq";
import { Plan } from "../../../local/plan";
import { ALERT_TOPIC_ARN, one, policyOf, record } from "../../support/pulumi-harness";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const T = {
    role: "aws:iam/role:Role",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    account: "aws:apigateway/account:Account",
    stage: "aws:apigateway/stage:Stage",
    methodSettings: "aws:apigateway/methodSettings:MethodSettings",
};

describe("ApiGatewayAccount", () => {
    let plan: Plan;
    before(async () => {
        plan = await record(() => {
            const logging = new ApiGatewayAccount("apigw");
            const queue = new QueueWithDlq("ingest", { alertTopicArn: ALERT_TOPIC_ARN });
            new ApiToQueue("intake", { queue, alertTopicArn: ALERT_TOPIC_ARN, requestSchema: { type: "object" }, accountLogging: logging });
        });
    });

    it("sets the region's CloudWatch role for API Gateway, under the component's type token", () => {
        const account = one(plan, T.account, "apigw-account");
        expect(account.inputs.cloudwatchRoleArn).to.equal(one(plan, T.role, "apigw-role").outputs.arn);
        expect(one(plan, "event-pipelines:index:ApiGatewayAccount", "apigw").custom).to.equal(false);
    });

    it("lets API Gateway assume the role, without a source condition (API Gateway sets none when it assumes it)", () => {
        expect(policyOf(one(plan, T.role, "apigw-role"), "assumeRolePolicy")).to.deep.equal({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" }],
        });
    });

    it("grants the managed policy's seven log actions on this account's log groups in this region, not on *", () => {
        const groups = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:*`;
        expect(policyOf(one(plan, T.rolePolicy, "apigw-role-policy"))).to.deep.equal({
            Version: "2012-10-17",
            Statement: [
                {
                    Effect: "Allow",
                    Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:FilterLogEvents"],
                    Resource: [groups],
                },
                { Effect: "Allow", Action: ["logs:GetLogEvents", "logs:PutLogEvents"], Resource: [`${groups}:log-stream:*`] },
            ],
        });
    });

    it("sets the account only once the role's policy exists (API Gateway checks the role then)", () => {
        const account = one(plan, T.account, "apigw-account");
        expect(account.dependencies).to.include(one(plan, T.rolePolicy, "apigw-role-policy").urn);
    });

    it("makes an API's stage and method settings wait for it, since logging fails before the role is set", () => {
        const account = one(plan, T.account, "apigw-account");
        for (const r of [one(plan, T.stage, "intake-stage"), one(plan, T.methodSettings, "intake-method-settings")]) {
            // dependsOn a component is recorded as a dependency on each of its children.
            expect(r.dependencies, r.name).to.include(account.urn);
        }
    });

    it("builds the grants for any partition", () => {
        const [groups, streams] = apiGatewayLoggingGrants("aws-cn", "cn-north-1", "111122223333");
        expect(groups.resources).to.deep.equal(["arn:aws-cn:logs:cn-north-1:111122223333:log-group:*"]);
        expect(streams.resources).to.deep.equal(["arn:aws-cn:logs:cn-north-1:111122223333:log-group:*:log-stream:*"]);
    });

    it("leaves an API without it to an account role set elsewhere (no dependency)", async () => {
        const alone = await record(() => {
            const queue = new QueueWithDlq("ingest", { alertTopicArn: ALERT_TOPIC_ARN });
            new ApiToQueue("intake", { queue, alertTopicArn: ALERT_TOPIC_ARN, requestSchema: { type: "object" } });
        });
        expect(alone.resources.filter((r) => r.type === T.account)).to.have.length(0);
        expect(one(alone, T.stage, "intake-stage").dependencies.some((d) => d.includes("ApiGatewayAccount"))).to.equal(false);
    });
});
