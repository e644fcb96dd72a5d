import { expect } from "chai";
import Ajv04 from "ajv-draft-04";
import { Plan, PlannedResource } from "../../../local/plan";
import {
    ApiGatewayOptions,
    LocalApiGateway,
    md5OfMessageBody,
    pickResponseTemplate,
    queueArnFromUri,
    quotaPeriod,
    selectIntegrationResponse,
    startApiGateway,
    takeToken,
    validateBody,
} from "../../../local/runtime/api-gateway";
import { AccessRequest, Authorizer, Counter, Decision } from "../../../local/runtime/types";
import { STACKS, stackPlan } from "../../support/stack-plans";

const T = {
    restApi: "aws:apigateway/restApi:RestApi",
    method: "aws:apigateway/method:Method",
    integration: "aws:apigateway/integration:Integration",
    gatewayResponse: "aws:apigateway/response:Response",
    methodSettings: "aws:apigateway/methodSettings:MethodSettings",
    usagePlan: "aws:apigateway/usagePlan:UsagePlan",
    usagePlanKey: "aws:apigateway/usagePlanKey:UsagePlanKey",
    apiKey: "aws:apigateway/apiKey:ApiKey",
    queue: "aws:sqs/queue:Queue",
};

function one(plan: Plan, type: string): PlannedResource {
    const found = plan.resources.filter((r) => r.type === type);
    if (found.length !== 1) throw new Error(`expected one ${type} in the plan, found ${found.length}`);
    return found[0];
}

/** A copy of the plan, edited: the specs never change the shared one. */
function variant(plan: Plan, edit: (copy: Plan) => void): Plan {
    const copy = structuredClone(plan);
    edit(copy);
    return copy;
}

/** SQS as sendMessage sees it: records what it is given. */
class FakeQueue {
    readonly sent: { queueArn: string; body: string }[] = [];
    failure?: Error;
    readonly sendMessage: ApiGatewayOptions["sendMessage"] = async (queueArn, body) => {
        if (this.failure) throw this.failure;
        this.sent.push({ queueArn, body });
        return { messageId: `message-${this.sent.length}`, md5OfMessageBody: md5OfMessageBody(body) };
    };
}

/** Allows everything unless told to deny, and records what it was asked. */
class FakeAuthorizer implements Authorizer {
    readonly requests: AccessRequest[] = [];
    denial?: string;
    async authorize(request: AccessRequest): Promise<Decision> {
        this.requests.push(request);
        return this.denial ? { allowed: false, message: this.denial } : { allowed: true, message: "allowed" };
    }
}

class FakeCounter implements Counter {
    readonly adds: { name: string; by: number; reason?: string }[] = [];
    add(name: string, by = 1, reason?: string): void {
        this.adds.push({ name, by, reason });
    }
    count(name: string, reason?: string): number {
        return this.adds.filter((a) => a.name === name && (reason === undefined || a.reason === reason)).reduce((n, a) => n + a.by, 0);
    }
}

