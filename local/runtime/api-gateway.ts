/**
 * A local API Gateway (REST) for the plan's `aws:apigateway/*` resources: every RestApi on one
 * loopback port, under `/<stage>/<resource path>`, with what API Gateway does between the client
 * and the integration: routing, API keys and usage plans (throttle, quota), stage throttling,
 * body validation against the method's model, mapping templates, gateway responses, and an AWS
 * integration with SQS (`sqs:path/<account>/<queue>`) whose SendMessage is authorized as the
 * integration's role and handed to `sendMessage`.
 *
 * What the plan asks for and this stand-in cannot do (another integration type, an authorizer,
 * a template outside the VTL subset, caching...) fails at start, in one line naming the resource.
 */
import { createHash, randomInt, randomUUID } from "crypto";
import { createServer, IncomingMessage, ServerResponse } from "http";
import { AddressInfo, Socket } from "net";
import Ajv04 from "ajv-draft-04";
import type { ErrorObject, ValidateFunction } from "ajv";
import { Plan, PlannedResource } from "../plan";
import { Authorizer, Counter } from "./types";
import { compileTemplate, RenderTemplate, TemplateInput, TemplateRenderError } from "./vtl";

export interface ApiGatewayOptions {
    plan: Plan;
    /** Decides the integration role's sqs:SendMessage on the queue. */
    authorizer: Authorizer;
    /** Delivers one message to the queue with this ARN: SQS's answer to SendMessage. */
    sendMessage(queueArn: string, body: string): Promise<{ messageId: string; md5OfMessageBody: string }>;
    /** Logical ApiKey name → its value (AWS generates values; the plan has none). Default: a random 40-character value each. */
    apiKeys?: Record<string, string>;
    /** The clock throttling, quotas and `$context.requestTime` read, in epoch ms. Default Date.now. */
    now?: () => number;
    /** Counts `accepted`, `rejected` (reason: the status) and `denied` (reason: the IAM message). */
    counter?: Counter;
}

export interface LocalApi {
    /** The RestApi's logical name in the plan. */
    name: string;
    /** Stage name → its base URL, e.g. { v1: "http://127.0.0.1:PORT/v1" }. */
    stageUrls: Record<string, string>;
    /** The API keys of the usage plans on this API's stages. */
    keys: { name: string; id: string; value: string }[];
}

export interface LocalApiGateway {
    /** Base URL, e.g. http://127.0.0.1:PORT. */
    url: string;
    apis: LocalApi[];
    /** Closes the server and every open connection. */
    stop(): Promise<void>;
}

const HOST = "127.0.0.1";
const T = {
    restApi: "aws:apigateway/restApi:RestApi",
    resource: "aws:apigateway/resource:Resource",
    method: "aws:apigateway/method:Method",
    model: "aws:apigateway/model:Model",
    validator: "aws:apigateway/requestValidator:RequestValidator",
    integration: "aws:apigateway/integration:Integration",
    integrationResponse: "aws:apigateway/integrationResponse:IntegrationResponse",
    methodResponse: "aws:apigateway/methodResponse:MethodResponse",
    gatewayResponse: "aws:apigateway/response:Response",
    deployment: "aws:apigateway/deployment:Deployment",
    stage: "aws:apigateway/stage:Stage",
    methodSettings: "aws:apigateway/methodSettings:MethodSettings",
    usagePlan: "aws:apigateway/usagePlan:UsagePlan",
    usagePlanKey: "aws:apigateway/usagePlanKey:UsagePlanKey",
    apiKey: "aws:apigateway/apiKey:ApiKey",
    /** Account-level: the CloudWatch role for execution logs, which have no local counterpart. */
    account: "aws:apigateway/account:Account",
} as const;
const IAM_ROLE = "aws:iam/role:Role";

/** What each gateway response answers when the plan does not override it (API Gateway's defaults). */
const GATEWAY_DEFAULTS = {
    MISSING_AUTHENTICATION_TOKEN: { status: 403, message: "Missing Authentication Token", errorType: "MissingAuthenticationTokenException" },
    INVALID_API_KEY: { status: 403, message: "Forbidden", errorType: "ForbiddenException" },
    THROTTLED: { status: 429, message: "Too Many Requests", errorType: "TooManyRequestsException" },
    QUOTA_EXCEEDED: { status: 429, message: "Limit Exceeded", errorType: "LimitExceededException" },
    BAD_REQUEST_BODY: { status: 400, message: "Invalid request body", errorType: "BadRequestException" },
    UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "Unsupported Media Type", errorType: "UnsupportedMediaTypeException" },
    API_CONFIGURATION_ERROR: { status: 500, message: "Internal server error", errorType: "InternalServerErrorException" },
    INTEGRATION_TIMEOUT: { status: 504, message: "Endpoint request timed out", errorType: "InternalServerErrorException" },
} as const;
type GatewayError = keyof typeof GATEWAY_DEFAULTS;

/** Every responseType API Gateway accepts for a gateway response. */
const RESPONSE_TYPES = new Set([
    "ACCESS_DENIED", "API_CONFIGURATION_ERROR", "AUTHORIZER_CONFIGURATION_ERROR", "AUTHORIZER_FAILURE", "BAD_REQUEST_PARAMETERS",
    "BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX", "EXPIRED_TOKEN", "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT", "INVALID_API_KEY",
    "INVALID_SIGNATURE", "MISSING_AUTHENTICATION_TOKEN", "QUOTA_EXCEEDED", "REQUEST_TOO_LARGE", "RESOURCE_NOT_FOUND", "THROTTLED",
    "UNAUTHORIZED", "UNSUPPORTED_MEDIA_TYPE", "WAF_FILTERED",
]);

/** The models API Gateway creates in every REST API (requestModels and responseModels may name them). */
const BUILT_IN_MODELS: Record<string, object> = {
    Empty: { $schema: "http://json-schema.org/draft-04/schema#", title: "Empty Schema", type: "object" },
    Error: { $schema: "http://json-schema.org/draft-04/schema#", title: "Error Schema", type: "object", properties: { message: { type: "string" } } },
};

/** API Gateway's integration timeout when the plan sets none. */
const DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000;
/** The SendMessage parameters the stand-in passes on: the body only (no attributes, delay or FIFO ids). */
const SEND_MESSAGE_PARAMETERS = new Set(["Action", "MessageBody", "Version"]);

// ---------------------------------------------------------------------------------------------
// The deployed model: the plan's resources resolved into one structure per RestApi.

interface Limit {
    burstLimit: number;
    rateLimit: number;
}

interface KeyModel {
    name: string;
    id: string;
    value: string;
    enabled: boolean;
}

interface UsagePlanModel {
    id: string;
    owner: string;
    throttle?: Limit;
    quota?: { limit: number; period: QuotaPeriod; offset: number };
    keyIds: Set<string>;
}

interface StageModel {
    name: string;
    api: ApiModel;
    /** Stage throttling from MethodSettings: `*\/*`, and per method ("messages/POST"). */
    throttleAll?: Limit;
    throttleByMethod: Map<string, Limit>;
    usagePlans: UsagePlanModel[];
}

