import { expect } from "chai";
import { createHash } from "crypto";
import {
    ACCESS_LOG_FORMAT,
    ApiToQueue,
    ApiToQueueArgs,
    BAD_REQUEST_BODY_TEMPLATE,
    MESSAGE_ID_TEMPLATE,
    SERVER_ERROR_TEMPLATE,
} from "../../../components/api/api-to-queue";
import { QueueWithDlq, QueueWithDlqArgs } from "../../../components/messaging/queue-with-dlq";
import { Plan, PlannedResource } from "../../../local/plan";
import { ALERT_TOPIC_ARN, ofType, one, policyOf, record, generated } from "../../support/pulumi-harness";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const SCHEMA = {
    $schema: "http://json-schema.org/draft-04/schema#",
    type: "object",
    required: ["id", "amount"],
    properties: { id: { type: "string", maxLength: 64 }, amount: { type: "number", minimum: 0 } },
    additionalProperties: false,
};

const T = {
    api: "aws:apigateway/restApi:RestApi",
    resource: "aws:apigateway/resource:Resource",
    method: "aws:apigateway/method:Method",
    integration: "aws:apigateway/integration:Integration",
    methodResponse: "aws:apigateway/methodResponse:MethodResponse",
    integrationResponse: "aws:apigateway/integrationResponse:IntegrationResponse",
    gatewayResponse: "aws:apigateway/response:Response",
    validator: "aws:apigateway/requestValidator:RequestValidator",
    model: "aws:apigateway/model:Model",
    deployment: "aws:apigateway/deployment:Deployment",
    stage: "aws:apigateway/stage:Stage",
    methodSettings: "aws:apigateway/methodSettings:MethodSettings",
    usagePlan: "aws:apigateway/usagePlan:UsagePlan",
    apiKey: "aws:apigateway/apiKey:ApiKey",
    usagePlanKey: "aws:apigateway/usagePlanKey:UsagePlanKey",
    role: "aws:iam/role:Role",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
    logGroup: "aws:cloudwatch/logGroup:LogGroup",
};

interface Built {
    plan: Plan;
    endpoint?: string;
}

function build(args: Partial<ApiToQueueArgs> = {}, queueArgs: Partial<QueueWithDlqArgs> = {}): Promise<Built> {
    const built: Built = { plan: undefined as unknown as Plan };
    return record(() => {
        const queue = new QueueWithDlq("ingest", { alertTopicArn: ALERT_TOPIC_ARN, ...queueArgs });
        const api = new ApiToQueue("intake", { queue, alertTopicArn: ALERT_TOPIC_ARN, requestSchema: SCHEMA, ...args });
        api.endpoint.apply((e) => (built.endpoint = e));
    }).then((plan) => ({ ...built, plan }));
}

/**
 * A resource's id as the mock provider gives it (the plan records outputs, not ids): a REST API's
 * is the last segment of its ARN, a role's is its name, any other API Gateway resource's is "<name>-id".
 */
function idOf(r: PlannedResource): string {
    if (r.type === T.api) return (r.outputs.arn as string).split("/").pop() as string;
    if (r.type === T.role) return r.outputs.name as string;
    return `${r.name}-id`;
}

const dependsOn = (plan: Plan, r: PlannedResource, type: string, name: string) => r.dependencies.includes(one(plan, type, name).urn);

