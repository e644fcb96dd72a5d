/**
 * Stands up a StreamToTable on the local emulators FROM WHAT THE COMPONENT DECLARES: the component
 * is run under the mock engine (`record`), and the stream and both tables are created on
 * kinesis-local and dynalite from the recorded inputs of its aws:kinesis/stream:Stream and
 * aws:dynamodb/table:Table resources. The handler's environment and the event source mapping's
 * settings come from the same plan. So when the component changes a key, an index or a variable,
 * the end-to-end test follows instead of testing a hand-copied schema.
 *
 * Inputs that shape what the emulators accept (names, keys, attributes, indexes, billing, shards)
 * are translated; inputs that only matter in AWS (encryption, PITR, deletion protection, TTL, tags)
 * are listed and skipped; any other input throws, so a new schema-affecting input cannot be
 * dropped silently.
 */
import {
    CreateTableCommand,
    type AttributeDefinition,
    type CreateTableCommandInput,
    type DynamoDBClient,
    type GlobalSecondaryIndex,
    type KeySchemaElement,
    type LocalSecondaryIndex,
    type Projection,
} from "@aws-sdk/client-dynamodb";
import {
    CreateStreamCommand,
    DescribeStreamSummaryCommand,
    IncreaseStreamRetentionPeriodCommand,
    type CreateStreamCommandInput,
    type KinesisClient,
} from "@aws-sdk/client-kinesis";
import { StreamToTable, type StreamToTableArgs } from "../../components/systems/stream-to-table";
import type { Plan, PlannedResource } from "../../local/plan";
import { ALERT_TOPIC_ARN, ofType, record } from "./pulumi-harness";

const STREAM_TYPE = "aws:kinesis/stream:Stream";
const TABLE_TYPE = "aws:dynamodb/table:Table";
const FUNCTION_TYPE = "aws:lambda/function:Function";
const MAPPING_TYPE = "aws:lambda/eventSourceMapping:EventSourceMapping";

/** Table inputs with no bearing on what an emulated table stores or accepts. */
const TABLE_INPUTS_NOT_EMULATED = new Set(["pointInTimeRecovery", "serverSideEncryption", "deletionProtectionEnabled", "ttl", "tags", "tableClass"]);
/** Stream inputs with no bearing on what an emulated stream stores or returns (KMS keys are mock ARNs). */
const STREAM_INPUTS_NOT_EMULATED = new Set(["encryptionType", "kmsKeyId", "tags", "enforceConsumerDeletion", "shardLevelMetrics"]);
const KINESIS_DEFAULT_RETENTION_HOURS = 24;

export interface EmulatedTable {
    /** Logical name in the plan, e.g. events-table. */
    resource: string;
    name: string;
    hashKey: string;
    rangeKey?: string;
    /** Names of the global secondary indexes created. */
    indexes: string[];
    /** The CreateTable request sent to dynalite. */
    request: CreateTableCommandInput;
}

export interface EmulatedStreamToTable {
    plan: Plan;
    streamName: string;
    /** As the emulator reports it (kinesis-local uses account 000000000000). */
    streamArn: string;
    shardCount?: number;
    /** The events table (hash key eventId) and the rejects table (hash key recordId). */
    table: EmulatedTable;
    rejectsTable: EmulatedTable;
    /** The function's `environment.variables` as the component declares them (TABLE_NAME, REJECTS_TABLE_NAME, ...). */
    handlerEnvironment: Record<string, string>;
    /** The function's code as the plan deploys it: archive path and base64 SHA-256. */
    code: { archive?: string; sha256?: string };
    /** The event source mapping's settings, for the local poller. */
    eventSource: { batchSize: number; maximumRetryAttempts: number; startingPosition: string; functionResponseTypes: string[] };
}

export interface PlanToEmulatorsOptions {
    kinesis: KinesisClient;
    dynamodb: DynamoDBClient;
    streamName: string;
    tableName: string;
    /** Overrides of the component's arguments (the defaults are issue 3's: PROVISIONED, 1 shard, lookup index). */
    args?: Partial<StreamToTableArgs>;
}

