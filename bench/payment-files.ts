// Seed 000 side by side with the chunked path, on a generated payment file of 1 GiB (mixed: blank
// lines, bad lines, payments sent twice, a conflict). Each role runs in its own node process, from
// an esbuild bundle as Lambda runs one (ts-node alone would add some 70 MB to every RSS), and
// reports its own peak RSS (VmHWM; see maxRssKb):
// - the planning process: the payment-file handler on the file's event (plan, openFile,
//   SendMessageBatch through aws-sdk-client-mock, markFile);
// - a chunk worker: the payment-chunk handler on one 32 MiB chunk message the planner sent, read
//   with a ranged GET from s3rver, delivered twice on the same store (new payments, then
//   redelivered ones), then once more with a modeled DynamoDB latency;
// - the seed, written faithfully (the whole object read into memory, decoded, split, parsed, then
//   GetItem and, if absent, PutItem per event) on files of growing size.
// DynamoDB is an in-memory store in this process: the chunked path's clients reach it through
// their request handler (the SDK's whole request path runs in the worker: serialize, sign, retry,
// deserialize; only the socket is replaced), so the worker's RSS and CPU are its own; the seed's
// client is stubbed with aws-sdk-client-mock in its own process (its RSS is taken before its first
// request). The whole file's time with the configured fan-out is computed from the measured chunk
// (this machine's CPUs are not ten Lambdas), and modeled for Lambda with a stated latency and CPU
// share; the output says which figure is which.
//
//   npm run bench -- payment-files                              this bench alone, 1 GiB
//   BENCH_PAYMENT_FILE_MB=128 npm run bench -- payment-files    a quick run on 128 MiB
//
// The generated files are kept under os.tmpdir()/event-pipelines-bench and reused by later runs;
// their generation is never part of a measured figure.
import { DynamoDBClient, GetItemCommand, PutItemCommand, type AttributeValue, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { fork, type ChildProcess } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LAMBDA_DEFAULTS, PAYMENT_FILE_PIPELINE_DEFAULTS } from "../components/shared/defaults";
import { createHandler as createChunkHandler } from "../functions/payment-chunk";
import { createHandler as createFileHandler } from "../functions/payment-file";
import type { ChunkSummary } from "../functions/payment-file/ledger";
import { FILES_TABLE, PAYMENT_FILE_DEFAULTS, PAYMENT_FILE_ENV, PAYMENT_PREFIXES, PAYMENTS_TABLE, type ChunkMessage } from "../functions/shared/contract";
import { generatePaymentFile } from "../local/scenarios/payment-file-generator";
import { goal, ratio, table } from "./report";

// ---- what is run, and the model's constants ---------------------------------------------------

const MIB = 1024 * 1024;
/** The file's size: 1 GiB, or BENCH_PAYMENT_FILE_MB MiB for a quick run. */
const DEFAULT_FILE_MB = 1024;
/** Sizes the seed is run on (capped at the file's), to show its RSS grows with the file. */
const SEED_SIZES_MB = [64, 256];
/** The first bytes of the mixed file the seed is also given: what it does with the file the chunked path reads. */
const SEED_MIXED_MB = 64;
/** The generator builds each piece in memory: the file is written in pieces of this size. */
const SEGMENT_BYTES = 16 * MIB;
/** The goals (the issue's). */
const GOALS = { rssMb: 256, writesPerNewPayment: 1.1, requestsPerRedelivered: 1.1 };
/** Modeled: a typical in-region DynamoDB (and SQS) round trip from Lambda, added to every request of one run. */
const MODELED_LATENCY_MS = 5;
/** read-chunk's default claims in flight (the deployed functions set none). */
const CLAIMS_IN_FLIGHT = 32;
/** Lambda gives a function the equivalent of one vCPU at 1,769 MB, and CPU in proportion to memory below that. */
const ONE_VCPU_MB = 1769;
const LAMBDA_MEMORY_MB = PAYMENT_FILE_PIPELINE_DEFAULTS.memorySizeMb;
const CPU_STRETCH = Math.max(1, ONE_VCPU_MB / LAMBDA_MEMORY_MB);
/** The diagnostic run's old space (an input, not a result): what a 256 MB budget leaves after the code and the young generation. */
const DIAGNOSTIC_OLD_SPACE_MB = 160;
/** A child that has not reported after this long is stopped (a chunk has 900 s in Lambda). */
const CHILD_TIMEOUT_MS = 30 * 60_000;

const BUCKET = "payments-bench";
const PAYMENTS = "payments";
const SEED_TABLE = "processed-events";
const FILES = "files";
const QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/payment-chunks";
const REGION = "us-east-1";
const CHILD_FLAG = "--payment-files-bench-child";
/** Modules only the bench's own process loads (lazily): left out of the children's bundle. */
const PARENT_ONLY = ["../local/runtime/emulators", "../test/support/lambda-events", "../components/messaging/event-patterns", "esbuild"];

// ---- what the processes say to each other -----------------------------------------------------

/** One DynamoDB request, as the SDK serialized it (JSON protocol), and the store's answer. */
interface StoreRequest {
    t: "ddb";
    id: number;
    target: string;
    body: string;
}
interface StoreReply {
    t: "ddb";
    id: number;
    status: number;
    body: string;
}

type Job =
    | { role: "plan"; endpoint: string; event: SQSEvent; latencyMs: number }
    | { role: "chunk"; endpoint: string; event: SQSEvent; latencyMs: number }
    | { role: "seed"; endpoint: string; event: SQSEvent; deliveries: number };

interface Usage {
    /** Peak RSS of the process, KiB (maxRssKb); and as it was when the job arrived (its code loaded). */
    maxRssKb: number;
    startRssKb: number;
    /** The handler's wall time and CPU time (user + system, every thread), ms. */
    wallMs: number;
    cpuMs: number;
}
type PlanResult = Usage & { role: "plan"; messages: string[]; sqsRequests: number; failures: number; log: string[] };
type ChunkResult = Usage & { role: "chunk"; summary?: ChunkSummary; recorded?: boolean; failures: number; log: string[] };
interface SeedDelivery {
    getItem: number;
    putItem: number;
}
type SeedResult = Usage & { role: "seed"; events: number; rssAfterReadKb?: number; deliveries: SeedDelivery[]; error?: string };
type Result = PlanResult | ChunkResult | SeedResult;

// ---- the child processes ----------------------------------------------------------------------

