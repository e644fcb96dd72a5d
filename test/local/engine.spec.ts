import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { REPO_ROOT, evaluateStack } from "../../local/engine";
import { one, record } from "../support/pulumi-harness";

// evaluateStack runs a project as Pulumi's Node host runs it: the module, or the function it exports.
describe("local/engine: evaluateStack", () => {
    // Inside the repository, so the project resolves this repository's packages.
    const project = path.join(REPO_ROOT, ".build", "engine-spec-project");
    const components = JSON.stringify(path.join(REPO_ROOT, "components"));

    before(() => {
        fs.rmSync(project, { recursive: true, force: true });
        fs.mkdirSync(project, { recursive: true });
        fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: engine-spec\nruntime: nodejs\nmain: index.ts\n");
        fs.writeFileSync(path.join(project, "Pulumi.test.yaml"), "config:\n  aws:region: eu-west-1\n");
    });
    after(() => fs.rmSync(project, { recursive: true, force: true }));

    it("skips the stack trace Pulumi records per promise while a program runs; other stacks keep their TypeScript lines", async () => {
        const before = Error.prepareStackTrace;
        let thrown: Error | undefined;
        let promiseStack: unknown;
        await record(() => {
            new aws.sqs.Queue("q", {});
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const { debuggablePromise } = require("@pulumi/pulumi/runtime/debuggable") as { debuggablePromise<T>(p: Promise<T>, ctx: string): Promise<T> };
            // It marks the promise it is given (and returns another).
            const marked = Promise.resolve(1);
            void debuggablePromise(marked, "spec");
            promiseStack = (marked as unknown as { _debugStackTrace?: unknown })._debugStackTrace;
            thrown = new Error("here");
        });
        expect(promiseStack, "Pulumi's per-promise trace").to.equal("");
        expect(thrown?.stack).to.match(/engine\.spec\.ts:\d+/);
        expect(Error.prepareStackTrace, "restored").to.equal(before);
    });

    it("calls and awaits a program that exports an async function, its result the stack's outputs", async () => {
        fs.writeFileSync(
            path.join(project, "index.ts"),
            `import { FanOutTopic, QueueWithDlq } from ${components};
export = async () => {
    const queue = new QueueWithDlq("late", { alertTopicArn: "arn:aws:sns:eu-west-1:123456789012:alerts" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const topic = new FanOutTopic("late-events", { subscribers: { late: { queue } } });
    return { topicArn: topic.arn };
};
`,
        );
        const plan = await evaluateStack({ root: project, stack: "test" });
        expect(plan.resources.filter((r) => r.type === "aws:sns/topicSubscription:TopicSubscription").map((r) => r.name)).to.deep.equal(["late-events-late-subscription"]);
        expect(plan.outputs.topicArn).to.match(/^arn:aws:sns:eu-west-1:123456789012:late-events-topic-sns-[0-9a-f]{7}$/);
        const queuePolicy = JSON.parse(plan.resources.find((r) => r.name === "late-queue-policy")!.inputs.policy as string);
        expect(queuePolicy.Statement.map((s: { Sid: string }) => s.Sid)).to.deep.equal(["DenyInsecureTransport", "AllowSend1"]);
    });

    it("takes the exports of a program that is a module body", async () => {
        fs.writeFileSync(
            path.join(project, "index.ts"),
            `import { QueueWithDlq } from ${components};
export const url = new QueueWithDlq("plain", { alertTopicArn: "arn:aws:sns:eu-west-1:123456789012:alerts" }).url;
`,
        );
        const plan = await evaluateStack({ root: project, stack: "test" });
        expect(plan.outputs.url).to.match(/^https:\/\/sqs\.eu-west-1\.amazonaws\.com\/123456789012\/plain-queue-[0-9a-f]{7}$/);
    });
});

// The alias URNs the plan records must be the engine's, or the migration spec proves nothing.
describe("local/engine: alias URNs, as the Pulumi engine derives them", () => {
    const URN = "urn:pulumi:test::event-pipelines::";
    const Q = "aws:sqs/queue:Queue";

    it("a resource at the stack root renamed: no stack type in the alias", async () => {
        const plan = await record(() => void new aws.sqs.Queue("new-queue", {}, { aliases: [{ name: "old-queue" }] }));
        expect(one(plan, Q, "new-queue").aliases).to.deep.equal([`${URN}${Q}::old-queue`]);
    });

    it("a component renamed: its children follow, renamed with it when named after it, kept when not", async () => {
        const plan = await record(() => {
            const parent = new pulumi.ComponentResource("test:index:Box", "new-box", {}, { aliases: [{ name: "old-box" }] });
            new aws.sqs.Queue("new-box-queue", {}, { parent });
            new aws.sqs.Queue("shared", {}, { parent });
        });
        expect(one(plan, Q, "new-box-queue").aliases).to.deep.equal([`${URN}test:index:Box$${Q}::old-box-queue`]);
        expect(one(plan, Q, "shared").aliases).to.deep.equal([`${URN}test:index:Box$${Q}::shared`]);
    });

    it("a child with an alias of its own under an aliased parent: its own, and both under the parent's alias", async () => {
        const plan = await record(() => {
            const parent = new pulumi.ComponentResource("test:index:Box", "box", {}, { aliases: [{ name: "crate" }] });
            new aws.sqs.Queue("box-new", {}, { parent, aliases: [{ name: "box-old" }] });
        });
        expect(one(plan, Q, "box-new").aliases).to.have.members([
            `${URN}test:index:Box$${Q}::box-old`,
            `${URN}test:index:Box$${Q}::crate-new`,
            `${URN}test:index:Box$${Q}::crate-old`,
        ]);
    });

    it("an alias naming another parent, or none", async () => {
        const plan = await record(() => {
            const before = new pulumi.ComponentResource("test:index:Before", "before", {});
            const after = new pulumi.ComponentResource("test:index:After", "after", {});
            new aws.sqs.Queue("moved", {}, { parent: after, aliases: [{ parent: before }, { parent: pulumi.rootStackResource }] });
        });
        expect(one(plan, Q, "moved").aliases).to.deep.equal([`${URN}test:index:Before$${Q}::moved`, `${URN}${Q}::moved`]);
    });
});
