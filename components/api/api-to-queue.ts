import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { AlarmOverrides, AlarmSpec, ComponentAlarms, countAlarm } from "../monitoring/alarms";
import { awsContext } from "../shared/aws-context";
import { ALARM_DEFAULTS, LOG_RETENTION_DAYS, API_DEFAULTS, API_LIMITS, API_QUOTA_PERIODS, ApiQuotaPeriod } from "../shared/defaults";
import { Grant, grantStatements, policyDocument } from "../security/policy-documents";
import { NamedQueue } from "../shared/references";
import { InvalidArgument, checkInteger, checkOneOf } from "../shared/validation";
import { autoName, namePrefix } from "../shared/naming";


/** The one resource the API exposes by default, `POST /messages`. */
export const API_PATH = API_DEFAULTS.path;

/** API Gateway (REST) models are JSON schema draft 4. */
const DRAFT_04 = "http://json-schema.org/draft-04/schema#";

export interface ApiToQueueArgs {
    /** The queue every accepted request is sent to, with SQS SendMessage: a QueueWithDlq, or any queue's ARN, name and key. Required. */
    queue: NamedQueue;
    /** ARN of the topic the alarms send ALARM and OK to (an AlertTopic's `arn`). Required. */
    alertTopicArn: pulumi.Input<string>;
    /**
     * The JSON schema (draft 4, the version API Gateway models use) every request body must match;
     * a body that does not gets a 400 with the validation message. Required. The same schema should
     * validate messages in the consumer.
     */
    requestSchema: object;
    /** Stage and usage-plan throttle: `rateLimit` requests per second (1 to 10000, default 50), `burstLimit` (1 to 5000, default 100). */
    throttle?: { rateLimit?: number; burstLimit?: number };
    /** Requests per API key per `period` ("DAY", "WEEK" or "MONTH"; default "DAY"): `limit` default 100000. */
    quota?: { limit?: number; period?: ApiQuotaPeriod };
    /** Retention of the access log group, in days (a value CloudWatch Logs accepts). Default 30. */
    logRetentionDays?: number;
    /** Name of the stage, the first segment of the path. Default "v1". */
    stageName?: string;
    /** The one path segment clients POST to, after the stage (letters, digits, `.`, `_`, `-`). Default "messages". */
    path?: string;
    /**
     * What sets the account's API Gateway CloudWatch Logs role (an ApiGatewayAccount, or its
     * `account`): the stage and its method settings wait for it, since logging cannot be turned on
     * before the role is set. Default none (the role is assumed to be set already).
     */
    accountLogging?: pulumi.Resource;
    /** Changes to its alarms by role, "5xx-errors" and "4xx-rate" (threshold, periodSeconds, evaluationPeriods, datapointsToAlarm). Default: their own. */
    alarms?: AlarmOverrides<"5xx-errors" | "4xx-rate">;
    /**
     * Set Pulumi `protect` on what clients hold on to: the REST API (its id is in the endpoint),
     * the API key, and the access log group. Default false.
     */
    protect?: boolean;
}

/**
 * What the integration sends SQS: the validated body, re-serialized by `$input.json('$')` and
 * URL-encoded, as the message body. Re-serialized, not `$input.body`: the schema bounds the
 * content, not the whitespace around it, and a body padded past SQS's message size would pass
 * validation only to be refused by SQS (a 500 to the client for a request that can never succeed).
 */
export const SEND_MESSAGE_TEMPLATE = "Action=SendMessage&MessageBody=$util.urlEncode($input.json('$'))";

/** The 200 body: the id SQS gave the message. */
export const MESSAGE_ID_TEMPLATE = `{"messageId": "$input.path('$.SendMessageResponse.SendMessageResult.MessageId')"}`;

/** The 500 body: the request id to quote, and nothing of what SQS said (it names the queue and account). */
export const SERVER_ERROR_TEMPLATE = `{"message": "The message could not be queued. Retry later.", "requestId": "$context.requestId"}`;