interface IntegrationResponseModel {
    owner: string;
    statusCode: number;
    /** Matched against the integration's status code; undefined for the default response. */
    pattern?: RegExp;
    templates: Map<string, RenderTemplate>;
    headers: Record<string, string>;
}

interface IntegrationModel {
    owner: string;
    credentials: string;
    queueArn: string;
    passthrough: "NEVER" | "WHEN_NO_MATCH" | "WHEN_NO_TEMPLATES";
    requestTemplates: Map<string, RenderTemplate>;
    headers: { name: string; source: { static: string } | { from: "header" | "querystring" | "path"; name: string } }[];
    timeoutMs: number;
    responses: IntegrationResponseModel[];
}

interface MethodModel {
    owner: string;
    httpMethod: string;
    apiKeyRequired: boolean;
    /** Content type → the model's validator, when the method's validator checks bodies. */
    bodyModels?: Map<string, { name: string; validate: ValidateFunction }>;
    integration: IntegrationModel;
}

interface ResourceNode {
    id: string;
    path: string;
    pathPart: string;
    children: ResourceNode[];
    methods: Map<string, MethodModel>;
}

interface GatewayResponseModel {
    status?: number;
    templates: Map<string, RenderTemplate>;
    headers: Record<string, string>;
}

interface ApiModel {
    name: string;
    id: string;
    accountId: string;
    root: ResourceNode;
    gatewayResponses: Map<string, GatewayResponseModel>;
    stages: StageModel[];
}

function owner(r: PlannedResource): string {
    return `${r.type} "${r.name}"`;
}

function str(v: unknown): string | undefined {
    return typeof v === "string" ? v : undefined;
}

function isEmpty(v: unknown): boolean {
    if (v === undefined || v === null) return true;
    if (Array.isArray(v)) return v.length === 0;
    return typeof v === "object" && Object.keys(v as object).length === 0;
}

/**
 * Refuses an input the stand-in does not model. `understood` are implemented; `inert` are
 * accepted because they change nothing a client could observe here (descriptions, tags, logging).
 */
function checkInputs(r: PlannedResource, understood: string[], inert: string[] = []): void {
    for (const [key, value] of Object.entries(r.inputs)) {
        if (isEmpty(value) || understood.includes(key) || inert.includes(key)) continue;
        throw new Error(`${owner(r)}: input ${key} is not supported by the local API Gateway (it understands ${understood.join(", ")})`);
    }
}

function requireString(r: PlannedResource, key: string): string {
    const v = str(r.inputs[key]);
    if (!v) throw new Error(`${owner(r)}: expected input ${key} to be a string, got ${JSON.stringify(r.inputs[key])}`);
    return v;
}

/** `'value'` in a parameter mapping is a static value; the quotes are not part of it. */
function staticValue(source: string): string | undefined {
    const m = /^'(.*)'$/s.exec(source);
    return m ? m[1] : undefined;
}

/** A media type without parameters, lower-cased: `application/json; charset=utf-8` → `application/json`. */
export function mediaType(contentType: string | undefined): string | undefined {
    const t = contentType?.split(";")[0].trim().toLowerCase();
    return t ? t : undefined;
}

function compileTemplates(r: PlannedResource, key: string): Map<string, RenderTemplate> {
    const templates = new Map<string, RenderTemplate>();
    const given = (r.inputs[key] ?? {}) as Record<string, unknown>;
    for (const [contentType, text] of Object.entries(given)) {
        const type = mediaType(contentType);
        // API Gateway matches templates by exact media type: a wildcard or a malformed key would never be picked.
        if (!type || !/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) || type !== contentType.toLowerCase()) {
            throw new Error(`${owner(r)}: ${key} key "${contentType}": expected a media type such as application/json (no wildcard, no parameters)`);
        }
        if (templates.has(type)) throw new Error(`${owner(r)}: ${key} has "${contentType}" twice (keys differ only in case)`);
        if (typeof text !== "string") throw new Error(`${owner(r)}: ${key}["${contentType}"]: expected a template string`);
        templates.set(type, compileTemplate(text, `${owner(r)} ${key}["${contentType}"]`));
    }
    return templates;
}

/** Parses `arn:<partition>:apigateway:<region>:sqs:path/<account>/<queue>` into the queue's ARN. */
export function queueArnFromUri(uri: string): string | undefined {
    const m = /^arn:([\w-]+):apigateway:([\w-]+):sqs:path\/(\d{12})\/([\w-]+(?:\.fifo)?)$/.exec(uri);
    return m ? `arn:${m[1]}:sqs:${m[2]}:${m[3]}:${m[4]}` : undefined;
}

function parseLimit(where: string, burst: unknown, rate: unknown): Limit | undefined {
    // MethodSettings uses -1 for "not set"; absent means the same.
    const b = typeof burst === "number" && burst >= 0 ? burst : undefined;
    const r = typeof rate === "number" && rate >= 0 ? rate : undefined;
    if (b === undefined && r === undefined) return undefined;
    if (b === undefined || r === undefined) throw new Error(`${where}: expected both a burst limit and a rate limit, got burst ${burst} and rate ${rate}`);
    return { burstLimit: b, rateLimit: r };
}

