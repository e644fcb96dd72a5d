import { expect } from "chai";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { API_MESSAGE_SCHEMA } from "../functions/shared/contract";
import { REPO_ROOT, evaluateStack } from "../local/engine";
import { readProject } from "../local/stack-files";
import { NAME_RULES } from "../components/shared/naming";
import { Plan } from "../local/plan";
import { planAuthorizer } from "../local/runtime/iam/authorizer";
import { one, ofType, policyOf } from "./support/pulumi-harness";
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
        // The stack itself and the alert e-mail subscriptions are named per stack; prod alone sets the
        // account's API Gateway logging role (the deployment model: see "stacks that share an account").
        const shape = (p: Plan) =>
            p.resources
                .filter((r) => r.type !== "pulumi:pulumi:Stack" && !/-email-[0-9a-f]+$/.test(r.name) && !r.urn.includes("ApiGatewayAccount"))
                .map((r) => `${r.type}::${r.name}`)
                .sort();
        expect(shape(dev)).to.deep.equal(shape(prod));
        expect(dev.resources.length).to.be.above(40);
    });

    it("applies each stack's values where dev and prod differ", () => {
        const retention = (p: Plan) => ofType(p, "aws:cloudwatch/logGroup:LogGroup").map((g) => g.inputs.retentionInDays);
        expect(retention(dev)).to.deep.equal(Array(10).fill(14));
        expect(retention(prod)).to.deep.equal(Array(10).fill(365));
        // Seed 002: small in dev, larger in prod; every state logged in dev, errors only in prod.
        const job = (p: Plan) => one(p, "aws:glue/job:Job", "reporting-etl").inputs;
        expect([job(dev).workerType, job(dev).numberOfWorkers, job(prod).workerType, job(prod).numberOfWorkers]).to.deep.equal(["G.1X", 2, "G.2X", 10]);
        const rpus = (p: Plan) => one(p, "aws:redshiftserverless/workgroup:Workgroup", "reporting-workgroup").inputs.baseCapacity;
        expect([rpus(dev), rpus(prod)]).to.deep.equal([8, 32]);
        const level = (p: Plan) => (one(p, "aws:sfn/stateMachine:StateMachine", "reporting-states").inputs.loggingConfiguration as { level: string }).level;
        expect([level(dev), level(prod)]).to.deep.equal(["ALL", "ERROR"]);
        const stream = (p: Plan) => one(p, "aws:kinesis/stream:Stream", "events-stream").inputs;
        expect(stream(dev)).to.deep.include({ name: "EventStreamDev", streamModeDetails: { streamMode: "PROVISIONED" }, shardCount: 1, retentionPeriod: 24 });
        expect(stream(prod)).to.deep.include({ name: "EventStream", streamModeDetails: { streamMode: "ON_DEMAND" }, retentionPeriod: 168 });
        expect(stream(prod).shardCount).to.equal(undefined);
        const esm = (p: Plan) => one(p, "aws:lambda/eventSourceMapping:EventSourceMapping", "events-consumer-events").inputs;
        expect([esm(dev).batchSize, esm(prod).batchSize]).to.deep.equal([100, 500]);
        expect([esm(dev).parallelizationFactor, esm(prod).parallelizationFactor]).to.deep.equal([1, 2]);
        expect(one(dev, "aws:dynamodb/table:Table", "events-table").inputs.ttl).to.deep.equal({ attributeName: "expiresAt", enabled: true });
        expect(one(prod, "aws:dynamodb/table:Table", "events-table").inputs.ttl).to.equal(undefined);
        const redrive = (p: Plan) => JSON.parse(one(p, "aws:sqs/queue:Queue", "uploads-audit-queue").inputs.redrivePolicy as string).maxReceiveCount;
        expect(redrive(dev)).to.equal(5);
        expect(redrive(prod)).to.equal(8);
        const concurrency = (p: Plan) => (one(p, "aws:lambda/eventSourceMapping:EventSourceMapping", "uploads-audit-consumer-events").inputs.scalingConfig as { maximumConcurrency: number }).maximumConcurrency;
        expect([concurrency(dev), concurrency(prod)]).to.deep.equal([2, 20]);
        const age = (p: Plan) => one(p, "aws:cloudwatch/metricAlarm:MetricAlarm", "uploads-audit-oldest-message-age-alarm").inputs.threshold;
        expect([age(dev), age(prod)]).to.deep.equal([1800, 300]);
    });

    it("lets no role of the dev plan but the reporting Firehose's write under raw/, and none delete there (IAM simulation)", async () => {
        const authorizer = planAuthorizer(dev);
        const raw = `${one(dev, "aws:s3/bucket:Bucket", "reporting-raw-bucket").outputs.arn}/raw/dt=2026-11-20/part.gz`;
        const roles = ofType(dev, "aws:iam/role:Role").map((r) => ({ name: r.name, arn: String(r.outputs.arn) }));
        expect(roles.length).to.be.above(10);
        const may: string[] = [];
        for (const role of roles) {
            for (const action of ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]) {
                if ((await authorizer.authorize({ principal: { role: role.arn }, action, resource: raw })).allowed) may.push(`${role.name} ${action}`);
            }
        }
        expect(may).to.deep.equal(["reporting-firehose-role s3:PutObject"]);
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

    it("runs the image processor on x86_64 with sharp in its archive, reading uploads and writing only under thumbnails/", () => {
        const fn = one(dev, "aws:lambda/function:Function", "uploads-images-consumer-function");
        expect(fn.inputs).to.deep.include({ architectures: ["x86_64"], memorySize: 1024, timeout: 60 });
        expect((fn.inputs.environment as { variables: Record<string, string> }).variables).to.deep.include({
            DERIVED_PREFIX: "thumbnails/",
            THUMBNAIL_SIZE: "256",
            MAX_IMAGE_BYTES: "20971520",
        });
        const bucketArn = one(dev, "aws:s3/bucket:Bucket", "uploads-bucket").outputs.arn;
        const statements = policyOf(one(dev, "aws:iam/rolePolicy:RolePolicy", "uploads-images-consumer-policy")).Statement.filter((st) =>
            (st.Action as string[]).some((a) => a.startsWith("s3:")),
        );
        expect(statements).to.deep.equal([
            { Effect: "Allow", Action: ["s3:GetObject"], Resource: [`${bucketArn}/*`] },
            { Effect: "Allow", Action: ["s3:ListBucket"], Resource: [bucketArn] },
            { Effect: "Allow", Action: ["s3:PutObject"], Resource: [`${bucketArn}/thumbnails/*`] },
        ]);
    });

    it("lets the audit logger put items in the audit table only, and names the table for it", () => {
        const table = one(dev, "aws:dynamodb/table:Table", "uploads-audit-records-table");
        expect(table.inputs).to.deep.include({ hashKey: "auditId", billingMode: "PAY_PER_REQUEST" });
        const fn = one(dev, "aws:lambda/function:Function", "uploads-audit-consumer-function");
        expect((fn.inputs.environment as { variables: Record<string, string> }).variables.AUDIT_TABLE_NAME).to.equal(table.outputs.name);
        const dynamo = policyOf(one(dev, "aws:iam/rolePolicy:RolePolicy", "uploads-audit-consumer-policy")).Statement.filter((st) =>
            (st.Action as string[]).some((a) => a.startsWith("dynamodb:")),
        );
        expect(dynamo).to.deep.equal([{ Effect: "Allow", Action: ["dynamodb:PutItem"], Resource: [table.outputs.arn] }]);
    });

    it("puts the API in front of its queue with the consumer's own schema, config throttles, and, in prod, the account logging role first", () => {
        const model = one(dev, "aws:apigateway/model:Model", "messages-model");
        expect(JSON.parse(model.inputs.schema as string)).to.deep.equal(JSON.parse(JSON.stringify(API_MESSAGE_SCHEMA)));
        const plan = one(dev, "aws:apigateway/usagePlan:UsagePlan", "messages-usage-plan").inputs;
        expect(plan).to.deep.include({ throttleSettings: { rateLimit: 50, burstLimit: 100 }, quotaSettings: { limit: 100000, period: "DAY" } });
        const account = one(prod, "aws:apigateway/account:Account", "messages-gateway-account-account");
        expect(one(prod, "aws:apigateway/stage:Stage", "messages-stage").dependencies).to.include(account.urn);
        const fn = one(dev, "aws:lambda/function:Function", "messages-inbox-consumer-function");
        expect((fn.inputs.environment as { variables: Record<string, string> }).variables.DEAD_LETTER_QUEUE_URL).to.equal(one(dev, "aws:sqs/queue:Queue", "messages-inbox-dlq").outputs.url);
    });

    it("leaves the account's API Gateway logging role to another stack when told to", async () => {
        const without = await evaluateStack({ stack: "prod", overrides: { "event-pipelines:manageApiGatewayAccount": false } });
        expect(ofType(without, "aws:apigateway/account:Account")).to.have.length(0);
        expect(one(without, "aws:apigateway/stage:Stage", "messages-stage").dependencies.some((d) => d.includes("ApiGatewayAccount"))).to.equal(false);
    });

    it("exports the stack outputs", () => {
        expect(Object.keys(dev.outputs).sort()).to.deep.equal([
            "alertTopicArn",
            "apiKeyId",
            "apiQueueUrl",
            "api_endpoint",
            "auditQueueUrl",
            "auditTableName",
            "eventRejectsTableName",
            "eventStreamArn",
            "eventStreamKeyArn",
            "eventStreamName",
            "eventTableName",
            "imagesQueueUrl",
            "paymentsBucketName",
            "paymentsTableName",
            "reportAthenaWorkgroup",
            "reportIngestStreamName",
            "reportLakeBucketName",
            "reportRawBucketName",
            "reportRedshiftWorkgroup",
            "reportStateMachineArn",
            "s3_bucket_name",
            "uploadsTopicArn",
        ]);
        expect(dev.outputs).to.deep.include({ eventStreamName: "EventStreamDev", eventTableName: "EventLogsDev", eventRejectsTableName: "EventLogsDevRejected" });
        expect(prod.outputs).to.deep.include({ eventStreamName: "EventStream", eventTableName: "EventLogs", eventRejectsTableName: "EventLogsRejected" });
        expect(dev.outputs.uploadsTopicArn).to.equal(one(dev, "aws:sns/topic:Topic", "uploads-topic-sns").outputs.arn);
        const api = one(dev, "aws:apigateway/restApi:RestApi", "messages-api");
        expect(dev.outputs.api_endpoint).to.equal(`https://${api.outputs.id}.execute-api.us-east-1.amazonaws.com/v1`);
        expect(dev.outputs.apiKeyId).to.equal(one(dev, "aws:apigateway/apiKey:ApiKey", "messages-api-key").outputs.id);
        expect(dev.outputs.reportStateMachineArn).to.equal(one(dev, "aws:sfn/stateMachine:StateMachine", "reporting-states").outputs.arn);
        expect(dev.outputs.reportRedshiftWorkgroup).to.equal("reporting-dev");
        expect(prod.outputs.reportAthenaWorkgroup).to.equal("reporting-prod");
    });
});