/** The 400 body: the validator's message. */
export const BAD_REQUEST_BODY_TEMPLATE = `{"message": "Invalid request body", "errors": "$context.error.validationErrorString", "requestId": "$context.requestId"}`;

/**
 * SQS statuses mapped to 500. Both 5xx and 4xx: with the request validated, a 4xx from SQS means
 * the integration is broken (role, key policy, deleted queue) or the body exceeds SQS's message
 * size, none of which the client can fix by retrying differently; and an unmatched status would
 * fall through to the default (200) response with an empty messageId. API Gateway allows one
 * integration response per status code, hence one pattern.
 */
export const SERVER_ERROR_SELECTION_PATTERN = "[45]\\d{2}";

/** One JSON object per request in the access log group. */
export const ACCESS_LOG_FORMAT = JSON.stringify({
    requestId: "$context.requestId",
    ip: "$context.identity.sourceIp",
    requestTime: "$context.requestTime",
    httpMethod: "$context.httpMethod",
    resourcePath: "$context.resourcePath",
    status: "$context.status",
    responseLength: "$context.responseLength",
    errorMessage: "$context.error.message",
    validationError: "$context.error.validationErrorString",
    integrationStatus: "$context.integration.status",
    integrationError: "$context.integration.error",
    apiKeyId: "$context.identity.apiKeyId",
});

/**
 * A regional REST API whose `POST /messages` sends the validated JSON body to an SQS queue, with
 * no Lambda in between: an API key and a usage plan (throttle + quota), a request validator
 * with the JSON-schema model, an integration role that may only `sqs:SendMessage` on that queue
 * (and use its KMS key, if any), 200 / 400 / 500 responses, JSON access logs with retention,
 * X-Ray, and alarms on 5XX errors and on a high 4XX rate.
 *
 * Execution logging (loggingLevel ERROR) and access logging need the account-level API Gateway
 * CloudWatch role, set once per account and region by ApiGatewayAccount (pass it as `accountLogging`).
 */
export class ApiToQueue extends pulumi.ComponentResource {
    readonly api: aws.apigateway.RestApi;
    readonly stage: aws.apigateway.Stage;
    readonly role: aws.iam.Role;
    readonly logGroup: aws.cloudwatch.LogGroup;
    readonly apiKey: aws.apigateway.ApiKey;
    readonly usagePlan: aws.apigateway.UsagePlan;
    readonly alarms: aws.cloudwatch.MetricAlarm[];
    /** The stage's base URL, `https://<api id>.execute-api.<region>.amazonaws.com/<stage>`. */
    readonly invokeUrl: pulumi.Output<string>;
    /** `POST` here: `<invokeUrl>/<path>`. */
    readonly endpoint: pulumi.Output<string>;
    /** The API key's id; its value is read with `aws apigateway get-api-key --include-value`. */
    readonly apiKeyId: pulumi.Output<string>;