/** Resolves the plan's `aws:apigateway/*` resources into one model per RestApi, refusing what it cannot run. */
function buildModels(plan: Plan, apiKeyValues: Record<string, string> = {}): { apis: ApiModel[]; keys: KeyModel[] } {
    const rs = plan.resources.filter((r) => r.type.startsWith("aws:apigateway/"));
    const known = new Set<string>(Object.values(T));
    for (const r of rs) if (!known.has(r.type)) throw new Error(`${owner(r)}: resource type ${r.type} is not supported by the local API Gateway`);
    const of = (type: string) => rs.filter((r) => r.type === type);
    const byId = (type: string, id: unknown, from: PlannedResource, field: string): PlannedResource => {
        const found = rs.find((r) => r.type === type && r.outputs.id === id);
        if (!found) throw new Error(`${owner(from)}: ${field} ${JSON.stringify(id)} names no ${type} in the plan`);
        return found;
    };
    const roles = new Set(plan.resources.filter((r) => r.type === IAM_ROLE).map((r) => r.outputs.arn));

    const keys = buildKeys(of(T.apiKey), apiKeyValues);
    const apis = of(T.restApi).map((r) => buildApi(r, rs, byId, roles));
    for (const r of rs) {
        const api = str(r.inputs.restApi) ?? str(r.inputs.restApiId);
        if (api !== undefined && !apis.some((a) => a.id === api)) throw new Error(`${owner(r)}: restApi ${JSON.stringify(api)} names no ${T.restApi} in the plan`);
    }

    for (const r of of(T.stage)) {
        // Stage variables are inert: a template reading $stageVariables is refused when compiled.
        checkInputs(r, ["restApi", "deployment", "stageName"], ["variables", "description", "xrayTracingEnabled", "accessLogSettings", "tags", "documentationVersion"]);
        const api = apis.find((a) => a.id === r.inputs.restApi)!;
        const deployment = byId(T.deployment, r.inputs.deployment, r, "deployment");
        if (deployment.inputs.restApi !== api.id) throw new Error(`${owner(r)}: deployment ${deployment.name} belongs to another API (expected one of ${api.name})`);
        const name = requireString(r, "stageName");
        if (apis.some((a) => a.stages.some((s) => s.name === name))) {
            throw new Error(`${owner(r)}: stage name "${name}" is used by another REST API of the plan: the local API Gateway serves every API on one port, under /<stage>, and expects stage names to be unique`);
        }
        api.stages.push({ name, api, throttleByMethod: new Map(), usagePlans: [] });
    }
    for (const r of of(T.deployment)) checkInputs(r, ["restApi"], ["description", "triggers", "variables"]);
    for (const r of of(T.account)) checkInputs(r, [], ["cloudwatchRoleArn", "resetOnDelete"]);

    const stageOf = (r: PlannedResource, apiId: unknown, stageName: unknown): StageModel => {
        const stage = apis.find((a) => a.id === apiId)?.stages.find((s) => s.name === stageName);
        if (!stage) throw new Error(`${owner(r)}: names stage ${JSON.stringify(stageName)} of API ${JSON.stringify(apiId)}, which is not in the plan`);
        return stage;
    };
    for (const r of of(T.methodSettings)) applyMethodSettings(r, stageOf(r, r.inputs.restApi, r.inputs.stageName));

    for (const r of of(T.usagePlan)) {
        checkInputs(r, ["apiStages", "throttleSettings", "quotaSettings"], ["name", "description", "productCode", "tags"]);
        const plan = buildUsagePlan(r);
        for (const s of (r.inputs.apiStages ?? []) as Record<string, unknown>[]) {
            if (!isEmpty(s.throttles)) throw new Error(`${owner(r)}: apiStages[].throttles (per-method throttling) is not supported by the local API Gateway`);
            stageOf(r, s.apiId, s.stage).usagePlans.push(plan);
        }
    }
    for (const r of of(T.usagePlanKey)) {
        checkInputs(r, ["keyId", "keyType", "usagePlanId"]);
        if (r.inputs.keyType !== "API_KEY") throw new Error(`${owner(r)}: keyType ${JSON.stringify(r.inputs.keyType)}: expected API_KEY`);
        const key = byId(T.apiKey, r.inputs.keyId, r, "keyId");
        const usagePlanId = byId(T.usagePlan, r.inputs.usagePlanId, r, "usagePlanId").outputs.id;
        for (const api of apis) for (const s of api.stages) for (const p of s.usagePlans) if (p.id === usagePlanId) p.keyIds.add(String(key.outputs.id));
    }
    return { apis, keys };
}

function buildKeys(rs: PlannedResource[], values: Record<string, string>): KeyModel[] {
    for (const name of Object.keys(values)) {
        if (!rs.some((r) => r.name === name)) throw new Error(`apiKeys["${name}"]: the plan has no ${T.apiKey} named ${name} (it has ${rs.map((r) => r.name).join(", ") || "none"})`);
    }
    const keys = rs.map((r): KeyModel => {
        checkInputs(r, ["enabled", "value"], ["name", "description", "customerId", "tags"]);
        const value = values[r.name] ?? str(r.inputs.value) ?? randomKeyValue();
        // AWS refuses key values shorter than 20 characters.
        if (value.length < 20) throw new Error(`apiKeys["${r.name}"]: expected a value of at least 20 characters, got ${value.length}`);
        return { name: r.name, id: String(r.outputs.id), value, enabled: r.inputs.enabled !== false };
    });
    const allValues = keys.map((k) => k.value);
    const dup = keys.find((k, i) => allValues.indexOf(k.value) !== i);
    if (dup) throw new Error(`apiKeys["${dup.name}"]: the value is already another key's; API key values must be unique`);
    return keys;
}

const KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A value shaped like the ones AWS generates: 40 letters and digits. */
function randomKeyValue(): string {
    let v = "";
    for (let i = 0; i < 40; i++) v += KEY_ALPHABET[randomInt(KEY_ALPHABET.length)];
    return v;
}

function buildUsagePlan(r: PlannedResource): UsagePlanModel {
    const t = r.inputs.throttleSettings as Record<string, unknown> | undefined;
    const q = r.inputs.quotaSettings as Record<string, unknown> | undefined;
    let quota: UsagePlanModel["quota"];
    if (q && !isEmpty(q)) {
        const period = q.period as QuotaPeriod;
        if (!["DAY", "WEEK", "MONTH"].includes(period)) throw new Error(`${owner(r)}: quotaSettings.period ${JSON.stringify(q.period)}: expected DAY, WEEK or MONTH`);
        if (typeof q.limit !== "number") throw new Error(`${owner(r)}: quotaSettings.limit: expected a number, got ${JSON.stringify(q.limit)}`);
        quota = { limit: q.limit, period, offset: typeof q.offset === "number" ? q.offset : 0 };
    }
    return { id: String(r.outputs.id), owner: owner(r), throttle: t ? parseLimit(`${owner(r)}: throttleSettings`, t.burstLimit, t.rateLimit) : undefined, quota, keyIds: new Set() };
}

/** Method settings that change nothing observable here: metrics, execution logs, and the cache while it is off. */
const INERT_METHOD_SETTINGS = ["metricsEnabled", "loggingLevel", "dataTraceEnabled", "cacheTtlInSeconds", "cacheDataEncrypted", "requireAuthorizationForCacheControl", "unauthorizedCacheControlHeaderStrategy"];

function applyMethodSettings(r: PlannedResource, stage: StageModel): void {
    checkInputs(r, ["restApi", "stageName", "methodPath", "settings"]);
    const settings = (r.inputs.settings ?? {}) as Record<string, unknown>;
    for (const [key, value] of Object.entries(settings)) {
        if (key === "throttlingBurstLimit" || key === "throttlingRateLimit" || INERT_METHOD_SETTINGS.includes(key) || (key === "cachingEnabled" && value !== true)) continue;
        throw new Error(`${owner(r)}: settings.${key} = ${JSON.stringify(value)} is not supported by the local API Gateway`);
    }
    const limit = parseLimit(`${owner(r)}: settings`, settings.throttlingBurstLimit, settings.throttlingRateLimit);
    const path = requireString(r, "methodPath");
    if (!limit) return;
    if (path === "*/*") stage.throttleAll = limit;
    else if (/^.+\/[A-Z]+$/.test(path)) stage.throttleByMethod.set(path, limit);
    else throw new Error(`${owner(r)}: methodPath "${path}": expected */* or <resource path without its leading />/<HTTP method>`);
}

type ById = (type: string, id: unknown, from: PlannedResource, field: string) => PlannedResource;

