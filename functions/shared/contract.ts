// What the shipped handlers and the infrastructure that deploys them must agree on: environment
// variable names, table keys, object-key rules, the uploads envelope and the API message schema.
// One module, shipped in the package and exported from it (`import { AUDIT_TABLE_KEY } from
// "event-pipelines"`), so a team that rebuilds one of these flows from the building blocks wires
// the handler exactly as our system components do. Plain values only: no AWS SDK, no Powertools,
// nothing that the Pulumi program would not want to load.

// ---- every queue consumer -------------------------------------------------------------------

/** Environment variables QueueWithDlq sets on the consumer it builds. */
export const CONSUMER_ENV = {
    /** URL of the consumer's own DLQ, for a consumer that moves refused messages there itself (`sendsRejectsToDlq`). */
    deadLetterQueueUrl: "DEAD_LETTER_QUEUE_URL",
} as const;

// ---- seed 001: functions/stream-to-table ----------------------------------------------------

/** Environment variables of the stream-to-table handler. */
export const STREAM_TO_TABLE_ENV = {
    /** The events table (required). */
    tableName: "TABLE_NAME",
    /** The rejects table (required). */
    rejectsTableName: "REJECTS_TABLE_NAME",
    /** Payload field holding the producer's event id. Default DEFAULT_EVENT_ID_FIELD. */
    eventIdField: "EVENT_ID_FIELD",
    /** Days after processing an event item expires (sets EVENT_TABLE.ttlAttribute). Default: never. */
    ttlDays: "TTL_DAYS",
    /** BatchWriteItem requests in flight at once. Default 4. */
    maxParallelWrites: "MAX_PARALLEL_WRITES",
} as const;

/** Payload field holding the producer's event id, unless EVENT_ID_FIELD names another. */
export const DEFAULT_EVENT_ID_FIELD = "eventId";

/** The events table: its string partition key, TTL attribute and optional lookup index. */
export const EVENT_TABLE = {
    hashKey: "eventId",
    ttlAttribute: "expiresAt",
    lookupIndex: { name: "bySourceAndTime", hashKey: "source", rangeKey: "eventTime" },
} as const;

/**
 * The events-table key of an event its producer names: `<source>#<eventId>`. An event is its
 * producer's (the payload's `source`) and that producer's id: two producers may use the same id
 * without touching each other's events, and a record sent again with the same source and id is
 * that event again, which rewrites its own item. The source's own "%" and "#" are written %25 and
 * %23, so the first "#" always ends it; no source is the empty one (`#<eventId>`). A record without
 * an id is keyed `<shardId>:<sequenceNumber>`, which has no "#".
 */
export function eventKey(source: string | undefined, eventId: string): string {
    return `${(source ?? "").replace(/%/g, "%25").replace(/#/g, "%23")}#${eventId}`;
}

/** The rejects table: one item per record that can never be stored, keyed `<shardId>:<sequenceNumber>`. */
export const REJECTS_TABLE = { hashKey: "recordId" } as const;

// ---- seed 003, flow 1: functions/image-processor and functions/audit-logger ------------------

/**
 * The message an ObjectCreatedRule with OBJECT_ENVELOPE sends for each S3 "Object Created" event:
 * `{"object": <the event's detail.object>, "event": <the event>}`. Filter policies read `object`
 * (near the top, where SNS counts fewer combinations); consumers read `event`.
 */
export const UPLOAD_ENVELOPE = { object: "object", event: "event" } as const;

/** Where derived objects (thumbnail, metadata JSON) go unless DERIVED_PREFIX says otherwise; the rule ignores it. */
export const DEFAULT_DERIVED_PREFIX = "thumbnails/";

/** Key endings the images subscription lets through, compared in any letter case. */
export const IMAGE_KEY_SUFFIXES = [".jpg", ".jpeg", ".png", ".gif", ".webp"] as const;