    constructor(name: string, args: ApiToQueueArgs, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:ApiToQueue", name, {}, opts);
        checkApiArgs(name, args);
        const label = `ApiToQueue "${name}"`;
        const rateLimit = args.throttle?.rateLimit ?? API_DEFAULTS.rateLimit;
        const burstLimit = args.throttle?.burstLimit ?? API_DEFAULTS.burstLimit;
        const quotaLimit = args.quota?.limit ?? API_DEFAULTS.quotaLimit;
        const quotaPeriod = args.quota?.period ?? API_DEFAULTS.quotaPeriod;
        const stageName = args.stageName ?? API_DEFAULTS.stageName;
        const apiPath = args.path ?? API_DEFAULTS.path;
        const ctx = awsContext(this);
        const queue = args.queue;
        const stateful = { parent: this, protect: args.protect };

        this.api = new aws.apigateway.RestApi(
            `${name}-api`,
            { description: `POST /${apiPath} sends the body to an SQS queue (${name})`, endpointConfiguration: { types: "REGIONAL" } },
            stateful,
        );

        // The integration role: API Gateway may send to this queue only.
        this.role = new aws.iam.Role(
            autoName(label, "aws:iam/role:Role", `${name}-role`),
            { assumeRolePolicy: JSON.stringify(apiGatewayTrustPolicy()) },
            { parent: this },
        );
        new aws.iam.RolePolicy(
            autoName(label, "aws:iam/rolePolicy:RolePolicy", `${name}-role-policy`),
            {
                role: this.role.id,
                policy: pulumi
                    .all([queue.arn, queue.kmsKeyArn])
                    .apply(([queueArn, keyArn]) => JSON.stringify(policyDocument(grantStatements(sendGrants(queueArn, keyArn), `ApiToQueue "${name}" role`)))),
            },
            { parent: this },
        );

        const resource = new aws.apigateway.Resource(
            `${name}-messages`,
            { restApi: this.api.id, parentId: this.api.rootResourceId, pathPart: apiPath },
            { parent: this },
        );
        const validator = new aws.apigateway.RequestValidator(
            `${name}-validator`,
            { restApi: this.api.id, name: "body", validateRequestBody: true, validateRequestParameters: false },
            { parent: this },
        );
        const schema = JSON.stringify(args.requestSchema);
        const model = new aws.apigateway.Model(
            `${name}-model`,
            { restApi: this.api.id, name: "MessageRequest", contentType: "application/json", schema },
            { parent: this },
        );
        const method = new aws.apigateway.Method(
            `${name}-post`,
            {
                restApi: this.api.id,
                resourceId: resource.id,
                httpMethod: "POST",
                authorization: "NONE",
                apiKeyRequired: true,
                requestValidatorId: validator.id,
                requestModels: { "application/json": model.name },
            },
            { parent: this },
        );
        const target = { restApi: this.api.id, resourceId: resource.id, httpMethod: method.httpMethod };

        const uri = pulumi
            .all([ctx, queue.name])
            .apply(([{ partition, region, accountId }, queueName]) => `arn:${partition}:apigateway:${region}:sqs:path/${accountId}/${queueName}`);
        const integration = new aws.apigateway.Integration(
            `${name}-integration`,
            {
                ...target,
                type: "AWS",
                integrationHttpMethod: "POST",
                uri,
                credentials: this.role.arn,
                requestParameters: { "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'" },
                requestTemplates: { "application/json": SEND_MESSAGE_TEMPLATE },
                // Other content types get 415 instead of reaching SQS unvalidated.
                passthroughBehavior: "NEVER",
            },
            { parent: this },
        );

        const json = { "application/json": "Empty" };
        const ok = new aws.apigateway.MethodResponse(`${name}-200`, { ...target, statusCode: "200", responseModels: json }, { parent: this });
        const failed = new aws.apigateway.MethodResponse(`${name}-500`, { ...target, statusCode: "500", responseModels: json }, { parent: this });
        const okIntegration = new aws.apigateway.IntegrationResponse(
            `${name}-200-integration`,
            { ...target, statusCode: ok.statusCode, responseTemplates: { "application/json": MESSAGE_ID_TEMPLATE } },
            { parent: this, dependsOn: [integration] },
        );
        const failedIntegration = new aws.apigateway.IntegrationResponse(
            `${name}-500-integration`,
            {
                ...target,
                statusCode: failed.statusCode,
                selectionPattern: SERVER_ERROR_SELECTION_PATTERN,
                responseTemplates: { "application/json": SERVER_ERROR_TEMPLATE },
            },
            { parent: this, dependsOn: [integration] },
        );
        const badRequest = new aws.apigateway.Response(
            `${name}-bad-request-body`,
            {
                restApiId: this.api.id,
                responseType: "BAD_REQUEST_BODY",
                statusCode: "400",
                responseTemplates: { "application/json": BAD_REQUEST_BODY_TEMPLATE },
            },
            { parent: this },
        );

        // A deployment is a snapshot: a new one whenever what it snapshots changes.
        const definition = pulumi.all([uri, this.role.arn]).apply(([integrationUri, credentials]) =>
            JSON.stringify({
                path: apiPath,
                method: { httpMethod: "POST", authorization: "NONE", apiKeyRequired: true, validateRequestBody: true },
                model: { contentType: "application/json", schema },
                integration: {
                    uri: integrationUri,
                    credentials,
                    template: SEND_MESSAGE_TEMPLATE,
                    passthroughBehavior: "NEVER",
                },
                responses: { ok: MESSAGE_ID_TEMPLATE, error: [SERVER_ERROR_SELECTION_PATTERN, SERVER_ERROR_TEMPLATE], badRequestBody: BAD_REQUEST_BODY_TEMPLATE },
            }),
        );
        const deployment = new aws.apigateway.Deployment(
            `${name}-deployment`,
            {
                restApi: this.api.id,
                description: `${name}: POST /${apiPath}`,
                triggers: { redeployment: definition.apply((d) => createHash("sha1").update(d).digest("hex")) },
            },
            { parent: this, dependsOn: [method, integration, validator, model, ok, failed, okIntegration, failedIntegration, badRequest] },
        );

        this.logGroup = new aws.cloudwatch.LogGroup(
            `${name}-access-logs`,
            { namePrefix: namePrefix(label, "aws:cloudwatch/logGroup:LogGroup", `/aws/apigateway/${name}-access-`), retentionInDays: args.logRetentionDays ?? API_DEFAULTS.logRetentionDays },
            stateful,
        );
        const afterLogging = args.accountLogging ? [args.accountLogging] : [];
        this.stage = new aws.apigateway.Stage(
            `${name}-stage`,
            {
                restApi: this.api.id,
                deployment: deployment.id,
                stageName,
                xrayTracingEnabled: true,
                accessLogSettings: { destinationArn: this.logGroup.arn, format: ACCESS_LOG_FORMAT },
            },
            { parent: this, dependsOn: afterLogging },
        );
        new aws.apigateway.MethodSettings(
            `${name}-method-settings`,
            {
                restApi: this.api.id,
                stageName: this.stage.stageName,
                methodPath: "*/*",
                settings: {
                    metricsEnabled: true,
                    // ERROR, not INFO: INFO would log request bodies, i.e. the messages themselves.
                    loggingLevel: "ERROR",
                    dataTraceEnabled: false,
                    throttlingRateLimit: rateLimit,
                    throttlingBurstLimit: burstLimit,
                },
            },
            { parent: this, dependsOn: afterLogging },
        );

        this.usagePlan = new aws.apigateway.UsagePlan(
            `${name}-usage-plan`,
            {
                description: `Clients of ${name}`,
                apiStages: [{ apiId: this.api.id, stage: this.stage.stageName }],
                throttleSettings: { rateLimit, burstLimit },
                quotaSettings: { limit: quotaLimit, period: quotaPeriod },
            },
            { parent: this },
        );
        this.apiKey = new aws.apigateway.ApiKey(`${name}-api-key`, { description: `Client key of ${name}`, enabled: true }, stateful);
        new aws.apigateway.UsagePlanKey(
            `${name}-usage-plan-key`,
            { keyId: this.apiKey.id, keyType: "API_KEY", usagePlanId: this.usagePlan.id },
            { parent: this },
        );

        const alarms = new ComponentAlarms(this, name, label, args.alertTopicArn, args.alarms);
        alarms.add(apiServerErrorsAlarm(this.api.name, this.stage.stageName));
        alarms.add(apiClientErrorRateAlarm(this.api.name, this.stage.stageName));
        this.alarms = alarms.done();

        this.invokeUrl = pulumi.interpolate`https://${this.api.id}.execute-api.${ctx.region}.amazonaws.com/${this.stage.stageName}`;
        this.endpoint = pulumi.interpolate`${this.invokeUrl}/${apiPath}`;
        this.apiKeyId = this.apiKey.id;
        this.registerOutputs({ api: this.api, invokeUrl: this.invokeUrl, endpoint: this.endpoint, apiKeyId: this.apiKeyId, role: this.role });
    }
}