function buildApi(r: PlannedResource, rs: PlannedResource[], byId: ById, roles: Set<unknown>): ApiModel {
    checkInputs(r, ["endpointConfiguration", "apiKeySource"], ["name", "description", "tags", "failOnWarnings"]);
    const endpoint = (r.inputs.endpointConfiguration ?? {}) as Record<string, unknown>;
    const types = ([] as unknown[]).concat(endpoint.types ?? []);
    if (types.some((t) => t !== "REGIONAL" && t !== "EDGE")) throw new Error(`${owner(r)}: endpointConfiguration.types ${JSON.stringify(endpoint.types)}: expected REGIONAL or EDGE (a PRIVATE API has no public endpoint to stand in for)`);
    if (!isEmpty(endpoint.vpcEndpointIds)) throw new Error(`${owner(r)}: endpointConfiguration.vpcEndpointIds is not supported by the local API Gateway`);
    if (r.inputs.apiKeySource !== undefined && r.inputs.apiKeySource !== "HEADER") throw new Error(`${owner(r)}: apiKeySource ${JSON.stringify(r.inputs.apiKeySource)}: expected HEADER (keys from an authorizer are not supported)`);
    const id = String(r.outputs.id);
    const rootId = r.outputs.rootResourceId;
    if (typeof rootId !== "string") throw new Error(`${owner(r)}: expected output rootResourceId, got ${JSON.stringify(rootId)}`);
    const accountId = /^arn:[\w-]+:execute-api:[\w-]+:(\d{12}):/.exec(String(r.outputs.executionArn))?.[1] ?? "";
    const mine = (type: string) => rs.filter((x) => x.type === type && (x.inputs.restApi ?? x.inputs.restApiId) === id);

    const root: ResourceNode = { id: rootId, path: "/", pathPart: "", children: [], methods: new Map() };
    const nodes = new Map<string, ResourceNode>([[rootId, root]]);
    const resources = mine(T.resource);
    for (const res of resources) {
        checkInputs(res, ["restApi", "parentId", "pathPart"]);
        const pathPart = requireString(res, "pathPart");
        if (/[{}]/.test(pathPart) && !/^\{[A-Za-z0-9._-]+\+?\}$/.test(pathPart)) throw new Error(`${owner(res)}: pathPart "${pathPart}": expected a literal segment, {name} or {name+}`);
        nodes.set(String(res.outputs.id), { id: String(res.outputs.id), path: "", pathPart, children: [], methods: new Map() });
    }
    for (const res of resources) {
        const parent = nodes.get(String(res.inputs.parentId));
        if (!parent) throw new Error(`${owner(res)}: parentId ${JSON.stringify(res.inputs.parentId)} names neither the API's root resource nor another of its resources`);
        parent.children.push(nodes.get(String(res.outputs.id))!);
    }
    const setPaths = (node: ResourceNode) => {
        for (const child of node.children) {
            child.path = `${node.path === "/" ? "" : node.path}/${child.pathPart}`;
            setPaths(child);
        }
    };
    setPaths(root);
    for (const node of nodes.values()) if (node !== root && !node.path) throw new Error(`${T.resource} ${node.id}: its parents never reach the API's root resource`);

    const models = new Map<string, PlannedResource>();
    for (const m of mine(T.model)) {
        checkInputs(m, ["restApi", "name", "contentType", "schema"], ["description"]);
        models.set(requireString(m, "name"), m);
    }
    const modelValidators = new Map<string, ValidateFunction>();
    const modelValidator = (name: string, from: PlannedResource): ValidateFunction => {
        let v = modelValidators.get(name);
        if (!v) {
            v = compileModel(name, models.get(name), from);
            modelValidators.set(name, v);
        }
        return v;
    };

    const methodResponses = mine(T.methodResponse);
    for (const mr of methodResponses) {
        checkInputs(mr, ["restApi", "resourceId", "httpMethod", "statusCode", "responseModels", "responseParameters"]);
        for (const name of Object.values((mr.inputs.responseModels ?? {}) as Record<string, string>)) {
            if (!models.has(name) && !BUILT_IN_MODELS[name]) throw new Error(`${owner(mr)}: responseModels names model "${name}", which is neither in the plan nor built in (Empty, Error)`);
        }
    }
    const integrations = mine(T.integration);
    const integrationResponses = mine(T.integrationResponse);
    const sameMethod = (a: PlannedResource, b: PlannedResource) => a.inputs.resourceId === b.inputs.resourceId && a.inputs.httpMethod === b.inputs.httpMethod;

    for (const m of mine(T.method)) {
        checkInputs(m, ["restApi", "resourceId", "httpMethod", "authorization", "apiKeyRequired", "requestModels", "requestValidatorId", "requestParameters"], ["operationName"]);
        if (m.inputs.authorization !== "NONE") throw new Error(`${owner(m)}: authorization ${JSON.stringify(m.inputs.authorization)}: expected NONE (authorizers are not supported by the local API Gateway)`);
        const node = nodes.get(String(m.inputs.resourceId));
        if (!node) throw new Error(`${owner(m)}: resourceId ${JSON.stringify(m.inputs.resourceId)} names no resource of ${owner(r)}`);
        const httpMethod = requireString(m, "httpMethod").toUpperCase();
        if (node.methods.has(httpMethod)) throw new Error(`${owner(m)}: ${httpMethod} ${node.path} is defined twice`);
        const integration = integrations.filter((i) => sameMethod(i, m));
        if (integration.length !== 1) throw new Error(`${owner(m)}: expected one ${T.integration} for ${httpMethod} ${node.path}, found ${integration.length}`);
        const allowedStatuses = new Set(methodResponses.filter((mr) => sameMethod(mr, m)).map((mr) => String(mr.inputs.statusCode)));
        node.methods.set(httpMethod, {
            owner: owner(m),
            httpMethod,
            apiKeyRequired: m.inputs.apiKeyRequired === true,
            bodyModels: bodyModels(m, byId, modelValidator),
            integration: buildIntegration(integration[0], integrationResponses.filter((ir) => sameMethod(ir, m)), allowedStatuses, roles),
        });
    }
    for (const x of [...integrations, ...integrationResponses, ...methodResponses]) {
        const node = nodes.get(String(x.inputs.resourceId));
        if (!node?.methods.has(String(x.inputs.httpMethod).toUpperCase())) throw new Error(`${owner(x)}: names ${x.inputs.httpMethod} on resource ${JSON.stringify(x.inputs.resourceId)}, a method not in the plan`);
    }
    for (const v of mine(T.validator)) {
        checkInputs(v, ["restApi", "validateRequestBody", "validateRequestParameters"], ["name"]);
        if (v.inputs.validateRequestParameters === true) throw new Error(`${owner(v)}: validateRequestParameters is not supported by the local API Gateway (expected false)`);
    }

    const gatewayResponses = new Map<string, GatewayResponseModel>();
    for (const g of mine(T.gatewayResponse)) {
        checkInputs(g, ["restApiId", "responseType", "statusCode", "responseTemplates", "responseParameters"]);
        const type = requireString(g, "responseType");
        if (!RESPONSE_TYPES.has(type)) throw new Error(`${owner(g)}: responseType "${type}" is not one API Gateway defines`);
        if (gatewayResponses.has(type)) throw new Error(`${owner(g)}: a second gateway response for ${type}`);
        gatewayResponses.set(type, {
            status: g.inputs.statusCode === undefined ? undefined : parseStatus(g, g.inputs.statusCode),
            templates: compileTemplates(g, "responseTemplates"),
            headers: staticHeaders(g, "responseParameters", "gatewayresponse.header."),
        });
    }
    return { name: r.name, id, accountId, root, gatewayResponses, stages: [] };
}

function parseStatus(r: PlannedResource, v: unknown): number {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 100 || n > 599) throw new Error(`${owner(r)}: statusCode ${JSON.stringify(v)}: expected an HTTP status code`);
    return n;
}