/** Environment variables the image processor reads, with the defaults it uses when one is unset. */
export const IMAGE_PROCESSOR_ENV = {
    /** Prefix of every derived key; the EventBridge rule must exclude it and IAM PutObject is scoped to it. */
    DERIVED_PREFIX: DEFAULT_DERIVED_PREFIX,
    /** Longest side of a thumbnail, in pixels (smaller images are not enlarged). */
    THUMBNAIL_SIZE: "256",
    /** Largest object downloaded, in bytes (20 MiB): bounds memory and time per message. */
    MAX_IMAGE_BYTES: String(20 * 1024 * 1024),
    /** Largest image decoded, in pixels (width × height): a decompression bomb stays small on disk. */
    MAX_INPUT_PIXELS: String(40_000_000),
} as const;

export type ImageProcessorEnvName = keyof typeof IMAGE_PROCESSOR_ENV;

/** Ranges each numeric image-processor setting must fall in; the stack config checks against the same. */
export const IMAGE_PROCESSOR_LIMITS = {
    THUMBNAIL_SIZE: [16, 4096],
    MAX_IMAGE_BYTES: [1, 1024 * 1024 * 1024],
    MAX_INPUT_PIXELS: [1, 268_402_689], // sharp's own default limit (0x3FFF × 0x3FFF)
} as const;

/** Environment variable naming the audit table. */
export const AUDIT_TABLE_ENV = "AUDIT_TABLE_NAME";
/** The audit table's partition key (a string): `s3://<bucket>/<key>#<versionId>`. */
export const AUDIT_TABLE_KEY = "auditId";

// ---- seed 003, flow 2: ApiToQueue and functions/api-consumer --------------------------------

/** Bounds of a valid API message; the schema is built from them and the tests check them exactly. */
export const API_MESSAGE_LIMITS = {
    /** Characters (code points) of `message`. */
    messageMaxLength: 4096,
    /** Characters of `type`, e.g. "order.created". */
    typeMaxLength: 64,
    /** Characters of `correlationId` (a UUID, ULID or trace id fits). */
    correlationIdMaxLength: 128,
    /** Entries of `attributes`. */
    attributesMaxProperties: 16,
    /** Characters of an attribute name. */
    attributeNameMaxLength: 64,
    /** Characters of an attribute value. */
    attributeValueMaxLength: 256,
} as const;

const L = API_MESSAGE_LIMITS;

/** A letter, then letters, digits, dot, underscore or dash: a name that is safe in logs and metrics. */
const NAME_PATTERN = "^[A-Za-z][A-Za-z0-9._-]*$";
/** What an attribute name must match (draft 4 has no propertyNames, so this is a patternProperties key). */
export const ATTRIBUTE_NAME_PATTERN = `^[A-Za-z][A-Za-z0-9._-]{0,${L.attributeNameMaxLength - 1}}$`;

/** What a client may POST, and what the consumer accepts from the queue. */
export interface ApiMessage {
    /** The text of the message; at least one non-blank character. */
    message: string;
    /** What kind of message this is, for routing and metrics. */
    type?: string;
    /** The client's id for tracing the message end to end. */
    correlationId?: string;
    /** A small map of string values. */
    attributes?: Record<string, string>;
}

/**
 * The JSON schema (draft 4) of a POST /messages body: API Gateway validates requests against it
 * (the ApiToQueue `requestSchema`), and the api-consumer validates every queued message against the
 * very same object, because the queue also accepts messages that never went through the API.
 *
 * Draft 4 and only the keywords API Gateway's model validator implements: no `format`, no `$ref`,
 * no `propertyNames` (draft 6). Patterns are anchored (JSON schema patterns match anywhere) and
 * every string and map is bounded, so a valid body's content stays far below SQS's message size.
 */