/** Records the component, creates its stream and tables on the emulators, and returns what the handler and poller need. */
export async function planToEmulators(options: PlanToEmulatorsOptions): Promise<EmulatedStreamToTable> {
    const { kinesis, dynamodb, streamName, tableName } = options;
    const plan = await record(
        () =>
            new StreamToTable("events", {
                alertTopicArn: ALERT_TOPIC_ARN,
                streamName,
                tableName,
                streamMode: "PROVISIONED",
                shardCount: 1,
                lookupIndex: true,
                ...options.args,
            }),
    );

    const stream = single(plan, STREAM_TYPE);
    const createStream = streamRequest(stream);
    await kinesis.send(new CreateStreamCommand(createStream));
    const streamArn = await waitForActiveStream(kinesis, createStream.StreamName!);
    const retention = stream.inputs.retentionPeriod;
    if (typeof retention === "number" && retention > KINESIS_DEFAULT_RETENTION_HOURS) {
        await kinesis.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: createStream.StreamName, RetentionPeriodHours: retention }));
        await waitForActiveStream(kinesis, createStream.StreamName!);
    }

    const tables = ofType(plan, TABLE_TYPE).map(tableRequest);
    for (const t of tables) await dynamodb.send(new CreateTableCommand(t.request));

    const fn = single(plan, FUNCTION_TYPE);
    const handlerEnvironment = environmentOf(fn);
    const table = tables.find((t) => t.name === handlerEnvironment.TABLE_NAME);
    const rejectsTable = tables.find((t) => t.name === handlerEnvironment.REJECTS_TABLE_NAME);
    if (!table || !rejectsTable) {
        throw new Error(
            `plan-to-emulators: the function's TABLE_NAME (${handlerEnvironment.TABLE_NAME}) and REJECTS_TABLE_NAME ` +
                `(${handlerEnvironment.REJECTS_TABLE_NAME}) do not name the planned tables (${tables.map((t) => t.name).join(", ")})`,
        );
    }

    const mapping = single(plan, MAPPING_TYPE).inputs;
    const code = (fn.inputs.code ?? {}) as { archive?: string };
    return {
        plan,
        streamName: createStream.StreamName!,
        streamArn,
        shardCount: createStream.ShardCount,
        table,
        rejectsTable,
        handlerEnvironment,
        code: { archive: code.archive, sha256: typeof fn.inputs.codeSha256 === "string" ? fn.inputs.codeSha256 : undefined },
        eventSource: {
            batchSize: numberInput(mapping.batchSize, "eventSourceMapping.batchSize"),
            maximumRetryAttempts: numberInput(mapping.maximumRetryAttempts, "eventSourceMapping.maximumRetryAttempts"),
            startingPosition: String(mapping.startingPosition),
            functionResponseTypes: (mapping.functionResponseTypes as string[] | undefined) ?? [],
        },
    };
}

function single(plan: Plan, type: string): PlannedResource {
    const found = ofType(plan, type);
    if (found.length !== 1) throw new Error(`plan-to-emulators: expected one ${type} in the plan, found ${found.length}`);
    return found[0];
}

function numberInput(value: unknown, what: string): number {
    if (typeof value !== "number") throw new Error(`plan-to-emulators: ${what} is ${JSON.stringify(value)}, expected a number`);
    return value;
}

function refuseUnknownInputs(r: PlannedResource, translated: string[], skipped: Set<string>): void {
    const unknown = Object.keys(r.inputs).filter((k) => !translated.includes(k) && !skipped.has(k));
    if (unknown.length > 0) {
        throw new Error(`plan-to-emulators: ${r.type} ${r.name} has inputs this helper does not translate: ${unknown.join(", ")} (teach it, or list them as not emulated)`);
    }
}

/** aws:kinesis/stream:Stream inputs → CreateStream. */
function streamRequest(r: PlannedResource): CreateStreamCommandInput {
    refuseUnknownInputs(r, ["name", "shardCount", "streamModeDetails", "retentionPeriod"], STREAM_INPUTS_NOT_EMULATED);
    const name = r.inputs.name;
    if (typeof name !== "string" || name === "") throw new Error(`plan-to-emulators: stream ${r.name} has no physical name (pass streamName)`);
    const mode = ((r.inputs.streamModeDetails ?? {}) as { streamMode?: string }).streamMode ?? "PROVISIONED";
    if (mode !== "PROVISIONED" && mode !== "ON_DEMAND") throw new Error(`plan-to-emulators: stream ${name} has streamMode ${mode}`);
    const shardCount = r.inputs.shardCount;
    if (mode === "PROVISIONED" && typeof shardCount !== "number") throw new Error(`plan-to-emulators: PROVISIONED stream ${name} has no shardCount`);
    return {
        StreamName: name,
        ...(mode === "PROVISIONED" ? { ShardCount: shardCount as number } : {}),
        StreamModeDetails: { StreamMode: mode },
    };
}