describe("stacks that share an account, as shipped", () => {
    // The deployment model (README, "Deployment model"): dev and prod may live in one account and
    // region. Names set in the program or the stack files must then differ, and the account-wide
    // API Gateway logging role must have one owner.
    let dev: Plan;
    let prod: Plan;
    before(async () => {
        dev = await stackPlan("dev");
        prod = await stackPlan("prod");
    });

    /** "type name" of every physical name the program sets itself (not generated by Pulumi) for an account-wide type. */
    const fixedNames = (p: Plan) =>
        p.resources.flatMap((r) => {
            const rule = NAME_RULES[r.type];
            const given = rule ? r.inputs[rule.field] : undefined;
            return typeof given === "string" ? [`${r.type} ${given}`] : [];
        });

    it("share no physical name the program sets", () => {
        expect(fixedNames(dev)).to.include("aws:kinesis/stream:Stream EventStreamDev");
        expect(fixedNames(prod)).to.include("aws:kinesis/stream:Stream EventStream");
        expect(fixedNames(dev).filter((n) => fixedNames(prod).includes(n))).to.deep.equal([]);
    });

    it("share no generated physical name either (the seed of each stack's names is the stack)", () => {
        const generatedNames = (p: Plan) => p.resources.filter((r) => NAME_RULES[r.type]).map((r) => `${r.type} ${r.outputs[NAME_RULES[r.type].field]}`);
        expect(generatedNames(dev).filter((n) => generatedNames(prod).includes(n))).to.deep.equal([]);
    });

    it("have at most one owner of the account's API Gateway logging role: prod", () => {
        const owners = [dev, prod].filter((p) => ofType(p, "aws:apigateway/account:Account").length > 0).map((p) => p.stack);
        expect(owners).to.deep.equal(["prod"]);
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
        const usage =
            "expected --stack <name> and optionally --config-file <path>, --root <project folder>, --scenario <id>, --plan-only; with --scenario 000: --file <path.ndjson>, --chunk-bytes N, --threshold-bytes N, --json";
        expect((await start("--bogus")).stderr.trim()).to.equal(`error: unknown argument --bogus (${usage})`);
        expect((await start("--scenario", "999")).stderr.trim()).to.equal("error: --scenario 999: no such scenario (expected one of 000, 001, 002, 003)");
        expect((await start("--file", "x.ndjson")).stderr.trim()).to.equal(`error: --file needs --scenario 000 (${usage})`);
        expect((await start("--scenario", "000", "--chunk-bytes", "64k")).stderr.trim()).to.equal("error: --chunk-bytes 64k: expected a whole number of bytes");
        expect((await start("--stack", "dev", "--config-file", "/nonexistent.yaml")).stderr.trim()).to.equal("error: config file /nonexistent.yaml not found");
    });

    it("runs every flow green on the local runtime after the plan, then exits with nothing left running", async function () {
        this.timeout(180_000);
        const r = await start();
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.contain("Previewing").and.contain("Local runtime fidelity:");
        expect(r.stdout).to.match(/Flow 000: .*: PASS/).and.match(/Flow 001: .*: PASS/).and.match(/Flow 002: .*: PASS/).and.match(/Flow 003: .*: PASS/);
        expect(r.stdout).to.match(/All 4 flows passed in [\d.]+ s; the runtime has stopped\./);
        expect(r.stdout).to.not.contain("✘");
    });

    it("runs an operator's payment file through scenario 000 with the sizes given, printing its manifest as JSON alone on stdout", async function () {
        this.timeout(180_000);
        const file = path.join(os.tmpdir(), `event-pipelines-${process.pid}-payments.ndjson`);
        const lines = [0, 1, 2, 3, 4, 5].map((i) => `{"event_id":"op-${i}","type":"payment","amount":"${i + 1}.50","currency":"EUR","occurred_at":"2026-12-01T09:00:00+01:00","payer":{"account":"A"},"payee":{"account":"B"}}`);
        fs.writeFileSync(file, [...lines, lines[0], '{"event_id":"op-bad","amount":7}'].join("\n"));
        try {
            const r = await start("--scenario", "000", "--file", file, "--chunk-bytes", "1024", "--threshold-bytes", "1024", "--json");
            expect(r.code, r.stderr).to.equal(0);
            const manifest = JSON.parse(r.stdout);
            expect(manifest).to.include({ key: `payments/${path.basename(file)}`, chunks: 2, chunk_bytes: 1024, lines: 8, applied: 6, duplicates: 1, quarantined: 1 });
            expect(manifest.amounts).to.deep.equal({ EUR: { payment: "2400" } });
            expect(r.stderr).to.match(/Flow 000: .*: PASS/);
        } finally {
            fs.rmSync(file, { force: true });
        }
    });

    it("prints the plan and writes plan.json, the SVG and the Mermaid text (--plan-only: no flows)", async () => {
        fs.writeFileSync(stackFile, "config:\n  aws:region: eu-west-1\n");
        const r = await start("--stack", tmpStack, "--config-file", stackFile, "--plan-only");
        expect(r.stdout).to.not.contain("Local runtime");
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.contain("event-pipelines:index:FanOutTopic");
        const out = path.join(REPO_ROOT, "out", tmpStack);
        const plan = JSON.parse(fs.readFileSync(path.join(out, "plan.json"), "utf8"));
        expect(plan.stack).to.equal(tmpStack);
        expect(plan.resources.find((x: { name: string }) => x.name === "uploads-topic-sns").outputs.arn).to.match(/^arn:aws:sns:eu-west-1:123456789012:uploads-topic-sns-[0-9a-f]{7}$/);
        // Graphviz writes "-" in labels as an entity.
        const svg = fs.readFileSync(path.join(out, "architecture.svg"), "utf8").replace(/&#45;/g, "-");
        expect(svg).to.contain("<svg").and.contain("uploads-topic-sns").and.contain("uploads-images-queue").and.contain("uploads-audit-queue");
        expect(fs.readFileSync(path.join(out, "architecture.mmd"), "utf8")).to.match(/topic_uploads_topic_sns -->\|"filter"\| queue_uploads_images_queue/);
        fs.rmSync(out, { recursive: true, force: true });
    });
});
