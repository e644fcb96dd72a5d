/**
 * A local stand-in for a Firehose delivery stream with a Kinesis source and an extended S3
 * destination: it reads the source stream on kinesis-local, applies the planned processors
 * (MetadataExtraction with a JQ query, AppendDelimiterToRecord), buffers records per evaluated
 * prefix (dynamic partitioning), and on the buffering interval (scaled) or size writes one GZIP
 * object per partition to s3rver, each PutObject authorized as the delivery stream's role.
 *
 * The pure parts (the JQ subset, the prefix expressions, the object names) are exported for tests.
 *
 * Simplified against AWS (and said so in the fidelity table):
 * - the JQ query may only be an object of `key: .field` or `key: .field[a:b]` (what the plan uses);
 *   anything else is refused at start, never half-run;
 * - reading starts at the stream's start (TRIM_HORIZON), which at runtime start is empty, so it is
 *   what AWS's LATEST-at-creation gives; shards are listed once (no resharding);
 * - object names are `<prefix><stream>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>.gz` (AWS: the same parts, its
 *   version id and random string; the timestamp is the oldest record's arrival, UTC);
 * - records whose partition key cannot be extracted go to the error prefix with error-output-type
 *   `partitioning-failed` (the name AWS's own CDK integration test lists in real S3), one JSON
 *   document per line in Firehose's error-record shape, GZIP like the data;
 * - a PutObject the role may not make is retried at the next flush (AWS retries S3 delivery for up to
 *   24 h); no multi-stage buffering, no CloudWatch logging, no retryDuration.
 */
import { randomBytes, randomUUID } from "crypto";
import { gzipSync } from "zlib";
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { PlannedResource } from "../plan";
import { sleep, type Authorizer, type Counter, type TimeScale } from "./types";

const LABEL = "local stand-in (firehose)";
/** What AWS names the error output of records it could not partition. */
export const PARTITIONING_FAILED = "partitioning-failed";
/** Firehose polls a Kinesis shard about once a second; scaled, but not below this, to spare kinesis-local. */
const MIN_POLL_MS = 20;

// ---- the JQ subset ------------------------------------------------------------------------------

/** One extracted key: `.field` or `.field[from:to]` (jq's string slice, by code point). */
export interface JqField {
    key: string;
    field: string;
    slice?: { from?: number; to?: number };
}

/**
 * Parses a MetadataExtractionQuery of the one shape the runtime runs: `{k: .f, k2: .g[0:10]}`.
 * Throws one line naming the query for anything else.
 */
export function parseJqQuery(query: string): JqField[] {
    const refuse = (why: string) => new Error(`${LABEL}: MetadataExtractionQuery ${JSON.stringify(query)} is not supported locally (${why}; expected {key: .field} or {key: .field[a:b]}, comma-separated)`);
    const body = /^\s*\{(.*)\}\s*$/s.exec(query);
    if (!body) throw refuse("not an object construction");
    const parts = body[1].split(",").map((p) => p.trim());
    if (parts.length === 0 || parts.some((p) => p === "")) throw refuse("an empty entry");
    const fields: JqField[] = [];
    for (const part of parts) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*|"[^"\\]+")\s*:\s*\.([A-Za-z_][A-Za-z0-9_]*)(?:\[\s*(-?\d+)?\s*:\s*(-?\d+)?\s*\])?$/.exec(part);
        if (!m) throw refuse(`entry ${JSON.stringify(part)}`);
        const key = m[1].startsWith('"') ? m[1].slice(1, -1) : m[1];
        if (fields.some((f) => f.key === key)) throw refuse(`key ${key} twice`);
        const slice = m[0].includes("[") ? { from: m[3] === undefined ? undefined : Number(m[3]), to: m[4] === undefined ? undefined : Number(m[4]) } : undefined;
        fields.push({ key, field: m[2], ...(slice ? { slice } : {}) });
    }
    return fields;
}

/**
 * The partition keys of one record (its bytes), or why there are none: not a JSON object, a field
 * missing or null, a slice of something that is not a string, a value that is not a scalar.
 */