describe("local/runtime/api-gateway", function () {
    let plan: Plan;
    let queue: FakeQueue;
    let authorizer: FakeAuthorizer;
    let counter: FakeCounter;
    let clock: number;
    const started: LocalApiGateway[] = [];

    before(async () => {
        plan = await stackPlan("dev");
    });

    beforeEach(() => {
        queue = new FakeQueue();
        authorizer = new FakeAuthorizer();
        counter = new FakeCounter();
        clock = Date.UTC(2025, 0, 15, 12, 0, 0);
    });

    afterEach(async () => {
        await Promise.all(started.splice(0).map((g) => g.stop()));
    });

    async function start(options: Partial<ApiGatewayOptions> = {}): Promise<LocalApiGateway> {
        const gateway = await startApiGateway({ plan, authorizer, sendMessage: queue.sendMessage, counter, now: () => clock, ...options });
        started.push(gateway);
        return gateway;
    }

    /** POST /messages on the plan's stage, with the plan's key unless told otherwise. */
    async function post(gateway: LocalApiGateway, body: string, headers: Record<string, string> = {}) {
        const api = gateway.apis[0];
        const response = await fetch(`${Object.values(api.stageUrls)[0]}/messages`, {
            method: "POST",
            body,
            headers: { "content-type": "application/json", "x-api-key": api.keys[0]?.value ?? "", ...headers },
        });
        return { status: response.status, headers: response.headers, text: await response.text() };
    }

    const validMessage = { message: "hello & goodbye = 100% + more\n\"quoted\" é 😀", type: "greeting.v1", attributes: { source: "a/b?c" } };

    describe("startApiGateway on the dev plan", () => {
        it("serves the plan's REST API on one loopback port, with its stage URL and its key", async () => {
            const gateway = await start();
            const restApi = one(plan, T.restApi);
            const stage = plan.resources.find((r) => r.type === "aws:apigateway/stage:Stage")!.inputs.stageName as string;
            const key = one(plan, T.apiKey);
            expect(gateway.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
            expect(gateway.apis).to.have.length(1);
            expect(gateway.apis[0].name).to.equal(restApi.name);
            expect(gateway.apis[0].stageUrls).to.deep.equal({ [stage]: `${gateway.url}/${stage}` });
            expect(gateway.apis[0].keys.map(({ name, id }) => ({ name, id }))).to.deep.equal([{ name: key.name, id: key.outputs.id }]);
            expect(gateway.apis[0].keys[0].value).to.match(/^[A-Za-z0-9]{40}$/);
        });

        it("uses the key values it is given", async () => {
            const name = one(plan, T.apiKey).name;
            const gateway = await start({ apiKeys: { [name]: "k".repeat(30) } });
            expect(gateway.apis[0].keys[0].value).to.equal("k".repeat(30));
            expect((await post(gateway, JSON.stringify(validMessage))).status).to.equal(200);
        });

        it("answers 200 with SQS's message id, the body reaching sendMessage as the template encodes it", async () => {
            const gateway = await start();
            // Padded JSON: the template re-serializes it, so SQS gets the compact form.
            const response = await post(gateway, JSON.stringify(validMessage, null, 4));

            expect(response.status).to.equal(200);
            expect(response.headers.get("content-type")).to.equal("application/json");
            expect(JSON.parse(response.text)).to.deep.equal({ messageId: "message-1" });
            const integration = one(plan, T.integration);
            const queueArn = plan.resources.find((r) => r.type === T.queue && String(integration.inputs.uri).endsWith(`/${r.outputs.name}`))!.outputs.arn;
            expect(queue.sent).to.deep.equal([{ queueArn, body: JSON.stringify(validMessage) }]);
            expect(JSON.parse(queue.sent[0].body)).to.deep.equal(validMessage);
            expect(authorizer.requests).to.deep.equal([{ principal: { role: integration.inputs.credentials }, action: "sqs:SendMessage", resource: queueArn }]);
            expect(counter.count("accepted")).to.equal(1);
            expect(counter.count("rejected")).to.equal(0);
        });

        it("answers 400 for a body the model refuses, with the gateway response's template and the validator's words", async () => {
            const gateway = await start();
            const missing = await post(gateway, JSON.stringify({ type: "greeting" }));
            expect(missing.status).to.equal(400);
            expect(JSON.parse(missing.text)).to.deep.equal({
                message: "Invalid request body",
                errors: '[object has missing required properties (["message"])]',
                requestId: missing.headers.get("x-amzn-requestid"),
            });
            const wrongType = await post(gateway, JSON.stringify({ message: 5 }));
            expect(JSON.parse(wrongType.text).errors).to.equal('[instance type (integer) does not match any allowed primitive type (allowed: ["string"])]');
            const unparsable = await post(gateway, '{"message": ');
            expect(unparsable.status).to.equal(400);
            expect(JSON.parse(unparsable.text).message).to.equal("Invalid request body");

            expect(queue.sent).to.deep.equal([]);
            expect(counter.count("rejected", "400")).to.equal(3);
        });

        it("answers API Gateway's default 400 when the plan has no BAD_REQUEST_BODY response", async () => {
            const gateway = await start({ plan: variant(plan, (p) => (p.resources = p.resources.filter((r) => r.type !== T.gatewayResponse))) });
            const response = await post(gateway, JSON.stringify({ type: "greeting" }));
            expect(response.status).to.equal(400);
            expect(JSON.parse(response.text)).to.deep.equal({ message: "Invalid request body" });
        });

        it("answers 403 Forbidden without a key, with a wrong key, a disabled one, or one no usage plan of the stage holds", async () => {
            const gateway = await start();
            for (const headers of [{ "x-api-key": "" }, { "x-api-key": "not-the-key-not-the-key-not-the-key" }]) {
                const response = await post(gateway, JSON.stringify(validMessage), headers);
                expect(response.status, JSON.stringify(headers)).to.equal(403);
                expect(JSON.parse(response.text)).to.deep.equal({ message: "Forbidden" });
            }
            const disabled = await start({ plan: variant(plan, (p) => (one(p, T.apiKey).inputs.enabled = false)) });
            expect((await post(disabled, JSON.stringify(validMessage))).status).to.equal(403);
            const value = "v".repeat(40);
            const detached = await start({
                plan: variant(plan, (p) => (p.resources = p.resources.filter((r) => r.type !== T.usagePlanKey))),
                apiKeys: { [one(plan, T.apiKey).name]: value },
            });
            expect(detached.apis[0].keys, "keys of the API").to.deep.equal([]);
            expect((await post(detached, JSON.stringify(validMessage), { "x-api-key": value })).status).to.equal(403);

            expect(queue.sent).to.deep.equal([]);
            expect(counter.count("rejected", "403")).to.equal(4);
        });

        it("answers 429 Too Many Requests past the usage plan's burst, then lets requests through as the bucket refills", async () => {
            const gateway = await start();
            const { burstLimit, rateLimit } = one(plan, T.usagePlan).inputs.throttleSettings as { burstLimit: number; rateLimit: number };
            for (let i = 0; i < burstLimit; i++) expect((await post(gateway, JSON.stringify(validMessage))).status, `request ${i + 1}`).to.equal(200);
            const throttled = await post(gateway, JSON.stringify(validMessage));
            expect(throttled.status).to.equal(429);
            expect(JSON.parse(throttled.text)).to.deep.equal({ message: "Too Many Requests" });

            clock += 1000 / rateLimit; // one token's worth
            expect((await post(gateway, JSON.stringify(validMessage))).status).to.equal(200);
            expect((await post(gateway, JSON.stringify(validMessage))).status).to.equal(429);
            expect(queue.sent).to.have.length(burstLimit + 1);
            expect(counter.count("rejected", "429")).to.equal(2);
        });

        it("throttles per key with the usage plan, and per method with the stage's settings", async () => {
            const twoKeys = (usagePlanBurst: number, stageBurst: number) =>
                variant(plan, (p) => {
                    one(p, T.usagePlan).inputs.throttleSettings = { burstLimit: usagePlanBurst, rateLimit: 1 };
                    Object.assign((one(p, T.methodSettings).inputs.settings as object), { throttlingBurstLimit: stageBurst, throttlingRateLimit: 1 });
                    const key = one(p, T.apiKey);
                    const attach = one(p, T.usagePlanKey);
                    p.resources.push({ ...structuredClone(key), name: "second-key", outputs: { ...key.outputs, id: "second-key-id" } });
                    p.resources.push({ ...structuredClone(attach), name: "second-attach", inputs: { ...attach.inputs, keyId: "second-key-id" }, outputs: { ...attach.outputs, id: "second-attach-id" } });
                });
            const byKey = await start({ plan: twoKeys(2, 1000) });
            const [first, second] = byKey.apis[0].keys.map((k) => ({ "x-api-key": k.value }));
            const statuses = async (g: LocalApiGateway, keys: Record<string, string>[]) => {
                const out: number[] = [];
                for (const k of keys) out.push((await post(g, JSON.stringify(validMessage), k)).status);
                return out;
            };
            expect(await statuses(byKey, [first, first, first, second, second, second])).to.deep.equal([200, 200, 429, 200, 200, 429]);

            const byStage = await start({ plan: twoKeys(1000, 2) });
            const keys = byStage.apis[0].keys.map((k) => ({ "x-api-key": k.value }));
            expect(await statuses(byStage, [keys[0], keys[1], keys[0], keys[1]])).to.deep.equal([200, 200, 429, 429]);
        });

        it("answers 429 Limit Exceeded past the usage plan's quota, until the next period", async () => {
            const gateway = await start({ plan: variant(plan, (p) => (one(p, T.usagePlan).inputs.quotaSettings = { limit: 2, period: "DAY" })) });
            expect((await post(gateway, JSON.stringify(validMessage))).status).to.equal(200);
            expect((await post(gateway, JSON.stringify(validMessage))).status).to.equal(200);
            const over = await post(gateway, JSON.stringify(validMessage));
            expect(over.status).to.equal(429);
            expect(JSON.parse(over.text)).to.deep.equal({ message: "Limit Exceeded" });
            clock += 86_400_000;
            expect((await post(gateway, JSON.stringify(validMessage))).status).to.equal(200);
        });

        it("answers the mapped 500 when the role may not send to the queue, and counts the denial", async () => {
            const gateway = await start();
            authorizer.denial = "User: arn:aws:sts::123456789012:assumed-role/messages-role is not authorized to perform: sqs:SendMessage on resource: q because no identity-based policy allows the sqs:SendMessage action";
            const response = await post(gateway, JSON.stringify(validMessage));

            expect(response.status).to.equal(500);
            expect(JSON.parse(response.text)).to.deep.equal({ message: "The message could not be queued. Retry later.", requestId: response.headers.get("x-amzn-requestid") });
            expect(queue.sent).to.deep.equal([]);
            expect(counter.count("denied", authorizer.denial)).to.equal(1);
            expect(counter.count("rejected", "500")).to.equal(1);
            expect(counter.count("accepted")).to.equal(0);
        });

        it("answers the mapped 500 when sendMessage fails", async () => {
            const gateway = await start();
            queue.failure = new Error("queue is gone");
            const response = await post(gateway, JSON.stringify(validMessage));
            expect(response.status).to.equal(500);
            expect(JSON.parse(response.text).message).to.equal("The message could not be queued. Retry later.");
            expect(counter.count("denied")).to.equal(0);
        });

        it("answers 403 Missing Authentication Token for an unknown path, method or stage", async () => {
            const gateway = await start();
            const stageUrl = Object.values(gateway.apis[0].stageUrls)[0];
            for (const [url, method] of [[`${stageUrl}/nothing-here`, "POST"], [`${stageUrl}/messages`, "GET"], [`${stageUrl}/messages/deeper`, "POST"], [`${gateway.url}/v9/messages`, "POST"], [gateway.url, "GET"]]) {
                const response = await fetch(url, { method, headers: { "x-api-key": gateway.apis[0].keys[0].value }, body: method === "GET" ? undefined : "{}" });
                expect(response.status, `${method} ${url}`).to.equal(403);
                expect(await response.json()).to.deep.equal({ message: "Missing Authentication Token" });
            }
            expect(counter.count("rejected", "403")).to.equal(5);
        });

        it("answers 415 for a content type without a request template (passthroughBehavior NEVER)", async () => {
            const gateway = await start();
            const response = await post(gateway, "hello", { "content-type": "text/plain" });
            expect(response.status).to.equal(415);
            expect(JSON.parse(response.text)).to.deep.equal({ message: "Unsupported Media Type" });
            // A charset parameter does not change the media type.
            expect((await post(gateway, JSON.stringify(validMessage), { "content-type": "application/json; charset=utf-8" })).status).to.equal(200);
            expect(queue.sent).to.have.length(1);
        });

        it("stop() closes the server and its connections, a request still in flight included", async () => {
            let release!: () => void;
            let reached!: () => void;
            const inFlight = new Promise<void>((r) => (reached = r));
            const gateway = await start({
                sendMessage: (queueArn, body) => {
                    reached();
                    return new Promise((resolve) => (release = () => resolve({ messageId: "late", md5OfMessageBody: md5OfMessageBody(body) })));
                },
            });
            const pending = post(gateway, JSON.stringify(validMessage)).then(
                () => "answered",
                () => "connection closed",
            );
            await inFlight;
            const inTime = await Promise.race([gateway.stop().then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]);
            release();
            expect(inTime, "stop() resolved while a request waited on sendMessage").to.equal(true);
            expect(await pending).to.equal("connection closed");
        });

        it("stop() closes idle keep-alive connections, and the port", async () => {
            const gateway = await start(); // also stopped by afterEach should an assertion fail first (stop() is idempotent)
            expect((await post(gateway, JSON.stringify(validMessage))).status).to.equal(200); // leaves a keep-alive connection open
            const stopping = gateway.stop();
            const inTime = await Promise.race([stopping.then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]);
            expect(inTime, "stop() resolved").to.equal(true);
            let error: unknown;
            await fetch(`${gateway.url}/`).catch((e) => (error = e));
            expect(error, "a request after stop()").to.be.instanceOf(Error);
        });
    });

    describe("every stack", () => {
        for (const stack of STACKS) {
            it(`starts on the ${stack} plan and accepts a valid message`, async () => {
                const gateway = await start({ plan: await stackPlan(stack) });
                expect((await post(gateway, JSON.stringify(validMessage))).status).to.equal(200);
            });
        }
    });

    describe("refusing at start what it cannot run", () => {
        const cases: [string, (p: Plan) => void, RegExp][] = [
            ["an integration other than AWS", (p) => (one(p, T.integration).inputs.type = "HTTP_PROXY"), /^aws:apigateway\/integration:Integration "[^"]+": type "HTTP_PROXY": expected AWS/],
            ["an AWS integration with another service", (p) => (one(p, T.integration).inputs.uri = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/f/invocations"), /Integration "[^"]+": uri ".*lambda.*": expected arn:aws:apigateway:<region>:sqs:path/],
            ["an authorizer", (p) => (one(p, T.method).inputs.authorization = "AWS_IAM"), /^aws:apigateway\/method:Method "[^"]+": authorization "AWS_IAM": expected NONE/],
            ["a template outside the VTL subset", (p) => ((one(p, T.integration).inputs.requestTemplates as Record<string, string>)["application/json"] = "#if($x)a#end"), /^aws:apigateway\/integration:Integration "[^"]+" requestTemplates\["application\/json"\]: mapping template uses #if/],
            ["a request template key it cannot pick", (p) => (one(p, T.integration).inputs.requestTemplates = { "application/*": "$input.body" }), /requestTemplates key "application\/\*": expected a media type/],
            ["credentials that are no role of the plan", (p) => (one(p, T.integration).inputs.credentials = "arn:aws:iam::*:user/*"), /credentials "arn:aws:iam::\*:user\/\*": expected the ARN of an aws:iam\/role:Role in the plan/],
            ["an input it does not model", (p) => (one(p, T.integration).inputs.contentHandling = "CONVERT_TO_TEXT"), /Integration "[^"]+": input contentHandling is not supported/],
            ["caching", (p) => Object.assign(one(p, T.methodSettings).inputs.settings as object, { cachingEnabled: true }), /MethodSettings "[^"]+": settings.cachingEnabled = true is not supported/],
            [
                "an API Gateway resource type it does not know",
                (p) => p.resources.push({ ...structuredClone(one(p, T.restApi)), type: "aws:apigateway/authorizer:Authorizer", name: "an-authorizer", inputs: {} }),
                /^aws:apigateway\/authorizer:Authorizer "an-authorizer": resource type .* is not supported/,
            ],
        ];
        for (const [what, edit, expected] of cases) {
            it(`refuses ${what}, in one line naming the resource`, async () => {
                let error: unknown;
                await startApiGateway({ plan: variant(plan, edit), authorizer, sendMessage: queue.sendMessage }).then((g) => started.push(g), (e) => (error = e));
                expect(error, "startApiGateway rejected").to.be.instanceOf(Error);
                expect((error as Error).message).to.match(expected);
                expect((error as Error).message).not.to.contain("\n");
            });
        }

        it("refuses a key value for a key the plan does not have", async () => {
            let error: unknown;
            await startApiGateway({ plan, authorizer, sendMessage: queue.sendMessage, apiKeys: { "no-such-key": "x".repeat(40) } }).then((g) => started.push(g), (e) => (error = e));
            expect((error as Error)?.message).to.match(/^apiKeys\["no-such-key"\]: the plan has no aws:apigateway\/apiKey:ApiKey named no-such-key/);
        });
    });

    describe("pure parts", () => {
        it("takeToken: a bucket starts full, gives burstLimit tokens, and refills at rateLimit per second up to burstLimit", () => {
            const limit = { burstLimit: 2, rateLimit: 4 };
            let state = takeToken(undefined, limit, 0);
            expect(state.allowed).to.equal(true);
            state = takeToken(state.bucket, limit, 0);
            expect(state.allowed).to.equal(true);
            state = takeToken(state.bucket, limit, 0);
            expect(state.allowed).to.equal(false);
            state = takeToken(state.bucket, limit, 249);
            expect(state.allowed, "before a quarter second").to.equal(false);
            state = takeToken(state.bucket, limit, 250);
            expect(state.allowed, "after a quarter second").to.equal(true);
            state = takeToken(state.bucket, limit, 60_000);
            expect(state.bucket.tokens, "capped at the burst").to.equal(1);
        });

        it("selectIntegrationResponse: the first matching selectionPattern, else the default", () => {
            const responses = [{ name: "default" }, { name: "5xx", pattern: /^(?:5\d{2})$/ }, { name: "4xx", pattern: /^(?:[45]\d{2})$/ }];
            expect(selectIntegrationResponse(responses, "200")?.name).to.equal("default");
            expect(selectIntegrationResponse(responses, "503")?.name).to.equal("5xx");
            expect(selectIntegrationResponse(responses, "403")?.name).to.equal("4xx");
            expect(selectIntegrationResponse(responses.slice(1), "200")).to.equal(undefined);
        });

        it("pickResponseTemplate: by Accept, else application/json, else the first", () => {
            const templates = new Map([["application/xml", "x"], ["application/json", "j"]]);
            expect(pickResponseTemplate(templates, "text/html, application/xml;q=0.9")).to.deep.equal(["application/xml", "x"]);
            expect(pickResponseTemplate(templates, "*/*")).to.deep.equal(["application/json", "j"]);
            expect(pickResponseTemplate(new Map([["text/plain", "t"]]), undefined)).to.deep.equal(["text/plain", "t"]);
        });

        it("queueArnFromUri: the SQS path integration's queue", () => {
            expect(queueArnFromUri("arn:aws:apigateway:eu-west-1:sqs:path/123456789012/orders-queue")).to.equal("arn:aws:sqs:eu-west-1:123456789012:orders-queue");
            expect(queueArnFromUri("arn:aws:apigateway:eu-west-1:sqs:action/SendMessage")).to.equal(undefined);
        });

        it("quotaPeriod: UTC days, Sunday weeks and months", () => {
            expect(quotaPeriod("DAY", Date.UTC(2025, 0, 15, 23, 59))).to.not.equal(quotaPeriod("DAY", Date.UTC(2025, 0, 16, 0, 0)));
            expect(quotaPeriod("WEEK", Date.UTC(2025, 0, 18))).to.equal(quotaPeriod("WEEK", Date.UTC(2025, 0, 12))); // Saturday, Sunday before
            expect(quotaPeriod("WEEK", Date.UTC(2025, 0, 19))).to.not.equal(quotaPeriod("WEEK", Date.UTC(2025, 0, 18)));
            expect(quotaPeriod("MONTH", Date.UTC(2025, 0, 31))).to.not.equal(quotaPeriod("MONTH", Date.UTC(2025, 1, 1)));
        });

        it("validateBody: API Gateway's validator wording, one message per failed keyword", () => {
            const validate = new Ajv04({ allErrors: true, strict: false, verbose: true }).compile({
                type: "object",
                required: ["b", "a"],
                properties: { a: {}, b: {}, s: { type: "string", minLength: 2, maxLength: 3, pattern: "^x" }, n: { type: "integer", minimum: 1 }, e: { enum: ["p", "q"] } },
                additionalProperties: false,
            });
            expect(validateBody(validate, '{"a": 1, "b": 2}')).to.equal(undefined);
            expect(validateBody(validate, "{}")).to.equal('[object has missing required properties (["a","b"])]');
            expect(validateBody(validate, '{"a":1,"b":1,"z":1,"y":2}')).to.equal('[object instance has properties which are not allowed by the schema: ["y","z"]]');
            expect(validateBody(validate, '{"a":1,"b":1,"s":"yyyy"}')).to.equal(
                '[string "yyyy" is too long (length: 4, maximum allowed: 3), ECMA 262 regex "^x" does not match input string "yyyy"]',
            );
            expect(validateBody(validate, '{"a":1,"b":1,"s":"x"}')).to.equal('[string "x" is too short (length: 1, required minimum: 2)]');
            expect(validateBody(validate, '{"a":1,"b":1,"n":0}')).to.equal("[numeric instance is lower than the required minimum (minimum: 1, found: 0)]");
            expect(validateBody(validate, '{"a":1,"b":1,"e":"r"}')).to.equal('[instance value ("r") not found in enum (possible values: ["p","q"])]');
            expect(validateBody(validate, "[1]")).to.equal('[instance type (array) does not match any allowed primitive type (allowed: ["object"])]');
            expect(validateBody(validate, "{oops")).to.match(/^\[Invalid JSON: .+\]$/);
        });
    });
});