async function waitForActiveStream(kinesis: KinesisClient, name: string): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
        const { StreamDescriptionSummary: s } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
        if (s?.StreamStatus === "ACTIVE") return s.StreamARN!;
        if (Date.now() > deadline) throw new Error(`plan-to-emulators: stream ${name} still ${s?.StreamStatus} after 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

interface PlannedIndex {
    name: string;
    /** Global indexes: their key schema. */
    keySchemas?: { attributeName: string; keyType: "HASH" | "RANGE" }[];
    /** Local indexes: their sort key (they share the table's hash key). */
    rangeKey?: string;
    projectionType?: string;
    nonKeyAttributes?: string[];
    readCapacity?: number;
    writeCapacity?: number;
}

function keySchema(hashKey: string | undefined, rangeKey: string | undefined, where: string): KeySchemaElement[] {
    if (!hashKey) throw new Error(`plan-to-emulators: ${where} has no hashKey`);
    return [{ AttributeName: hashKey, KeyType: "HASH" }, ...(rangeKey ? [{ AttributeName: rangeKey, KeyType: "RANGE" as const }] : [])];
}

function projection(index: PlannedIndex): Projection {
    return {
        ProjectionType: (index.projectionType ?? "ALL") as Projection["ProjectionType"],
        ...(index.nonKeyAttributes?.length ? { NonKeyAttributes: index.nonKeyAttributes } : {}),
    };
}

/** aws:dynamodb/table:Table inputs → CreateTable. */
function tableRequest(r: PlannedResource): EmulatedTable {
    refuseUnknownInputs(
        r,
        ["name", "hashKey", "rangeKey", "attributes", "globalSecondaryIndexes", "localSecondaryIndexes", "billingMode", "readCapacity", "writeCapacity"],
        TABLE_INPUTS_NOT_EMULATED,
    );
    const i = r.inputs as {
        name?: string;
        hashKey?: string;
        rangeKey?: string;
        attributes?: { name: string; type: string }[];
        globalSecondaryIndexes?: PlannedIndex[];
        localSecondaryIndexes?: PlannedIndex[];
        billingMode?: string;
        readCapacity?: number;
        writeCapacity?: number;
    };
    if (!i.name) throw new Error(`plan-to-emulators: table ${r.name} has no physical name (pass tableName)`);
    const billingMode = i.billingMode ?? "PROVISIONED";
    const provisioned = billingMode === "PROVISIONED";
    const throughput = (x: { readCapacity?: number; writeCapacity?: number }) =>
        provisioned ? { ProvisionedThroughput: { ReadCapacityUnits: x.readCapacity ?? 1, WriteCapacityUnits: x.writeCapacity ?? 1 } } : {};
    const gsis: GlobalSecondaryIndex[] = (i.globalSecondaryIndexes ?? []).map((g) => ({
        IndexName: g.name,
        KeySchema: keySchema(
            g.keySchemas?.find((k) => k.keyType === "HASH")?.attributeName,
            g.keySchemas?.find((k) => k.keyType === "RANGE")?.attributeName,
            `index ${g.name} of ${i.name}`,
        ),
        Projection: projection(g),
        ...throughput(g),
    }));
    const lsis: LocalSecondaryIndex[] = (i.localSecondaryIndexes ?? []).map((l) => ({
        IndexName: l.name,
        KeySchema: keySchema(i.hashKey, l.rangeKey, `index ${l.name} of ${i.name}`),
        Projection: projection(l),
    }));
    const request: CreateTableCommandInput = {
        TableName: i.name,
        KeySchema: keySchema(i.hashKey, i.rangeKey, `table ${i.name}`),
        AttributeDefinitions: (i.attributes ?? []).map((a): AttributeDefinition => ({ AttributeName: a.name, AttributeType: a.type as AttributeDefinition["AttributeType"] })),
        BillingMode: billingMode as CreateTableCommandInput["BillingMode"],
        ...throughput(i),
        ...(gsis.length ? { GlobalSecondaryIndexes: gsis } : {}),
        ...(lsis.length ? { LocalSecondaryIndexes: lsis } : {}),
    };
    return { resource: r.name, name: i.name, hashKey: i.hashKey!, rangeKey: i.rangeKey, indexes: gsis.map((g) => g.IndexName!), request };
}

/** The function's environment.variables, every value a string. */
function environmentOf(fn: PlannedResource): Record<string, string> {
    const variables = ((fn.inputs.environment ?? {}) as { variables?: Record<string, unknown> }).variables ?? {};
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(variables)) {
        if (typeof v !== "string") throw new Error(`plan-to-emulators: ${fn.name} environment variable ${k} is ${JSON.stringify(v)}, expected a string`);
        env[k] = v;
    }
    return env;
}