export function extractKeys(fields: JqField[], data: Buffer | string): { keys: Record<string, string> } | { error: string } {
    let parsed: unknown;
    try {
        parsed = JSON.parse(typeof data === "string" ? data : data.toString("utf8"));
    } catch {
        return { error: "the record is not JSON" };
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return { error: "the record is not a JSON object" };
    const keys: Record<string, string> = {};
    for (const f of fields) {
        let value = (parsed as Record<string, unknown>)[f.field];
        if (f.slice && value !== null && value !== undefined) {
            if (typeof value !== "string") return { error: `.${f.field} is not a string and cannot be sliced` };
            const chars = [...value];
            const at = (i: number | undefined, fallback: number) => (i === undefined ? fallback : i < 0 ? Math.max(0, chars.length + i) : Math.min(i, chars.length));
            value = chars.slice(at(f.slice.from, 0), at(f.slice.to, chars.length)).join("");
        }
        if (value === null || value === undefined) return { error: `partition key ${f.key} (.${f.field}) is null or missing` };
        if (typeof value === "object") return { error: `partition key ${f.key} (.${f.field}) is not a scalar` };
        keys[f.key] = String(value);
    }
    return { keys };
}

// ---- prefixes and object names --------------------------------------------------------------------

const TIMESTAMP_TOKENS = /yyyy|MM|dd|HH|mm|ss/g;

function formatTimestamp(pattern: string, at: Date): string {
    const two = (n: number) => String(n).padStart(2, "0");
    const parts: Record<string, string> = {
        yyyy: String(at.getUTCFullYear()),
        MM: two(at.getUTCMonth() + 1),
        dd: two(at.getUTCDate()),
        HH: two(at.getUTCHours()),
        mm: two(at.getUTCMinutes()),
        ss: two(at.getUTCSeconds()),
    };
    return pattern.replace(TIMESTAMP_TOKENS, (t) => parts[t]);
}

/** Checks a prefix's `!{namespace:value}` expressions against what the stand-in evaluates; throws one line. */
export function checkPrefix(prefix: string, what: string, queryKeys: string[], isError: boolean): void {
    for (const [, namespace, value] of prefix.matchAll(/!\{([^:}]+):([^}]*)\}/g)) {
        if (namespace === "partitionKeyFromQuery") {
            if (isError) throw new Error(`${LABEL}: ${what} ${prefix} uses partitionKeyFromQuery, which AWS refuses in an error prefix`);
            if (!queryKeys.includes(value)) throw new Error(`${LABEL}: ${what} ${prefix} names partition key ${value}, which the MetadataExtractionQuery does not extract (${queryKeys.join(", ") || "none"})`);
        } else if (namespace === "timestamp") {
            if (value.replace(TIMESTAMP_TOKENS, "").replace(/[-/_. ]/g, "") !== "") throw new Error(`${LABEL}: ${what} ${prefix}: timestamp pattern ${value} uses more than yyyy, MM, dd, HH, mm, ss`);
        } else if (namespace === "firehose") {
            if (value !== "random-string" && !(value === "error-output-type" && isError)) throw new Error(`${LABEL}: ${what} ${prefix}: firehose:${value} is not evaluated here`);
        } else throw new Error(`${LABEL}: ${what} ${prefix}: namespace ${namespace} is not evaluated here`);
    }
}

/** A prefix with its expressions filled: partition keys, the timestamp (UTC), the error type, a random string. */
export function renderPrefix(prefix: string, p: { keys?: Record<string, string>; at: Date; errorType?: string; random?: () => string }): string {
    return prefix.replace(/!\{([^:}]+):([^}]*)\}/g, (_, namespace: string, value: string) => {
        if (namespace === "partitionKeyFromQuery") return p.keys?.[value] ?? "";
        if (namespace === "timestamp") return formatTimestamp(value, p.at);
        if (value === "error-output-type") return p.errorType ?? "";
        return (p.random ?? (() => randomBytes(8).toString("base64url").slice(0, 11)))();
    });
}