/** Response parameter mappings: static values (`'...'`) to headers only. */
function staticHeaders(r: PlannedResource, key: string, prefix: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [target, source] of Object.entries((r.inputs[key] ?? {}) as Record<string, unknown>)) {
        const value = typeof source === "string" ? staticValue(source) : undefined;
        if (!target.startsWith(prefix) || value === undefined) throw new Error(`${owner(r)}: ${key} "${target}" = ${JSON.stringify(source)}: expected ${prefix}<name> = '<static value>'`);
        out[target.slice(prefix.length).toLowerCase()] = value;
    }
    return out;
}

function compileModel(name: string, model: PlannedResource | undefined, from: PlannedResource): ValidateFunction {
    let schema: object;
    if (model) {
        try {
            schema = JSON.parse(String(model.inputs.schema));
        } catch (e) {
            throw new Error(`${owner(model)}: schema is not JSON (${(e as Error).message})`);
        }
    } else if (BUILT_IN_MODELS[name]) {
        schema = BUILT_IN_MODELS[name];
    } else {
        throw new Error(`${owner(from)}: requestModels names model "${name}", which is neither in the plan nor built in (Empty, Error)`);
    }
    try {
        // One instance per model, so models that share an id cannot clash; verbose for the data the messages quote.
        return new Ajv04({ allErrors: true, strict: false, verbose: true, addUsedSchema: false }).compile(schema);
    } catch (e) {
        throw new Error(`${model ? owner(model) : `model ${name}`}: schema is not a JSON schema draft 4 the local API Gateway can compile (${(e as Error).message})`);
    }
}

function bodyModels(m: PlannedResource, byId: ById, modelValidator: (name: string, from: PlannedResource) => ValidateFunction): MethodModel["bodyModels"] {
    const requestModels = (m.inputs.requestModels ?? {}) as Record<string, string>;
    const validatorId = m.inputs.requestValidatorId;
    if (validatorId === undefined) return undefined;
    const validator = byId(T.validator, validatorId, m, "requestValidatorId");
    if (validator.inputs.validateRequestBody !== true) return undefined;
    const out = new Map<string, { name: string; validate: ValidateFunction }>();
    for (const [contentType, name] of Object.entries(requestModels)) {
        const type = mediaType(contentType);
        if (!type || type !== contentType.toLowerCase() || !type.includes("/")) throw new Error(`${owner(m)}: requestModels key "${contentType}": expected a media type such as application/json`);
        out.set(type, { name, validate: modelValidator(name, m) });
    }
    return out;
}

function buildIntegration(r: PlannedResource, responses: PlannedResource[], allowedStatuses: Set<string>, roles: Set<unknown>): IntegrationModel {
    checkInputs(
        r,
        ["restApi", "resourceId", "httpMethod", "type", "uri", "integrationHttpMethod", "credentials", "requestParameters", "requestTemplates", "passthroughBehavior", "timeoutMilliseconds"],
        ["cacheKeyParameters", "cacheNamespace", "tlsConfig"],
    );
    if (r.inputs.type !== "AWS") throw new Error(`${owner(r)}: type ${JSON.stringify(r.inputs.type)}: expected AWS (the local API Gateway integrates with SQS only)`);
    if (r.inputs.connectionType !== undefined && r.inputs.connectionType !== "INTERNET") throw new Error(`${owner(r)}: connectionType ${JSON.stringify(r.inputs.connectionType)}: expected INTERNET`);
    const uri = requireString(r, "uri");
    const queueArn = queueArnFromUri(uri);
    if (!queueArn) throw new Error(`${owner(r)}: uri "${uri}": expected arn:aws:apigateway:<region>:sqs:path/<account>/<queue name>`);
    if (r.inputs.integrationHttpMethod !== "POST") throw new Error(`${owner(r)}: integrationHttpMethod ${JSON.stringify(r.inputs.integrationHttpMethod)}: expected POST (SendMessage)`);
    const credentials = requireString(r, "credentials");
    if (!roles.has(credentials)) throw new Error(`${owner(r)}: credentials "${credentials}": expected the ARN of an ${IAM_ROLE} in the plan`);
    const passthrough = (r.inputs.passthroughBehavior ?? "WHEN_NO_MATCH") as IntegrationModel["passthrough"];
    if (!["NEVER", "WHEN_NO_MATCH", "WHEN_NO_TEMPLATES"].includes(passthrough)) throw new Error(`${owner(r)}: passthroughBehavior ${JSON.stringify(passthrough)}: expected NEVER, WHEN_NO_MATCH or WHEN_NO_TEMPLATES`);

    const headers: IntegrationModel["headers"] = [];
    for (const [target, source] of Object.entries((r.inputs.requestParameters ?? {}) as Record<string, unknown>)) {
        const name = /^integration\.request\.header\.(.+)$/.exec(target)?.[1];
        const fixed = typeof source === "string" ? staticValue(source) : undefined;
        const from = typeof source === "string" ? /^method\.request\.(header|querystring|path)\.(.+)$/.exec(source) : null;
        if (!name || (fixed === undefined && !from)) {
            throw new Error(`${owner(r)}: requestParameters "${target}" = ${JSON.stringify(source)}: expected integration.request.header.<name> = '<static value>' or method.request.(header|querystring|path).<name>`);
        }
        headers.push({ name: name.toLowerCase(), source: fixed !== undefined ? { static: fixed } : { from: from![1] as "header", name: from![2] } });
    }
    // SQS's query API reads a form: without this header SQS would not understand the rendered body.
    const contentType = headers.find((h) => h.name === "content-type");
    if (!contentType || !("static" in contentType.source) || mediaType(contentType.source.static) !== "application/x-www-form-urlencoded") {
        throw new Error(`${owner(r)}: expected requestParameters "integration.request.header.Content-Type" = "'application/x-www-form-urlencoded'" (SQS's query API reads a form)`);
    }

    const models = responses.map((ir): IntegrationResponseModel => {
        checkInputs(ir, ["restApi", "resourceId", "httpMethod", "statusCode", "selectionPattern", "responseTemplates", "responseParameters"]);
        const statusCode = parseStatus(ir, ir.inputs.statusCode);
        if (!allowedStatuses.has(String(statusCode))) throw new Error(`${owner(ir)}: statusCode ${statusCode} has no ${T.methodResponse} for its method`);
        const source = str(ir.inputs.selectionPattern);
        let pattern: RegExp | undefined;
        if (source) {
            try {
                // Java's Matcher.matches: the pattern must match the whole status code.
                pattern = new RegExp(`^(?:${source})$`, "s");
            } catch (e) {
                throw new Error(`${owner(ir)}: selectionPattern "${source}" is not a regular expression (${(e as Error).message})`);
            }
        }
        return { owner: owner(ir), statusCode, pattern, templates: compileTemplates(ir, "responseTemplates"), headers: staticHeaders(ir, "responseParameters", "method.response.header.") };
    });
    const defaults = models.filter((m) => !m.pattern);
    if (defaults.length > 1) throw new Error(`${owner(r)}: ${defaults.map((d) => d.owner).join(" and ")} are both default integration responses (no selectionPattern)`);

    const timeout = r.inputs.timeoutMilliseconds;
    return {
        owner: owner(r),
        credentials,
        queueArn,
        passthrough,
        requestTemplates: compileTemplates(r, "requestTemplates"),
        headers,
        timeoutMs: typeof timeout === "number" ? timeout : DEFAULT_INTEGRATION_TIMEOUT_MS,
        responses: models,
    };
}

