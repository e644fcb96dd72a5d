/**
 * Issue 3, end to end (seed 001): events go onto the Kinesis `EventStream` with the operator CLI's
 * send function, a local poller does what the event source mapping does, and THE DEPLOYED
 * ARTIFACT (the esbuild zip the plan ships, loaded from its own folder with the environment the
 * plan gives the function) writes them to the DynamoDB `EventLogs` table. The stream and tables
 * are created on kinesis-local and dynalite from the component's declared settings
 * (test/support/plan-to-emulators.ts). The deployed handler builds `new DynamoDBClient({})` at
 * load: it finds dynalite only through AWS_ENDPOINT_URL_DYNAMODB, which the SDK v3 honours.
 */
import { QueryCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutRecordCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { KinesisStreamBatchResponse, KinesisStreamEvent, Context } from "aws-lambda";
import { expect } from "chai";
import * as fs from "fs";
import { builtinModules } from "module";
import { tmpdir } from "os";
import * as path from "path";
import { bundleFunction, type Bundle } from "../../components/compute/bundle";
import { functionEntry } from "../../components/compute/lambda-function";
import { makeEvent, readManifest, sendEvents, type SendResult } from "../../cli";
import { dynamoClient, kinesisClient, startDynalite, startKinesisLocal, type Emulator } from "../support/emulators";
import { pollStream, type KinesisBatchHandler, type PollStats } from "../support/kinesis-poller";
import { kinesisRecord, lambdaContext } from "../support/lambda-events";
import { planToEmulators, type EmulatedStreamToTable } from "../support/plan-to-emulators";
import { applyEnv } from "../support/process-io";
import { readZip } from "../support/zip-reader";
import { countItems as countTableItems } from "../support/dynamo-tables";
import { eventKey } from "../../functions/shared/contract";

/** How the table keys an event the e2e producer ("e2e") sent. */
const key = (id: string) => eventKey("e2e", id);

/** Events per send: enough to span many batches and BatchWriteItem chunks, few enough to stay fast. */
const N = 1_000;
/** PutRecords batches of 500, paced to finish in about a second (one shard takes 1,000 records/s). */
const RATE = 1_000;
const SHARD = "shardId-000000000000";

/** E2E_VERBOSE=1 prints timings and poller stats (and turns the handler's logs on). */
const verbose = !!process.env.E2E_VERBOSE;
function note(...parts: unknown[]): void {
    if (verbose) console.log("      ·", ...parts);
}
function summary(stats: PollStats): string {
    const { deliveriesBySequence: _, checkpoints: __, ...rest } = stats;
    return JSON.stringify({ ...rest, givenUp: stats.givenUp.length });
}

type Handler = (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse>;

/** What the producer put on the stream, keyed by partition key (the CLI uses the event id). */
interface SentRecord {
    data: Buffer;
    shardId: string;
    sequenceNumber: string;
}

describe("e2e: EventStream → stream-to-table (deployed artifact) → EventLogs", function () {
    this.timeout(60_000);

    let kinesisEmulator: Emulator;
    let dynamoEmulator: Emulator;
    let kinesis: KinesisClient;
    let dynamodb: DynamoDBClient;
    let scratch: string;
    let bundle: Bundle;
    let artifactIndex: string;
    const savedEnv = new Map<string, string | undefined>();
    let deployments = 0;

    /** Sets a variable for the rest of the suite; `after` puts the original back. */
    function setEnv(name: string, value: string): void {
        if (!savedEnv.has(name)) savedEnv.set(name, process.env[name]);
        process.env[name] = value;
    }

    before(async () => {
        // The SDK's notice that its 2027 releases need Node 22 (the CLI silences it the same way).
        setEnv("AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED", "true");
        const t0 = Date.now();
        [kinesisEmulator, dynamoEmulator] = await Promise.all([startKinesisLocal(), startDynalite()]);
        kinesis = kinesisClient(kinesisEmulator);
        dynamodb = dynamoClient(dynamoEmulator);
        scratch = fs.mkdtempSync(path.join(tmpdir(), "e2e-stream-to-table-"));

        // The deployed artifact: the same deterministic zip the component ships, unzipped into a
        // folder of its own where, as in the Lambda runtime, only the AWS SDK v3 is provided.
        bundle = await bundleFunction(functionEntry("stream-to-table"), { outDir: path.join(scratch, "zip") });
        const code = path.join(scratch, "code");
        fs.mkdirSync(path.join(code, "node_modules"), { recursive: true });
        const entries = readZip(fs.readFileSync(bundle.zipPath));
        for (const entry of entries) fs.writeFileSync(path.join(code, entry.name), entry.contents);
        // Only the service clients, as LAMBDA_DEFAULTS.runtimeProvided assumes: an SDK utility left
        // out of the bundle would fail to load here as it would in Lambda.
        const sdk = path.dirname(path.dirname(require.resolve("@aws-sdk/client-dynamodb/package.json")));
        fs.mkdirSync(path.join(code, "node_modules", "@aws-sdk"));
        for (const client of fs.readdirSync(sdk).filter((d) => d.startsWith("client-"))) {
            fs.symlinkSync(path.join(sdk, client), path.join(code, "node_modules", "@aws-sdk", client), "dir");
        }
        artifactIndex = path.join(code, "index.js");
        note(`emulators + bundle ready in ${Date.now() - t0} ms (index.js ${bundle.codeBytes} bytes, zip ${bundle.zipBytes} bytes)`);

        // The runtime's environment: region and credentials, and the emulator as DynamoDB's endpoint.
        setEnv("AWS_REGION", dynamoEmulator.region);
        setEnv("AWS_ACCESS_KEY_ID", "test");
        setEnv("AWS_SECRET_ACCESS_KEY", "test");
        setEnv("AWS_ENDPOINT_URL_DYNAMODB", dynamoEmulator.endpoint);
        setEnv("POWERTOOLS_LOG_LEVEL", verbose ? "INFO" : "SILENT");
    });

    after(async () => {
        if (artifactIndex) delete require.cache[artifactIndex];
        applyEnv(Object.fromEntries(savedEnv));
        kinesis?.destroy();
        dynamodb?.destroy();
        await Promise.all([kinesisEmulator?.stop(), dynamoEmulator?.stop()]);
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    /** A fresh StreamToTable on the emulators (unique names per test) and the deployed handler configured for it. */
    async function deploy(label: string): Promise<{ sys: EmulatedStreamToTable; handler: Handler }> {
        const n = ++deployments;
        const t0 = Date.now();
        const sys = await planToEmulators({ kinesis, dynamodb, streamName: `EventStream-${label}-${n}`, tableName: `EventLogs-${label}-${n}` });
        const handler = loadDeployedHandler(sys.handlerEnvironment);
        note(`${label}: plan → stream + tables + handler in ${Date.now() - t0} ms`);
        return { sys, handler };
    }

    /** Loads index.js of the artifact afresh with the function's planned environment (it reads it at load, like a cold start). */
    function loadDeployedHandler(environment: Record<string, string>): Handler {
        for (const [name, value] of Object.entries(environment)) {
            // Source maps are a runtime flag, not something this in-process load can take.
            if (name !== "NODE_OPTIONS") setEnv(name, value);
        }
        delete require.cache[artifactIndex];
        const loaded = require(artifactIndex) as { handler?: Handler };
        expect(loaded.handler, "the artifact exports handler").to.be.a("function");
        return loaded.handler!;
    }

    /** A Kinesis client that also records what each accepted PutRecords entry carried and where it landed. */
    function producer(): { client: KinesisClient; sent: Map<string, SentRecord> } {
        const client = kinesisClient(kinesisEmulator);
        const sent = new Map<string, SentRecord>();
        client.middlewareStack.add(
            (next, context) => async (args) => {
                const result = await next(args);
                if (context.commandName === "PutRecordsCommand") {
                    const input = (args.input as { Records: { Data: Uint8Array; PartitionKey: string }[] }).Records;
                    const output = (result.output as { Records?: { ShardId?: string; SequenceNumber?: string; ErrorCode?: string }[] }).Records ?? [];
                    input.forEach((entry, i) => {
                        const r = output[i];
                        if (r && !r.ErrorCode) sent.set(entry.PartitionKey, { data: Buffer.from(entry.Data), shardId: r.ShardId!, sequenceNumber: r.SequenceNumber! });
                    });
                }
                return result;
            },
            { step: "initialize", name: "e2eRecordPutRecords" },
        );
        return { client, sent };
    }

    /** The CLI's `events:send`, against kinesis-local. */
    async function send(stream: string, count: number, client: KinesisClient, manifest?: string): Promise<SendResult> {
        const result = await sendEvents(
            { stream, count, rate: RATE, source: "e2e", manifest, region: kinesisEmulator.region, endpoint: kinesisEmulator.endpoint },
            { kinesis: client },
        );
        note(`send ${count}: ${result.putRecordsCalls} PutRecords calls, ${result.retried} retried, ${result.elapsedMs} ms`);
        expect(result.failed, "events refused by the stream").to.equal(0);
        expect(result.sent).to.equal(count);
        return result;
    }

    async function poll(sys: EmulatedStreamToTable, handler: KinesisBatchHandler, extra: { deliveries?: number; batchSize?: number; maximumRetryAttempts?: number } = {}): Promise<PollStats> {
        const stats = await pollStream({
            client: kinesis,
            streamName: sys.streamName,
            handler,
            batchSize: sys.eventSource.batchSize,
            maximumRetryAttempts: sys.eventSource.maximumRetryAttempts,
            ...extra,
        });
        note(`poll: ${summary(stats)}`);
        return stats;
    }

    async function scanAll(table: string): Promise<Record<string, any>[]> {
        const items: Record<string, any>[] = [];
        let start: Record<string, AttributeValue> | undefined;
        do {
            const page = await dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
            items.push(...(page.Items ?? []).map((i) => unmarshall(i)));
            start = page.LastEvaluatedKey;
        } while (start);
        return items;
    }

    /** Items in a table (small pages, so pagination is exercised). */
    const countItems = (table: string) => countTableItems(dynamodb, table, 250);

    const bySequence = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

    it("ships, under test, the artifact the plan deploys, with only the AWS SDK clients left to the runtime", async () => {
        const { sys } = await deploy("artifact");
        expect(bundle.sha256, "bundleFunction's hash = the function's codeSha256 in the plan").to.equal(sys.code.sha256);
        expect(fs.readdirSync(path.dirname(artifactIndex)).sort()).to.deep.equal(["index.js", "index.js.map", "node_modules"]);
        const requires = [...fs.readFileSync(artifactIndex, "utf8").matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
        const external = requires.filter((m) => !m.startsWith("node:") && !builtinModules.includes(m));
        expect(external.every((m) => m.startsWith("@aws-sdk/client-")), `externals: ${external.join(", ")}`).to.equal(true);
        expect(sys.handlerEnvironment).to.include({ TABLE_NAME: sys.table.name, REJECTS_TABLE_NAME: sys.rejectsTable.name, EVENT_ID_FIELD: "eventId" });
        expect(sys.table.hashKey).to.equal("eventId");
        expect(sys.table.indexes).to.deep.equal(["bySourceAndTime"]);
        expect(sys.rejectsTable.hashKey).to.equal("recordId");
    });

    it(`stores ${N} events sent by the CLI exactly once each, keyed by the producer's id, payload as sent`, async () => {
        const { sys, handler } = await deploy("send");
        const { client, sent } = producer();
        const manifestFile = path.join(scratch, "send-manifest.json");
        const t0 = Date.now();
        try {
            await send(sys.streamName, N, client, manifestFile);
        } finally {
            client.destroy();
        }
        const sendMs = Date.now() - t0;
        const manifest = await readManifest(manifestFile);
        expect(manifest.eventIds).to.have.length(N);
        expect(manifest.stream).to.equal(sys.streamName);

        const stats = await poll(sys, handler);
        expect(stats.failuresReported, "batchItemFailures reported").to.equal(0);
        expect(stats.handlerErrors).to.equal(0);
        expect(stats.givenUp).to.deep.equal([]);
        expect(stats.uniqueRecords, "records the poller delivered").to.equal(N);
        expect(stats.batches).to.be.at.least(Math.ceil(N / sys.eventSource.batchSize));

        const items = await scanAll(sys.table.name);
        expect(items, "items in the table").to.have.length(N);
        expect(items.map((i) => i.eventId).sort()).to.deep.equal(manifest.eventIds.map(key).sort());
        for (const item of items) {
            const record = sent.get(item.payload.eventId)!;
            expect(item.payload, `payload of ${item.eventId}`).to.deep.equal(JSON.parse(record.data.toString("utf8")));
        }

        // A sample, every attribute (docs/stream-to-table.md, "Events table").
        const byId = new Map(items.map((i) => [i.payload.eventId as string, i]));
        for (const id of manifest.eventIds.filter((_, k) => k % 97 === 0)) {
            const item = byId.get(id)!;
            const record = sent.get(id)!;
            const payload = JSON.parse(record.data.toString("utf8"));
            expect(Object.keys(item).sort()).to.deep.equal(["arrivedAt", "eventId", "eventTime", "partitionKey", "payload", "processedAt", "sequenceNumber", "shardId", "source"]);
            expect(payload).to.have.all.keys("eventId", "source", "sensor", "value", "timestamp");
            expect(item).to.deep.include({
                eventId: key(id),
                payload,
                partitionKey: id,
                shardId: record.shardId,
                sequenceNumber: record.sequenceNumber,
                source: "e2e",
                eventTime: payload.timestamp,
            });
            const arrived = Date.parse(item.arrivedAt);
            expect(arrived).to.be.within(t0 - 1000, t0 + sendMs + 1000);
            expect(Date.parse(item.processedAt)).to.be.at.least(arrived - 1000);
        }

        // The lookup index the plan declared works on the stored items.
        let indexed = 0;
        let start: Record<string, AttributeValue> | undefined;
        do {
            const page = await dynamodb.send(
                new QueryCommand({
                    TableName: sys.table.name,
                    IndexName: "bySourceAndTime",
                    KeyConditionExpression: "#s = :s",
                    ExpressionAttributeNames: { "#s": "source" },
                    ExpressionAttributeValues: { ":s": { S: "e2e" } },
                    Select: "COUNT",
                    ExclusiveStartKey: start,
                }),
            );
            indexed += page.Count ?? 0;
            start = page.LastEvaluatedKey;
        } while (start);
        expect(indexed).to.equal(N);
        expect(await countItems(sys.rejectsTable.name)).to.equal(0);
    });

    it("keeps one item per event when every batch is delivered 3 times and the shard is re-read", async () => {
        const { sys, handler } = await deploy("dup");
        const { client, sent } = producer();
        try {
            await send(sys.streamName, N, client);
        } finally {
            client.destroy();
        }
        expect(await countItems(sys.table.name), "items before polling").to.equal(0);

        const stats = await poll(sys, handler, { deliveries: 3 });
        expect(stats.invocations).to.equal(3 * stats.batches);
        expect(stats.recordsDelivered).to.equal(3 * N);
        expect([...stats.deliveriesBySequence.values()].every((n) => n === 3)).to.equal(true);
        expect(stats.failuresReported).to.equal(0);
        expect(await countItems(sys.table.name)).to.equal(N);

        // A restart from TRIM_HORIZON with other batch boundaries (as after an iterator reset): still N.
        const again = await poll(sys, handler, { batchSize: 37 });
        expect(again.uniqueRecords).to.equal(N);
        expect(again.failuresReported).to.equal(0);
        expect(await countItems(sys.table.name)).to.equal(N);

        const items = await scanAll(sys.table.name);
        expect(new Set(items.map((i) => i.eventId)).size).to.equal(N);
        for (const item of items) expect(item.sequenceNumber, item.eventId).to.equal(sent.get(item.payload.eventId)!.sequenceNumber);
    });

    it("files poison records in EventLogsRejected with reason and raw data, loses no valid event, and moves past them", async () => {
        const { sys, handler } = await deploy("poison");
        const { client, sent } = producer();
        const poison = [
            { what: "bytes that are not UTF-8", data: Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x00]), reason: /^data is not UTF-8$/ },
            { what: "text that is not JSON", data: Buffer.from("sensor=temperature value=22.5"), reason: /^data is not JSON: / },
            { what: "truncated JSON", data: Buffer.from('{"eventId":"poison-truncated","value":'), reason: /^data is not JSON: / },
            { what: "a JSON array", data: Buffer.from("[1,2]"), reason: /^payload violates the schema: \(root\): / },
            { what: "JSON null", data: Buffer.from("null"), reason: /^payload violates the schema: \(root\): / },
            { what: "a numeric eventId", data: Buffer.from('{"eventId": 42}'), reason: /^payload violates the schema: eventId: / },
            { what: "a timestamp that is not ISO-8601", data: Buffer.from('{"eventId":"poison-ts","timestamp":"yesterday"}'), reason: /^payload violates the schema: timestamp: / },
            { what: "a KPL aggregated record", data: Buffer.from([0xf3, 0x89, 0x9a, 0xc2, 0x0a, 0x01, 0x41]), reason: /KPL aggregated record/ },
        ];
        const rejects: { what: string; reason: RegExp; data: Buffer; recordId: string; partitionKey: string; sequenceNumber: string }[] = [];
        const validIds: string[] = [];
        try {
            validIds.push(...(await send(sys.streamName, 150, client)).eventIds);
            // Each poison record followed by a valid event, in the middle of the second batch.
            for (const [k, p] of poison.entries()) {
                const partitionKey = `poison-${k}`;
                const put = await client.send(new PutRecordCommand({ StreamName: sys.streamName, PartitionKey: partitionKey, Data: p.data }));
                rejects.push({ ...p, partitionKey, recordId: `${put.ShardId}:${put.SequenceNumber}`, sequenceNumber: put.SequenceNumber! });
                const event = makeEvent("e2e");
                await client.send(new PutRecordCommand({ StreamName: sys.streamName, PartitionKey: event.eventId, Data: Buffer.from(JSON.stringify(event)) }));
                validIds.push(event.eventId);
            }
            validIds.push(...(await send(sys.streamName, 150, client)).eventIds);
        } finally {
            client.destroy();
        }

        const stats = await poll(sys, handler);
        expect(stats.uniqueRecords).to.equal(validIds.length + poison.length);
        expect(stats.failuresReported, "batchItemFailures reported").to.equal(0);
        expect(stats.handlerErrors).to.equal(0);
        expect(stats.retries, "batches retried").to.equal(0);
        expect(stats.givenUp).to.deep.equal([]);
        const last = [...sent.values()].map((r) => r.sequenceNumber).sort(bySequence).pop()!;
        expect(stats.checkpoints[SHARD], "checkpoint: the last record on the shard").to.equal(last);

        const rejected = new Map((await scanAll(sys.rejectsTable.name)).map((r) => [r.recordId as string, r]));
        expect(rejected.size).to.equal(poison.length);
        for (const p of rejects) {
            const item = rejected.get(p.recordId);
            expect(item, `reject for ${p.what}`).to.not.equal(undefined);
            expect(item!.reason, p.what).to.match(p.reason);
            expect(item!.rawData, `rawData of ${p.what}`).to.equal(p.data.toString("base64"));
            expect(item).to.deep.include({ partitionKey: p.partitionKey, shardId: SHARD, sequenceNumber: p.sequenceNumber, eventSourceArn: sys.streamArn });
            expect(item).to.not.have.property("rawDataTruncated");
        }

        const stored = (await scanAll(sys.table.name)).map((i) => i.payload.eventId as string);
        expect(stored.sort()).to.deep.equal([...validIds].sort());
        for (const id of ["poison-ts", "poison-truncated"]) expect(stored, "ids inside poison records").to.not.include(id);
    });

    it("rejects a record whose data is not base64 (only a hand-built event can carry one) and stores its valid neighbour", async () => {
        const { sys, handler } = await deploy("base64");
        const record = (i: number, data: string) =>
            kinesisRecord({
                shardId: SHARD,
                sequenceNumber: `4968049352679724881977777545837160543420475822774104${String(i).padStart(4, "0")}`,
                partitionKey: `pk-${i}`,
                data,
                approximateArrivalTimestamp: Date.now() / 1000,
                streamArn: sys.streamArn,
            });
        const valid = makeEvent("e2e");
        const bad = ["not base64!", "eyJhIjoxfQ", "eyJhIjox=", "e30=\n", "e30 ="];
        const event = { Records: [...bad.map((data, i) => record(i, data)), record(99, Buffer.from(JSON.stringify(valid)).toString("base64"))] };

        const response = await handler(event, lambdaContext);

        expect(response).to.deep.equal({ batchItemFailures: [] });
        const rejected = new Map((await scanAll(sys.rejectsTable.name)).map((r) => [r.recordId as string, r]));
        expect(rejected.size).to.equal(bad.length);
        for (const [i, data] of bad.entries()) {
            const r = event.Records[i];
            const item = rejected.get(r.eventID);
            expect(item, `reject for ${JSON.stringify(data)}`).to.not.equal(undefined);
            expect(item).to.deep.include({ reason: "data is not base64", rawData: data, partitionKey: `pk-${i}`, eventSourceArn: sys.streamArn });
        }
        const items = await scanAll(sys.table.name);
        expect(items.map((i) => i.eventId)).to.deep.equal([key(valid.eventId)]);
        expect(items[0].payload).to.deep.equal(valid);
    });

    it("the local poller honours batchItemFailures: checkpoints before the lowest failure, retries from it, gives up after maximumRetryAttempts", async () => {
        const { sys, handler } = await deploy("retry");
        const { client, sent } = producer();
        try {
            await send(sys.streamName, 400, client);
        } finally {
            client.destroy();
        }
        const seq = [...sent.values()].map((r) => r.sequenceNumber).sort(bySequence);
        const alwaysFails = seq[30];
        const failsTwice = seq[250];
        let failsTwiceLeft = 2;
        const flaky: KinesisBatchHandler = async (event, context) => {
            const response = await handler(event, context);
            const extra = event.Records.map((r) => r.kinesis.sequenceNumber).filter((s) => s === alwaysFails || (s === failsTwice && failsTwiceLeft-- > 0));
            return { batchItemFailures: [...response.batchItemFailures, ...extra.map((itemIdentifier) => ({ itemIdentifier }))] };
        };

        const stats = await poll(sys, flaky, { maximumRetryAttempts: 2 });

        // Records 0-99: fails at 30 → checkpoint 29, re-read 30-129 twice, still failing → give up 30-129.
        expect(stats.givenUp).to.have.length(1);
        expect(stats.givenUp[0]).to.deep.include({ shardId: SHARD, startSequenceNumber: seq[30], endSequenceNumber: seq[129], batchSize: 100, attempts: 3 });
        // Records 230-329: fails at 250 → re-read 250-349, fails → re-read, succeeds.
        expect(stats.retries).to.equal(4);
        expect(stats.failuresReported).to.equal(5);
        const deliveries = (i: number) => stats.deliveriesBySequence.get(seq[i]);
        expect([deliveries(0), deliveries(29), deliveries(30), deliveries(129), deliveries(130)]).to.deep.equal([1, 1, 3, 2, 1]);
        expect([deliveries(249), deliveries(250), deliveries(329), deliveries(330), deliveries(349), deliveries(350)]).to.deep.equal([1, 3, 3, 2, 2, 1]);
        expect(stats.checkpoints[SHARD]).to.equal(seq[399]);
        // The handler itself wrote every record; only the reports failed.
        expect(await countItems(sys.table.name)).to.equal(400);
    });
});