/** `<prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>`, as Firehose names its objects. */
export function objectKey(prefix: string, stream: string, oldestArrival: Date, extension = ".gz", uuid: string = randomUUID()): string {
    return `${prefix}${stream}-1-${formatTimestamp("yyyy-MM-dd-HH-mm-ss", oldestArrival)}-${uuid}${extension}`;
}

/** `\n`, `\t`, `\r` and `\\` as Firehose reads them in the Delimiter parameter. */
export function unescapeDelimiter(text: string): string {
    return text.replace(/\\([ntr\\])/g, (_, c: string) => ({ n: "\n", t: "\t", r: "\r", "\\": "\\" })[c]!);
}

// ---- the planned settings -----------------------------------------------------------------------

export interface FirehoseSettings {
    name: string;
    arn: string;
    sourceStreamArn: string;
    sourceRoleArn: string;
    roleArn: string;
    bucket: string;
    prefix: string;
    errorOutputPrefix: string;
    bufferingIntervalSeconds: number;
    bufferingSizeBytes: number;
    compression: "GZIP" | "UNCOMPRESSED";
    query?: JqField[];
    delimiter?: string;
}

/** Reads a planned FirehoseDeliveryStream; throws one line for what the stand-in would not honour. */
export function firehoseSettings(r: PlannedResource): FirehoseSettings {
    const where = `${LABEL}: ${r.name}`;
    const i = r.inputs as Record<string, any>;
    if (i.destination !== "extended_s3") throw new Error(`${where}: destination ${i.destination} is not run (extended_s3 only)`);
    const source = i.kinesisSourceConfiguration;
    if (!source?.kinesisStreamArn) throw new Error(`${where}: no kinesisSourceConfiguration (Direct PUT is not run)`);
    const s3 = i.extendedS3Configuration ?? {};
    const compression = s3.compressionFormat ?? "UNCOMPRESSED";
    if (compression !== "GZIP" && compression !== "UNCOMPRESSED") throw new Error(`${where}: compressionFormat ${compression} is not run (GZIP or UNCOMPRESSED)`);
    if (s3.dataFormatConversionConfiguration?.enabled) throw new Error(`${where}: data format conversion is not run`);
    let query: JqField[] | undefined;
    let delimiter: string | undefined;
    const processing = s3.processingConfiguration;
    if (processing?.enabled) {
        for (const p of processing.processors ?? []) {
            const params = Object.fromEntries((p.parameters ?? []).map((x: { parameterName: string; parameterValue: string }) => [x.parameterName, x.parameterValue]));
            if (p.type === "MetadataExtraction") {
                const unknown = Object.keys(params).filter((k) => !["MetadataExtractionQuery", "JsonParsingEngine"].includes(k));
                if (unknown.length) throw new Error(`${where}: MetadataExtraction parameter ${unknown.join(", ")} is not run`);
                if (params.JsonParsingEngine && params.JsonParsingEngine !== "JQ-1.6") throw new Error(`${where}: JsonParsingEngine ${params.JsonParsingEngine} is not JQ-1.6`);
                query = parseJqQuery(String(params.MetadataExtractionQuery ?? ""));
            } else if (p.type === "AppendDelimiterToRecord") {
                delimiter = unescapeDelimiter(String(params.Delimiter ?? "\\n"));
            } else throw new Error(`${where}: processor ${p.type} is not run (MetadataExtraction and AppendDelimiterToRecord only)`);
        }
    }
    const dynamic = !!s3.dynamicPartitioningConfiguration?.enabled;
    const prefix = String(s3.prefix ?? "");
    const errorOutputPrefix = String(s3.errorOutputPrefix ?? "");
    if (dynamic && !query) throw new Error(`${where}: dynamic partitioning without a MetadataExtraction query is not run`);
    if (dynamic && !errorOutputPrefix) throw new Error(`${where}: dynamic partitioning needs an errorOutputPrefix (AWS requires one)`);
    checkPrefix(prefix, "prefix", query?.map((f) => f.key) ?? [], false);
    checkPrefix(errorOutputPrefix, "errorOutputPrefix", [], true);
    const bucketArn = String(s3.bucketArn ?? "");
    if (!bucketArn.startsWith("arn:aws:s3:::")) throw new Error(`${where}: bucketArn ${bucketArn} is not an S3 bucket ARN`);
    const arn = String(r.outputs.arn ?? "");
    return {
        name: String(r.outputs.name ?? arn.split("/").pop() ?? r.name),
        arn,
        sourceStreamArn: String(source.kinesisStreamArn),
        sourceRoleArn: String(source.roleArn),
        roleArn: String(s3.roleArn),
        bucket: bucketArn.slice("arn:aws:s3:::".length),
        prefix,
        errorOutputPrefix,
        bufferingIntervalSeconds: Number(s3.bufferingInterval ?? 300),
        bufferingSizeBytes: Number(s3.bufferingSize ?? 5) * 1024 * 1024,
        compression,
        query,
        delimiter,
    };
}