export const API_MESSAGE_SCHEMA = {
    $schema: "http://json-schema.org/draft-04/schema#",
    title: "ApiMessage",
    type: "object",
    required: ["message"],
    // `satisfies` keeps the schema's properties and the ApiMessage type in step, both ways.
    properties: {
        // `\S`: a message of blanks only carries nothing.
        message: { type: "string", minLength: 1, maxLength: L.messageMaxLength, pattern: "\\S" },
        type: { type: "string", minLength: 1, maxLength: L.typeMaxLength, pattern: NAME_PATTERN },
        correlationId: { type: "string", minLength: 1, maxLength: L.correlationIdMaxLength, pattern: "^[A-Za-z0-9._:-]+$" },
        attributes: {
            type: "object",
            maxProperties: L.attributesMaxProperties,
            // Draft 4 has no propertyNames: names are bounded by allowing only the names that match.
            patternProperties: { [ATTRIBUTE_NAME_PATTERN]: { type: "string", maxLength: L.attributeValueMaxLength } },
            additionalProperties: false,
        },
    } satisfies Record<keyof ApiMessage, object>,
    additionalProperties: false,
} as const;

// ---- seed 000: PaymentFilePipeline, functions/payment-file and functions/payment-chunk --------

/** Where the pipeline's objects live in its bucket: files land under `landing`, the rest is written by the functions. */
export const PAYMENT_PREFIXES = {
    /** Payment files land here; the rule matches `payments/*.ndjson` (and `.ndjson.gz`). */
    landing: "payments/",
    /** The applied payments of each chunk, canonical, one object per chunk (overwritten, never appended). */
    curated: "curated/",
    /** Lines that could not be applied, with file, line, offset, raw text and reason; conflicts with both versions. */
    quarantine: "quarantine/",
    /** One JSON per file once every chunk is done: `manifests/<key>.json`. */
    manifests: "manifests/",
} as const;

/**
 * Key endings the rule lets through, in lower case only (the rule's `payments/*.ndjson` wildcard is
 * case-sensitive, as EventBridge wildcards are): NDJSON, or NDJSON compressed with gzip (not splittable).
 */
export const PAYMENT_FILE_SUFFIXES = [".ndjson", ".ndjson.gz"] as const;

/** Environment variables of the file function and the chunk worker, with the defaults both use when one is unset. */
export const PAYMENT_FILE_ENV = {
    /** The payments table, keyed PAYMENTS_TABLE.hashKey (required). */
    paymentsTable: "PAYMENTS_TABLE_NAME",
    /** The files table: one manifest item per file, keyed FILES_TABLE.hashKey (required). */
    filesTable: "FILES_TABLE_NAME",
    /** The chunks queue's URL (the file function only; required there). */
    chunksQueueUrl: "CHUNKS_QUEUE_URL",
    /** Files of at most this many bytes are read by the file function itself, not split. */
    thresholdBytes: "THRESHOLD_BYTES",
    /** Bytes per chunk of a split file. */
    chunkBytes: "CHUNK_BYTES",
    /** Longest line read; a longer one is quarantined with its start, never held whole. */
    maxLineBytes: "MAX_LINE_BYTES",
    /** Largest gzip file read in one invocation; a bigger one is refused with its reason (gzip cannot be split). */
    gzipMaxBytes: "GZIP_MAX_BYTES",
} as const;

/** Defaults (and bounds, inclusive) of the sizes above, in bytes. */
export const PAYMENT_FILE_DEFAULTS = { thresholdBytes: 32 * 1024 * 1024, chunkBytes: 32 * 1024 * 1024, maxLineBytes: 1024 * 1024, gzipMaxBytes: 64 * 1024 * 1024 } as const;
export const PAYMENT_FILE_LIMITS = {
    thresholdBytes: [0, 1024 * 1024 * 1024],
    chunkBytes: [1024, 1024 * 1024 * 1024],
    maxLineBytes: [1024, 16 * 1024 * 1024],
    gzipMaxBytes: [0, 1024 * 1024 * 1024],
    /**
     * Chunks of one file at most: each leaves its summary (about 200 bytes, more with many
     * currencies) in the file's manifest item, which DynamoDB caps at 400 KB. A bigger file gets bigger chunks.
     */
    maxChunks: 500,
} as const;