// ---------------------------------------------------------------------------------------------
// Small pure parts of the request path.

/** A token bucket: `burstLimit` tokens, refilled at `rateLimit` per second, starting full. */
export interface Bucket {
    tokens: number;
    at: number;
}

/** Takes one token if there is one: the bucket after the request, and whether it may pass. */
export function takeToken(bucket: Bucket | undefined, limit: Limit, now: number): { bucket: Bucket; allowed: boolean } {
    const refilled = bucket ? Math.min(limit.burstLimit, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * limit.rateLimit) : limit.burstLimit;
    if (refilled >= 1) return { bucket: { tokens: refilled - 1, at: now }, allowed: true };
    return { bucket: { tokens: refilled, at: now }, allowed: false };
}

export type QuotaPeriod = "DAY" | "WEEK" | "MONTH";

/** The quota period `now` falls in, as a key: UTC day, week (from Sunday) or month. */
export function quotaPeriod(period: QuotaPeriod, now: number): string {
    const iso = new Date(now).toISOString();
    if (period === "DAY") return iso.slice(0, 10);
    if (period === "MONTH") return iso.slice(0, 7);
    // 1970-01-01 was a Thursday: four days on, weeks start on a Sunday.
    return `week-${Math.floor((Math.floor(now / 86_400_000) + 4) / 7)}`;
}

/** The integration response for a status code: the first whose selectionPattern matches it, else the default. */
export function selectIntegrationResponse<R extends { pattern?: RegExp }>(responses: R[], status: string): R | undefined {
    return responses.find((r) => r.pattern?.test(status)) ?? responses.find((r) => !r.pattern);
}

/**
 * The template for a response, chosen by the request's Accept header: the first listed type with a
 * template; otherwise application/json when there is one, else the first template.
 */
export function pickResponseTemplate<V>(templates: Map<string, V>, accept: string | undefined): [string, V] | undefined {
    for (const type of (accept ?? "").split(",").map((t) => mediaType(t))) {
        if (type && templates.has(type)) return [type, templates.get(type)!];
    }
    if (templates.has("application/json")) return ["application/json", templates.get("application/json")!];
    return templates.entries().next().value;
}

/**
 * A validation failure as API Gateway words it (its validator's messages, as in
 * `[object has missing required properties (["message"])]`), before JSON escaping.
 */
export function validationErrorString(errors: ErrorObject[]): string {
    const messages: string[] = [];
    const grouped = new Map<string, string[]>();
    // Errors inside anyOf/oneOf/not branches are summed up by the combinator's own message.
    const top = errors.filter((e) => !/\/(?:anyOf|oneOf)\/\d+\/|\/not\//.test(e.schemaPath));
    for (const e of top) {
        if (e.keyword === "required" || e.keyword === "additionalProperties") {
            const key = `${e.keyword}\u0000${e.instancePath}`;
            const name = String(e.keyword === "required" ? e.params.missingProperty : e.params.additionalProperty);
            if (!grouped.has(key)) {
                grouped.set(key, []);
                messages.push(key);
            }
            grouped.get(key)!.push(name);
        } else {
            messages.push(validationMessage(e));
        }
    }
    const text = messages.map((m) => {
        const names = grouped.get(m);
        if (!names) return m;
        const list = JSON.stringify([...new Set(names)].sort());
        return m.startsWith("required") ? `object has missing required properties (${list})` : `object instance has properties which are not allowed by the schema: ${list}`;
    });
    return `[${text.join(", ")}]`;
}

function jsonType(v: unknown): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "array";
    if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
    return typeof v;
}

function validationMessage(e: ErrorObject): string {
    const data = e.data as unknown;
    const p = e.params as Record<string, unknown>;
    const length = (s: unknown) => [...String(s)].length;
    switch (e.keyword) {
        case "type":
            return `instance type (${jsonType(data)}) does not match any allowed primitive type (allowed: ${JSON.stringify([].concat(e.schema as never))})`;
        case "enum":
            return `instance value (${JSON.stringify(data)}) not found in enum (possible values: ${JSON.stringify(p.allowedValues)})`;
        case "minLength":
            return `string "${data}" is too short (length: ${length(data)}, required minimum: ${p.limit})`;
        case "maxLength":
            return `string "${data}" is too long (length: ${length(data)}, maximum allowed: ${p.limit})`;
        case "pattern":
            return `ECMA 262 regex "${p.pattern}" does not match input string "${data}"`;
        case "maxProperties":
            return `object has too many properties (found ${Object.keys(data as object).length}, maximum allowed: ${p.limit})`;
        case "minProperties":
            return `object has too few properties (found ${Object.keys(data as object).length}, required minimum: ${p.limit})`;
        case "maxItems":
            return `array is too long: must have at most ${p.limit} elements but instance has ${(data as unknown[]).length} elements`;
        case "minItems":
            return `array is too short: must have at least ${p.limit} elements but instance has ${(data as unknown[]).length} elements`;
        case "uniqueItems":
            return "array must not contain duplicate elements";
        case "minimum":
            return p.comparison === ">" ? `numeric instance is not strictly greater than the required minimum ${p.limit}` : `numeric instance is lower than the required minimum (minimum: ${p.limit}, found: ${data})`;
        case "maximum":
            return p.comparison === "<" ? `numeric instance is not strictly lower than the required maximum ${p.limit}` : `numeric instance is greater than the required maximum (maximum: ${p.limit}, found: ${data})`;
        case "multipleOf":
            return `remainder of division is not zero (${data} / ${p.multipleOf})`;
        case "anyOf":
            return `instance failed to match at least one required schema among ${(e.schema as unknown[]).length}`;
        case "oneOf":
            return `instance failed to match exactly one schema (matched ${Array.isArray(p.passingSchemas) ? p.passingSchemas.length : 0} out of ${(e.schema as unknown[]).length})`;
        case "not":
            return "instance matched a schema which it should not have";
        case "dependencies":
            return `property "${p.property}" of object has missing property dependencies (schema requires ${JSON.stringify(String(p.deps).split(", "))}; missing: ${JSON.stringify([p.missingProperty])})`;
        default:
            return `${e.instancePath || "instance"} ${e.message}`;
    }
}

/** Validates a body against a model: undefined when it passes, else the validation error string. */
export function validateBody(validate: ValidateFunction, body: string): string | undefined {
    let value: unknown;
    try {
        value = JSON.parse(body === "" ? "{}" : body);
    } catch (e) {
        return `[Invalid JSON: ${(e as Error).message}]`;
    }
    return validate(value) ? undefined : validationErrorString(validate.errors ?? []);
}

/** A string's content as it goes between the quotes of a JSON string. */
function jsonEscape(s: string): string {
    return JSON.stringify(s).slice(1, -1);
}

