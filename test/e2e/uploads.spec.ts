/**
 * Seed 003, flow 1, end to end: uploads to the lab's bucket fan out to the image processor and the
 * audit logger, AS THE DEV STACK DEPLOYS THEM. Everything that routes or configures comes from the
 * evaluated dev plan: the bucket name, the rule's event pattern, its target's input transformer,
 * the topic's subscriptions (queue, filter policy and scope, raw delivery), the event source
 * mappings (batch size, partial failures), each function's environment and code archive, the
 * audit table's key schema and the bucket's versioning. The archives are THE DEPLOYED ARTIFACTS
 * (the zips the plan names, checked against its codeSha256): the audit logger is loaded in this
 * process with only the AWS SDK clients beside it; the image processor runs in a child process,
 * because sharp is native and must load from the zip's own node_modules. s3rver and dynalite stand
 * in for S3 and DynamoDB; what EventBridge, SNS and SQS do in between is modelled by
 * matchesEventPattern, applyInputTransformer and matchesFilterPolicy (components/), fed with the
 * plan's values.
 */
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { CreateTableCommand, ScanCommand, type AttributeValue, type CreateTableCommandInput, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { expect } from "chai";
import { execFile } from "child_process";
import { createHash, randomBytes, randomUUID } from "crypto";
import * as fs from "fs";
import { builtinModules } from "module";
import * as os from "os";
import * as path from "path";
import sharp from "sharp";
import { applyInputTransformer, matchesEventPattern, type EventPattern, type InputTransformer } from "../../components/messaging/event-patterns";
import { matchesFilterPolicy, type FilterPolicy, type FilterPolicyScope } from "../../components/messaging/filter-policies";
import { AUDIT_TABLE_ENV } from "../../functions/audit-logger/record";
import { derivedKeys } from "../../functions/image-processor/keys";
import type { Plan, PlannedResource } from "../../local/plan";
import { dynamoClient, s3Client, startDynalite, startS3rver, type Emulator } from "../support/emulators";
import { lambdaContext, objectCreatedEvent, sqsRecord } from "../support/lambda-events";
import { applyEnv, captureJsonLines } from "../support/process-io";
import { one, ofType } from "../support/pulumi-harness";
import { encodeS3EventKey } from "../support/s3-event-keys";
import { stackPlan } from "../support/stack-plans";
import { readZip } from "../support/zip-reader";

const FIXTURES = path.join(__dirname, "..", "fixtures", "images");
const IMAGES_SUBSCRIPTION = "uploads-images-subscription";
const AUDIT_SUBSCRIPTION = "uploads-audit-subscription";
/** Every audit message is delivered this many times (SQS and SNS deliver at least once). */
const AUDIT_DELIVERIES = 3;

/** E2E_VERBOSE=1 prints timings. */
const verbose = !!process.env.E2E_VERBOSE;
function note(...parts: unknown[]): void {
    if (verbose) console.log("      ·", ...parts);
}

type LogLine = Record<string, any>;
type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** What the image processor should make of an upload that reaches it. */
type ImageOutcome = "thumbnail" | "undecodable" | "not-image-content";

/** The committed fixtures, each uploaded under photos/: what the processor must do with each. */
const FIXTURE_OUTCOMES: Record<string, ImageOutcome> = {
    "landscape.png": "thumbnail",
    "portrait.jpg": "thumbnail",
    "small.gif": "thumbnail",
    "square.webp": "thumbnail",
    "UPPER.JPG": "thumbnail",
    "truncated.jpg": "undecodable",
    "not-an-image.png": "not-image-content",
};

interface Upload {
    key: string;
    body: Buffer;
    /** Undefined: the upload must not reach the image processor at all. */
    image?: ImageOutcome;
    /** Filled in when uploaded, as S3 would report them in the event. */
    etag?: string;
    versionId?: string;
    sequencer?: string;
}

/** One subscription of the uploads topic, followed through its queue to the function it feeds. */
interface PlannedConsumer {
    subscription: string;
    protocol: string;
    queueArn: string;
    filterPolicy?: FilterPolicy;
    /** SNS's default when unset is MessageAttributes. */
    filterPolicyScope: FilterPolicyScope;
    rawMessageDelivery: boolean;
    batchSize: number;
    functionResponseTypes: string[];
    functionName: string;
    environment: Record<string, string>;
    /** Absolute path of the archive the plan deploys, and its base64 SHA-256 as the plan states it. */
    archive: string;
    codeSha256: string;
}

/** What the dev plan deploys for flow 1, read once. */
interface Wiring {
    bucket: string;
    versioned: boolean;
    pattern: EventPattern;
    /** Undefined: the target forwards the event unchanged. */
    transformer?: InputTransformer;
    topicArn: string;
    consumers: PlannedConsumer[];
    /** The audit table: its name, the CreateTable request built from its key schema, and the stack output naming it. */
    table: { name: string; request: CreateTableCommandInput; stackOutput: unknown };
}

function consumer(w: Wiring, subscription: string): PlannedConsumer {
    const hit = w.consumers.find((c) => c.subscription === subscription);
    if (!hit) throw new Error(`no ${subscription} on the uploads topic (have: ${w.consumers.map((c) => c.subscription).join(", ")})`);
    return hit;
}

function single(found: PlannedResource[], what: string): PlannedResource {
    if (found.length !== 1) throw new Error(`expected one ${what} in the dev plan, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
    return found[0];
}

/** A resource's ARN as the plan resolved it (mock outputs), or its name when it has none. */
const arnOf = (r: PlannedResource) => String(r.outputs.arn ?? r.name);

function readWiring(plan: Plan): Wiring {
    const bucket = String(plan.outputs.s3_bucket_name);
    const versioning = ofType(plan, "aws:s3/bucketVersioning:BucketVersioning").find((v) => v.inputs.bucket === bucket);
    const versioned = (versioning?.inputs.versioningConfiguration as { status?: string } | undefined)?.status === "Enabled";

    const rule = one(plan, "aws:cloudwatch/eventRule:EventRule", "uploads-created-rule");
    const pattern = JSON.parse(String(rule.inputs.eventPattern)) as EventPattern;
    const ruleName = rule.outputs.name ?? rule.name;
    const target = single(
        ofType(plan, "aws:cloudwatch/eventTarget:EventTarget").filter((t) => t.inputs.rule === ruleName),
        `target of ${rule.name}`,
    );
    // A constant input or a JSON path would change the message; only the transformer is modelled.
    for (const field of ["input", "inputPath"]) {
        if (target.inputs[field] !== undefined) throw new Error(`${target.name} sets ${field}, which this spec does not model`);
    }
    const transformer = target.inputs.inputTransformer as InputTransformer | undefined;
    const topicArn = String(target.inputs.arn);

    const consumers = ofType(plan, "aws:sns/topicSubscription:TopicSubscription")
        .filter((s) => s.inputs.topic === topicArn)
        .map((s): PlannedConsumer => {
            const queueArn = String(s.inputs.endpoint);
            single(ofType(plan, "aws:sqs/queue:Queue").filter((q) => arnOf(q) === queueArn), `queue ${queueArn}`);
            const mapping = single(
                ofType(plan, "aws:lambda/eventSourceMapping:EventSourceMapping").filter((m) => m.inputs.eventSourceArn === queueArn),
                `event source mapping from ${queueArn}`,
            );
            const fnRef = String(mapping.inputs.functionName);
            const fn = single(
                ofType(plan, "aws:lambda/function:Function").filter((f) => arnOf(f) === fnRef || f.outputs.name === fnRef),
                `function ${fnRef}`,
            );
            const variables = ((fn.inputs.environment ?? {}) as { variables?: Record<string, unknown> }).variables ?? {};
            const code = (fn.inputs.code ?? {}) as { archive?: unknown };
            // The engine records a FileArchive by its path, which bundleFunction wrote relative to the working directory.
            if (typeof code.archive !== "string") throw new Error(`${fn.name}: inputs.code is not a file archive: ${JSON.stringify(fn.inputs.code)}`);
            return {
                subscription: s.name,
                protocol: String(s.inputs.protocol),
                queueArn,
                filterPolicy: s.inputs.filterPolicy === undefined ? undefined : (JSON.parse(String(s.inputs.filterPolicy)) as FilterPolicy),
                filterPolicyScope: (s.inputs.filterPolicyScope as FilterPolicyScope | undefined) ?? "MessageAttributes",
                rawMessageDelivery: s.inputs.rawMessageDelivery === true,
                batchSize: Number(mapping.inputs.batchSize),
                functionResponseTypes: (mapping.inputs.functionResponseTypes as string[] | undefined) ?? [],
                functionName: fn.name,
                environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
                archive: path.resolve(code.archive),
                codeSha256: String(fn.inputs.codeSha256),
            };
        });

    const table = one(plan, "aws:dynamodb/table:Table", "uploads-audit-records-table");
    const t = table.inputs as { hashKey?: string; rangeKey?: string; attributes?: { name: string; type: string }[]; billingMode?: string; readCapacity?: number; writeCapacity?: number };
    if (!t.hashKey) throw new Error(`${table.name} has no hashKey`);
    const tableName = String(table.outputs.name ?? table.inputs.name);
    const request: CreateTableCommandInput = {
        TableName: tableName,
        KeySchema: [{ AttributeName: t.hashKey, KeyType: "HASH" }, ...(t.rangeKey ? [{ AttributeName: t.rangeKey, KeyType: "RANGE" as const }] : [])],
        AttributeDefinitions: (t.attributes ?? []).map((a) => ({ AttributeName: a.name, AttributeType: a.type as "S" | "N" | "B" })),
        // DynamoDB's default billing mode is PROVISIONED, as the provider's.
        ...(t.billingMode === "PAY_PER_REQUEST"
            ? { BillingMode: "PAY_PER_REQUEST" as const }
            : { BillingMode: "PROVISIONED" as const, ProvisionedThroughput: { ReadCapacityUnits: t.readCapacity ?? 1, WriteCapacityUnits: t.writeCapacity ?? 1 } }),
    };
    return { bucket, versioned, pattern, transformer, topicArn, consumers, table: { name: tableName, request, stackOutput: plan.outputs.auditTableName } };
}

/** What a queue receives from SNS when raw delivery is off: the notification JSON, the message inside. */
function snsNotification(message: string, topicArn: string): string {
    return JSON.stringify({ Type: "Notification", MessageId: randomUUID(), TopicArn: topicArn, Message: message, Timestamp: new Date().toISOString(), SignatureVersion: "1" });
}

/** An SQS record as that queue's event source mapping hands it over. */
function queueRecord(queueArn: string, messageId: string, body: string, receiveCount = 1): SQSRecord {
    const r = sqsRecord(messageId, body);
    return { ...r, eventSourceARN: queueArn, awsRegion: queueArn.split(":")[3], attributes: { ...r.attributes, ApproximateReceiveCount: String(receiveCount) } };
}

function inBatches<T>(items: T[], size: number): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
    return out;
}

/** Extracts a Lambda zip into `dir` (folders included), as the runtime unpacks it into /var/task. */
function extractArchive(zipPath: string, dir: string): string[] {
    const names: string[] = [];
    for (const entry of readZip(fs.readFileSync(zipPath))) {
        const target = path.join(dir, entry.name);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, entry.contents);
        names.push(entry.name);
    }
    return names;
}

/** Links every installed @aws-sdk/client-* into `nodeModules`: what the Lambda Node.js runtime provides, and nothing else. */
function linkRuntimeSdk(nodeModules: string): void {
    const sdk = path.dirname(path.dirname(require.resolve("@aws-sdk/client-s3/package.json")));
    fs.mkdirSync(path.join(nodeModules, "@aws-sdk"), { recursive: true });
    for (const client of fs.readdirSync(sdk).filter((d) => d.startsWith("client-"))) {
        fs.symlinkSync(path.join(sdk, client), path.join(nodeModules, "@aws-sdk", client), "dir");
    }
}

/** Packages the bundle's index.js requires at run time (neither Node built-ins nor bundled). */
function externalsOf(indexJs: string): string[] {
    const requires = [...fs.readFileSync(indexJs, "utf8").matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    return [...new Set(requires.filter((m) => !m.startsWith("node:") && !builtinModules.includes(m)))].sort();
}

const fit = (w: number, h: number, size: number) => {
    // sharp's `fit: "inside"` with withoutEnlargement: the longer side brought down to `size`, never up.
    const scale = Math.min(1, size / Math.max(w, h));
    return { width: w * scale, height: h * scale };
};

describe("e2e: uploads (seed 003, flow 1) → rule → topic → images / audit queues → the deployed functions", function () {
    this.timeout(60_000);

    let w: Wiring;
    let images: PlannedConsumer;
    let audit: PlannedConsumer;
    let s3Emulator: Emulator;
    let dynamoEmulator: Emulator;
    let s3: S3Client;
    let dynamodb: DynamoDBClient;
    let scratch: string;
    let auditIndex: string | undefined;
    const savedEnv = new Map<string, string | undefined>();

    const uploads: Upload[] = [];
    /** Per subscription, the SQS records its queue received, in order. */
    const delivered = new Map<string, SQSRecord[]>();
    /** The image processor's run: responses per batch, log lines, and where sharp and its addon came from. */
    let processor: { responses: SQSBatchResponse[]; logs: LogLine[]; sharp: string; addons: string[]; task: string };
    /** The audit logger's runs: responses per batch and log lines. */
    const auditRun = { responses: [] as SQSBatchResponse[], logs: [] as LogLine[], invocations: 0 };

    function setEnv(name: string, value: string): void {
        if (!savedEnv.has(name)) savedEnv.set(name, process.env[name]);
        process.env[name] = value;
    }

    /** The Object Created event S3 sends EventBridge for an upload: real bucket and size, the key encoded as S3 encodes it. */
    function s3Event(u: { key: string; size: number; etag?: string; versionId?: string; sequencer?: string }): Record<string, any> {
        const event = objectCreatedEvent({
            bucket: w.bucket,
            key: encodeS3EventKey(u.key),
            size: u.size,
            // A versioned bucket's events name the version; an unversioned one's do not.
            versionId: w.versioned ? (u.versionId ?? null) : null,
            sequencer: u.sequencer,
            time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
        });
        event.id = randomUUID(); // EventBridge gives every event its own id
        if (u.etag) event.detail.object.etag = u.etag;
        return event;
    }

    /** EventBridge → SNS → SQS as the plan configures them: the message each subscription's queue would receive. */
    function route(event: Record<string, any>): { subscription: string; queueArn: string; body: string }[] {
        if (!matchesEventPattern(w.pattern, event)) return [];
        const message = w.transformer ? applyInputTransformer(w.transformer, event) : JSON.stringify(event);
        return w.consumers
            .filter((c) => matchesFilterPolicy(c.filterPolicy, message, c.filterPolicyScope))
            .map((c) => ({ subscription: c.subscription, queueArn: c.queueArn, body: c.rawMessageDelivery ? message : snsNotification(message, w.topicArn) }));
    }

    let sequence = BigInt(Date.now()) << 16n;
    /** S3's sequencer: a hex string that grows with each write to a key. */
    const nextSequencer = () => (sequence++).toString(16).toUpperCase().padStart(18, "0");

    before(async () => {
        const t0 = Date.now();
        setEnv("AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED", "true");
        w = readWiring(await stackPlan("dev"));
        images = consumer(w, IMAGES_SUBSCRIPTION);
        audit = consumer(w, AUDIT_SUBSCRIPTION);
        note(`dev plan in ${Date.now() - t0} ms`);

        [s3Emulator, dynamoEmulator] = await Promise.all([startS3rver(), startDynalite()]);
        s3 = s3Client(s3Emulator);
        dynamodb = dynamoClient(dynamoEmulator);
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-uploads-"));
        await s3.send(new CreateBucketCommand({ Bucket: w.bucket }));
        // The table the audit function writes to is the one its environment names.
        await dynamodb.send(new CreateTableCommand({ ...w.table.request, TableName: audit.environment[AUDIT_TABLE_ENV] }));

        // The audit logger's artifact, in this process: its environment as planned (source maps are a
        // runtime flag, not something an in-process load takes), DynamoDB found through the endpoint variable.
        const auditCode = path.join(scratch, "audit");
        extractArchive(audit.archive, auditCode);
        linkRuntimeSdk(path.join(auditCode, "node_modules"));
        for (const [name, value] of Object.entries(audit.environment)) if (name !== "NODE_OPTIONS") setEnv(name, value);
        setEnv("AWS_REGION", dynamoEmulator.region);
        setEnv("AWS_ACCESS_KEY_ID", dynamoEmulator.credentials.accessKeyId);
        setEnv("AWS_SECRET_ACCESS_KEY", dynamoEmulator.credentials.secretAccessKey);
        setEnv("AWS_ENDPOINT_URL_DYNAMODB", dynamoEmulator.endpoint);
        setEnv("POWERTOOLS_LOG_LEVEL", "INFO");
        auditIndex = path.join(auditCode, "index.js");
        delete require.cache[auditIndex];
        const auditHandler = (require(auditIndex) as { handler: Handler }).handler;

        // The uploads: every fixture, a text file, and images whose keys S3 must encode in its events
        // (space, parentheses; a literal "+" and non-ASCII letters), larger than THUMBNAIL_SIZE so the resize shows.
        const fixtures = fs.readdirSync(FIXTURES).sort();
        const unclassified = fixtures.filter((f) => !(f in FIXTURE_OUTCOMES));
        if (unclassified.length) throw new Error(`fixtures without an expected outcome in this spec: ${unclassified.join(", ")}`);
        for (const file of fixtures) uploads.push({ key: `photos/${file}`, body: fs.readFileSync(path.join(FIXTURES, file)), image: FIXTURE_OUTCOMES[file] });
        uploads.push({ key: "docs/readme.txt", body: Buffer.from("Not an image: the audit records it, the image processor never sees it.\n") });
        const flower = await sharp({ create: { width: 600, height: 400, channels: 3, background: { r: 200, g: 30, b: 60 } } }).png().toBuffer();
        uploads.push({ key: "photos/red flower (1).png", body: flower, image: "thumbnail" });
        const tall = await sharp({ create: { width: 300, height: 500, channels: 3, background: { r: 20, g: 90, b: 200 } } }).jpeg().toBuffer();
        uploads.push({ key: "photos/été+hiver (2).JPEG", body: tall, image: "thumbnail" });

        for (const u of uploads) {
            const put = await s3.send(new PutObjectCommand({ Bucket: w.bucket, Key: u.key, Body: u.body }));
            u.etag = put.ETag?.replace(/"/g, "");
            // s3rver keeps no versions: the id a versioned bucket would return is made up, one per upload.
            u.versionId = put.VersionId ?? randomBytes(24).toString("base64url").slice(0, 32);
            u.sequencer = nextSequencer();
        }

        // S3 → EventBridge → SNS → SQS, for every upload.
        for (const c of w.consumers) delivered.set(c.subscription, []);
        uploads.forEach((u, i) => {
            for (const d of route(s3Event({ ...u, size: u.body.length }))) {
                delivered.get(d.subscription)!.push(queueRecord(d.queueArn, `${d.subscription}-${i}`, d.body));
            }
        });
        note(`emulators, artifacts and ${uploads.length} uploads routed in ${Date.now() - t0} ms`);

        // The image processor's artifact, in a child process: the zip unpacked as in /var/task, the
        // runtime's SDK clients on NODE_PATH, the planned environment (NODE_OPTIONS included: a
        // child takes it), S3 found through the endpoint variable. One warm container takes every batch.
        const task = path.join(scratch, "images", "task");
        extractArchive(images.archive, task);
        const runtime = path.join(scratch, "images", "runtime", "node_modules");
        linkRuntimeSdk(runtime);
        const batchesFile = path.join(scratch, "images", "batches.json");
        const resultFile = path.join(scratch, "images", "result.json");
        fs.writeFileSync(batchesFile, JSON.stringify(inBatches(delivered.get(IMAGES_SUBSCRIPTION)!, images.batchSize).map((records) => ({ Records: records }))));
        fs.writeFileSync(
            path.join(task, "e2e-driver.js"),
            [
                `const fs = require("fs");`,
                `const [batchesFile, resultFile] = process.argv.slice(2);`,
                `const ctx = { awsRequestId: "e2e", functionName: ${JSON.stringify(images.functionName)}, getRemainingTimeInMillis: () => 60000 };`,
                `(async () => {`,
                `  const { handler } = require("./index.js");`,
                `  const responses = [];`,
                `  for (const batch of JSON.parse(fs.readFileSync(batchesFile, "utf8"))) responses.push(await handler(batch, ctx));`,
                `  const loaded = Object.keys(require.cache);`,
                `  fs.writeFileSync(resultFile, JSON.stringify({ responses, sharp: require.resolve("sharp"), addons: loaded.filter((p) => p.endsWith(".node")) }));`,
                `})().catch((err) => { console.error(err); process.exit(1); });`,
            ].join("\n"),
        );
        const env: NodeJS.ProcessEnv = {
            PATH: process.env.PATH,
            NODE_PATH: runtime,
            ...images.environment,
            AWS_ENDPOINT_URL_S3: s3Emulator.endpoint,
            AWS_REGION: s3Emulator.region,
            AWS_ACCESS_KEY_ID: s3Emulator.credentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: s3Emulator.credentials.secretAccessKey,
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        };
        const t1 = Date.now();
        const output = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
            // Asynchronous: s3rver answers from this process's event loop.
            execFile(process.execPath, ["e2e-driver.js", batchesFile, resultFile], { cwd: task, env, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
                err ? reject(new Error(`image processor run failed: ${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
            ),
        );
        // The logger writes INFO to stdout and WARN/ERROR to stderr; Lambda sends both to the log group.
        const logs = [output.stdout, output.stderr]
            .flatMap((text) => text.split("\n"))
            .filter((l) => l.trim() !== "")
            .map((l) => {
                try {
                    return JSON.parse(l) as LogLine;
                } catch {
                    throw new Error(`image processor wrote a line that is not JSON: ${l}`);
                }
            });
        processor = { ...(JSON.parse(fs.readFileSync(resultFile, "utf8")) as { responses: SQSBatchResponse[]; sharp: string; addons: string[] }), logs, task };
        note(`image processor: ${processor.responses.length} batches in ${Date.now() - t1} ms`);

        // The audit queue: every message delivered AUDIT_DELIVERIES times. The first pass as sent;
        // then SQS redelivering the same messages (same id, higher receive count), in another order
        // and other batches; then copies SNS delivered twice (new message ids).
        const t2 = Date.now();
        const first = delivered.get(AUDIT_SUBSCRIPTION)!;
        const passes: SQSRecord[][] = [first];
        for (let pass = 2; pass <= AUDIT_DELIVERIES; pass++) {
            const again = first.map((r) => queueRecord(r.eventSourceARN, pass % 2 === 0 ? r.messageId : `${r.messageId}-copy${pass}`, r.body, pass % 2 === 0 ? pass : 1));
            passes.push(pass % 2 === 0 ? again.reverse() : again);
        }
        for (const [pass, records] of passes.entries()) {
            // Another batch boundary on each pass, never more than the mapping's batch size.
            const size = Math.max(1, audit.batchSize - pass);
            for (const batch of inBatches(records, size)) {
                const { result, lines } = await captureJsonLines(() => auditHandler({ Records: batch }, lambdaContext));
                auditRun.responses.push(result);
                auditRun.logs.push(...lines);
                auditRun.invocations++;
            }
        }
        note(`audit logger: ${auditRun.invocations} batches in ${Date.now() - t2} ms; total before() ${Date.now() - t0} ms`);
    });

    after(async () => {
        if (auditIndex) delete require.cache[auditIndex];
        applyEnv(Object.fromEntries(savedEnv));
        s3?.destroy();
        dynamodb?.destroy();
        await Promise.all([s3Emulator?.stop(), dynamoEmulator?.stop()]);
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    const prefix = () => images.environment.DERIVED_PREFIX;
    const thumbnailSize = () => Number(images.environment.THUMBNAIL_SIZE);
    const imageUploads = () => uploads.filter((u) => u.image);
    const thumbnailUploads = () => uploads.filter((u) => u.image === "thumbnail");

    async function listKeys(keyPrefix = ""): Promise<{ key: string; size: number }[]> {
        const out: { key: string; size: number }[] = [];
        let token: string | undefined;
        do {
            const page = await s3.send(new ListObjectsV2Command({ Bucket: w.bucket, Prefix: keyPrefix, ContinuationToken: token }));
            out.push(...(page.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? 0 })));
            token = page.NextContinuationToken;
        } while (token);
        return out.sort((a, b) => (a.key < b.key ? -1 : 1));
    }

    async function getBytes(key: string): Promise<{ bytes: Buffer; contentType?: string }> {
        const got = await s3.send(new GetObjectCommand({ Bucket: w.bucket, Key: key }));
        return { bytes: Buffer.from(await got.Body!.transformToByteArray()), contentType: got.ContentType };
    }

    describe("the plan and its artifacts", () => {
        it("wires the uploads rule to a topic whose images and audit subscriptions feed one function each, partial failures on", () => {
            expect(w.consumers.map((c) => c.subscription).sort()).to.deep.equal([AUDIT_SUBSCRIPTION, IMAGES_SUBSCRIPTION]);
            for (const c of w.consumers) {
                expect(c.protocol, c.subscription).to.equal("sqs");
                expect(c.functionResponseTypes, c.subscription).to.include("ReportBatchItemFailures");
                expect(c.batchSize, c.subscription).to.be.within(1, 10_000);
            }
            expect(images.functionName).to.not.equal(audit.functionName);
            // The audit function writes to the table the plan declares (and the stack reports).
            expect(audit.environment[AUDIT_TABLE_ENV]).to.equal(w.table.name);
            expect(w.table.name).to.equal(w.table.stackOutput);
        });

        it("ships, under test, the very archives the plan deploys (its codeSha256), with only the AWS SDK clients left to the runtime", () => {
            for (const c of [images, audit]) {
                expect(fs.existsSync(c.archive), `${c.functionName}: ${c.archive}`).to.equal(true);
                expect(createHash("sha256").update(fs.readFileSync(c.archive)).digest("base64"), `${c.functionName} codeSha256`).to.equal(c.codeSha256);
            }
            // The audit logger is pure JavaScript (so loading it in this process is faithful)...
            expect(fs.readdirSync(path.dirname(auditIndex!)).sort()).to.deep.equal(["index.js", "index.js.map", "node_modules"]);
            expect(externalsOf(auditIndex!).every((m) => m.startsWith("@aws-sdk/client-")), externalsOf(auditIndex!).join(", ")).to.equal(true);
            // ...the image processor needs sharp, which its zip ships, and loaded from there with its addon.
            const externals = externalsOf(path.join(processor.task, "index.js"));
            for (const m of externals.filter((x) => !x.startsWith("@aws-sdk/client-"))) {
                expect(fs.existsSync(path.join(processor.task, "node_modules", m, "package.json")), `${m} shipped in the zip`).to.equal(true);
            }
            expect(externals).to.include("sharp");
            const inTask = (p: string) => p.startsWith(processor.task + path.sep);
            expect(inTask(processor.sharp), processor.sharp).to.equal(true);
            expect(processor.addons).to.have.length.greaterThan(0);
            expect(processor.addons.every(inTask), processor.addons.join(", ")).to.equal(true);
        });
    });

    describe("routing of the uploads", () => {
        it("sends every upload to audit, and exactly the image keys to images", () => {
            const received = (subscription: string) => delivered.get(subscription)!.map((r) => JSON.parse(r.body).event.detail.object.key as string);
            expect(received(AUDIT_SUBSCRIPTION)).to.deep.equal(uploads.map((u) => encodeS3EventKey(u.key)));
            expect(received(IMAGES_SUBSCRIPTION)).to.deep.equal(imageUploads().map((u) => encodeS3EventKey(u.key)));
            expect(received(IMAGES_SUBSCRIPTION)).to.not.include("docs/readme.txt");
            // The keys S3 must encode are in the events encoded, as S3 sends them.
            expect(received(AUDIT_SUBSCRIPTION)).to.include.members(["photos/red+flower+%281%29.png", "photos/%C3%A9t%C3%A9%2Bhiver+%282%29.JPEG"]);
        });
    });

    describe("the image processor (deployed artifact, child process)", () => {
        it("acknowledges every message: no batch item failure, no error", () => {
            expect(processor.responses).to.have.length(Math.ceil(imageUploads().length / images.batchSize));
            for (const r of processor.responses) expect(r).to.deep.equal({ batchItemFailures: [] });
            expect(processor.logs.filter((l) => !["INFO", "WARN"].includes(l.level))).to.deep.equal([]);
        });

        it("writes a thumbnail and a metadata JSON under the derived prefix exactly for the decodable images", async () => {
            const expected = thumbnailUploads().flatMap((u) => Object.values(derivedKeys(u.key, prefix())));
            expect((await listKeys(prefix())).map((o) => o.key)).to.deep.equal([...expected].sort());
            const written = processor.logs.filter((l) => l.message === "thumbnail written");
            expect(written.map((l) => l.key)).to.have.members(thumbnailUploads().map((u) => u.key));
            expect(written).to.have.length(thumbnailUploads().length);
        });

        it("makes each thumbnail a WebP within THUMBNAIL_SIZE, of the source's proportions, described by its metadata JSON", async () => {
            const size = thumbnailSize();
            expect(size).to.be.greaterThan(0);
            for (const u of thumbnailUploads()) {
                const keys = derivedKeys(u.key, prefix());
                const thumb = await getBytes(keys.thumbnail);
                expect(thumb.contentType, u.key).to.equal("image/webp");
                const meta = await sharp(thumb.bytes).metadata();
                const source = await sharp(u.body).metadata();
                const want = fit(source.width!, source.height!, size);
                expect(meta.format, u.key).to.equal("webp");
                expect(Math.max(meta.width!, meta.height!), u.key).to.be.at.most(size);
                expect(meta.width!, `${u.key} width`).to.be.closeTo(want.width, 1);
                expect(meta.height!, `${u.key} height`).to.be.closeTo(want.height, 1);

                const doc = JSON.parse((await getBytes(keys.metadata)).bytes.toString("utf8"));
                expect(doc.source, u.key).to.deep.include({ bucket: w.bucket, key: u.key, sizeBytes: u.body.length, etag: u.etag, versionId: w.versioned ? u.versionId : null });
                expect(doc.image, u.key).to.deep.include({ width: source.width, height: source.height });
                expect(doc.thumbnail, u.key).to.deep.include({ key: keys.thumbnail, format: "webp", width: meta.width, height: meta.height, sizeBytes: thumb.bytes.length });
            }
        });

        it("skips the corrupt file and the text named .png with one WARN each, writing nothing for them", async () => {
            const skipped = imageUploads().filter((u) => u.image !== "thumbnail");
            expect(skipped.map((u) => u.image).sort()).to.deep.equal(["not-image-content", "undecodable"]);
            const warnings = processor.logs.filter((l) => l.level === "WARN");
            expect(warnings.map((l) => [l.key, l.reason])).to.have.deep.members(skipped.map((u) => [u.key, u.image]));
            expect(warnings).to.have.length(skipped.length);
            for (const wl of warnings) expect(wl.message).to.equal("image skipped");
            const derived = (await listKeys(prefix())).map((o) => o.key);
            for (const u of skipped) for (const k of Object.values(derivedKeys(u.key, prefix()))) expect(derived, u.key).to.not.include(k);
        });

        it("never sees the text file", () => {
            const mentioned = processor.logs.map((l) => l.key).filter((k) => k !== undefined);
            expect(mentioned).to.not.include("docs/readme.txt");
            expect([...new Set(mentioned)].sort()).to.deep.equal(imageUploads().map((u) => u.key).sort());
        });
    });

    describe("the audit logger (deployed artifact, in process)", () => {
        it(`records exactly one item per upload though every message came ${AUDIT_DELIVERIES} times`, async () => {
            for (const r of auditRun.responses) expect(r).to.deep.equal({ batchItemFailures: [] });
            const items: Record<string, any>[] = [];
            let start: Record<string, AttributeValue> | undefined;
            do {
                const page = await dynamodb.send(new ScanCommand({ TableName: audit.environment[AUDIT_TABLE_ENV], ExclusiveStartKey: start }));
                items.push(...(page.Items ?? []).map((i) => unmarshall(i)));
                start = page.LastEvaluatedKey;
            } while (start);
            expect(items).to.have.length(uploads.length);
            const hashKey = w.table.request.KeySchema![0].AttributeName!;
            const byId = new Map(items.map((i) => [i[hashKey] as string, i]));
            for (const u of uploads) {
                // README: keyed s3://<bucket>/<key>#<versionId>, or #seq:<sequencer> without versioning; the key decoded.
                const id = `s3://${w.bucket}/${u.key}#${w.versioned ? u.versionId : `seq:${u.sequencer}`}`;
                const item = byId.get(id);
                expect(item, `audit item ${id} (have: ${[...byId.keys()].join(", ")})`).to.not.equal(undefined);
                expect(item, u.key).to.deep.include({ bucket: w.bucket, key: u.key, size: u.body.length, etag: u.etag });
                if (encodeS3EventKey(u.key) !== u.key) expect(item!.eventKey, u.key).to.equal(encodeS3EventKey(u.key));
            }
        });

        it("took the repeats as duplicates (first write wins), not as new records or failures", () => {
            const count = (message: string) => auditRun.logs.filter((l) => l.message === message).length;
            expect(count("object uploaded")).to.equal(uploads.length);
            expect(count("duplicate delivery, already recorded")).to.equal((AUDIT_DELIVERIES - 1) * uploads.length);
            expect(auditRun.logs.filter((l) => l.level === "ERROR")).to.deep.equal([]);
        });
    });

    describe("the loop guard", () => {
        it("routes none of the processor's own writes anywhere, while every upload is routed", async () => {
            const uploaded = new Set(uploads.map((u) => u.key));
            const written = (await listKeys()).filter((o) => !uploaded.has(o.key));
            expect(written.length, "objects the processor wrote").to.equal(2 * thumbnailUploads().length);
            for (const o of written) {
                const event = s3Event({ key: o.key, size: o.size, versionId: randomBytes(24).toString("base64url").slice(0, 32), sequencer: nextSequencer() });
                expect(route(event), `the Object Created event of ${o.key} must reach no queue`).to.deep.equal([]);
            }
            for (const u of uploads) expect(route(s3Event({ ...u, size: u.body.length })), u.key).to.not.deep.equal([]);
        });
    });
});
