import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { API_MESSAGE_SCHEMA, CONSUMER_ENV } from "../../../functions/shared/contract";
import { MessagesApi, MessagesApiArgs } from "../../../components/systems/messages-api";
import { Plan } from "../../../local/plan";
import { ALERT_TOPIC_ARN, childrenOf, ofType, one, record, descendantsOf } from "../../support/pulumi-harness";

const T = {
    component: "event-pipelines:index:MessagesApi",
    account: "aws:apigateway/account:Account",
    stage: "aws:apigateway/stage:Stage",
    fn: "aws:lambda/function:Function",
    queue: "aws:sqs/queue:Queue",
};

const build = (args: Partial<MessagesApiArgs> = {}): Promise<Plan> =>
    record(() => {
        const api = new MessagesApi("orders", { alertTopicArn: ALERT_TOPIC_ARN, ...args });
        return { invokeUrl: api.invokeUrl, apiKeyId: api.apiKeyId };
    });

describe("MessagesApi", () => {
    let plan: Plan;
    before(async () => {
        plan = await build();
    });

    it("puts the API and its queue below the component, named `<name>-<role>` (or `<name>`)", () => {
        const component = one(plan, T.component, "orders");
        expect(childrenOf(plan, component).map((c) => `${c.type}::${c.name}`).sort()).to.deep.equal([
            "event-pipelines:index:ApiToQueue::orders",
            "event-pipelines:index:QueueWithDlq::orders-inbox",
        ]);
        const all = descendantsOf(plan, component);
        expect(all.every((d) => d.name === "orders" || d.name.startsWith("orders-"))).to.equal(true);
    });

    it("validates requests with the contract's message schema, and sends them to the inbox queue", () => {
        expect(JSON.parse(one(plan, "aws:apigateway/model:Model", "orders-model").inputs.schema as string)).to.deep.equal(JSON.parse(JSON.stringify(API_MESSAGE_SCHEMA)));
        const queueName = one(plan, T.queue, "orders-inbox-queue").outputs.name as string;
        expect(one(plan, "aws:apigateway/integration:Integration", "orders-integration").inputs.uri).to.match(new RegExp(`:sqs:path/123456789012/${queueName}$`));
    });

    it("gives the consumer its DLQ's URL, to move the messages it refuses there with the reason", () => {
        const variables = (one(plan, T.fn, "orders-inbox-consumer-function").inputs.environment as { variables: Record<string, string> }).variables;
        expect(variables[CONSUMER_ENV.deadLetterQueueUrl]).to.equal(one(plan, T.queue, "orders-inbox-dlq").outputs.url);
    });

    it("leaves the account's API Gateway logging role alone by default, and sets it, before the stage, when asked", async () => {
        expect(ofType(plan, T.account)).to.have.length(0);
        const managed = await build({ manageAccountLogging: true });
        const account = one(managed, T.account, "orders-gateway-account-account");
        expect(one(managed, T.stage, "orders-stage").dependencies).to.include(account.urn);
        expect(one(managed, "aws:apigateway/methodSettings:MethodSettings", "orders-method-settings").dependencies).to.include(account.urn);
    });

    it("passes the API settings on, and exposes the stage URL and the key's id", async () => {
        const custom = await build({ api: { path: "orders", stageName: "prod", throttle: { rateLimit: 5, burstLimit: 10 } } });
        expect(one(custom, "aws:apigateway/resource:Resource", "orders-messages").inputs.pathPart).to.equal("orders");
        expect(one(custom, "aws:apigateway/usagePlan:UsagePlan", "orders-usage-plan").inputs.throttleSettings).to.deep.equal({ rateLimit: 5, burstLimit: 10 });
        expect(custom.outputs.invokeUrl).to.match(/^https:\/\/[0-9a-f]+\.execute-api\.us-east-1\.amazonaws\.com\/prod$/);
        expect(custom.outputs.apiKeyId).to.equal(one(custom, "aws:apigateway/apiKey:ApiKey", "orders-api-key").outputs.id);
    });

    it("gives every part its own aliases", async () => {
        const old = (name: string) => [{ name, parent: pulumi.rootStackResource }];
        const aliased = await build({ manageAccountLogging: true, partAliases: { inbox: old("old-inbox"), api: old("old-api"), accountLogging: old("old-account") } });
        const urn = (type: string, name: string) => `urn:pulumi:test::event-pipelines::event-pipelines:index:${type}::${name}`;
        expect(one(aliased, "event-pipelines:index:QueueWithDlq", "orders-inbox").aliases).to.deep.equal([urn("QueueWithDlq", "old-inbox")]);
        expect(one(aliased, "event-pipelines:index:ApiToQueue", "orders").aliases).to.deep.equal([urn("ApiToQueue", "old-api")]);
        expect(one(aliased, "event-pipelines:index:ApiGatewayAccount", "orders-gateway-account").aliases).to.deep.equal([urn("ApiGatewayAccount", "old-account")]);
    });

    it("gives each part the aliases it is handed", async () => {
        const aliased = await build({ partAliases: { inbox: [{ name: "api", parent: pulumi.rootStackResource }] } });
        expect(one(aliased, "event-pipelines:index:QueueWithDlq", "orders-inbox").aliases).to.deep.equal([
            "urn:pulumi:test::event-pipelines::event-pipelines:index:QueueWithDlq::api",
        ]);
    });
});