/** `dd/MMM/yyyy:HH:mm:ss +0000`, as `$context.requestTime` gives it. */
export function requestTime(now: number): string {
    const d = new Date(now);
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const two = (n: number) => String(n).padStart(2, "0");
    return `${two(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** Matches path segments against the resource tree: literal parts first, then {name}, then {name+}. */
export function matchRoute(node: ResourceNode, segments: string[], params: Record<string, string> = {}): { node: ResourceNode; params: Record<string, string> } | undefined {
    if (segments.length === 0) return { node, params };
    const [head, ...rest] = segments;
    const literal = node.children.find((c) => c.pathPart === head);
    const found = literal && matchRoute(literal, rest, params);
    if (found) return found;
    for (const c of node.children.filter((c) => /^\{[^+]+\}$/.test(c.pathPart))) {
        const m = matchRoute(c, rest, { ...params, [c.pathPart.slice(1, -1)]: head });
        if (m) return m;
    }
    const greedy = node.children.find((c) => c.pathPart.endsWith("+}"));
    return greedy ? { node: greedy, params: { ...params, [greedy.pathPart.slice(1, -2)]: segments.join("/") } } : undefined;
}

/** An SQS error in the query API's JSON form. */
function sqsError(status: number, code: string, message: string, type: "Sender" | "Receiver", requestId: string): { status: number; body: string } {
    return { status, body: JSON.stringify({ Error: { Code: code, Message: message, Type: type }, RequestId: requestId }) };
}

/** A limit of this stand-in met at run time: answered as a 500 that says so, never as something AWS would answer. */
class EmulatorLimit extends Error {}

// ---------------------------------------------------------------------------------------------
// The server.

interface Exchange {
    requestId: string;
    now: number;
    method: string;
    headers: Record<string, string>;
    query: Record<string, string>;
    pathParams: Record<string, string>;
    body: string;
    context: Record<string, unknown>;
}

class Gateway {
    private readonly buckets = new Map<string, Bucket>();
    private readonly quotaUsed = new Map<string, number>();
    private readonly startedAt: number;

    constructor(
        private readonly stages: Map<string, StageModel>,
        private readonly keys: KeyModel[],
        private readonly options: ApiGatewayOptions,
        private readonly now: () => number,
    ) {
        this.startedAt = now();
    }

    async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const now = this.now();
        const requestId = randomUUID();
        const body = await readBody(req);
        const url = new URL(req.url ?? "/", "http://localhost");
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(",") : v;
        const query: Record<string, string> = {};
        for (const [k, v] of url.searchParams) if (!(k in query)) query[k] = v;
        const segments = url.pathname.split("/").slice(1);
        if (segments.length > 1 && segments[segments.length - 1] === "") segments.pop();
        const [stageName, ...path] = segments.map(decodeSegment);
        const ex: Exchange = {
            requestId,
            now,
            method: (req.method ?? "GET").toUpperCase(),
            headers,
            query,
            pathParams: {},
            body,
            context: {
                requestId,
                extendedRequestId: requestId,
                httpMethod: (req.method ?? "GET").toUpperCase(),
                stage: stageName,
                path: url.pathname,
                protocol: `HTTP/${req.httpVersion}`,
                requestTime: requestTime(now),
                requestTimeEpoch: now,
                domainName: headers.host ?? "",
                identity: { sourceIp: req.socket.remoteAddress ?? "", userAgent: headers["user-agent"] ?? "" },
            },
        };
        const stage = this.stages.get(stageName);
        if (!stage) return this.gatewayError(res, undefined, "MISSING_AUTHENTICATION_TOKEN", ex);
        const api = stage.api;
        Object.assign(ex.context, { apiId: api.id, accountId: api.accountId });
        const route = matchRoute(api.root, path);
        const method = route && (route.node.methods.get(ex.method) ?? route.node.methods.get("ANY"));
        if (!route || !method) return this.gatewayError(res, api, "MISSING_AUTHENTICATION_TOKEN", ex);
        ex.pathParams = route.params;
        Object.assign(ex.context, { resourceId: route.node.id, resourcePath: route.node.path });

        let usagePlan: UsagePlanModel | undefined;
        let key: KeyModel | undefined;
        if (method.apiKeyRequired) {
            const value = headers["x-api-key"];
            key = this.keys.find((k) => k.enabled && k.value === value);
            usagePlan = key && stage.usagePlans.find((p) => p.keyIds.has(key!.id));
            if (!key || !usagePlan) return this.gatewayError(res, api, "INVALID_API_KEY", ex);
            Object.assign(ex.context.identity as object, { apiKey: key.value, apiKeyId: key.id });
        }

        const methodPath = `${route.node.path.slice(1)}/${method.httpMethod}`;
        const stageLimit = stage.throttleByMethod.get(methodPath) ?? stage.throttleAll;
        if (stageLimit && !this.take(`stage:${api.id}:${stage.name}:${methodPath}`, stageLimit, now)) return this.gatewayError(res, api, "THROTTLED", ex);
        if (usagePlan && key) {
            if (usagePlan.throttle && !this.take(`plan:${usagePlan.id}:${key.id}`, usagePlan.throttle, now)) return this.gatewayError(res, api, "THROTTLED", ex);
            if (usagePlan.quota && !this.withinQuota(usagePlan, key, now)) return this.gatewayError(res, api, "QUOTA_EXCEEDED", ex);
        }

        const contentType = mediaType(headers["content-type"]) ?? "application/json";
        const model = method.bodyModels?.get(contentType);
        if (model) {
            const failure = validateBody(model.validate, body);
            if (failure !== undefined) return this.gatewayError(res, api, "BAD_REQUEST_BODY", ex, { validationErrorString: jsonEscape(failure) });
        }

        try {
            await this.integrate(res, api, method.integration, contentType, ex);
        } catch (e) {
            if (e instanceof TemplateRenderError || e instanceof EmulatorLimit) return this.send(res, 500, { "x-amzn-errortype": "LocalApiGatewayError" }, "application/json", JSON.stringify({ message: `local API Gateway: ${(e as Error).message}` }), ex);
            throw e;
        }
    }

    private take(id: string, limit: Limit, now: number): boolean {
        const { bucket, allowed } = takeToken(this.buckets.get(id), limit, now);
        this.buckets.set(id, bucket);
        return allowed;
    }

    private withinQuota(plan: UsagePlanModel, key: KeyModel, now: number): boolean {
        const quota = plan.quota!;
        const period = quotaPeriod(quota.period, now);
        // The offset takes requests off the limit of the first period only.
        const limit = quota.limit - (period === quotaPeriod(quota.period, this.startedAt) ? quota.offset : 0);
        const id = `${plan.id}:${key.id}:${period}`;
        const used = this.quotaUsed.get(id) ?? 0;
        if (used >= limit) return false;
        this.quotaUsed.set(id, used + 1);
        return true;
    }

    private templateInput(ex: Exchange, body: string): TemplateInput {
        return { body, params: { path: ex.pathParams, querystring: ex.query, header: ex.headers }, context: ex.context };
    }

    private async integrate(res: ServerResponse, api: ApiModel, integration: IntegrationModel, contentType: string, ex: Exchange): Promise<void> {
        const template = integration.requestTemplates.get(contentType);
        let request: string;
        if (template) request = template(this.templateInput(ex, ex.body));
        else if (integration.passthrough === "WHEN_NO_MATCH" || (integration.passthrough === "WHEN_NO_TEMPLATES" && integration.requestTemplates.size === 0)) request = ex.body;
        else return this.gatewayError(res, api, "UNSUPPORTED_MEDIA_TYPE", ex);
        const headers = integrationHeaders(integration, ex);

        let timer: NodeJS.Timeout | undefined;
        // Unref'd: a request still waiting on its integration must not keep the process alive after stop().
        const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), integration.timeoutMs).unref()));
        const answer = await Promise.race([this.sqs(integration, headers, request, ex.requestId), timedOut]).finally(() => clearTimeout(timer));
        if (answer === "timeout") return this.gatewayError(res, api, "INTEGRATION_TIMEOUT", ex);

        const response = selectIntegrationResponse(integration.responses, String(answer.status));
        // AWS: "No match for output mapping and no default output mapping configured".
        if (!response) return this.gatewayError(res, api, "API_CONFIGURATION_ERROR", ex);
        const picked = pickResponseTemplate(response.templates, ex.headers.accept);
        const [type, body] = picked ? [picked[0], picked[1](this.templateInput(ex, answer.body))] : ["application/json", answer.body];
        this.send(res, response.statusCode, response.headers, type, body, ex);
    }

    /** SQS's side of SendMessage through the query API: the form, the role's permission, the delivery. */
    private async sqs(integration: IntegrationModel, headers: Record<string, string>, form: string, requestId: string): Promise<{ status: number; body: string }> {
        // Checked at start (a static header); kept here so the stand-in reads what it is sent, as SQS does.
        if (mediaType(headers["content-type"]) !== "application/x-www-form-urlencoded") throw new EmulatorLimit(`${integration.owner}: the SQS stand-in reads form bodies only, got Content-Type ${headers["content-type"]}`);
        const params = new URLSearchParams(form);
        const action = params.get("Action");
        if (action !== "SendMessage") return sqsError(400, "InvalidAction", `The action ${action ?? ""} is not valid for this endpoint.`, "Sender", requestId);
        for (const name of params.keys()) if (!SEND_MESSAGE_PARAMETERS.has(name)) throw new EmulatorLimit(`${integration.owner}: SendMessage parameter ${name} is not supported (only MessageBody is passed on)`);
        const messageBody = params.get("MessageBody");
        if (!messageBody) return sqsError(400, "MissingParameter", "The request must contain the parameter MessageBody.", "Sender", requestId);

        const decision = await this.options.authorizer.authorize({ principal: { role: integration.credentials }, action: "sqs:SendMessage", resource: integration.queueArn });
        if (!decision.allowed) {
            this.options.counter?.add("denied", 1, decision.message);
            return sqsError(403, "AccessDenied", decision.message, "Sender", requestId);
        }
        let sent: { messageId: string; md5OfMessageBody: string };
        try {
            sent = await this.options.sendMessage(integration.queueArn, messageBody);
        } catch (e) {
            return sqsError(500, "InternalError", `We encountered an internal error. Please try again. (${(e as Error).message})`, "Receiver", requestId);
        }
        return {
            status: 200,
            body: JSON.stringify({
                SendMessageResponse: { SendMessageResult: { MessageId: sent.messageId, MD5OfMessageBody: sent.md5OfMessageBody }, ResponseMetadata: { RequestId: requestId } },
            }),
        };
    }

    private gatewayError(res: ServerResponse, api: ApiModel | undefined, type: GatewayError, ex: Exchange, error: { validationErrorString?: string } = {}): void {
        const defaults = GATEWAY_DEFAULTS[type];
        const configured = api?.gatewayResponses.get(type) ?? api?.gatewayResponses.get(defaults.status < 500 ? "DEFAULT_4XX" : "DEFAULT_5XX");
        const message = defaults.message;
        ex.context.error = { message, messageString: JSON.stringify(message), responseType: type, validationErrorString: error.validationErrorString ?? "" };
        const status = configured?.status ?? defaults.status;
        const picked = configured && pickResponseTemplate(configured.templates, ex.headers.accept);
        const body = picked ? picked[1](this.templateInput(ex, ex.body)) : JSON.stringify({ message });
        this.send(res, status, { ...configured?.headers, "x-amzn-errortype": defaults.errorType }, picked?.[0] ?? "application/json", body, ex);
    }

    private send(res: ServerResponse, status: number, headers: Record<string, string>, contentType: string, body: string, ex: Exchange): void {
        if (status >= 200 && status < 300) this.options.counter?.add("accepted");
        else this.options.counter?.add("rejected", 1, String(status));
        res.writeHead(status, { ...headers, "content-type": contentType, "x-amzn-requestid": ex.requestId, "content-length": Buffer.byteLength(body) });
        res.end(body);
    }
}

/** The integration request's headers, from its requestParameters: static values or the method request's parameters. */
function integrationHeaders(integration: IntegrationModel, ex: Exchange): Record<string, string> {
    const out: Record<string, string> = {};
    for (const { name, source } of integration.headers) {
        const value = "static" in source ? source.static : { header: ex.headers, querystring: ex.query, path: ex.pathParams }[source.from][source.from === "header" ? source.name.toLowerCase() : source.name];
        if (value !== undefined) out[name] = value;
    }
    return out;
}

function decodeSegment(s: string): string {
    try {
        return decodeURIComponent(s);
    } catch {
        return s;
    }
}

function readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        req.on("error", reject);
    });
}

/** MD5 of a message body as SQS reports it (hex of the UTF-8 bytes), for sendMessage stand-ins. */
export function md5OfMessageBody(body: string): string {
    return createHash("md5").update(body, "utf8").digest("hex");
}

/** Deploys the plan's REST APIs on one free loopback port. Rejects, before listening, a plan it cannot run. */
export async function startApiGateway(options: ApiGatewayOptions): Promise<LocalApiGateway> {
    const { apis, keys } = buildModels(options.plan, options.apiKeys);
    const stages = new Map<string, StageModel>();
    for (const api of apis) for (const s of api.stages) stages.set(s.name, s);
    const gateway = new Gateway(stages, keys, options, options.now ?? Date.now);

    const sockets = new Set<Socket>();
    const server = createServer((req, res) => {
        gateway.handle(req, res).catch((e: Error) => {
            // A bug here, not an answer AWS would give: say so rather than hang the client.
            if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
            res.end(JSON.stringify({ message: `local API Gateway failed: ${e.message}` }));
        });
    });
    server.on("connection", (socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, HOST, () => resolve());
    });
    const url = `http://${HOST}:${(server.address() as AddressInfo).port}`;

    let stopped: Promise<void> | undefined;
    return {
        url,
        apis: apis.map((api) => {
            const keyIds = new Set(api.stages.flatMap((s) => s.usagePlans.flatMap((p) => [...p.keyIds])));
            return {
                name: api.name,
                stageUrls: Object.fromEntries(api.stages.map((s) => [s.name, `${url}/${s.name}`])),
                keys: keys.filter((k) => keyIds.has(k.id)).map(({ name, id, value }) => ({ name, id, value })),
            };
        }),
        stop: () =>
            (stopped ??= new Promise<void>((resolve) => {
                server.close(() => resolve());
                for (const socket of sockets) socket.destroy();
            })),
    };
}