/**
 * API Gateway may assume the role. No aws:SourceAccount / aws:SourceArn condition: API Gateway does
 * not set those keys when it assumes integration credentials or the account's logging role, so such
 * a condition denies every request. The confused deputy is closed elsewhere: attaching a role to an
 * integration needs iam:PassRole on it, which API Gateway refuses across accounts.
 */
export function apiGatewayTrustPolicy() {
    return policyDocument([{ Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" }]);
}

/** What the integration needs: SendMessage on the queue, and the queue's KMS key when it has one. */
export function sendGrants(queueArn: string, keyArn?: string): Grant[] {
    const grants: Grant[] = [{ actions: ["sqs:SendMessage"], resources: [queueArn] }];
    if (keyArn) grants.push({ actions: ["kms:Decrypt", "kms:GenerateDataKey"], resources: [keyArn] });
    return grants;
}

/** The API (or SQS behind it) failed: any 5XX the client saw. */
export function apiServerErrorsAlarm(
    apiName: pulumi.Input<string>,
    stage: pulumi.Input<string>,
    threshold: number = API_DEFAULTS.serverErrorsThreshold,
): AlarmSpec {
    return countAlarm({
        role: "5xx-errors",
        description: `The API returned ${threshold} or more 5XX responses in ${ALARM_DEFAULTS.periodSeconds / 60} minutes: messages were not queued. Check the access log's integrationError.`,
        namespace: "AWS/ApiGateway",
        metricName: "5XXError",
        dimensions: { ApiName: apiName, Stage: stage },
        threshold,
    });
}

/**
 * Too many requests are refused: the 4XXError Average is the share of requests ending in a 4XX
 * (invalid bodies, missing or throttled keys). On a quiet API one refusal among few requests fires it.
 */
export function apiClientErrorRateAlarm(
    apiName: pulumi.Input<string>,
    stage: pulumi.Input<string>,
    rate: number = API_DEFAULTS.clientErrorRate,
): AlarmSpec {
    return {
        ...apiServerErrorsAlarm(apiName, stage),
        role: "4xx-rate",
        description: `${rate * 100} % or more of requests got a 4XX in ${ALARM_DEFAULTS.periodSeconds / 60} minutes: a client sends invalid bodies, lacks a key or is throttled.`,
        metricName: "4XXError",
        statistic: "Average",
        threshold: rate,
    };
}

/** Refuses arguments AWS would reject at `pulumi up`, in one line each. */
export function checkApiArgs(name: string, args: ApiToQueueArgs): void {
    const label = `ApiToQueue "${name}"`;
    checkInteger(`${label}: throttle.rateLimit`, args.throttle?.rateLimit, API_LIMITS.rateLimit);
    checkInteger(`${label}: throttle.burstLimit`, args.throttle?.burstLimit, API_LIMITS.burstLimit);
    checkInteger(`${label}: quota.limit`, args.quota?.limit, API_LIMITS.quotaLimit);
    checkOneOf(`${label}: quota.period`, args.quota?.period, API_QUOTA_PERIODS);
    checkOneOf(`${label}: logRetentionDays`, args.logRetentionDays, LOG_RETENTION_DAYS);
    if (args.path !== undefined && !/^[A-Za-z0-9._-]{1,128}$/.test(args.path)) {
        throw new InvalidArgument(`${label}: path "${args.path}": expected one path segment of letters, digits, ".", "_" or "-"`);
    }
    if (args.stageName !== undefined && !/^[A-Za-z0-9_]{1,128}$/.test(args.stageName)) {
        throw new InvalidArgument(`${label}: stageName "${args.stageName}": expected letters, digits and underscores only`);
    }
    const schema = args.requestSchema as Record<string, unknown> | null;
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
        throw new InvalidArgument(`${label}: requestSchema must be a JSON schema object`);
    }
    if (schema.$schema !== undefined && schema.$schema !== DRAFT_04) {
        throw new InvalidArgument(`${label}: requestSchema.$schema = ${JSON.stringify(schema.$schema)}: API Gateway models use JSON schema draft 4 (${DRAFT_04})`);
    }
}