/** The payments table: one item per event_id, claimed once, never overwritten. */
export const PAYMENTS_TABLE = { hashKey: "event_id" } as const;
/** The files table: one manifest item per file version, counting expected and done chunks. */
export const FILES_TABLE = { hashKey: "file_id" } as const;

/** What the file function sends the chunk worker for each chunk: where to read, never the data. */
export interface ChunkMessage {
    bucket: string;
    key: string;
    /** The version the file function saw (versioned bucket), or its ETag: the worker reads exactly that. */
    versionId?: string;
    etag?: string;
    /** The file's identity: key and version, or key, ETag and S3's sequencer (one upload). */
    fileId: string;
    /** The version tag in the keys the chunk writes (fileVersionTag). */
    versionTag: string;
    /** The whole object's size, and the chunk's half-open byte range [start, end). */
    size: number;
    start: number;
    end: number;
    index: number;
    chunks: number;
}

/**
 * The version tag of a file in the keys derived from it: its version id, or its ETag and S3's
 * sequencer (which tells two uploads of the same bytes apart where a bucket keeps no versions).
 * Characters outside [A-Za-z0-9._-] become "_".
 */
export function fileVersionTag(file: { versionId?: string; etag?: string; sequencer?: string }): string {
    const raw = file.versionId ?? `${(file.etag ?? "").replace(/"/g, "")}-${file.sequencer ?? ""}`;
    return raw.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** The identity claims and the manifest item use: `<bucket>/<key>@<version tag>`. */
export function paymentFileId(file: { bucket: string; key: string; versionId?: string; etag?: string; sequencer?: string }): string {
    return `${file.bucket}/${file.key}@${fileVersionTag(file)}`;
}

const chunkName = (index: number) => `chunk-${String(index).padStart(6, "0")}.ndjson`;

/** Where a chunk's applied payments go: the same key every time the chunk is read, so a retry overwrites. */
export function curatedKey(key: string, versionTag: string, index: number): string {
    return `${PAYMENT_PREFIXES.curated}${key}/${versionTag}/${chunkName(index)}`;
}

/** Where a chunk's quarantined lines (and conflicts) go, numbered within the chunk: deterministic, as curatedKey. */
export function quarantineKey(key: string, versionTag: string, index: number): string {
    return `${PAYMENT_PREFIXES.quarantine}${key}/${versionTag}/${chunkName(index)}`;
}

/** Where the file's manifest goes once every chunk is done. */
export function manifestKey(key: string): string {
    return `${PAYMENT_PREFIXES.manifests}${key}.json`;
}

/** The metrics both payment functions emit (Powertools Metrics, embedded metric format), one service dimension. */
export const PAYMENT_METRICS = {
    namespace: "EventPipelines/Payments",
    service: "payment-files",
    names: {
        lines: "LinesRead",
        applied: "PaymentsApplied",
        duplicates: "DuplicatePayments",
        conflicts: "PaymentConflicts",
        quarantined: "QuarantinedLines",
        blank: "BlankLines",
        filesReceived: "FilesReceived",
        filesCompleted: "FilesCompleted",
        filesRefused: "FilesRefused",
    },
} as const;

// ---- seed 002: ResilientReportingPipeline, glue/ and the reporting state machine --------------

/**
 * Where the pipeline's objects live. The raw bucket holds `raw` only, written by Firehose alone (the
 * source of truth, replayable); the lake bucket holds everything derived from it.
 */
export const REPORTING_PREFIXES = {
    /** Raw bucket: `raw/dt=YYYY-MM-DD/…gz`, one GZIP NDJSON object per Firehose flush, partitioned by event date. */
    raw: "raw/",
    /** Raw bucket: records Firehose could not partition (no event_time, not JSON), by error type. Skipped by readers ("_"). */
    rawErrors: "raw/_errors/",
    /** Lake bucket: the Glue job's output, Parquet, one partition per day, overwritten on every run. */
    curated: "curated/transactions/",
    /** Lake bucket: the rows the Glue job refused, with a reason, Parquet, one partition per day. */
    rejects: "curated/rejects/",
    /** Lake bucket: the daily report UNLOADed by Redshift. */
    reports: "reports/",
    /** Lake bucket: the contingency report Athena writes from raw when the pipeline fails. */
    fallbackReports: "reports/fallback/",
    /** Lake bucket: the Glue script and its SQL, each under its own content hash. */
    scripts: "scripts/",
    /** Lake bucket: Glue's temporary directory. */
    glueTemp: "glue-temp/",
} as const;

/** A raw transaction, one JSON object per line, exactly as the source sent it (every field a string). */
export interface RawTransaction {
    /** Unique per transaction; a resend carries the same id. */
    event_id: string;
    /** When it happened, ISO 8601 in UTC (`2026-11-20T10:15:00.123Z`); its date is the partition. */
    event_time: string;
    account_id: string;
    /** A decimal string in major units ("12.34"), never a JSON number. */
    amount: string;
    /** ISO 4217, upper case. */
    currency: string;
    /** One of TRANSACTION_TYPES. */
    type: string;
    /** The system that sent it (e.g. "pos", "web", "batch:core-banking"). */
    source: string;
}

/** The raw table's columns in the Glue Data Catalog: all strings, as sent; the ETL casts. */
export const RAW_TRANSACTION_COLUMNS = ["event_id", "event_time", "account_id", "amount", "currency", "type", "source"] as const satisfies readonly (keyof RawTransaction)[];

export const TRANSACTION_TYPES = ["credit", "debit", "fee", "refund"] as const;

/** The partition key of raw and curated: the event's date. */
export const REPORT_PARTITION_KEY = "dt";

/** `YYYY-MM-DD` and a real calendar day, or undefined: the only dates the pipeline and the replay take. */
export function reportDate(value: string): string | undefined {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
    const d = new Date(`${value}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value ? value : undefined;
}

export function rawPartitionPrefix(date: string): string {
    return `${REPORTING_PREFIXES.raw}${REPORT_PARTITION_KEY}=${date}/`;
}
export function curatedPartitionPrefix(date: string): string {
    return `${REPORTING_PREFIXES.curated}${REPORT_PARTITION_KEY}=${date}/`;
}
export function rejectsPartitionPrefix(date: string): string {
    return `${REPORTING_PREFIXES.rejects}${REPORT_PARTITION_KEY}=${date}/`;
}
export function reportPrefix(date: string): string {
    return `${REPORTING_PREFIXES.reports}${REPORT_PARTITION_KEY}=${date}/`;
}
export function fallbackReportPrefix(date: string): string {
    return `${REPORTING_PREFIXES.fallbackReports}${REPORT_PARTITION_KEY}=${date}/`;
}
/** One execution's fallback report: Athena's UNLOAD refuses a folder that holds objects, so each run has its own. */
export function fallbackRunPrefix(date: string, run: string): string {
    return `${fallbackReportPrefix(date)}run=${run}/`;
}

/** The arguments the Glue job takes (the state machine passes them per run). */
export const GLUE_JOB_ARGUMENTS = {
    /** The day to process, YYYY-MM-DD. */
    date: "--date",
    /** s3://<raw bucket>/raw/ */
    rawPath: "--raw_path",
    /** s3://<lake bucket>/curated/transactions/ */
    curatedPath: "--curated_path",
    /** s3://<lake bucket>/curated/rejects/ */
    rejectsPath: "--rejects_path",
    /** s3://<lake bucket>/scripts/<hash>/sql/ : the SQL files, run in order. */
    sqlPath: "--sql_path",
} as const;

/**
 * The one row the validation query returns (Athena, and DuckDB locally), in this column order:
 * the day's raw records, the curated rows and the rejected rows (duplicates among them), and
 * whether raw = curated + rejected, as the string "true" or "false" (Athena returns strings).
 */
export const VALIDATION_COLUMNS = ["raw_rows", "curated_rows", "rejected_rows", "reconciled"] as const;
