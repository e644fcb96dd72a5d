import { expect } from "chai";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { REPO_ROOT } from "../local/engine";
import { readProject } from "../local/stack-files";
import { Plan } from "../local/plan";
import { one, ofType } from "./support/pulumi-harness";
import { stackPlan } from "./support/stack-plans";

const run = promisify(execFile);

describe("Pulumi.yaml", () => {
    it("names index.ts as the program, so the built library (package.json exports) never runs in its place", () => {
        expect(readProject(REPO_ROOT).main).to.equal("index.ts");
        expect(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")).to.match(/^main: index\.ts$/m);
    });
});

describe("stacks evaluated from their YAML files", () => {
    let dev: Plan;
    let prod: Plan;
    before(async () => {
        dev = await stackPlan("dev");
        prod = await stackPlan("prod");
    });

    it("builds the same resources in dev and prod", () => {
        // The stack itself and the alert e-mail subscriptions are named per stack.
        const shape = (p: Plan) =>
            p.resources.filter((r) => r.type !== "pulumi:pulumi:Stack" && !/-email-[0-9a-f]+$/.test(r.name)).map((r) => `${r.type}::${r.name}`).sort();
        expect(shape(dev)).to.deep.equal(shape(prod));
        expect(dev.resources.length).to.be.above(40);
    });

    it("applies each stack's values where dev and prod differ", () => {
        const retention = (p: Plan) => ofType(p, "aws:cloudwatch/logGroup:LogGroup").map((g) => g.inputs.retentionInDays);
        expect(retention(dev)).to.deep.equal([14, 14, 14]);
        expect(retention(prod)).to.deep.equal([365, 365, 365]);
        const stream = (p: Plan) => one(p, "aws:kinesis/stream:Stream", "events-stream").inputs;
        expect(stream(dev)).to.deep.include({ name: "EventStream", streamModeDetails: { streamMode: "PROVISIONED" }, shardCount: 1, retentionPeriod: 24 });
        expect(stream(prod)).to.deep.include({ name: "EventStream", streamModeDetails: { streamMode: "ON_DEMAND" }, retentionPeriod: 168 });
        expect(stream(prod).shardCount).to.equal(undefined);
        const esm = (p: Plan) => one(p, "aws:lambda/eventSourceMapping:EventSourceMapping", "events-consumer-events").inputs;
        expect([esm(dev).batchSize, esm(prod).batchSize]).to.deep.equal([100, 500]);
        expect([esm(dev).parallelizationFactor, esm(prod).parallelizationFactor]).to.deep.equal([1, 2]);
        expect(one(dev, "aws:dynamodb/table:Table", "events-table").inputs.ttl).to.deep.equal({ attributeName: "expiresAt", enabled: true });
        expect(one(prod, "aws:dynamodb/table:Table", "events-table").inputs.ttl).to.equal(undefined);
        const redrive = (p: Plan) => JSON.parse(one(p, "aws:sqs/queue:Queue", "audit-queue").inputs.redrivePolicy as string).maxReceiveCount;
        expect(redrive(dev)).to.equal(5);
        expect(redrive(prod)).to.equal(8);
        const concurrency = (p: Plan) => (one(p, "aws:lambda/eventSourceMapping:EventSourceMapping", "audit-consumer-events").inputs.scalingConfig as { maximumConcurrency: number }).maximumConcurrency;
        expect([concurrency(dev), concurrency(prod)]).to.deep.equal([2, 20]);
        const age = (p: Plan) => one(p, "aws:cloudwatch/metricAlarm:MetricAlarm", "audit-oldest-message-age-alarm").inputs.threshold;
        expect([age(dev), age(prod)]).to.deep.equal([1800, 300]);
    });

    it("subscribes the alert e-mails of prod only", () => {
        const emails = (p: Plan) => ofType(p, "aws:sns/topicSubscription:TopicSubscription").filter((s) => s.inputs.protocol === "email").map((s) => s.inputs.endpoint);
        expect(emails(dev)).to.deep.equal([]);
        expect(emails(prod)).to.deep.equal(["data-oncall@example.com"]);
    });

    it("protects stateful resources in prod only", () => {
        const stateful = ["aws:sqs/queue:Queue", "aws:sns/topic:Topic", "aws:kms/key:Key", "aws:cloudwatch/logGroup:LogGroup", "aws:kinesis/stream:Stream", "aws:dynamodb/table:Table"];
        const protectedOnes = (p: Plan) => p.resources.filter((r) => stateful.includes(r.type)).map((r) => r.protect);
        expect(protectedOnes(prod)).to.have.length.above(8);
        expect(protectedOnes(prod).every(Boolean)).to.equal(true);
        expect(protectedOnes(dev).some(Boolean)).to.equal(false);
    });

    it("deploys an inline images consumer that reports only its bad messages", async () => {
        // The closure exactly as CallbackFunction serialized it into the archive.
        const code = one(dev, "aws:lambda/function:Function", "images-consumer-function").inputs.code as { archive: string[]; files: Record<string, string> };
        expect(code.archive).to.deep.equal(["__index.js"]);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "inline-"));
        fs.writeFileSync(path.join(dir, "__index.js"), code.files["__index.js"]);
        const { handler } = require(path.join(dir, "__index.js"));
        const body = JSON.stringify({ detail: { bucket: { name: "uploads" }, object: { key: "a.png", size: 3 } } });
        const records = [
            { messageId: "ok", body },
            { messageId: "not-json", body: "<oops>" },
            { messageId: "no-detail", body: "{}" },
        ];
        const silenced = [console.log, console.error];
        console.log = console.error = () => undefined;
        try {
            expect(await handler({ Records: records })).to.deep.equal({ batchItemFailures: [{ itemIdentifier: "not-json" }, { itemIdentifier: "no-detail" }] });
        } finally {
            [console.log, console.error] = silenced;
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("exports the stack outputs", () => {
        expect(Object.keys(dev.outputs).sort()).to.deep.equal([
            "alertTopicArn",
            "auditQueueUrl",
            "eventRejectsTableName",
            "eventStreamArn",
            "eventStreamKeyArn",
            "eventStreamName",
            "eventTableName",
            "imagesQueueUrl",
            "s3_bucket_name",
            "uploadsTopicArn",
        ]);
        expect(dev.outputs).to.deep.include({ eventStreamName: "EventStream", eventTableName: "EventLogs", eventRejectsTableName: "EventLogsRejected" });
        expect(dev.outputs.uploadsTopicArn).to.equal(one(dev, "aws:sns/topic:Topic", "uploads-topic-sns").outputs.arn);
    });
});

describe("npm start", () => {
    const tmpStack = "speccheck";
    // A stack file outside the repository, passed as `pulumi --config-file` would take it.
    const stackFile = path.join(os.tmpdir(), `event-pipelines-${process.pid}-Pulumi.${tmpStack}.yaml`);
    const start = (...args: string[]) =>
        run(process.execPath, ["-r", "ts-node/register/transpile-only", "local/main.ts", ...args], { cwd: REPO_ROOT }).then(
            (r) => ({ code: 0, ...r }),
            (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
        );
    afterEach(() => fs.rmSync(stackFile, { force: true }));

    it("stops on a value of the wrong type with one line naming the key", async () => {
        fs.writeFileSync(stackFile, 'config:\n  event-pipelines:maxReceiveCount: "abc"\n');
        const r = await start("--stack", tmpStack, "--config-file", stackFile);
        expect(r.code).to.equal(1);
        expect(r.stderr.trim()).to.equal(`error: Stack '${tmpStack}' with configuration key 'maxReceiveCount' must be of type 'integer'`);
        expect(r.stdout).to.not.contain("Previewing");
    });

    it("stops on a value out of range with one line naming the key, the value and the range", async () => {
        fs.writeFileSync(stackFile, "config:\n  event-pipelines:maxReceiveCount: 2\n");
        const r = await start("--stack", tmpStack, "--config-file", stackFile);
        expect(r.code).to.equal(1);
        expect(r.stderr.trim()).to.equal('error: Invalid stack config event-pipelines:maxReceiveCount = "2": expected an integer from 5 to 1000');
    });

    it("refuses an unknown stack and unknown arguments", async () => {
        expect((await start("--stack", "nope")).stderr.trim()).to.equal("error: no stack named 'nope' found (expected Pulumi.nope.yaml)");
        expect((await start("--bogus")).stderr.trim()).to.equal("error: unknown argument --bogus (expected --stack <name> and optionally --config-file <path>)");
        expect((await start("--stack", "dev", "--config-file", "/nonexistent.yaml")).stderr.trim()).to.equal("error: config file /nonexistent.yaml not found");
    });

    it("prints the plan and writes plan.json, the SVG and the Mermaid text", async () => {
        fs.writeFileSync(stackFile, "config:\n  aws:region: eu-west-1\n");
        const r = await start("--stack", tmpStack, "--config-file", stackFile);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.contain("event-pipelines:index:FanOutTopic");
        const out = path.join(REPO_ROOT, "out", tmpStack);
        const plan = JSON.parse(fs.readFileSync(path.join(out, "plan.json"), "utf8"));
        expect(plan.stack).to.equal(tmpStack);
        expect(plan.resources.find((x: { name: string }) => x.name === "uploads-topic-sns").outputs.arn).to.equal("arn:aws:sns:eu-west-1:123456789012:uploads-topic-sns");
        // Graphviz writes "-" in labels as an entity.
        const svg = fs.readFileSync(path.join(out, "architecture.svg"), "utf8").replace(/&#45;/g, "-");
        expect(svg).to.contain("<svg").and.contain("uploads-topic-sns").and.contain("images-queue").and.contain("audit-queue");
        expect(fs.readFileSync(path.join(out, "architecture.mmd"), "utf8")).to.match(/topic_uploads_topic_sns -->\|"filter"\| queue_images_queue/);
        fs.rmSync(out, { recursive: true, force: true });
    });
});