const sleep = (msToWait: number) => new Promise((resolve) => setTimeout(resolve, msToWait));
const silentLogger = (log: string[]) => ({
    info: (message: string, extra?: object) => void log.push(JSON.stringify({ message, ...extra })),
    warn: (message: string, extra?: object) => void log.push(JSON.stringify({ level: "warn", message, ...extra })),
    error: (message: string, extra?: object) => void log.push(JSON.stringify({ level: "error", message, ...extra })),
});
const noMetrics = { addMetric() {}, publishStoredMetrics() {} };
const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
/** The S3 client the local runtime builds (emulators.ts's s3Client), without loading every emulator. */
const s3Client = (endpoint: string) => new S3Client({ endpoint, region: REGION, credentials, forcePathStyle: true });
const lambdaContext = (functionName: string): Context => ({
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${REGION}:123456789012:function:${functionName}`,
    memoryLimitInMB: String(LAMBDA_MEMORY_MB),
    awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "2026/01/01/[$LATEST]bench",
    getRemainingTimeInMillis: () => PAYMENT_FILE_PIPELINE_DEFAULTS.timeoutSeconds * 1000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
});

/**
 * A DynamoDB client whose requests go, serialized as the SDK sends them, to the store in the
 * bench's process: every middleware runs; the socket is replaced by the IPC channel. `latencyMs`
 * is added to every attempt, as a network round trip would be.
 */
function storeClient(latencyMs: number): DynamoDBClient {
    let next = 0;
    const waiting = new Map<number, (reply: StoreReply) => void>();
    process.on("message", (m: StoreReply) => {
        if (m.t !== "ddb") return;
        waiting.get(m.id)?.(m);
        waiting.delete(m.id);
    });
    const decoder = new TextDecoder();
    const requestHandler = {
        async handle(request: { headers: Record<string, string>; body?: unknown }) {
            if (latencyMs > 0) await sleep(latencyMs);
            const target = String(request.headers["x-amz-target"]).split(".")[1];
            const body = typeof request.body === "string" ? request.body : decoder.decode(request.body as Uint8Array);
            const reply = await new Promise<StoreReply>((resolve) => {
                const id = next++;
                waiting.set(id, resolve);
                process.send!({ t: "ddb", id, target, body } satisfies StoreRequest);
            });
            return { response: { statusCode: reply.status, headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": `bench-${reply.id}` }, body: Buffer.from(reply.body) } };
        },
        updateHttpClientConfig() {},
        httpHandlerConfigs: () => ({}),
    };
    return new DynamoDBClient({ region: REGION, credentials, endpoint: "http://dynamodb.bench.invalid", requestHandler: requestHandler as unknown as DynamoDBClientConfig["requestHandler"] });
}

async function measured<T>(work: () => Promise<T>): Promise<{ value: T } & Pick<Usage, "wallMs" | "cpuMs">> {
    const before = process.resourceUsage();
    const started = process.hrtime.bigint();
    const value = await work();
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    const after = process.resourceUsage();
    return { value, wallMs, cpuMs: (after.userCPUTime - before.userCPUTime + after.systemCPUTime - before.systemCPUTime) / 1000 };
}

/**
 * The process's own peak RSS, KiB: VmHWM, the high-water mark of its memory since it was exec'd.
 * Not process.resourceUsage().maxRSS: Linux carries a process's maxrss across fork and exec, so a
 * child's starts at its parent's peak (the bench's own, with its store), whatever the child does.
 */
function maxRssKb(): number {
    try {
        const hwm = /^VmHWM:\s+(\d+)\s+kB$/m.exec(fs.readFileSync("/proc/self/status", "utf8"));
        if (hwm) return Number(hwm[1]);
    } catch {
        // Not Linux: no /proc.
    }
    return process.resourceUsage().maxRSS;
}
let startRssKb = 0;

/** The file function's handler as deployed, on the file's event; SQS stubbed, its messages kept. */
async function planRole(job: Extract<Job, { role: "plan" }>): Promise<PlanResult> {
    const sqs = new SQSClient({ region: REGION, credentials });
    const messages: string[] = [];
    let sqsRequests = 0;
    mockClient(sqs)
        .on(SendMessageBatchCommand)
        .callsFake(async (input: { Entries: { Id: string; MessageBody: string }[] }) => {
            sqsRequests++;
            if (job.latencyMs > 0) await sleep(job.latencyMs);
            messages.push(...input.Entries.map((e) => e.MessageBody));
            return { Successful: input.Entries.map((e, i) => ({ Id: e.Id, MessageId: `m-${messages.length + i}`, MD5OfMessageBody: createHash("md5").update(e.MessageBody).digest("hex") })), Failed: [] };
        });
    const log: string[] = [];
    const handler = createFileHandler({ s3: s3Client(job.endpoint), dynamodb: storeClient(job.latencyMs), sqs, logger: silentLogger(log), metrics: noMetrics });
    const run = await measured(() => handler(job.event, lambdaContext("payment-file")));
    return { role: "plan", messages, sqsRequests, failures: run.value.batchItemFailures.length, log, wallMs: run.wallMs, cpuMs: run.cpuMs, maxRssKb: maxRssKb(), startRssKb };
}

/** The chunk worker's handler as deployed, on one chunk message. */
async function chunkRole(job: Extract<Job, { role: "chunk" }>): Promise<ChunkResult> {
    const log: string[] = [];
    const handler = createChunkHandler({ s3: s3Client(job.endpoint), dynamodb: storeClient(job.latencyMs), logger: silentLogger(log), metrics: noMetrics });
    const run = await measured(() => handler(job.event, lambdaContext("payment-chunk")));
    const read = log.map((l) => JSON.parse(l)).find((l) => typeof l.message === "string" && l.message.startsWith("chunk read"));
    return { role: "chunk", summary: read?.summary, recorded: read ? read.message === "chunk read" : undefined, failures: run.value.batchItemFailures.length, log, wallMs: run.wallMs, cpuMs: run.cpuMs, maxRssKb: maxRssKb(), startRssKb };
}

/**
 * Seed 000's process_payment_event (seeds/000), kept as written: the whole object read and decoded
 * (strict UTF-8, as Python's bytes.decode), stripped, split on "\n", every line parsed; then per
 * event is_processed (a GetItem) and, when absent, process_payment (a stub in the seed) and
 * mark_as_processed (a PutItem, no condition). Its prints are left out; its try/except re-raises.
 * `onRead` marks the moment the file is held and parsed, before the first request.
 */
function seedHandler(s3: S3Client, dynamodb: DynamoDBClient, tableName: string, onRead: (events: number) => void): (event: SQSEvent) => Promise<void> {
    const isProcessed = async (eventId: string) => (await dynamodb.send(new GetItemCommand({ TableName: tableName, Key: { event_id: { S: eventId } } }))).Item !== undefined;
    const markAsProcessed = async (eventId: string) => void (await dynamodb.send(new PutItemCommand({ TableName: tableName, Item: { event_id: { S: eventId } } })));
    const processPayment = (_event: unknown) => {};
    return async (event) => {
        for (const record of event.Records) {
            const payload = JSON.parse(record.body);
            const bucket = payload.bucket.name;
            const key = decodeURIComponent(payload.object.key.replace(/\+/g, " "));
            const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
            const fileContent = new TextDecoder("utf-8", { fatal: true }).decode(await response.Body!.transformToByteArray());
            const events = fileContent
                .trim()
                .split("\n")
                .map((line) => JSON.parse(line));
            onRead(events.length);
            for (const e of events) {
                const eventId = e.event_id;
                if (await isProcessed(eventId)) continue;
                processPayment(e);
                await markAsProcessed(eventId);
            }
        }
    };
}

/** The seed on one file, `deliveries` times (a redelivered message reads the file again), on one in-process store. */
async function seedRole(job: Extract<Job, { role: "seed" }>): Promise<SeedResult> {
    const dynamodb = new DynamoDBClient({ region: REGION, credentials });
    const processed = new Set<string>();
    const calls = { getItem: 0, putItem: 0 };
    const mock = mockClient(dynamodb);
    // sinon keeps every call it sees, and millions of them would run the seed's process out of
    // memory: the history is dropped now and then, once sinon has returned (it refuses while invoking).
    const forget = async () => {
        if ((calls.getItem + calls.putItem) % 50_000 !== 0) return;
        await Promise.resolve();
        mock.resetHistory();
    };
    mock.on(GetItemCommand).callsFake(async (input: { Key: { event_id: { S: string } } }) => {
        calls.getItem++;
        await forget();
        return processed.has(input.Key.event_id.S) ? { Item: input.Key } : {};
    });
    mock.on(PutItemCommand).callsFake(async (input: { Item: { event_id: { S: string } } }) => {
        calls.putItem++;
        await forget();
        processed.add(input.Item.event_id.S);
        return {};
    });
    let rssAfterReadKb: number | undefined;
    let events = 0;
    const handler = seedHandler(s3Client(job.endpoint), dynamodb, SEED_TABLE, (n) => {
        rssAfterReadKb ??= maxRssKb();
        events = n;
    });
    const deliveries: SeedDelivery[] = [];
    let wallMs = 0;
    let cpuMs = 0;
    try {
        for (let i = 0; i < job.deliveries; i++) {
            const before = { ...calls };
            const run = await measured(() => handler(job.event));
            wallMs += run.wallMs;
            cpuMs += run.cpuMs;
            deliveries.push({ getItem: calls.getItem - before.getItem, putItem: calls.putItem - before.putItem });
        }
    } catch (err) {
        return { role: "seed", events, rssAfterReadKb, deliveries, error: `${(err as Error).name}: ${(err as Error).message}`, wallMs, cpuMs, maxRssKb: maxRssKb(), startRssKb };
    }
    return { role: "seed", events, rssAfterReadKb, deliveries, wallMs, cpuMs, maxRssKb: maxRssKb(), startRssKb };
}

async function childMain(): Promise<void> {
    // The bench's process gone (killed, crashed): so is this one.
    process.on("disconnect", () => process.exit(1));
    const job = await new Promise<Job>((resolve) => {
        const first = (m: { t?: string; job?: Job }) => {
            if (m.t !== "job") return;
            process.off("message", first);
            resolve(m.job!);
        };
        process.on("message", first);
        startRssKb = maxRssKb();
        process.send!({ t: "ready" });
    });
    const result: Result = job.role === "plan" ? await planRole(job) : job.role === "chunk" ? await chunkRole(job) : await seedRole(job);
    process.send!({ t: "result", result }, () => process.exit(0));
}

// ---- the store: the part of DynamoDB the chunked path uses --------------------------------------

type Item = Record<string, AttributeValue>;
interface Counts {
    [request: string]: number;
}

const storeError = (type: string, message: string, extra: object = {}) => ({ status: 400, body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message, ...extra }) });

/**
 * Tables in memory, answering DynamoDB's JSON protocol for PutItem, GetItem and UpdateItem with
 * the expressions the pipeline writes: conditions of attribute_exists / attribute_not_exists
 * joined by AND, updates of SET and ADD, ReturnValues ALL_NEW, and
 * ReturnValuesOnConditionCheckFailure ALL_OLD (the failed condition returns the item, as
 * DynamoDB does). Anything else is refused with a ValidationException, never half-done.
 */
class Store {
    private readonly tables = new Map<string, Map<string, Item>>();

    /** `keyOf(table)`: the table's hash key (a string attribute), undefined for no such table. */
    constructor(private readonly keyOf: (table: string) => string | undefined) {}

    /** Every item of `from` copied into `to` (a fresh namespace starting from the same plan). */
    copyTable(from: string, to: string): void {
        this.tables.set(to, new Map([...(this.tables.get(from) ?? [])].map(([k, v]) => [k, structuredClone(v)])));
    }

    handle(target: string, body: string, counts: Counts): { status: number; body: string } {
        const input = JSON.parse(body);
        const reply = this.answer(target, input);
        const refused = reply.status !== 200 && reply.body.includes("ConditionalCheckFailedException");
        const name = `${target}${refused ? " refused" : ""}`;
        counts[name] = (counts[name] ?? 0) + 1;
        return reply;
    }

    private answer(target: string, input: any): { status: number; body: string } {
        const hashKey = this.keyOf(input.TableName);
        if (!hashKey) return storeError("ResourceNotFoundException", `Requested resource not found: table ${input.TableName}`);
        const table = this.tables.get(input.TableName) ?? this.tables.set(input.TableName, new Map()).get(input.TableName)!;
        const keyOf = (item: Item | undefined) => item?.[hashKey]?.S;
        const names: Record<string, string> = input.ExpressionAttributeNames ?? {};
        try {
            if (target === "GetItem") {
                const key = keyOf(input.Key);
                if (key === undefined) return storeError("ValidationException", "The provided key element does not match the schema");
                const item = table.get(key);
                return { status: 200, body: JSON.stringify(item ? { Item: item } : {}) };
            }
            if (target === "PutItem" || target === "UpdateItem") {
                const key = keyOf(target === "PutItem" ? input.Item : input.Key);
                if (key === undefined) return storeError("ValidationException", "One or more parameter values were invalid: Missing the key " + hashKey);
                const old = table.get(key);
                if (input.ConditionExpression && !holds(input.ConditionExpression, old, names)) {
                    return storeError("ConditionalCheckFailedException", "The conditional request failed", input.ReturnValuesOnConditionCheckFailure === "ALL_OLD" && old ? { Item: old } : {});
                }
                const returned = input.ReturnValues ?? "NONE";
                if (returned !== "NONE" && !(target === "UpdateItem" && returned === "ALL_NEW")) throw new Error(`${target} ReturnValues ${returned}`);
                if (target === "PutItem") {
                    table.set(key, input.Item);
                    return { status: 200, body: "{}" };
                }
                const item: Item = old ? structuredClone(old) : { ...input.Key };
                applyUpdate(input.UpdateExpression ?? "", item, names, input.ExpressionAttributeValues ?? {});
                table.set(key, item);
                return { status: 200, body: returned === "ALL_NEW" ? JSON.stringify({ Attributes: item }) : "{}" };
            }
            return storeError("ValidationException", `the bench's store does not answer ${target}`);
        } catch (err) {
            return storeError("ValidationException", `the bench's store does not take this request: ${(err as Error).message}`);
        }
    }
}