// ---- the running stream --------------------------------------------------------------------------

export interface FirehoseOptions {
    settings: FirehoseSettings;
    /** The stream's name on kinesis-local. */
    streamName: string;
    kinesis: KinesisClient;
    s3: S3Client;
    /** Authorizes as the delivery stream's role; the caller has checked the reads at start. */
    authorizer: Authorizer;
    time: TimeScale;
    counter?: Counter;
    log?: (line: string) => void;
}

export interface FlushResult {
    /** Keys written by this flush, data and errors. */
    keys: string[];
    records: number;
    /** Partitions kept for the next flush because their PutObject was refused or failed. */
    failed: string[];
}

export interface FirehoseStats {
    read: number;
    delivered: number;
    partitioningFailed: number;
    objects: number;
    buffered: number;
    keys: string[];
}

interface Pending {
    prefix: string;
    error: boolean;
    records: Buffer[];
    bytes: number;
    startedAt: number;
    oldestArrival: Date;
}

export interface LocalFirehose {
    readonly settings: FirehoseSettings;
    /** Reads what the source holds now and writes every buffer, as if each interval had passed. */
    flush(): Promise<FlushResult>;
    /** Resolves once reads are caught up, nothing is buffered (buffers go on their interval) and no PutObject is in flight. */
    idle(timeoutMs?: number): Promise<void>;
    stats(): FirehoseStats;
    stop(): Promise<void>;
}