describe("ApiToQueue", () => {
    let plan: Plan;
    let endpoint: string | undefined;
    before(async () => {
        ({ plan, endpoint } = await build({ throttle: { rateLimit: 20, burstLimit: 40 }, quota: { limit: 5000, period: "WEEK" }, logRetentionDays: 14 }));
    });

    it("is a regional REST API with POST /messages, under the component", () => {
        expect(one(plan, T.api, "intake-api").inputs.endpointConfiguration).to.deep.equal({ types: "REGIONAL" });
        const resource = one(plan, T.resource, "intake-messages");
        expect(resource.inputs).to.include({ pathPart: "messages", parentId: one(plan, T.api, "intake-api").outputs.rootResourceId });
        const component = one(plan, "event-pipelines:index:ApiToQueue", "intake");
        for (const r of plan.resources.filter((r) => r.name.startsWith("intake-") && r.custom)) {
            expect(r.parent, r.name).to.equal(component.urn);
        }
        expect(ofType(plan, "aws:lambda/function:Function")).to.have.length(0);
    });

    it("requires an API key and validates the body against the schema model", () => {
        const method = one(plan, T.method, "intake-post");
        const validator = one(plan, T.validator, "intake-validator");
        const model = one(plan, T.model, "intake-model");
        expect(method.inputs).to.include({ httpMethod: "POST", authorization: "NONE", apiKeyRequired: true, requestValidatorId: idOf(validator) });
        expect(method.inputs.requestModels).to.deep.equal({ "application/json": model.outputs.name });
        expect(validator.inputs.validateRequestBody).to.equal(true);
        expect(model.inputs.contentType).to.equal("application/json");
        expect(JSON.parse(model.inputs.schema as string)).to.deep.equal(SCHEMA);
    });

    it("integrates with SQS SendMessage directly, with the integration role", () => {
        const integration = one(plan, T.integration, "intake-integration");
        const role = one(plan, T.role, "intake-role");
        expect(integration.inputs).to.include({
            type: "AWS",
            httpMethod: "POST",
            integrationHttpMethod: "POST",
            uri: `arn:aws:apigateway:${REGION}:sqs:path/${ACCOUNT}/${generated("aws:sqs/queue:Queue", "ingest-queue")}`,
            credentials: role.outputs.arn,
            passthroughBehavior: "NEVER",
            resourceId: idOf(one(plan, T.resource, "intake-messages")),
        });
        expect(integration.inputs.requestParameters).to.deep.equal({
            "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'",
        });
        expect(integration.inputs.requestTemplates).to.deep.equal({
            "application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.json('$'))",
        });
    });

    it("lets API Gateway assume the role (no source condition: API Gateway sets none), which may only send to the queue", () => {
        const role = one(plan, T.role, "intake-role");
        expect(policyOf(role, "assumeRolePolicy")).to.deep.equal({
            Version: "2012-10-17",
            Statement: [
                {
                    Effect: "Allow",
                    Principal: { Service: "apigateway.amazonaws.com" },
                    Action: "sts:AssumeRole",
                },
            ],
        });
        const policy = one(plan, T.rolePolicy, "intake-role-policy");
        expect(policy.inputs.role).to.equal(idOf(role));
        expect(policyOf(policy)).to.deep.equal({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [`arn:aws:sqs:${REGION}:${ACCOUNT}:${generated("aws:sqs/queue:Queue", "ingest-queue")}`] }],
        });
    });

    it("grants the queue's KMS key to the role when the queue uses one", async () => {
        const { plan: kms } = await build({}, { encryption: "kms" });
        const key = one(kms, "aws:kms/key:Key", "ingest-key-cmk");
        expect(policyOf(one(kms, T.rolePolicy, "intake-role-policy"))).to.deep.equal({
            Version: "2012-10-17",
            Statement: [
                { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [`arn:aws:sqs:${REGION}:${ACCOUNT}:${generated("aws:sqs/queue:Queue", "ingest-queue")}`] },
                { Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: [key.outputs.arn] },
            ],
        });
    });

    it("returns the MessageId with 200 and maps SQS errors to a JSON 500", () => {
        for (const status of ["200", "500"]) {
            expect(one(plan, T.methodResponse, `intake-${status}`).inputs.statusCode).to.equal(status);
        }
        const ok = one(plan, T.integrationResponse, "intake-200-integration");
        expect(ok.inputs.statusCode).to.equal("200");
        expect(ok.inputs.selectionPattern).to.equal(undefined);
        expect(ok.inputs.responseTemplates).to.deep.equal({
            "application/json": `{"messageId": "$input.path('$.SendMessageResponse.SendMessageResult.MessageId')"}`,
        });
        const failed = one(plan, T.integrationResponse, "intake-500-integration");
        expect(failed.inputs.statusCode).to.equal("500");
        const pattern = new RegExp(`^(?:${failed.inputs.selectionPattern as string})$`);
        for (const s of ["500", "503", "400", "403"]) expect(pattern.test(s), s).to.equal(true);
        for (const s of ["200", "302"]) expect(pattern.test(s), s).to.equal(false);
        expect(failed.inputs.responseTemplates).to.deep.equal({ "application/json": SERVER_ERROR_TEMPLATE });
        expect(JSON.parse(SERVER_ERROR_TEMPLATE.replace("$context.requestId", "r-1"))).to.have.property("message");
        expect(JSON.parse(MESSAGE_ID_TEMPLATE.replace(/\$input\.path\('[^']+'\)/, "m-1"))).to.deep.equal({ messageId: "m-1" });
    });

    it("answers an invalid body with 400 and the validator's message", () => {
        const [gw] = ofType(plan, T.gatewayResponse);
        expect(ofType(plan, T.gatewayResponse)).to.have.length(1);
        expect(gw.inputs).to.include({ responseType: "BAD_REQUEST_BODY", statusCode: "400", restApiId: idOf(one(plan, T.api, "intake-api")) });
        const template = (gw.inputs.responseTemplates as Record<string, string>)["application/json"];
        expect(template).to.equal(BAD_REQUEST_BODY_TEMPLATE);
        expect(template).to.contain("$context.error.validationErrorString");
        expect(JSON.parse(template)).to.be.an("object");
    });

    it("redeploys when the definition changes, after the method and integration exist", async () => {
        const deployment = one(plan, T.deployment, "intake-deployment");
        const hash = (deployment.inputs.triggers as Record<string, string>).redeployment;
        expect(hash).to.match(/^[0-9a-f]{40}$/);
        for (const [type, name] of [
            [T.method, "intake-post"],
            [T.integration, "intake-integration"],
            [T.integrationResponse, "intake-200-integration"],
            [T.integrationResponse, "intake-500-integration"],
            [T.gatewayResponse, "intake-bad-request-body"],
        ]) {
            expect(dependsOn(plan, deployment, type, name), name).to.equal(true);
        }
        const { plan: other } = await build({ requestSchema: { ...SCHEMA, required: ["id"] } });
        const otherHash = (one(other, T.deployment, "intake-deployment").inputs.triggers as Record<string, string>).redeployment;
        expect(otherHash).to.not.equal(hash);
        const { plan: same } = await build();
        expect((one(same, T.deployment, "intake-deployment").inputs.triggers as Record<string, string>).redeployment).to.equal(hash);
        expect(hash).to.not.equal(createHash("sha1").update("").digest("hex"));
    });

    it("traces with X-Ray and writes JSON access logs to a log group with retention", () => {
        const stage = one(plan, T.stage, "intake-stage");
        const logGroup = one(plan, T.logGroup, "intake-access-logs");
        expect(stage.inputs).to.include({ stageName: "v1", xrayTracingEnabled: true, deployment: idOf(one(plan, T.deployment, "intake-deployment")) });
        expect(logGroup.inputs.retentionInDays).to.equal(14);
        const settings = stage.inputs.accessLogSettings as { destinationArn: string; format: string };
        expect(settings.destinationArn).to.equal(logGroup.outputs.arn);
        expect(settings.format).to.equal(ACCESS_LOG_FORMAT);
        const format = JSON.parse(settings.format);
        expect(format).to.include({
            requestId: "$context.requestId",
            ip: "$context.identity.sourceIp",
            httpMethod: "$context.httpMethod",
            resourcePath: "$context.resourcePath",
            status: "$context.status",
            responseLength: "$context.responseLength",
            errorMessage: "$context.error.message",
        });
    });

    it("enables metrics, error logging and the throttle on every method of the stage", () => {
        const ms = one(plan, T.methodSettings, "intake-method-settings");
        expect(ms.inputs).to.include({ methodPath: "*/*", stageName: "v1" });
        expect(ms.inputs.settings).to.deep.equal({
            metricsEnabled: true,
            loggingLevel: "ERROR",
            dataTraceEnabled: false,
            throttlingRateLimit: 20,
            throttlingBurstLimit: 40,
        });
    });

    it("binds a usage plan with the throttle and quota, and the API key, to the stage", () => {
        const up = one(plan, T.usagePlan, "intake-usage-plan");
        expect(up.inputs.apiStages).to.deep.equal([{ apiId: idOf(one(plan, T.api, "intake-api")), stage: "v1" }]);
        expect(up.inputs.throttleSettings).to.deep.equal({ rateLimit: 20, burstLimit: 40 });
        expect(up.inputs.quotaSettings).to.deep.equal({ limit: 5000, period: "WEEK" });
        const key = one(plan, T.apiKey, "intake-api-key");
        expect(key.inputs.enabled).to.equal(true);
        expect(one(plan, T.usagePlanKey, "intake-usage-plan-key").inputs).to.deep.equal({
            keyId: idOf(key),
            keyType: "API_KEY",
            usagePlanId: idOf(up),
        });
    });

    it("uses the documented defaults", async () => {
        const { plan: d } = await build();
        const up = one(d, T.usagePlan, "intake-usage-plan");
        expect(up.inputs.throttleSettings).to.deep.equal({ rateLimit: 50, burstLimit: 100 });
        expect(up.inputs.quotaSettings).to.deep.equal({ limit: 100000, period: "DAY" });
        expect(one(d, T.logGroup, "intake-access-logs").inputs.retentionInDays).to.equal(30);
        expect(one(d, T.stage, "intake-stage").inputs.stageName).to.equal("v1");
        const { plan: named, endpoint: prodEndpoint } = await build({ stageName: "prod" });
        expect(one(named, T.stage, "intake-stage").inputs.stageName).to.equal("prod");
        expect(prodEndpoint).to.match(/\/prod\/messages$/);
    });

    it("alarms on any 5XX and on a 4XX rate of 5 %, to the alert topic", () => {
        const apiName = one(plan, T.api, "intake-api").outputs.name;
        const base = {
            namespace: "AWS/ApiGateway",
            period: 300,
            evaluationPeriods: 1,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
            treatMissingData: "notBreaching",
        };
        const errors = one(plan, T.alarm, "intake-5xx-errors-alarm");
        expect(errors.inputs).to.include({ ...base, metricName: "5XXError", statistic: "Sum", threshold: 1 });
        const rate = one(plan, T.alarm, "intake-4xx-rate-alarm");
        expect(rate.inputs).to.include({ ...base, metricName: "4XXError", statistic: "Average", threshold: 0.05 });
        for (const alarm of [errors, rate]) {
            expect(alarm.inputs.dimensions, alarm.name).to.deep.equal({ ApiName: apiName, Stage: "v1" });
            expect(alarm.inputs.alarmActions, alarm.name).to.deep.equal([ALERT_TOPIC_ARN]);
            expect(alarm.inputs.okActions, alarm.name).to.deep.equal([ALERT_TOPIC_ARN]);
        }
    });

    it("exposes the invoke URL of POST /messages", () => {
        const id = idOf(one(plan, T.api, "intake-api"));
        expect(endpoint).to.equal(`https://${id}.execute-api.${REGION}.amazonaws.com/v1/messages`);
    });

    it("takes another path, in the resource, the endpoint and the redeploy hash", async () => {
        const orders = await build({ throttle: { rateLimit: 20, burstLimit: 40 }, quota: { limit: 5000, period: "WEEK" }, logRetentionDays: 14, path: "orders" });
        expect(one(orders.plan, T.resource, "intake-messages").inputs.pathPart).to.equal("orders");
        expect(orders.endpoint).to.match(/\/v1\/orders$/);
        const hash = (p: Plan) => (one(p, T.deployment, "intake-deployment").inputs.triggers as { redeployment: string }).redeployment;
        expect(hash(orders.plan)).to.not.equal(hash(plan));
    });

    it("sends to a queue it did not build, from its ARN, name and key", async () => {
        const queue = { arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:legacy-intake`, name: "legacy-intake", kmsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/legacy` };
        const legacy = await record(() => void new ApiToQueue("legacy", { queue, alertTopicArn: ALERT_TOPIC_ARN, requestSchema: SCHEMA }));
        expect(one(legacy, T.integration, "legacy-integration").inputs.uri).to.equal(`arn:aws:apigateway:${REGION}:sqs:path/${ACCOUNT}/legacy-intake`);
        expect(policyOf(one(legacy, T.rolePolicy, "legacy-role-policy")).Statement).to.deep.equal([
            { Effect: "Allow", Action: ["sqs:SendMessage"], Resource: [queue.arn] },
            { Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: [queue.kmsKeyArn] },
        ]);
    });

    describe("refuses", () => {
        const cases: [string, Partial<ApiToQueueArgs>, RegExp][] = [
            ["a fractional rate", { throttle: { rateLimit: 2.5 } }, /throttle\.rateLimit = 2\.5: expected an integer from 1 to 10000/],
            ["a zero rate", { throttle: { rateLimit: 0 } }, /throttle\.rateLimit = 0/],
            ["a burst above the account's", { throttle: { burstLimit: 5001 } }, /throttle\.burstLimit = 5001: expected an integer from 1 to 5000/],
            ["a negative quota", { quota: { limit: -1 } }, /quota\.limit = -1/],
            ["an unknown quota period", { quota: { period: "YEAR" as "DAY" } }, /quota\.period = "YEAR": expected one of DAY, WEEK, MONTH/],
            ["a retention CloudWatch refuses", { logRetentionDays: 10 }, /logRetentionDays = 10/],
            ["a stage name with a slash", { stageName: "v1/beta" }, /stageName "v1\/beta"/],
            ["a path of two segments", { path: "orders/new" }, /path "orders\/new": expected one path segment/],
            ["a schema of another draft", { requestSchema: { $schema: "https://json-schema.org/draft/2020-12/schema" } }, /draft 4/],
        ];
        for (const [what, args, message] of cases) {
            it(what, () => {
                expect(
                    () => new ApiToQueue("bad", { queue: undefined as unknown as QueueWithDlq, alertTopicArn: ALERT_TOPIC_ARN, requestSchema: SCHEMA, ...args }),
                ).to.throw(message);
            });
        }
    });
});