function pathOf(expression: string, names: Record<string, string>): string[] {
    return expression
        .trim()
        .split(".")
        .map((part) => {
            if (!part.startsWith("#")) return part;
            if (!(part in names)) throw new Error(`no name for ${part}`);
            return names[part];
        });
}

function valueAt(item: Item, parts: string[]): AttributeValue | undefined {
    let value: AttributeValue | undefined = { M: item };
    for (const part of parts) value = value && "M" in value && value.M ? value.M[part] : undefined;
    return value;
}

/** A condition of attribute_exists(path) / attribute_not_exists(path) terms joined by AND. */
function holds(expression: string, item: Item | undefined, names: Record<string, string>): boolean {
    return expression.split(/\s+AND\s+/).every((term) => {
        const m = /^(attribute_exists|attribute_not_exists)\(([^)]+)\)$/.exec(term.trim());
        if (!m) throw new Error(`condition term ${term}`);
        const found = item !== undefined && valueAt(item, pathOf(m[2], names)) !== undefined;
        return m[1] === "attribute_exists" ? found : !found;
    });
}

/** "SET a.#b = :v, c = :w ADD n :one": the only update actions the pipeline writes. */
function applyUpdate(expression: string, item: Item, names: Record<string, string>, values: Record<string, AttributeValue>): void {
    const value = (name: string) => {
        if (!(name in values)) throw new Error(`no value for ${name}`);
        return values[name];
    };
    const clauses = [...expression.matchAll(/\b(SET|ADD)\s+(.+?)(?=\s+\b(?:SET|ADD)\s|$)/g)];
    if (clauses.map((c) => c[0]).join(" ").replace(/\s+/g, " ") !== expression.trim().replace(/\s+/g, " ")) throw new Error(`update expression ${expression}`);
    for (const [, action, list] of clauses) {
        for (const step of list.split(",")) {
            const m = action === "SET" ? /^\s*(\S+)\s*=\s*(:\w+)\s*$/.exec(step) : /^\s*(\S+)\s+(:\w+)\s*$/.exec(step);
            if (!m) throw new Error(`${action} ${step}`);
            const parts = pathOf(m[1], names);
            const parent = valueAt(item, parts.slice(0, -1));
            const map = parent && "M" in parent ? parent.M : undefined;
            if (!map) throw new Error(`the document path ${m[1]} is invalid for update`);
            const last = parts[parts.length - 1];
            if (action === "SET") map[last] = value(m[2]);
            else {
                const add = value(m[2]);
                const now = map[last];
                if (!("N" in add) || (now && !("N" in now))) throw new Error(`ADD ${m[1]}: only numbers`);
                map[last] = { N: String(Number(now?.N ?? 0) + Number(add.N)) };
            }
        }
    }
}