export async function startFirehose(o: FirehoseOptions): Promise<LocalFirehose> {
    const s = o.settings;
    const { Shards = [] } = await o.kinesis.send(new ListShardsCommand({ StreamName: o.streamName }));
    const iterators = new Map<string, string | undefined>();
    for (const shard of Shards) {
        const { ShardIterator } = await o.kinesis.send(new GetShardIteratorCommand({ StreamName: o.streamName, ShardId: shard.ShardId, ShardIteratorType: "TRIM_HORIZON" }));
        iterators.set(shard.ShardId!, ShardIterator);
    }
    const buffers = new Map<string, Pending>();
    const stats = { read: 0, delivered: 0, partitioningFailed: 0, objects: 0, keys: [] as string[] };
    const abort = new AbortController();
    let chain: Promise<unknown> = Promise.resolve();
    // Reads and deliveries take turns: one shard iterator must not be read twice at once.
    const serial = <T>(work: () => Promise<T>): Promise<T> => {
        const next = chain.then(work, work);
        chain = next.catch(() => undefined);
        return next;
    };

    const take = (data: Buffer, arrival: Date) => {
        stats.read++;
        let prefix: string;
        let record: Buffer;
        let error = false;
        const extracted = s.query ? extractKeys(s.query, data) : { keys: {} };
        if ("error" in extracted) {
            error = true;
            stats.partitioningFailed++;
            o.counter?.add("partitioningFailed", 1, extracted.error);
            prefix = renderPrefix(s.errorOutputPrefix, { at: arrival, errorType: PARTITIONING_FAILED });
            // Firehose's error record: the data base64, with what failed (its processing-failed shape).
            record = Buffer.from(
                `${JSON.stringify({ attemptsMade: 1, arrivalTimestamp: arrival.getTime(), errorCode: "DynamicPartitioning.MetadataExtractionFailed", errorMessage: extracted.error, attemptEndingTimestamp: Date.now(), rawData: data.toString("base64") })}\n`,
            );
        } else {
            prefix = renderPrefix(s.prefix, { keys: extracted.keys, at: arrival });
            record = s.delimiter === undefined ? data : Buffer.concat([data, Buffer.from(s.delimiter)]);
        }
        const id = `${error ? "E" : "D"} ${prefix}`;
        let b = buffers.get(id);
        if (!b) buffers.set(id, (b = { prefix, error, records: [], bytes: 0, startedAt: Date.now(), oldestArrival: arrival }));
        b.records.push(record);
        b.bytes += record.length;
        if (arrival < b.oldestArrival) b.oldestArrival = arrival;
    };

    const readAll = async () => {
        for (const [shardId, iterator] of iterators) {
            let it = iterator;
            while (it) {
                const res = await o.kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10_000 }), { abortSignal: abort.signal });
                for (const r of res.Records ?? []) take(Buffer.from(r.Data ?? new Uint8Array()), r.ApproximateArrivalTimestamp ?? new Date());
                it = res.NextShardIterator;
                iterators.set(shardId, it);
                if ((res.Records ?? []).length === 0) break;
            }
        }
    };

    const deliver = async (all: boolean): Promise<FlushResult> => {
        const result: FlushResult = { keys: [], records: 0, failed: [] };
        for (const [id, b] of [...buffers]) {
            const due = all || b.bytes >= s.bufferingSizeBytes || Date.now() - b.startedAt >= o.time.ms(s.bufferingIntervalSeconds);
            if (!due) continue;
            const body = Buffer.concat(b.records);
            const key = objectKey(b.prefix, s.name, b.oldestArrival, s.compression === "GZIP" ? ".gz" : "");
            const decision = await o.authorizer.authorize({ principal: { role: s.roleArn }, action: "s3:PutObject", resource: `arn:aws:s3:::${s.bucket}/${key}` });
            if (!decision.allowed) {
                o.counter?.add("denied", 1, `s3:PutObject on ${s.bucket}/${key}`);
                o.log?.(`${LABEL} ${s.name}: PutObject ${key} refused (kept for the next flush): ${decision.message}`);
                result.failed.push(b.prefix);
                continue;
            }
            try {
                await o.s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: s.compression === "GZIP" ? gzipSync(body) : body }));
            } catch (err) {
                o.log?.(`${LABEL} ${s.name}: PutObject ${key} failed (kept for the next flush): ${(err as Error).message}`);
                result.failed.push(b.prefix);
                continue;
            }
            buffers.delete(id);
            stats.objects++;
            stats.keys.push(key);
            if (!b.error) stats.delivered += b.records.length;
            o.counter?.add(b.error ? "errorObjects" : "objects");
            o.counter?.add(b.error ? "errorRecords" : "delivered", b.records.length);
            result.keys.push(key);
            result.records += b.records.length;
        }
        return result;
    };

    const pollMs = Math.max(MIN_POLL_MS, o.time.ms(1));
    const loop = (async () => {
        while (!abort.signal.aborted) {
            await serial(async () => {
                await readAll();
                await deliver(false);
            }).catch((err) => {
                if (!abort.signal.aborted) o.log?.(`${LABEL} ${s.name}: ${(err as Error).message}`);
            });
            await sleep(pollMs, abort.signal);
        }
    })();

    return {
        settings: s,
        flush: () =>
            serial(async () => {
                await readAll();
                return deliver(true);
            }),
        idle: async (timeoutMs = 60_000) => {
            const deadline = Date.now() + timeoutMs;
            for (;;) {
                await serial(readAll);
                if (buffers.size === 0) return;
                if (Date.now() > deadline) throw new Error(`${LABEL} ${s.name}: ${buffers.size} partition(s) still buffered after ${timeoutMs} ms (buffering interval ${s.bufferingIntervalSeconds} s × ${o.time.factor}); call flush()`);
                await sleep(pollMs);
            }
        },
        stats: () => ({ ...stats, keys: [...stats.keys], buffered: [...buffers.values()].reduce((n, b) => n + b.records.length, 0) }),
        stop: async () => {
            abort.abort();
            await loop;
            await chain;
        },
    };
}
