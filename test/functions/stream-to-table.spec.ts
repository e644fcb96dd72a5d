import {
    BatchWriteItemCommand,
    DynamoDBClient,
    PutItemCommand,
    ProvisionedThroughputExceededException,
    type PutItemCommandInput,
    type BatchWriteItemCommandInput,
    type BatchWriteItemCommandOutput,
    type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { mockClient, type AwsClientStub } from "aws-sdk-client-mock";
import { expect } from "chai";
import type { Context, KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import type * as StreamToTable from "../../functions/stream-to-table";
import { lambdaContext } from "../support/lambda-events";
import { kinesisRecord as lambdaKinesisRecord } from "../support/lambda-events";
import { withEnv } from "../support/process-io";
import { eventKey } from "../../functions/shared/contract";

const MODULE = "../../functions/stream-to-table";
const TABLE = "EventLogs";
const REJECTS = "EventLogsRejected";
const SHARD = "shardId-000000000000";
const STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/EventStream";
const NOW = Date.parse("2025-01-02T00:00:00.000Z");
const ARRIVAL_SECONDS = 1735732800.123; // 2025-01-01T12:00:00.123Z

const ENV: Record<string, string> = {
    TABLE_NAME: TABLE,
    REJECTS_TABLE_NAME: REJECTS,
    POWERTOOLS_LOG_LEVEL: "SILENT",
};

/** Loads the handler module afresh: it reads its environment (and fails on a missing variable) when it loads. */
function loadModule(vars: Record<string, string | undefined> = {}): typeof StreamToTable {
    const path = require.resolve(MODULE);
    delete require.cache[path];
    return withEnv({ ...ENV, ...vars }, () => require(MODULE));
}

/** A sequence number as Kinesis writes them (56 digits), increasing with `i`. */
function seq(i: number): string {
    return `4959033827149025660855969253836157109592157598913658${String(i).padStart(4, "0")}`;
}

const b64 = (data: string | Uint8Array) => Buffer.from(data).toString("base64");

/** A valid payload with the producer's id. */
/** The events-table key of an id sent by the "sensors" producer of payload(). */
const key = (id: string) => eventKey("sensors", id);

function payload(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { eventId: `evt-${i}`, source: "sensors", timestamp: "2025-01-01T12:00:00Z", sensor: "temperature", value: 22.5, ...extra };
}

/** A Kinesis record: `data` an object (sent as base64 JSON) or the raw base64 text itself. */
function kinesisRecord(i: number, data: Record<string, unknown> | unknown[] | string): KinesisStreamRecord {
    return lambdaKinesisRecord({
        shardId: SHARD,
        sequenceNumber: seq(i),
        partitionKey: `pk-${i}`,
        data: typeof data === "string" ? data : b64(JSON.stringify(data)),
        approximateArrivalTimestamp: ARRIVAL_SECONDS,
        streamArn: STREAM_ARN,
    });
}

function kinesisEvent(records: KinesisStreamRecord[]): KinesisStreamEvent {
    return { Records: records };
}

/** `count` valid records, numbered from `from`. */
function validRecords(count: number, from = 0): KinesisStreamRecord[] {
    return Array.from({ length: count }, (_, k) => kinesisRecord(from + k, payload(from + k)));
}

function context(remainingMs = 30000): Context {
    return { ...lambdaContext, functionName: "stream-to-table", getRemainingTimeInMillis: () => remainingMs };
}

/** The items of one BatchWriteItem call for `table`, unmarshalled. */
function itemsOf(input: BatchWriteItemCommandInput, table: string): Record<string, any>[] {
    return (input.RequestItems?.[table] ?? []).map((r) => unmarshall(r.PutRequest!.Item!));
}

describe("stream-to-table", () => {
    let mod: typeof StreamToTable;
    // Mocked only while this suite runs: other suites talk to a real (emulated) DynamoDB.
    let ddb: AwsClientStub<DynamoDBClient>;
    const client = new DynamoDBClient({ region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    let logs: { level: string; message: string; extra: any }[];
    let slept: number[];

    const capture = (level: string) => (message: unknown, ...extra: unknown[]) => void logs.push({ level, message: String(message), extra: extra[0] });
    const logger = { info: capture("info"), warn: capture("warn"), error: capture("error") };

    function build(overrides: Partial<StreamToTable.StreamToTableOptions> = {}): StreamToTable.StreamToTableHandler {
        return mod.createHandler({
            client,
            tableName: TABLE,
            rejectsTableName: REJECTS,
            eventIdField: "eventId",
            maxParallelWrites: 4,
            sleep: async (ms) => void slept.push(ms),
            now: () => NOW,
            logger,
            ...overrides,
        });
    }

    /** Every BatchWriteItem input the mock received, in order. */
    function calls(): BatchWriteItemCommandInput[] {
        return ddb.commandCalls(BatchWriteItemCommand).map((c) => c.args[0].input);
    }

    /** Items put into `table`, over every call. */
    function written(table: string): Record<string, any>[] {
        return calls().flatMap((input) => itemsOf(input, table));
    }

    before(() => {
        mod = loadModule();
        ddb = mockClient(DynamoDBClient);
    });

    beforeEach(() => {
        ddb.reset();
        ddb.on(BatchWriteItemCommand).resolves({ UnprocessedItems: {} });
        logs = [];
        slept = [];
    });

    after(() => {
        ddb.restore();
    });

    describe("decodeRecord", () => {
        const at = new Date(NOW);

        it("builds the events-table item of the contract from a valid record", () => {
            const decoded = mod.decodeRecord(kinesisRecord(7, payload(7)), "eventId", { now: at });
            expect(decoded.kind).to.equal("item");
            if (decoded.kind !== "item") return;
            expect(decoded.item).to.deep.equal({
                eventId: key("evt-7"),
                payload: payload(7),
                partitionKey: "pk-7",
                shardId: SHARD,
                sequenceNumber: seq(7),
                arrivedAt: "2025-01-01T12:00:00.123Z",
                processedAt: "2025-01-02T00:00:00.000Z",
                source: "sensors",
                eventTime: "2025-01-01T12:00:00.000Z",
            });
            // What is written is exactly that item, payload as a map.
            expect(unmarshall(decoded.attributes)).to.deep.equal(decoded.item);
            expect(decoded.attributes.payload).to.have.property("M");
            expect(decoded.attributes.eventId).to.deep.equal({ S: key("evt-7") });
        });

        it("stores eventTime in UTC with milliseconds, so the GSI sorts by time whatever the offset, and leaves the payload as sent", () => {
            const cases: [string, string][] = [
                ["2025-01-01T12:30:00+02:00", "2025-01-01T10:30:00.000Z"],
                ["2025-01-01T11:00:00Z", "2025-01-01T11:00:00.000Z"],
                ["2025-01-01T05:15:00.5-06:00", "2025-01-01T11:15:00.500Z"],
                ["2025-01-01T12:00:00.123456+00:00", "2025-01-01T12:00:00.123Z"],
            ];
            for (const [timestamp, eventTime] of cases) {
                const decoded = mod.decodeRecord(kinesisRecord(1, payload(1, { timestamp })), "eventId", { now: at });
                if (decoded.kind !== "item") return expect.fail(`rejected ${timestamp}: ${decoded.reject.reason}`);
                expect(decoded.item.eventTime, timestamp).to.equal(eventTime);
                expect(decoded.attributes.eventTime).to.deep.equal({ S: eventTime });
                expect(decoded.item.payload.timestamp).to.equal(timestamp);
            }
            // Lexical order of the stored keys is time order (10:30Z, 11:00Z, 11:15Z, 12:00Z), which the raw strings are not.
            const stored = cases.map(([, eventTime]) => eventTime);
            expect([...stored].sort()).to.deep.equal([stored[0], stored[1], stored[2], stored[3]]);
            expect(cases.map(([raw]) => raw).sort()[0]).not.to.equal(cases[0][0]);
        });

        it("derives the id from shard and sequence number when the producer sent none, the same on every delivery", () => {
            const record = kinesisRecord(3, { sensor: "temperature", value: 22.5 });
            const first = mod.decodeRecord(record, "eventId", { now: at });
            const redelivered = mod.decodeRecord(record, "eventId", { now: new Date(NOW + 60_000) });
            expect(first.kind === "item" && first.item.eventId).to.equal(`${SHARD}:${seq(3)}`);
            expect(redelivered.kind === "item" && redelivered.item.eventId).to.equal(`${SHARD}:${seq(3)}`);
            if (first.kind !== "item") return;
            // Without source or timestamp the item stays out of the GSI.
            expect(first.item).not.to.have.any.keys("source", "eventTime", "expiresAt");
        });

        it("reads the producer's id from the field EVENT_ID_FIELD names", () => {
            const record = kinesisRecord(1, { id: "order-42", eventId: "not-this-one" });
            const decoded = mod.decodeRecord(record, "id", { now: at });
            expect(decoded.kind === "item" && decoded.item.eventId).to.equal(eventKey(undefined, "order-42"));
            const missing = mod.decodeRecord(kinesisRecord(2, { eventId: "ignored" }), "id", { now: at });
            expect(missing.kind === "item" && missing.item.eventId).to.equal(`${SHARD}:${seq(2)}`);
        });

        it("sets expiresAt TTL_DAYS after processing, and leaves an empty source out of the index", () => {
            const decoded = mod.decodeRecord(kinesisRecord(1, payload(1, { source: "" })), "eventId", { now: at, ttlDays: 7 });
            if (decoded.kind !== "item") return expect.fail(`rejected: ${decoded.reject.reason}`);
            expect(decoded.item.expiresAt).to.equal(NOW / 1000 + 7 * 86400);
            expect(decoded.attributes.expiresAt).to.deep.equal({ N: String(NOW / 1000 + 7 * 86400) });
            expect(decoded.item).not.to.have.property("source");
            expect(decoded.item.payload.source).to.equal("");
        });

        it("accepts the payloads the schema allows", () => {
            const accepted = [
                {},
                { eventId: "x".repeat(512), source: "s".repeat(256) },
                { timestamp: "2025-01-01T12:00:00.123456+02:00", nested: { list: [1, "two", null, true, { deep: [] }] } },
                { value: 12345678901234567890, tiny: 1e-100, negative: -0.5 },
            ];
            for (const data of accepted) {
                const decoded = mod.decodeRecord(kinesisRecord(1, data), "eventId", { now: at });
                expect(decoded.kind, decoded.kind === "reject" ? decoded.reject.reason : "").to.equal("item");
            }
        });

        it("rejects data that is not strict base64, keeping the raw data and record coordinates", () => {
            for (const data of ["not base64!", "YWJj ZA==", "YWJjZA=", "YW=j", "YWJj\n", "YWJjZA==YQ=="]) {
                const decoded = mod.decodeRecord(kinesisRecord(5, data), "eventId", { now: at });
                expect(decoded.kind, data).to.equal("reject");
                if (decoded.kind !== "reject") continue;
                expect(decoded.reject).to.deep.equal({
                    recordId: `${SHARD}:${seq(5)}`,
                    reason: "data is not base64",
                    rawData: data,
                    partitionKey: "pk-5",
                    shardId: SHARD,
                    sequenceNumber: seq(5),
                    arrivedAt: "2025-01-01T12:00:00.123Z",
                    rejectedAt: "2025-01-02T00:00:00.000Z",
                    eventSourceArn: STREAM_ARN,
                });
            }
        });

        it("rejects data that is not UTF-8, naming a KPL aggregated record as such", () => {
            for (const bytes of [[0xc3, 0x28], [0x7b, 0xff, 0x7d], [0xed, 0xa0, 0x80]]) {
                const decoded = mod.decodeRecord(kinesisRecord(1, b64(Uint8Array.from(bytes))), "eventId", { now: at });
                expect(decoded.kind === "reject" && decoded.reject.reason, bytes.join(",")).to.equal("data is not UTF-8");
            }
            const aggregated = b64(Uint8Array.from([0xf3, 0x89, 0x9a, 0xc2, 0x0a, 0x01, 0x61]));
            const decoded = mod.decodeRecord(kinesisRecord(1, aggregated), "eventId", { now: at });
            expect(decoded.kind === "reject" && decoded.reject.reason).to.equal("data is a KPL aggregated record, which this handler does not de-aggregate");
        });

        it("rejects data that is not JSON, in one line", () => {
            // V8 quotes the text around the error, newlines and all.
            for (const text of ["{not json", "{\n  \"a\": 1,\n}", "", "hello", "[1,\n2,\r\nx]", `["${"y".repeat(1000)}\n`]) {
                const decoded = mod.decodeRecord(kinesisRecord(1, b64(text)), "eventId", { now: at });
                if (decoded.kind !== "reject") return expect.fail(`accepted ${JSON.stringify(text)}`);
                expect(decoded.reject.reason).to.match(/^data is not JSON: \S/);
                expect(decoded.reject.reason).not.to.match(/[\r\n]/);
                expect(decoded.reject.reason.length).to.be.at.most(300);
            }
        });

        it("rejects payloads that violate the schema, naming the path", () => {
            const cases: [unknown, RegExp][] = [
                [[1, 2], /^payload violates the schema: \(root\): .*expected object/],
                [null, /^payload violates the schema: \(root\): .*expected object/],
                ["text", /^payload violates the schema: \(root\): /],
                [{ eventId: "" }, /^payload violates the schema: eventId: /],
                [{ eventId: "x".repeat(513) }, /^payload violates the schema: eventId: .*512/],
                [{ eventId: 42 }, /^payload violates the schema: eventId: .*expected string/],
                [{ source: "s".repeat(257) }, /^payload violates the schema: source: .*256/],
                [{ source: 5 }, /^payload violates the schema: source: /],
                [{ timestamp: "yesterday" }, /^payload violates the schema: timestamp: /],
                [{ timestamp: 1735732800 }, /^payload violates the schema: timestamp: /],
            ];
            for (const [data, reason] of cases) {
                const record = kinesisRecord(1, b64(JSON.stringify(data)));
                const decoded = mod.decodeRecord(record, "eventId", { now: at });
                expect(decoded.kind === "reject" && decoded.reject.reason, JSON.stringify(data)).to.match(reason);
            }
        });

        it("rejects payloads DynamoDB cannot store: numbers out of range, empty keys, too deep", () => {
            let deep: unknown = 1;
            for (let i = 0; i < 40; i++) deep = { d: deep };
            const cases: [string, RegExp][] = [
                // Named as sent: the number is never turned into a double (1e400 would be Infinity).
                ['{"v": 1e300}', /^payload cannot be stored in DynamoDB: v: number 1e300 is outside DynamoDB's range/],
                ['{"v": [1, 1e400]}', /^payload cannot be stored in DynamoDB: v\[1\]: number 1e400 is outside/],
                ['{"v": 1e126}', /^payload cannot be stored in DynamoDB: v: number 1e126 is outside/],
                ['{"v": 1e-200}', /^payload cannot be stored in DynamoDB: v: number /],
                ['{"a": {"": 1}}', /^payload cannot be stored in DynamoDB: a: a map key is empty/],
                ['{"s": "\\ud800"}', /^payload cannot be stored in DynamoDB: s: .*surrogate/],
                [JSON.stringify(deep), /^payload cannot be stored in DynamoDB: d(\.d)+: nested deeper than DynamoDB's 32 levels$/],
            ];
            for (const [text, reason] of cases) {
                const decoded = mod.decodeRecord(kinesisRecord(1, b64(text)), "eventId", { now: at });
                expect(decoded.kind === "reject" && decoded.reject.reason, text).to.match(reason);
            }
        });

        it("stores numbers beyond double precision exactly, as DynamoDB numbers (38 digits) hold them", () => {
            const text = '{"big": 12345678901234567890123, "tiny": 0.12345678901234567890123456789, "list": [9007199254740993, 1.5], "small": 22.5}';
            const decoded = mod.decodeRecord(kinesisRecord(1, b64(text)), "eventId", { now: at });
            if (decoded.kind !== "item") return expect.fail(`rejected: ${decoded.kind === "reject" && decoded.reject.reason}`);
            const payload = decoded.attributes.payload.M!;
            expect(payload.big).to.deep.equal({ N: "12345678901234567890123" });
            expect(payload.tiny).to.deep.equal({ N: "0.12345678901234567890123456789" });
            expect(payload.list).to.deep.equal({ L: [{ N: "9007199254740993" }, { N: "1.5" }] });
            expect(payload.small).to.deep.equal({ N: "22.5" });
        });

        it("refuses, with the reason, a number DynamoDB cannot hold exactly (more than 38 significant digits)", () => {
            const digits = "1".repeat(39);
            const decoded = mod.decodeRecord(kinesisRecord(1, b64(`{"reading": {"v": ${digits}}}`)), "eventId", { now: at });
            expect(decoded.kind === "reject" && decoded.reject.reason).to.equal(
                `payload cannot be stored in DynamoDB: reading.v: number ${digits} has 39 significant digits, more than the 38 DynamoDB keeps`,
            );
            const exactly38 = mod.decodeRecord(kinesisRecord(2, b64(`{"v": ${"1".repeat(38)}}`)), "eventId", { now: at });
            expect(exactly38.kind).to.equal("item");
            const reason = (text: string) => {
                const d = mod.decodeRecord(kinesisRecord(3, b64(`{"v": ${text}}`)), "eventId", { now: at });
                return d.kind === "reject" ? d.reject.reason : undefined;
            };
            // Digits that are significant: leading and trailing zeros are not, those after the point are.
            expect(reason(`${"1".repeat(38)}00000`)).to.equal(undefined);
            expect(reason("0.000123456789012345678901234567890123456780")).to.equal(undefined);
            expect(reason(`0.${"1".repeat(39)}`)).to.match(/has 39 significant digits/);
            // The range, at its edges, for numbers too long for a double (stored as sent).
            const long = "1.2345678901234567890123";
            expect(reason(`${long}e125`)).to.equal(undefined);
            expect(reason(`${long}e126`)).to.match(/is outside DynamoDB's range/);
            expect(reason(`${long}e-130`)).to.equal(undefined);
            expect(reason(`${long}e-131`)).to.match(/is outside DynamoDB's range/);
            expect(reason(`0.0${long.replace(".", "")}e-128`)).to.equal(undefined);
            expect(reason(`0.0${long.replace(".", "")}e-129`)).to.match(/is outside DynamoDB's range/);
        });

        it("rejects an item above 400 KB, cutting (and flagging) rawData so the reject itself fits", () => {
            const data = b64(JSON.stringify({ blob: "x".repeat(500_000) }));
            const decoded = mod.decodeRecord(kinesisRecord(1, data), "eventId", { now: at });
            if (decoded.kind !== "reject") return expect.fail("accepted a 500 KB item");
            const match = /^item is (\d+) bytes, above DynamoDB's 400 KB limit \(rawData truncated to the first (\d+) of (\d+) characters\)$/.exec(decoded.reject.reason);
            expect(match, decoded.reject.reason).not.to.equal(null);
            expect(Number(match![1])).to.be.within(500_000, 501_000);
            expect(Number(match![2])).to.equal(decoded.reject.rawData.length);
            expect(Number(match![3])).to.equal(data.length);
            expect(decoded.reject.rawDataTruncated).to.equal(true);
            expect(data.startsWith(decoded.reject.rawData)).to.equal(true);
            expect(decoded.reject.rawData.length % 4).to.equal(0);
            expect(decoded.size).to.be.at.most(mod.MAX_ITEM_BYTES);
            expect(mod.itemSize(mod.marshallItem(decoded.reject))).to.equal(decoded.size);
        });

        it("accepts an item just under 400 KB and rejects one just over", () => {
            const sized = (chars: number) => mod.decodeRecord(kinesisRecord(1, { blob: "x".repeat(chars) }), "eventId", { now: at });
            const under = sized(409_000);
            expect(under.kind).to.equal("item");
            expect(under.size).to.be.within(409_000, mod.MAX_ITEM_BYTES);
            const over = sized(mod.MAX_ITEM_BYTES - under.size + 409_000 + 1);
            expect(over.kind === "reject" && over.reject.reason).to.match(new RegExp(`^item is ${mod.MAX_ITEM_BYTES + 1} bytes, above DynamoDB's 400 KB limit \\(`));
        });

        it("sizes items as DynamoDB documents it", () => {
            expect(mod.itemSize({ name: { S: "héllo" } })).to.equal(4 + 6);
            expect(mod.itemSize({ n: { N: "-00123.4500" } })).to.equal(1 + 1 + 3); // 12345: 5 digits → 3 bytes + 1
            expect(mod.itemSize({ b: { BOOL: true }, z: { NULL: true } })).to.equal(2 + 2);
            expect(mod.itemSize({ m: { M: { ab: { S: "c" }, l: { L: [{ S: "" }, { N: "1" }] } } } })).to.equal(1 + 3 + (1 + 2 + 1) + (1 + 1 + (3 + 1 + 0 + 1 + 2)));
        });
    });

    describe("chunking", () => {
        const unit = (key: string, sequence: string, table = TABLE): StreamToTable.PutUnit => ({
            kind: "item",
            table,
            keyAttribute: "eventId",
            key,
            item: { eventId: { S: key }, sequenceNumber: { S: sequence } },
            sequenceNumbers: [sequence],
        });

        it("cuts a list into chunks of 25", () => {
            const items = Array.from({ length: 60 }, (_, i) => i);
            expect(mod.chunk(items).map((c) => c.length)).to.deep.equal([25, 25, 10]);
            expect(mod.chunk(items).flat()).to.deep.equal(items);
            expect(mod.chunk([])).to.deep.equal([]);
            expect(() => mod.chunk(items, 0)).to.throw(/positive integer/);
        });

        it("keeps one put per key, the last record winning and carrying the replaced records", () => {
            const deduped = mod.dedupeByKey([unit("a", "1"), unit("b", "2"), unit("a", "3"), unit("a", "4", REJECTS)]);
            expect(deduped.map((u) => [u.table, u.key, u.item.sequenceNumber.S, u.sequenceNumbers])).to.deep.equal([
                [TABLE, "a", "3", ["1", "3"]],
                [TABLE, "b", "2", ["2"]],
                [REJECTS, "a", "4", ["4"]],
            ]);
        });

        it("plans chunks of 25 per table with no key twice in a request", () => {
            const units = [
                ...Array.from({ length: 30 }, (_, i) => unit(`k${i % 27}`, String(i))),
                ...Array.from({ length: 3 }, (_, i) => unit(`r${i}`, String(100 + i), REJECTS)),
            ];
            const chunks = mod.planChunks(units);
            expect(chunks.map((c) => [c[0].table, c.length])).to.deep.equal([
                [TABLE, 25],
                [TABLE, 2],
                [REJECTS, 3],
            ]);
            for (const c of chunks) expect(new Set(c.map((u) => u.key)).size).to.equal(c.length);
        });

        it("backs off exponentially with full jitter, capped", () => {
            const settings = { baseDelayMs: 25, maxDelayMs: 1000 };
            expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => mod.backoffDelay(n, { ...settings, random: () => 0.5 }))).to.deep.equal([
                12.5, 25, 50, 100, 200, 400, 500, 500,
            ]);
            expect(mod.backoffDelay(3, { ...settings, random: () => 0 })).to.equal(0);
        });
    });

    describe("handler", () => {
        it("writes 60 records in three BatchWriteItem calls of 25, 25 and 10", async () => {
            const records = validRecords(60);
            const response = await build()(kinesisEvent(records), context());
            expect(response).to.deep.equal({ batchItemFailures: [] });
            expect(calls().map((input) => Object.keys(input.RequestItems!))).to.deep.equal([[TABLE], [TABLE], [TABLE]]);
            expect(calls().map((input) => input.RequestItems![TABLE].length)).to.deep.equal([25, 25, 10]);
            expect(written(TABLE).map((item) => item.eventId)).to.deep.equal(records.map((_, i) => key(`evt-${i}`)));
            expect(written(TABLE)[59]).to.include({ sequenceNumber: seq(59), partitionKey: "pk-59", shardId: SHARD, processedAt: "2025-01-02T00:00:00.000Z" });
        });

        it("logs a one-line summary of written, rejected and failed records", async () => {
            await build()(kinesisEvent([...validRecords(3), kinesisRecord(9, "%%%")]), context());
            const summary = logs.filter((l) => l.level === "info");
            expect(summary).to.have.length(1);
            expect(summary[0].message).to.equal("4 records: 3 written, 1 rejected, 0 failed");
            expect(summary[0].extra).to.include({ records: 4, written: 3, rejected: 1, failed: 0 });
            expect(logs.filter((l) => l.level === "warn").map((l) => l.extra)).to.deep.equal([{ recordId: `${SHARD}:${seq(9)}`, reason: "data is not base64" }]);
        });

        it("retries the UnprocessedItems of the first attempt and loses nothing", async () => {
            let call = 0;
            ddb.on(BatchWriteItemCommand).callsFake(async (input: BatchWriteItemCommandInput): Promise<Partial<BatchWriteItemCommandOutput>> => {
                call++;
                if (call === 1) return { UnprocessedItems: { [TABLE]: input.RequestItems![TABLE].slice(0, 5) as WriteRequest[] } };
                return { UnprocessedItems: {} };
            });
            const records = validRecords(20);
            const response = await build({ maxParallelWrites: 1 })(kinesisEvent(records), context());
            expect(response.batchItemFailures).to.deep.equal([]);
            expect(calls().map((input) => itemsOf(input, TABLE).map((i) => i.eventId))).to.deep.equal([
                records.map((_, i) => key(`evt-${i}`)),
                ["evt-0", "evt-1", "evt-2", "evt-3", "evt-4"].map(key),
            ]);
            expect(slept).to.have.length(1);
            expect(slept[0]).to.be.within(0, 25);
        });

        it("retries a chunk throttled with ProvisionedThroughputExceededException, then reports nothing", async () => {
            const throttle = new ProvisionedThroughputExceededException({ message: "Rate exceeded", $metadata: {} });
            ddb.on(BatchWriteItemCommand).rejectsOnce(throttle).resolves({ UnprocessedItems: {} });
            const response = await build({ maxParallelWrites: 1 })(kinesisEvent(validRecords(60)), context());
            expect(response).to.deep.equal({ batchItemFailures: [] });
            expect(calls().map((input) => input.RequestItems![TABLE].length)).to.deep.equal([25, 25, 25, 10]);
            expect(new Set(written(TABLE).map((i) => i.eventId)).size).to.equal(60);
            expect(slept).to.have.length(1);
        });

        it("reports exactly the records of a chunk that stays throttled past the attempt bound, and writes the others", async () => {
            const stuck = (input: BatchWriteItemCommandInput) => itemsOf(input, TABLE).some((i) => i.eventId === key("evt-30"));
            ddb.on(BatchWriteItemCommand).callsFake(async (input: BatchWriteItemCommandInput) => {
                if (stuck(input)) throw Object.assign(new Error("Throughput exceeds the current capacity"), { name: "ThrottlingException" });
                return { UnprocessedItems: {} };
            });
            const records = validRecords(60);
            const response = await build()(kinesisEvent(records), context());
            expect(response.batchItemFailures).to.deep.equal(records.slice(25, 50).map((r) => ({ itemIdentifier: r.kinesis.sequenceNumber })));
            expect(calls().filter(stuck)).to.have.length(8);
            expect(calls().filter((input) => !stuck(input)).flatMap((input) => itemsOf(input, TABLE).map((i) => i.eventId))).to.have.members([
                ...records.slice(0, 25).map((_, i) => key(`evt-${i}`)),
                ...records.slice(50).map((_, i) => key(`evt-${50 + i}`)),
            ]);
            const error = logs.find((l) => l.level === "error");
            expect(error?.extra).to.include({ table: TABLE, items: 25, attempts: 8 });
            expect(error?.extra.reason).to.match(/^ThrottlingException: .* after 8 attempts$/);
        });

        it("fails a chunk at once on an error that is not worth retrying", async () => {
            ddb.on(BatchWriteItemCommand).rejects(Object.assign(new Error("User is not authorized"), { name: "AccessDeniedException" }));
            const records = validRecords(3);
            const response = await build()(kinesisEvent(records), context());
            expect(response.batchItemFailures.map((f) => f.itemIdentifier)).to.deep.equal(records.map((r) => r.kinesis.sequenceNumber));
            expect(calls()).to.have.length(1);
            expect(slept).to.deep.equal([]);
        });

        it("files poison records in the rejects table with their reasons, without reporting them", async () => {
            const records = [
                kinesisRecord(0, payload(0)),
                kinesisRecord(1, "not base64!"),
                kinesisRecord(2, b64(Uint8Array.from([0xc3, 0x28]))),
                kinesisRecord(3, b64("{not json")),
                kinesisRecord(4, { eventId: 42 }),
                kinesisRecord(5, { blob: "x".repeat(420_000) }),
                kinesisRecord(6, payload(6)),
            ];
            const response = await build()(kinesisEvent(records), context());
            expect(response).to.deep.equal({ batchItemFailures: [] });
            expect(written(TABLE).map((i) => i.eventId)).to.deep.equal([key("evt-0"), key("evt-6")]);
            const rejects = written(REJECTS);
            expect(rejects.map((r) => [r.recordId, r.reason.replace(/: .*/, ": …").replace(/^item is .*/, "item is …")])).to.deep.equal([
                [`${SHARD}:${seq(1)}`, "data is not base64"],
                [`${SHARD}:${seq(2)}`, "data is not UTF-8"],
                [`${SHARD}:${seq(3)}`, "data is not JSON: …"],
                [`${SHARD}:${seq(4)}`, "payload violates the schema: …"],
                [`${SHARD}:${seq(5)}`, "item is …"],
            ]);
            expect(rejects[4].reason).to.match(/^item is 420\d{3} bytes, above DynamoDB's 400 KB limit \(rawData truncated/);
            expect(rejects[4].rawDataTruncated).to.equal(true);
            expect(rejects[0]).to.deep.include({ rawData: "not base64!", partitionKey: "pk-1", sequenceNumber: seq(1), shardId: SHARD, eventSourceArn: STREAM_ARN });
            expect(rejects[0].rejectedAt).to.equal("2025-01-02T00:00:00.000Z");
        });

        it("reports a poison record whose reject could not be written", async () => {
            ddb.on(BatchWriteItemCommand).callsFake(async (input: BatchWriteItemCommandInput) => {
                if (input.RequestItems![REJECTS]) throw Object.assign(new Error("Requested resource not found"), { name: "ResourceNotFoundException" });
                return { UnprocessedItems: {} };
            });
            const records = [kinesisRecord(0, payload(0)), kinesisRecord(1, "%%%"), kinesisRecord(2, payload(2)), kinesisRecord(3, b64("[]"))];
            const response = await build()(kinesisEvent(records), context());
            expect(response.batchItemFailures).to.deep.equal([{ itemIdentifier: seq(1) }, { itemIdentifier: seq(3) }]);
            expect(written(TABLE).map((i) => i.eventId)).to.deep.equal([key("evt-0"), key("evt-2")]);
            expect(logs.find((l) => l.level === "info")?.extra).to.include({ written: 2, rejected: 0, failed: 2 });
        });

        it("puts each key once when a batch repeats an event id, the last record winning", async () => {
            const records = [
                kinesisRecord(0, payload(0, { eventId: "dup", version: 1 })),
                kinesisRecord(1, payload(1)),
                kinesisRecord(2, payload(2, { eventId: "dup", version: 2 })),
                ...validRecords(30, 3),
                kinesisRecord(33, payload(33, { eventId: "dup", version: 3 })),
            ];
            const response = await build()(kinesisEvent(records), context());
            expect(response).to.deep.equal({ batchItemFailures: [] });
            for (const input of calls()) {
                const keys = itemsOf(input, TABLE).map((i) => i.eventId);
                expect(new Set(keys).size, "a key twice in one request").to.equal(keys.length);
            }
            const ids = written(TABLE).map((i) => i.eventId);
            expect(ids).to.have.length(32);
            expect(new Set(ids).size).to.equal(32);
            expect(written(TABLE).find((i) => i.eventId === key("dup"))).to.deep.include({ sequenceNumber: seq(33), payload: payload(33, { eventId: "dup", version: 3 }) });
            expect(logs.find((l) => l.level === "info")?.extra).to.include({ records: 34, written: 34, failed: 0 });
        });

        /** Every PutItem input the mock received, in order. */
        function puts(): PutItemCommandInput[] {
            return ddb.commandCalls(PutItemCommand).map((c) => c.args[0].input);
        }

        const refused = (message: string) => Object.assign(new Error(message), { name: "ValidationException" });

        it("keeps the events of two producers that use the same id apart: an event is its source and its id", async () => {
            const records = [
                kinesisRecord(0, payload(0, { eventId: "42", source: "orders" })),
                kinesisRecord(1, payload(1, { eventId: "42", source: "refunds" })),
                kinesisRecord(2, payload(2, { eventId: "42", source: undefined })),
            ];
            expect(await build()(kinesisEvent(records), context())).to.deep.equal({ batchItemFailures: [] });
            expect(written(TABLE).map((i) => [i.eventId, i.payload.source])).to.deep.equal([
                ["orders#42", "orders"],
                ["refunds#42", "refunds"],
                ["#42", undefined],
            ]);
        });

        it("rewrites an event sent again by its producer, and names a key one batch holds with two payloads", async () => {
            const records = [
                kinesisRecord(0, payload(0, { eventId: "42", reading: 1 })),
                kinesisRecord(1, payload(1, { eventId: "42", reading: 1 })),
                kinesisRecord(2, payload(2, { eventId: "7", reading: 1 })),
                kinesisRecord(3, payload(3, { eventId: "7", reading: 2 })),
            ];
            await build()(kinesisEvent(records), context());
            expect(written(TABLE).map((i) => [i.eventId, i.payload.reading])).to.deep.equal([
                [key("42"), 1],
                [key("7"), 2],
            ]);
            const warnings = logs.filter((l) => l.level === "warn" && /another payload/.test(l.message));
            expect(warnings.map((w) => w.extra)).to.deep.equal([{ eventId: key("7") }]);
        });

        it("puts a chunk DynamoDB refuses one item at a time, filing the item it still refuses as a reject", async () => {
            const message = "One or more parameter values were invalid: Type mismatch for attribute to update";
            ddb.on(BatchWriteItemCommand).callsFake(async (input: BatchWriteItemCommandInput) => {
                if (itemsOf(input, TABLE).some((i) => i.eventId === key("dup"))) throw refused("Some items are invalid");
                return { UnprocessedItems: {} };
            });
            ddb.on(PutItemCommand).callsFake(async (input: PutItemCommandInput) => {
                if (unmarshall(input.Item!).eventId === key("dup")) throw refused(message);
                return {};
            });
            const records = [
                kinesisRecord(0, payload(0, { eventId: "dup" })),
                ...validRecords(25, 1),
                kinesisRecord(26, payload(26, { eventId: "dup" })),
            ];
            const response = await build()(kinesisEvent(records), context());
            expect(response).to.deep.equal({ batchItemFailures: [] });
            // "dup" rides in the first chunk (with evt-1 … evt-24): those 24 are put alone; evt-25 goes in the second batch.
            expect(puts()).to.have.length(25);
            const putOk = puts().map((input) => unmarshall(input.Item!)).filter((i) => i.eventId !== key("dup"));
            expect(putOk.map((i) => i.eventId)).to.deep.equal(records.slice(1, 25).map((_, i) => key(`evt-${i + 1}`)));
            expect(puts().every((input) => input.TableName === TABLE)).to.equal(true);
            expect(calls().map((input) => itemsOf(input, TABLE).length)).to.deep.equal([25, 1, 0]);
            expect(itemsOf(calls()[1], TABLE).map((i) => i.eventId)).to.deep.equal([key("evt-25")]);
            // The reject is the winning record's (the last "dup"), with DynamoDB's own message.
            expect(written(REJECTS)).to.deep.equal([
                {
                    recordId: `${SHARD}:${seq(26)}`,
                    reason: `DynamoDB refused the item: ${message}`,
                    rawData: records[26].kinesis.data,
                    partitionKey: "pk-26",
                    shardId: SHARD,
                    sequenceNumber: seq(26),
                    arrivedAt: "2025-01-01T12:00:00.123Z",
                    rejectedAt: "2025-01-02T00:00:00.000Z",
                    eventSourceArn: STREAM_ARN,
                },
            ]);
            expect(logs.find((l) => l.level === "info")?.extra).to.include({ records: 27, written: 25, rejected: 2, failed: 0 });
            expect(logs.filter((l) => l.level === "error")).to.deep.equal([]);
        });

        it("retries a throttled PutItem, and reports every record of a refused item whose reject could not be written", async () => {
            let throttled = 0;
            ddb.on(BatchWriteItemCommand).callsFake(async (input: BatchWriteItemCommandInput) => {
                if (input.RequestItems![REJECTS]) throw Object.assign(new Error("Requested resource not found"), { name: "ResourceNotFoundException" });
                throw refused("Some items are invalid");
            });
            ddb.on(PutItemCommand).callsFake(async (input: PutItemCommandInput) => {
                const { eventId } = unmarshall(input.Item!);
                if (eventId === key("evt-1") && throttled++ < 2) throw new ProvisionedThroughputExceededException({ message: "Rate exceeded", $metadata: {} });
                if (eventId === key("dup")) throw refused("Item size has exceeded the maximum allowed size");
                return {};
            });
            const records = [kinesisRecord(0, payload(0, { eventId: "dup" })), kinesisRecord(1, payload(1)), kinesisRecord(2, payload(2, { eventId: "dup" }))];
            const response = await build()(kinesisEvent(records), context());
            expect(response.batchItemFailures).to.deep.equal([{ itemIdentifier: seq(0) }, { itemIdentifier: seq(2) }]);
            expect(puts().map((input) => unmarshall(input.Item!).eventId)).to.deep.equal(["dup", "evt-1", "evt-1", "evt-1"].map(key));
            expect(slept).to.have.length(2);
            expect(logs.find((l) => l.level === "info")?.extra).to.include({ written: 1, rejected: 0, failed: 2 });
        });

        it("reports a record whose item and whose reject DynamoDB both refuse: it is in neither table, so Lambda must retry it", async () => {
            ddb.on(BatchWriteItemCommand).callsFake(async (input: BatchWriteItemCommandInput) => {
                if (itemsOf(input, TABLE).some((i) => i.eventId === key("bad")) || itemsOf(input, REJECTS).length > 0) throw refused("Some items are invalid");
                return { UnprocessedItems: {} };
            });
            ddb.on(PutItemCommand).callsFake(async (input: PutItemCommandInput) => {
                const item = unmarshall(input.Item!);
                if (item.eventId === key("bad")) throw refused("Type mismatch");
                if (input.TableName === REJECTS) throw refused("The rejects table refuses this too");
                return {};
            });
            const records = [kinesisRecord(0, payload(0)), kinesisRecord(1, payload(1, { eventId: "bad" })), kinesisRecord(2, payload(2))];
            const response = await build()(kinesisEvent(records), context());
            expect(response.batchItemFailures).to.deep.equal([{ itemIdentifier: seq(1) }]);
            expect(puts().filter((input) => input.TableName === REJECTS)).to.have.length(1);
            expect(logs.find((l) => l.level === "info")?.extra).to.include({ records: 3, written: 2, rejected: 0, failed: 1 });
            expect(logs.find((l) => l.level === "error")?.extra.reason).to.equal("ValidationException: The rejects table refuses this too");
        });

        it("reports a reject the rejects table itself refuses, item by item", async () => {
            ddb.on(BatchWriteItemCommand).callsFake(async (input: BatchWriteItemCommandInput) => {
                if (input.RequestItems![REJECTS]) throw refused("bad reject");
                return { UnprocessedItems: {} };
            });
            ddb.on(PutItemCommand).callsFake(async (input: PutItemCommandInput) => {
                if (unmarshall(input.Item!).recordId === `${SHARD}:${seq(1)}`) throw refused("bad reject");
                return {};
            });
            const records = [kinesisRecord(0, payload(0)), kinesisRecord(1, "%%%"), kinesisRecord(2, b64("[]"))];
            const response = await build()(kinesisEvent(records), context());
            expect(response.batchItemFailures).to.deep.equal([{ itemIdentifier: seq(1) }]);
            expect(puts().map((input) => input.TableName)).to.deep.equal([REJECTS, REJECTS]);
            expect(logs.find((l) => l.level === "error")?.extra.reason).to.equal("ValidationException: bad reject");
            expect(logs.find((l) => l.level === "info")?.extra).to.include({ written: 1, rejected: 1, failed: 1 });
        });

        it("never has more than MAX_PARALLEL_WRITES requests in flight", async () => {
            let inFlight = 0;
            let peak = 0;
            ddb.on(BatchWriteItemCommand).callsFake(async () => {
                inFlight++;
                peak = Math.max(peak, inFlight);
                await new Promise((resolve) => setTimeout(resolve, 5));
                inFlight--;
                return { UnprocessedItems: {} };
            });
            const response = await build({ maxParallelWrites: 3 })(kinesisEvent(validRecords(250)), context());
            expect(response).to.deep.equal({ batchItemFailures: [] });
            expect(calls()).to.have.length(10);
            expect(peak).to.equal(3);
        });

        it("stops retrying before the invocation runs out of time, and reports what is left", async () => {
            let clock = NOW;
            ddb.on(BatchWriteItemCommand).rejects(Object.assign(new Error("slow down"), { name: "RequestLimitExceeded" }));
            const handler = build({
                now: () => clock,
                random: () => 0.999,
                sleep: async (ms) => {
                    slept.push(ms);
                    clock += ms;
                },
            });
            const records = validRecords(2);
            // 1.5 s left, 1 s kept back: 0.5 s for backoff (25 + 50 + 100 + 200 ms, and then 400 ms would pass it).
            const response = await handler(kinesisEvent(records), context(1500));
            expect(response.batchItemFailures.map((f) => f.itemIdentifier)).to.deep.equal([seq(0), seq(1)]);
            expect(calls()).to.have.length(5);
            expect(clock - NOW).to.be.below(500);
            expect(logs.find((l) => l.level === "error")?.extra.reason).to.match(/out of time after 5 attempt/);
        });

        it("sends nothing when the invocation has no time left, and reports every record", async () => {
            const records = validRecords(3);
            const response = await build()(kinesisEvent(records), context(500));
            expect(response.batchItemFailures).to.have.length(3);
            expect(calls()).to.have.length(0);
        });

        it("answers an empty batch without a request", async () => {
            expect(await build()(kinesisEvent([]), context())).to.deep.equal({ batchItemFailures: [] });
            expect(calls()).to.have.length(0);
        });

        it("refuses an event that is not a Kinesis batch, in one line", async () => {
            let failure: Error | undefined;
            await build()({} as KinesisStreamEvent, context()).catch((e: Error) => (failure = e));
            expect(failure?.message).to.equal("stream-to-table: the event has no Records array (expected a Kinesis stream batch)");
        });
    });

    describe("environment", () => {
        it("reads the tables, id field, parallelism and TTL, with the contract's defaults", () => {
            expect(mod.configFromEnv({ TABLE_NAME: "T", REJECTS_TABLE_NAME: "R" })).to.deep.equal({
                tableName: "T",
                rejectsTableName: "R",
                eventIdField: "eventId",
                maxParallelWrites: 4,
                ttlDays: undefined,
            });
            expect(mod.configFromEnv({ TABLE_NAME: "T", REJECTS_TABLE_NAME: "R", EVENT_ID_FIELD: "id", MAX_PARALLEL_WRITES: "8", TTL_DAYS: "30" })).to.deep.equal({
                tableName: "T",
                rejectsTableName: "R",
                eventIdField: "id",
                maxParallelWrites: 8,
                ttlDays: 30,
            });
        });

        it("fails at cold start with one line naming a missing or invalid variable", () => {
            expect(() => loadModule({ TABLE_NAME: undefined })).to.throw(/^stream-to-table: environment variable TABLE_NAME is not set$/);
            expect(() => loadModule({ REJECTS_TABLE_NAME: "" })).to.throw(/^stream-to-table: environment variable REJECTS_TABLE_NAME is not set$/);
            expect(() => loadModule({ MAX_PARALLEL_WRITES: "many" })).to.throw(/^stream-to-table: MAX_PARALLEL_WRITES must be a positive integer, got "many"$/);
            expect(() => loadModule({ TTL_DAYS: "-1" })).to.throw(/^stream-to-table: TTL_DAYS must be a positive number of days, got "-1"$/);
        });

        it("exports a handler built from the environment", async () => {
            const fromEnv = loadModule({ TABLE_NAME: "EnvEvents", REJECTS_TABLE_NAME: "EnvRejects", EVENT_ID_FIELD: "id", TTL_DAYS: "1" });
            const response = await fromEnv.handler(kinesisEvent([kinesisRecord(0, { id: "a-1" }), kinesisRecord(1, "???")]), context());
            expect(response).to.deep.equal({ batchItemFailures: [] });
            const [item] = written("EnvEvents");
            expect(item.eventId).to.equal(eventKey(undefined, "a-1"));
            expect(item.expiresAt - Date.parse(item.processedAt) / 1000).to.be.closeTo(86400, 1);
            expect(written("EnvRejects").map((r) => r.reason)).to.deep.equal(["data is not base64"]);
        });

        it("gives the handler built from the environment a client that sends once: the handler's loop is the only retry layer", async () => {
            const fromEnv = loadModule();
            expect(await fromEnv.client.config.maxAttempts()).to.equal(1);
        });
    });
});