// ---- running a child --------------------------------------------------------------------------

const live = new Set<ChildProcess>();

interface ChildRun<R> {
    result?: R;
    /** Why the child ended without a result (a crash, a signal, the timeout). */
    died?: string;
    /** Its requests to the store, by operation ("PutItem refused": the condition failed). */
    counts: Counts;
    /** From fork to the child's first message (its bundle loaded): a cold start's share on this machine. */
    startupMs: number;
}

/** Runs one role in a fresh node process on the bundle, answering its DynamoDB requests from `store`. */
function runChild<R extends Result>(bundle: string, job: Job, store: Store, env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<ChildRun<R>> {
    return new Promise((resolve, reject) => {
        const started = process.hrtime.bigint();
        const child = fork(bundle, [CHILD_FLAG], {
            // As the functions are deployed: a bundle with a linked source map, NODE_OPTIONS=--enable-source-maps.
            execArgv: ["--enable-source-maps", ...nodeFlags],
            env: { ...process.env, NODE_OPTIONS: "", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", POWERTOOLS_LOG_LEVEL: "SILENT", ...env },
            stdio: ["ignore", "ignore", "pipe", "ipc"],
        });
        live.add(child);
        let stderr = "";
        child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
        const counts: Counts = {};
        let startupMs = 0;
        let result: R | undefined;
        const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
        child.on("message", (m: { t: string; result?: R } & Partial<StoreRequest>) => {
            if (m.t === "ddb") {
                const reply = store.handle(m.target!, m.body!, counts);
                child.send({ t: "ddb", id: m.id!, ...reply } satisfies StoreReply);
            } else if (m.t === "ready") {
                startupMs = Number(process.hrtime.bigint() - started) / 1e6;
                child.send({ t: "job", job });
            } else if (m.t === "result") result = m.result;
        });
        child.once("error", reject);
        child.once("exit", (code, signal) => {
            clearTimeout(timer);
            live.delete(child);
            const died = result ? undefined : `the process ended without a result (exit ${code}, signal ${signal})${stderr ? `: ${stderr.trim().split("\n").slice(-3).join(" | ")}` : ""}`;
            resolve({ result, died, counts, startupMs });
        });
    });
}

function stopChildren(): void {
    for (const child of live) child.kill("SIGKILL");
}

/** A role's result, or the bench fails: the chunked path must work for its numbers to mean anything. */
function expectResult<R extends Result>(label: string, run: ChildRun<R>): R {
    if (!run.result) throw new Error(`${label}: ${run.died}`);
    const failures = "failures" in run.result ? run.result.failures : 0;
    if (failures > 0) throw new Error(`${label}: the handler reported ${failures} failed message(s): ${("log" in run.result ? run.result.log : []).filter((l) => l.includes('"error"')).join(" ")}`);
    return run.result;
}

// ---- the generated files ----------------------------------------------------------------------

interface GeneratedFileOnDisk {
    file: string;
    bytes: number;
    reused: boolean;
    seconds: number;
}

/**
 * A payment file of exactly `bytes` bytes, written piece by piece (generatePaymentFile builds each
 * piece in memory): each piece with its own seed and event-id prefix, so ids do not repeat across
 * pieces; the last line padded with spaces (JSON allows them) to the exact size. Kept under the
 * temp folder by a name that changes with the generator, and reused while it is there whole.
 */
function ensureFile(kind: "mixed" | "clean", bytes: number): GeneratedFileOnDisk {
    const dir = path.join(os.tmpdir(), "event-pipelines-bench");
    fs.mkdirSync(dir, { recursive: true });
    const generator = fs.readFileSync(require.resolve("../local/scenarios/payment-file-generator"));
    const version = createHash("sha256").update(generator).update(`segments ${SEGMENT_BYTES}, seeds 1.., prefixes ${kind[0]}<n>, v1`).digest("hex").slice(0, 12);
    const stem = `payments-${kind}-${bytes}b-`;
    const file = path.join(dir, `${stem}${version}.ndjson`);
    if (fs.existsSync(file) && fs.statSync(file).size === bytes) return { file, bytes, reused: true, seconds: 0 };
    // Files of an older generator (or a run cut short) are not reused: remove them.
    for (const old of fs.readdirSync(dir)) if (old.startsWith(stem)) fs.rmSync(path.join(dir, old), { force: true });
    const started = Date.now();
    const partial = `${file}.partial`;
    const out = fs.openSync(partial, "w");
    try {
        let written = 0;
        for (let piece = 0; written < bytes; piece++) {
            const room = bytes - written;
            const last = room <= SEGMENT_BYTES + 8192;
            // Short of the room by more than a line: the generator ends on the first line past its target.
            const made = generatePaymentFile({ targetBytes: last ? room - 2048 : SEGMENT_BYTES, seed: piece + 1, idPrefix: `${kind[0]}${piece}`, mixed: kind === "mixed", trailingNewline: true });
            let chunk: Buffer = made.bytes;
            if (last) {
                const pad = room - chunk.length;
                if (pad < 0) throw new Error(`payment-files bench: the last piece is ${-pad} bytes too long`);
                chunk = Buffer.concat([chunk.subarray(0, chunk.length - 1), Buffer.alloc(pad, " "), Buffer.from("\n")]);
            }
            fs.writeSync(out, chunk);
            written += chunk.length;
        }
    } finally {
        fs.closeSync(out);
    }
    fs.renameSync(partial, file);
    return { file, bytes, reused: false, seconds: (Date.now() - started) / 1000 };
}

/** The length of the file's first `bytes` bytes cut after its last "\n" (a prefix of whole lines). */
function wholeLines(file: string, bytes: number): number {
    const size = fs.statSync(file).size;
    if (bytes >= size) return size;
    const window = Buffer.alloc(64 * 1024);
    const fd = fs.openSync(file, "r");
    try {
        const read = fs.readSync(fd, window, 0, window.length, bytes - window.length);
        const newline = window.subarray(0, read).lastIndexOf(0x0a);
        if (newline < 0) throw new Error(`payment-files bench: no line ends in the 64 KiB before byte ${bytes} of ${file}`);
        return bytes - window.length + newline + 1;
    } finally {
        fs.closeSync(fd);
    }
}

/** Lines of a file, read in pieces. */
function countLines(file: string): number {
    const piece = Buffer.alloc(4 * MIB);
    const fd = fs.openSync(file, "r");
    let lines = 0;
    let last = 0x0a;
    try {
        for (let read; (read = fs.readSync(fd, piece, 0, piece.length, null)) > 0; ) {
            for (let i = piece.indexOf(0x0a); i >= 0 && i < read; i = piece.indexOf(0x0a, i + 1)) lines++;
            last = piece[read - 1];
        }
    } finally {
        fs.closeSync(fd);
    }
    return lines + (last === 0x0a ? 0 : 1);
}

// ---- printing ---------------------------------------------------------------------------------

/** MB as Lambda counts memory (MiB). */
const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
const mib = (bytes: number) => `${(bytes / MIB).toFixed(bytes % MIB === 0 ? 0 : 1)} MiB`;
const sec = (msTaken: number) => `${(msTaken / 1000).toFixed(1)} s`;
const n = (x: number) => x.toLocaleString("en-US");
const per1000 = (requests: number, of: number) => (of > 0 ? ((requests / of) * 1000).toFixed(1) : "-");
const sum = (counts: Counts, ...names: string[]) => names.reduce((s, k) => s + (counts[k] ?? 0), 0);
const total = (counts: Counts) => Object.values(counts).reduce((s, v) => s + v, 0);
const describe = (counts: Counts) =>
    Object.entries(counts)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k} ${n(v)}`)
        .join(", ");

// ---- the bench --------------------------------------------------------------------------------

function fileMb(): number {
    const raw = process.env.BENCH_PAYMENT_FILE_MB;
    const value = raw === undefined || raw === "" ? DEFAULT_FILE_MB : Number(raw);
    const least = (2 * PAYMENT_FILE_DEFAULTS.chunkBytes) / MIB;
    if (!Number.isInteger(value) || value < least) throw new Error(`BENCH_PAYMENT_FILE_MB=${raw}: expected a whole number of MiB, at least ${least} (two chunks)`);
    return value;
}

async function bundleChildren(dir: string): Promise<string> {
    const esbuild = require("esbuild") as typeof import("esbuild");
    const outfile = path.join(dir, "payment-files-child.js");
    await esbuild.build({
        entryPoints: [__filename],
        bundle: true,
        platform: "node",
        format: "cjs",
        target: LAMBDA_DEFAULTS.bundleTarget,
        minify: true,
        sourcemap: "linked",
        sourcesContent: false,
        outfile,
        logLevel: "silent",
        plugins: [{ name: "parent-only", setup: (build) => build.onResolve({ filter: /.*/ }, (a) => (PARENT_ONLY.includes(a.path) ? { path: a.path, external: true } : undefined)) }],
    });
    return outfile;
}

export async function benchPaymentFiles(): Promise<void> {
    const sizeMb = fileMb();
    const fileBytes = sizeMb * MIB;
    const N = PAYMENT_FILE_PIPELINE_DEFAULTS.chunkConcurrency;
    const timeoutMs = PAYMENT_FILE_PIPELINE_DEFAULTS.timeoutSeconds * 1000;
    console.log(`\nPayment files: a ${mib(fileBytes)} generated file through the chunked path, and the seed's approach (seed 000), each role in its own node process`);

    const mixed = ensureFile("mixed", fileBytes);
    const seedSizes = [...new Set([...SEED_SIZES_MB.filter((s) => s < sizeMb), sizeMb])];
    const clean = ensureFile("clean", fileBytes);
    for (const f of [mixed, clean]) console.log(`  ${f.file}: ${n(f.bytes)} bytes, ${f.reused ? "reused" : `generated in ${f.seconds.toFixed(0)} s (not measured)`}`);

    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
    const { startS3rver } = require("../local/runtime/emulators") as typeof import("../local/runtime/emulators");
    const { objectCreatedEvent, sqsEvent, sqsRecord } = require("../test/support/lambda-events") as typeof import("../test/support/lambda-events");
    const { OBJECT_ENVELOPE, applyInputTransformer } = require("../components/messaging/event-patterns") as typeof import("../components/messaging/event-patterns");

    const work = fs.mkdtempSync(path.join(os.tmpdir(), "payment-files-bench-"));
    const onExit = () => stopChildren();
    process.once("exit", onExit);
    const s3rver = await startS3rver();
    try {
        const bundle = await bundleChildren(work);
        // Uploads stream from disk; s3rver does not read aws-chunked bodies, so no streamed checksum.
        const s3 = new S3Client({ endpoint: s3rver.endpoint, region: REGION, credentials: s3rver.credentials, forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED" });
        await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
        const upload = async (key: string, file: string, bytes: number) => {
            await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: fs.createReadStream(file, { start: 0, end: bytes - 1 }), ContentLength: bytes }));
            const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
            if (head.ContentLength !== bytes) throw new Error(`s3rver holds ${head.ContentLength} bytes of ${key}, expected ${bytes}`);
            return head.ETag!.replace(/"/g, "");
        };
        const key = `${PAYMENT_PREFIXES.landing}generated-${sizeMb}mib.ndjson`;
        const etag = await upload(key, mixed.file, fileBytes);
        // The seed on whole-line prefixes of the clean file (payments only: what it can parse), the
        // first one delivered twice; then on the start of the mixed file the chunked path reads.
        const seedFiles: { label: string; key: string; source: string; bytes: number; deliveries: number }[] = [];
        for (const [i, s] of seedSizes.entries()) {
            const bytes = wholeLines(clean.file, s * MIB);
            seedFiles.push({ label: `clean ${mib(bytes)}`, key: `seed/clean-${s}mib.ndjson`, source: clean.file, bytes, deliveries: i === 0 ? 2 : 1 });
        }
        const mixedPrefix = wholeLines(mixed.file, SEED_MIXED_MB * MIB);
        seedFiles.push({ label: `mixed, its first ${mib(mixedPrefix)}`, key: "seed/mixed-prefix.ndjson", source: mixed.file, bytes: mixedPrefix, deliveries: 1 });
        for (const f of seedFiles) await upload(f.key, f.source, f.bytes);
        s3.destroy();

        // One namespace per run that must start from the plan alone: "", "-latency", "-capped".
        const store = new Store((table) => (table.startsWith(PAYMENTS) ? PAYMENTS_TABLE.hashKey : table.startsWith(FILES) ? FILES_TABLE.hashKey : undefined));
        const tables = (suffix: string) => ({ [PAYMENT_FILE_ENV.paymentsTable]: `${PAYMENTS}${suffix}`, [PAYMENT_FILE_ENV.filesTable]: `${FILES}${suffix}`, [PAYMENT_FILE_ENV.chunksQueueUrl]: QUEUE_URL });

        // ---- planning: the file's event, as the rule and the files queue deliver it ----
        const created = objectCreatedEvent({ bucket: BUCKET, key, size: fileBytes, versionId: null, sequencer: "0065A1B2C3D4E5F601" });
        created.detail.object.etag = etag;
        const fileEvent = sqsEvent(sqsRecord("file-1", applyInputTransformer(OBJECT_ENVELOPE, created)));
        const planRun = await runChild<PlanResult>(bundle, { role: "plan", endpoint: s3rver.endpoint, event: fileEvent, latencyMs: 0 }, store, tables(""));
        const plan = expectResult("planning process", planRun);
        const messages = plan.messages.map((m) => JSON.parse(m) as ChunkMessage);
        if (messages.length < 2) throw new Error(`planning process: ${messages.length} chunk message(s) for ${n(fileBytes)} bytes; expected the file split`);
        store.copyTable(FILES, `${FILES}-latency`);
        store.copyTable(FILES, `${FILES}-capped`);

        // ---- one chunk worker, on a chunk inside the file (its range starts inside a line) ----
        const message = messages[1];
        const chunkEvent = sqsEvent(sqsRecord("chunk-1", JSON.stringify(message)));
        const chunkJob = (latencyMs: number): Job => ({ role: "chunk", endpoint: s3rver.endpoint, event: chunkEvent, latencyMs });
        const firstRun = await runChild<ChunkResult>(bundle, chunkJob(0), store, tables(""));
        const first = expectResult("chunk worker, first delivery", firstRun);
        const againRun = await runChild<ChunkResult>(bundle, chunkJob(0), store, tables(""));
        const again = expectResult("chunk worker, redelivered", againRun);
        const slowRun = await runChild<ChunkResult>(bundle, chunkJob(MODELED_LATENCY_MS), store, tables("-latency"));
        const slow = expectResult(`chunk worker, ${MODELED_LATENCY_MS} ms per request`, slowRun);
        // Not as deployed: is the worker's peak its live data, or garbage V8 lets pile up under its default heap limit?
        const cappedRun = await runChild<ChunkResult>(bundle, chunkJob(0), store, tables("-capped"), [`--max-old-space-size=${DIAGNOSTIC_OLD_SPACE_MB}`]);
        const s1 = first.summary!;
        const s2 = again.summary!;
        // What the counts must say, or the figures below are not of a working pipeline.
        if (sum(firstRun.counts, "PutItem") !== s1.applied) throw new Error(`chunk worker: ${sum(firstRun.counts, "PutItem")} payments written for ${s1.applied} applied`);
        if (sum(againRun.counts, "PutItem") !== 0 || !first.recorded || again.recorded) throw new Error(`chunk worker, redelivered: it wrote again (${describe(againRun.counts)}; recorded ${first.recorded}, then ${again.recorded})`);
        if (slow.summary?.applied !== s1.applied) throw new Error(`chunk worker with latency: ${slow.summary?.applied} applied, ${s1.applied} without`);

        // ---- the seed, on growing files ----
        const seeds: { label: string; bytes: number; run: ChildRun<SeedResult> }[] = [];
        for (const f of seedFiles) {
            // The seed reads bucket.name and object.key from the message body: the event's detail.
            const body = JSON.stringify({ ...created.detail, object: { ...created.detail.object, key: f.key, size: f.bytes } });
            const seedEvent = sqsEvent(sqsRecord("seed-1", body));
            seeds.push({ label: f.label, bytes: f.bytes, run: await runChild<SeedResult>(bundle, { role: "seed", endpoint: s3rver.endpoint, event: seedEvent, deliveries: f.deliveries }, store) });
        }

        // ---- the figures ----
        const chunkBytes = message.end - message.start;
        const payments2 = s2.applied + s2.duplicates + s2.conflicts;
        // A claim refused on the first delivery is a line repeating a payment earlier in the file
        // (a duplicate or a conflict): a redelivered payment, not a new one.
        const repeated1 = sum(firstRun.counts, "PutItem refused");
        const forNew = total(firstRun.counts) - repeated1;
        const writesForNew = sum(firstRun.counts, "PutItem", "UpdateItem");
        const writesPerNew = writesForNew / s1.applied;
        const requestsPerRedelivered = total(againRun.counts) / payments2;
        const mbps = (msTaken: number) => `${(chunkBytes / MIB / (msTaken / 1000)).toFixed(2)} MB/s`;
        const capped = cappedRun.result;

        console.log("  S3: s3rver on loopback (ranged GETs from its files; it ignores If-Match). DynamoDB: an in-memory store in the bench's process, reached through the client's request handler. SQS: aws-sdk-client-mock.");
        console.log(`  The chunk: ${message.index + 1} of ${messages.length} (bytes ${n(message.start)} to ${n(message.end)}), ${n(s1.lines)} lines: ${n(s1.applied)} payments, ${n(s1.duplicates)} repeated, ${n(s1.conflicts)} conflicting, ${n(s1.quarantined)} bad, ${n(s1.blank)} blank\n`);
        const row = (label: string, run: ChildRun<Result>, r: Usage, requests: string, per: string, rate = true) => [
            label,
            mb(r.maxRssKb),
            mb(r.startRssKb),
            `${run.startupMs.toFixed(0)} ms`,
            r.wallMs < 10_000 ? `${r.wallMs.toFixed(0)} ms` : sec(r.wallMs),
            r.cpuMs < 10_000 ? `${r.cpuMs.toFixed(0)} ms` : sec(r.cpuMs),
            rate ? mbps(r.wallMs) : "",
            requests,
            per,
        ];
        table(
            ["process (measured)", "peak RSS", "code loaded", "start-up", "wall", "CPU", "MB/s", "DynamoDB requests", "per 1,000 payments"],
            [
                row("planning: payment-file handler", planRun, plan, `${describe(planRun.counts)}; SQS SendMessageBatch ${plan.sqsRequests}`, "", false),
                row("chunk worker, first delivery", firstRun, first, describe(firstRun.counts), `${per1000(forNew, s1.applied)} new, ${per1000(repeated1, s1.duplicates + s1.conflicts)} repeated`),
                row("chunk worker, redelivered (same store)", againRun, again, describe(againRun.counts), `${per1000(total(againRun.counts), payments2)} redelivered`),
                row(`chunk worker, first delivery, ${MODELED_LATENCY_MS} ms per request`, slowRun, slow, describe(slowRun.counts), ""),
                capped
                    ? row(`diagnostic: first delivery, --max-old-space-size=${DIAGNOSTIC_OLD_SPACE_MB}`, cappedRun, capped, describe(cappedRun.counts), "")
                    : [`diagnostic: first delivery, --max-old-space-size=${DIAGNOSTIC_OLD_SPACE_MB}`, "-", "", "", "", "", "", "", `fails: ${cappedRun.died}`],
            ],
        );
        console.log(`  (per 1,000 new: every request of the first delivery but the ${n(repeated1)} claims refused to lines repeating an earlier payment, over the ${n(s1.applied)} payments applied; all its requests over them: ${per1000(total(firstRun.counts), s1.applied)})`);
        console.log(
            `  (the diagnostic row is not as deployed: V8's old space capped, to tell the worker's live data from the garbage its default heap limit lets pile up; capped, the chunk ${capped ? `peaks at ${mb(capped.maxRssKb)}, ${capped.maxRssKb / 1024 <= GOALS.rssMb ? "within" : "still above"} ${GOALS.rssMb} MB` : "does not complete"})`,
        );

        console.log(`\n  The seed (its own process each; DynamoDB stubbed with aws-sdk-client-mock; peak RSS taken once the file is read and parsed, before its first request; Lambda gives the function ${LAMBDA_MEMORY_MB} MB)\n`);
        const seedRows = seeds.map(({ label, bytes, run }) => {
            const r = run.result;
            const d = r?.deliveries ?? [];
            return {
                label,
                bytes,
                // Failed while reading: its peak so far.
                rssKb: r?.rssAfterReadKb ?? r?.maxRssKb,
                fails: !r || r.error !== undefined,
                outcome: !r ? `fails: ${run.died}` : r.error ? `fails: ${r.error}` : `${n(r.events)} events`,
                perNew: d[0] && r!.events ? ((d[0].getItem + d[0].putItem) / r!.events) * 1000 : undefined,
                perAgain: d[1] && r!.events ? ((d[1].getItem + d[1].putItem) / r!.events) * 1000 : undefined,
            };
        });
        const fixed = (x: number | undefined) => (x === undefined ? "" : x.toFixed(1));
        table(
            ["file", "bytes", "peak RSS", `fits ${LAMBDA_MEMORY_MB} MB`, "requests / 1,000 new", "/ 1,000 redelivered", "outcome"],
            seedRows.map((r) => [r.label, n(r.bytes), r.rssKb === undefined ? "-" : mb(r.rssKb), r.rssKb === undefined ? "-" : r.rssKb / 1024 <= LAMBDA_MEMORY_MB ? "yes" : "no", fixed(r.perNew), fixed(r.perAgain), r.outcome]),
        );
        if (seeds.some((s) => s.run.result?.error?.includes("string longer"))) console.log("  (Node caps a string near 512 MiB; Python's bytes.decode would go on, holding the bytes, the text and then every parsed event at once)");

        // ---- the whole file, with the configured fan-out ----
        const rounds = Math.ceil(messages.length / N);
        // Modeled: start-up and CPU stretched to a 1,024 MB function's share of a vCPU, the requests' latency added.
        const planLambdaMs = planRun.startupMs * CPU_STRETCH + plan.wallMs + plan.cpuMs * (CPU_STRETCH - 1) + (total(planRun.counts) + plan.sqsRequests) * MODELED_LATENCY_MS;
        const chunkLambdaMs = slowRun.startupMs * CPU_STRETCH + slow.wallMs + slow.cpuMs * (CPU_STRETCH - 1);
        const computedMs = planRun.startupMs + plan.wallMs + rounds * (firstRun.startupMs + first.wallMs);
        const modeledMs = planLambdaMs + rounds * chunkLambdaMs;
        const wholeMs = Math.max(computedMs, modeledMs);
        console.log(`\n  The whole file: ${messages.length} chunks, ${N} workers at once (chunkConcurrency), so ${rounds} round${rounds === 1 ? "" : "s"} of chunks after the planning; Lambda's limit ${sec(timeoutMs)}; every invocation counted with a cold start\n`);
        table(
            ["whole file", "time", `margin to ${timeoutMs / 1000} s`, "how"],
            [
                ["computed from the measured processes", sec(computedMs), sec(timeoutMs - computedMs), `planning + ${rounds} x the chunk's (start-up + wall), DynamoDB in memory; each Lambda has its own CPU (this machine has ${os.availableParallelism()}, so ${N} at once are not run here)`],
                [
                    "modeled for Lambda",
                    sec(modeledMs),
                    sec(timeoutMs - modeledMs),
                    `the chunk measured with ${MODELED_LATENCY_MS} ms added to every request (${CLAIMS_IN_FLIGHT} claims in flight), CPU x${CPU_STRETCH.toFixed(2)} (${LAMBDA_MEMORY_MB} MB of the ${ONE_VCPU_MB} MB per vCPU; all CPU counted on the critical path)`,
                ],
            ],
        );
        console.log("  (in neither: SQS's delivery delay, S3's own throughput per GET, DynamoDB throttling)");

        const seedClean = seedRows.filter((r) => r.label.startsWith("clean") && r.rssKb !== undefined);
        const grows = seedClean.length > 1 && seedClean.every((r, i) => i === 0 || r.rssKb! > seedClean[i - 1].rssKb!);
        const seedFirst = seedRows[0];
        const workerRss = Math.max(first.maxRssKb, again.maxRssKb, slow.maxRssKb);
        const oursNew = (forNew / s1.applied) * 1000;
        const oursAgain = requestsPerRedelivered * 1000;
        const versus = (seed: number | undefined, ours: number) => (seed === undefined ? "" : ratio(seed, ours));
        console.log("\n  Ours next to the seed's\n");
        table(
            ["measure", "chunked path (one chunk, whatever the file)", "seed", "seed / ours"],
            [
                ...seedClean.map((r) => [`peak RSS, ${mib(r.bytes)} file`, `${mb(workerRss)} per worker, ${mb(plan.maxRssKb)} planning`, `${mb(r.rssKb!)}${r.fails ? " (then fails)" : ""}`, ratio(r.rssKb!, workerRss)]),
                ["DynamoDB requests / 1,000 new payments", oursNew.toFixed(1), fixed(seedFirst.perNew), versus(seedFirst.perNew, oursNew)],
                ["DynamoDB requests / 1,000 redelivered", oursAgain.toFixed(1), fixed(seedFirst.perAgain), versus(seedFirst.perAgain, oursAgain)],
            ],
        );
        const seedEvents = countLines(clean.file);
        console.log(`  (modeled: the seed reads a file in one invocation, one request at a time; a ${mib(fileBytes)} file of ${n(seedEvents)} new payments is ${n(2 * seedEvents)} requests, ${sec(seedEvents * 2 * MODELED_LATENCY_MS)} at ${MODELED_LATENCY_MS} ms each before any CPU, against the limit of ${sec(timeoutMs)})`);

        const largest = seedRows.find((r) => r.bytes === fileBytes && r.label.startsWith("clean"));
        console.log("\n  Goals:");
        console.log(
            `    RSS bounded by the chunk (${mib(chunkBytes)}), not the file, at most ${GOALS.rssMb} MB: ${goal(workerRss / 1024 <= GOALS.rssMb && plan.maxRssKb / 1024 <= GOALS.rssMb, `worker ${mb(workerRss)}, planning ${mb(plan.maxRssKb)}`)}; the seed's grows with the file: ${grows ? "yes" : "NO"} (${seedClean.map((r) => `${mib(r.bytes)}: ${mb(r.rssKb!)}`).join(", ")}${largest?.fails ? `, and fails at ${mib(fileBytes)}` : ""})`,
        );
        console.log(`    at most ${GOALS.writesPerNewPayment} write requests per new payment:    ${goal(writesPerNew <= GOALS.writesPerNewPayment, `${writesPerNew.toFixed(4)}: ${n(writesForNew)} writes for ${n(s1.applied)} payments`)}`);
        console.log(`    at most ${GOALS.requestsPerRedelivered} requests per redelivered payment:   ${goal(requestsPerRedelivered <= GOALS.requestsPerRedelivered, `${requestsPerRedelivered.toFixed(4)}: ${n(total(againRun.counts))} requests for ${n(payments2)} payments`)}`);
        console.log(`    the ${mib(fileBytes)} file within Lambda's ${timeoutMs / 1000} s with ${N} workers: ${goal(wholeMs <= timeoutMs, `${sec(wholeMs)}, the slower figure above; margin ${sec(timeoutMs - wholeMs)}`)}`);
    } finally {
        stopChildren();
        process.removeListener("exit", onExit);
        await s3rver.stop();
        fs.rmSync(work, { recursive: true, force: true });
    }
}

if (process.argv[2] === CHILD_FLAG && process.send) {
    childMain().catch((err) => {
        console.error(err);
        process.exit(1);
    });
}
