import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { NumberValueImpl as NumberValue, marshall } from "@aws-sdk/util-dynamodb";
import { isSafeNumber, parse as parseLossless } from "lossless-json";
import type { KinesisStreamRecord } from "aws-lambda";
import "../shared/schema";
import * as z from "zod/mini";
import { eventKey } from "../shared/contract";

// The pure half of the stream-to-table handler: one Kinesis record in, either the events-table
// item or the rejects-table item out (docs/stream-to-table.md). No I/O, no clock of its own.

/** DynamoDB's item size limit: 400 KB, names and values included. */
export const MAX_ITEM_BYTES = 400 * 1024;
/** Reasons are clipped to this many characters, on one line. */
export const MAX_REASON_CHARS = 300;
/** DynamoDB caps nesting at 32 levels, the top-level attribute (`payload`) being level 1. */
const MAX_CONTAINER_DEPTH = 31;
/** DynamoDB's number range: 1E-130 to 9.99…E+125 in magnitude, or 0. */
const MIN_NUMBER_MAGNITUDE = 1e-130;
const MAX_NUMBER_MAGNITUDE = 1e126;
/** Powers of ten of the first significant digit DynamoDB accepts (the same range). */
const MIN_NUMBER_EXPONENT = -130;
const MAX_NUMBER_EXPONENT = 125;
/** Significant digits a DynamoDB number keeps. */
const MAX_NUMBER_DIGITS = 38;
/** Kept free below 400 KB when rawData must be cut, against any slack in the size estimate. */
const REJECT_HEADROOM_BYTES = 1024;
/** Attribute names, map keys included: 1 byte to 64 KB. */
const MAX_NAME_BYTES = 65535;

/** An events-table item (docs/stream-to-table.md, "Events table"). */
export interface EventItem {
    eventId: string;
    payload: Record<string, unknown>;
    partitionKey: string;
    shardId: string;
    sequenceNumber: string;
    arrivedAt?: string;
    processedAt: string;
    source?: string;
    eventTime?: string;
    expiresAt?: number;
}

/** A rejects-table item (docs/stream-to-table.md, "Rejects table"). */
export interface RejectItem {
    recordId: string;
    reason: string;
    /** The record's base64 data as received; cut short only when it alone would break the 400 KB limit. */
    rawData: string;
    /** Set (true) only when rawData had to be cut to fit the item; the full record stays readable on the stream until retention ends. */
    rawDataTruncated?: boolean;
    partitionKey: string;
    shardId: string;
    sequenceNumber: string;
    arrivedAt?: string;
    rejectedAt: string;
    eventSourceArn: string;
}

export type Decoded =
    | { kind: "item"; item: EventItem; attributes: Record<string, AttributeValue>; size: number }
    | { kind: "reject"; reject: RejectItem; attributes: Record<string, AttributeValue>; size: number };

export interface DecodeOptions {
    /** Sets `expiresAt` to processedAt + this many days. */
    ttlDays?: number;
    /** processedAt / rejectedAt. Default: now. */
    now?: Date;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The magic prefix of a KPL aggregated record (protobuf), which is not one JSON event. */
const KPL_MAGIC = 0xf3899ac2;
// Made on first use, not at import: an inline CallbackFunction serializes what its closure
// captures by value, and a TextDecoder would arrive as a plain object without its methods.
let utf8: InstanceType<typeof TextDecoder> | undefined;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type PayloadSchema = z.ZodMiniType<Record<string, unknown>>;
// Made on first use, as utf8 above.
let schemas: Map<string, PayloadSchema> | undefined;

/** The contract's payload schema, the id field being `eventIdField`. */
export function payloadSchema(eventIdField: string): PayloadSchema {
    schemas ??= new Map();
    let schema = schemas.get(eventIdField);
    if (!schema) {
        const rules: Record<string, z.ZodMiniType> = {
            source: z.string().check(z.maxLength(256)),
            timestamp: z.iso.datetime({ offset: true }),
        };
        const id = z.string().check(z.minLength(1), z.maxLength(512));
        rules[eventIdField] = Object.hasOwn(rules, eventIdField) ? z.intersection(id, rules[eventIdField]) : id;
        const shape = Object.fromEntries(Object.entries(rules).map(([k, v]) => [k, z.optional(v)]));
        schema = z.looseObject(shape) as unknown as PayloadSchema;
        schemas.set(eventIdField, schema);
    }
    return schema;
}

/** `<shardId>:<sequenceNumber>`: the rejects key, and the event id when the producer sent none. */
export function recordIdOf(record: KinesisStreamRecord): { recordId: string; shardId: string; sequenceNumber: string } {
    const sequenceNumber = record.kinesis.sequenceNumber;
    const shardId = shardIdOf(record.eventID ?? "", sequenceNumber);
    return { recordId: `${shardId}:${sequenceNumber}`, shardId, sequenceNumber };
}

/** A Kinesis record's eventID is `shardId-…:<sequenceNumber>`. */
function shardIdOf(eventID: string, sequenceNumber: string): string {
    const suffix = `:${sequenceNumber}`;
    if (eventID.length > suffix.length && eventID.endsWith(suffix)) return eventID.slice(0, -suffix.length);
    const colon = eventID.lastIndexOf(":");
    return colon > 0 ? eventID.slice(0, colon) : eventID;
}

/**
 * Decodes one Kinesis record: strict base64, UTF-8 (fatal), JSON, the payload schema, what
 * DynamoDB can store, and the 400 KB limit. Returns the events-table item, or the rejects-table
 * item with a one-line reason when the record can never be written.
 */
export function decodeRecord(record: KinesisStreamRecord, eventIdField = "eventId", options: DecodeOptions = {}): Decoded {
    const now = options.now ?? new Date();
    const reject = (reason: string): Decoded => {
        const item = makeReject(record, reason, now);
        const attributes = marshallItem(item);
        return { kind: "reject", reject: item, attributes, size: itemSize(attributes) };
    };
    const raw: unknown = record.kinesis.data;
    if (typeof raw !== "string" || !BASE64.test(raw)) return reject("data is not base64");
    const bytes = Buffer.from(raw, "base64");
    if (bytes.length >= 4 && bytes.readUInt32BE(0) === KPL_MAGIC) {
        return reject("data is a KPL aggregated record, which this handler does not de-aggregate");
    }
    let text: string;
    try {
        text = (utf8 ??= new TextDecoder("utf-8", { fatal: true })).decode(bytes);
    } catch {
        return reject("data is not UTF-8");
    }
    let json: unknown;
    try {
        json = parseExact(text);
    } catch (err) {
        return reject(`data is not JSON: ${(err as Error).message}`);
    }
    const parsed = payloadSchema(eventIdField).safeParse(json);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return reject(`payload violates the schema: ${formatPath(issue.path)}: ${issue.message}`);
    }
    // The object as sent (the schema only checks it; zod's output may differ in key order or prototype).
    const payload = json as Record<string, unknown>;
    const unstorable = findUnstorable(payload, "(root)", 1);
    if (unstorable) return reject(`payload cannot be stored in DynamoDB: ${unstorable}`);

    const { recordId, shardId, sequenceNumber } = recordIdOf(record);
    const producerId = payload[eventIdField];
    const item: EventItem = {
        eventId: typeof producerId === "string" ? eventKey(typeof payload.source === "string" ? payload.source : undefined, producerId) : recordId,
        payload,
        partitionKey: record.kinesis.partitionKey,
        shardId,
        sequenceNumber,
        arrivedAt: arrivalOf(record),
        processedAt: now.toISOString(),
        // A GSI key may not be an empty string: an empty source leaves the item out of the index.
        source: typeof payload.source === "string" && payload.source !== "" ? payload.source : undefined,
        // The GSI sort key: the timestamp in UTC with milliseconds, so lexical order is time order whatever offset was sent.
        eventTime: typeof payload.timestamp === "string" ? utcTime(payload.timestamp) : undefined,
        expiresAt: options.ttlDays !== undefined ? Math.floor(now.getTime() / 1000 + options.ttlDays * 86400) : undefined,
    };
    for (const key of Object.keys(item) as (keyof EventItem)[]) if (item[key] === undefined) delete item[key];
    const attributes = marshallItem(item);
    const size = itemSize(attributes);
    if (size > MAX_ITEM_BYTES) return reject(`item is ${size} bytes, above DynamoDB's 400 KB limit`);
    return { kind: "item", item, attributes, size };
}

/** The rejects-table item; rawData is cut (and flagged) only when the item would pass 400 KB. */
export function makeReject(record: KinesisStreamRecord, reason: string, rejectedAt: Date): RejectItem {
    const { recordId, shardId, sequenceNumber } = recordIdOf(record);
    const rawData = typeof record.kinesis.data === "string" ? record.kinesis.data : "";
    const item: RejectItem = {
        recordId,
        reason: oneLine(reason),
        rawData,
        partitionKey: record.kinesis.partitionKey,
        shardId,
        sequenceNumber,
        arrivedAt: arrivalOf(record),
        rejectedAt: rejectedAt.toISOString(),
        eventSourceArn: record.eventSourceARN,
    };
    if (item.arrivedAt === undefined) delete item.arrivedAt;
    // Room left for rawData once every other attribute (with the longer reason and the flag) is counted.
    const suffix = (kept: number) => ` (rawData truncated to the first ${kept} of ${rawData.length} characters)`;
    const others = itemSize(marshallItem({ ...item, rawData: "", reason: item.reason + suffix(rawData.length), rawDataTruncated: true }));
    const room = MAX_ITEM_BYTES - REJECT_HEADROOM_BYTES - others;
    if (Buffer.byteLength(rawData) > room) {
        // Kinesis data is ASCII base64; anything else is cut on bytes, a split character becoming U+FFFD (+2 bytes at most).
        let cut = Buffer.from(rawData).subarray(0, Math.max(0, room - 4)).toString("utf8");
        if (BASE64.test(rawData)) cut = cut.slice(0, cut.length - (cut.length % 4));
        item.rawData = cut;
        item.reason = item.reason + suffix(cut.length);
        item.rawDataTruncated = true;
    }
    return item;
}

/** Marshalls an item the way the handler writes it. */
export function marshallItem(item: object): Record<string, AttributeValue> {
    return marshall(item, { removeUndefinedValues: true, allowImpreciseNumbers: true });
}

/**
 * The item's size as DynamoDB counts it (names + values; 3 bytes per list or map plus 1 per
 * element; numbers 1 byte per two significant digits plus 1), rounded up where the docs say "about".
 */
export function itemSize(attributes: Record<string, AttributeValue>): number {
    let total = 0;
    for (const [name, value] of Object.entries(attributes)) total += Buffer.byteLength(name) + valueSize(value);
    return total;
}

function valueSize(value: AttributeValue): number {
    if (value.S !== undefined) return Buffer.byteLength(value.S);
    if (value.N !== undefined) return numberSize(value.N);
    if (value.B !== undefined) return value.B.length;
    if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
    if (value.L !== undefined) return value.L.reduce((sum, v) => sum + 1 + valueSize(v), 3);
    if (value.M !== undefined) {
        return Object.entries(value.M).reduce((sum, [k, v]) => sum + 1 + Buffer.byteLength(k) + valueSize(v), 3);
    }
    if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + Buffer.byteLength(s), 0);
    if (value.NS !== undefined) return value.NS.reduce((sum, n) => sum + numberSize(n), 0);
    if (value.BS !== undefined) return value.BS.reduce((sum, b) => sum + b.length, 0);
    return 0;
}

function numberSize(n: string): number {
    const mantissa = n.replace(/^[-+]/, "").replace(/[eE].*$/, "").replace(".", "");
    const digits = mantissa.replace(/^0+/, "").replace(/0+$/, "").length || 1;
    return 1 + Math.ceil(digits / 2);
}

/**
 * JSON.parse, but exact: a number a double holds exactly becomes a number; any other (more digits
 * than a double keeps, like 12345678901234567890123) stays the text it was sent as, a NumberValue
 * that DynamoDB stores as such. JSON.parse would round it, silently. Refuses duplicate keys.
 */
export function parseExact(text: string): unknown {
    return parseLossless(text, null, (number: string) => (isSafeNumber(number) ? Number(number) : new NumberValue(number)));
}

/** The significant digits of a JSON number's text and the power of ten of the first one ("0.00120" → "12", -3). */
function decimalOf(text: string): { digits: string; exponent: number } {
    const [, whole, fraction = "", power = "0"] = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text) ?? [];
    const all = (whole ?? "") + fraction;
    const lead = all.search(/[1-9]/);
    if (lead < 0) return { digits: "", exponent: 0 };
    return { digits: all.slice(lead).replace(/0+$/, ""), exponent: (whole ?? "").length - lead - 1 + Number(power) };
}

/** The first thing in a JSON value that DynamoDB refuses (as "path: what"), or undefined. */
function findUnstorable(value: unknown, path: string, depth: number): string | undefined {
    if (value instanceof NumberValue) {
        const text = value.toString();
        const { digits, exponent } = decimalOf(text);
        if (digits.length > MAX_NUMBER_DIGITS) return `${path}: number ${text} has ${digits.length} significant digits, more than the ${MAX_NUMBER_DIGITS} DynamoDB keeps`;
        if (digits.length > 0 && (exponent < MIN_NUMBER_EXPONENT || exponent > MAX_NUMBER_EXPONENT)) {
            return `${path}: number ${text} is outside DynamoDB's range (1E-130 to 1E+126 in magnitude)`;
        }
        return undefined;
    }
    if (typeof value === "number") {
        const magnitude = Math.abs(value);
        if (!Number.isFinite(value) || (value !== 0 && (magnitude < MIN_NUMBER_MAGNITUDE || magnitude >= MAX_NUMBER_MAGNITUDE))) {
            return `${path}: number ${value} is outside DynamoDB's range (1E-130 to 1E+126 in magnitude)`;
        }
        return undefined;
    }
    if (typeof value === "string") {
        return LONE_SURROGATE.test(value) ? `${path}: string holds an unpaired UTF-16 surrogate` : undefined;
    }
    if (value === null || typeof value !== "object") return undefined;
    if (depth > MAX_CONTAINER_DEPTH) return `${path}: nested deeper than DynamoDB's 32 levels`;
    if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
            const found = findUnstorable(value[i], `${path === "(root)" ? "" : path}[${i}]`, depth + 1);
            if (found) return found;
        }
        return undefined;
    }
    for (const [key, child] of Object.entries(value)) {
        const childPath = path === "(root)" ? key : `${path}.${key}`;
        if (key === "") return `${path}: a map key is empty (DynamoDB names need 1 to 65535 bytes)`;
        if (Buffer.byteLength(key) > MAX_NAME_BYTES) return `${path}: a map key is longer than 65535 bytes`;
        if (LONE_SURROGATE.test(key)) return `${path}: a map key holds an unpaired UTF-16 surrogate`;
        const found = findUnstorable(child, childPath, depth + 1);
        if (found) return found;
    }
    return undefined;
}

/** An ISO-8601 date-time as `YYYY-MM-DDTHH:mm:ss.sssZ`; undefined when it has no such form (the item then stays out of the GSI). */
function utcTime(timestamp: string): string | undefined {
    const ms = Date.parse(timestamp);
    if (Number.isNaN(ms)) return undefined;
    const iso = new Date(ms).toISOString();
    return iso.length === 24 ? iso : undefined;
}

function arrivalOf(record: KinesisStreamRecord): string | undefined {
    const seconds = record.kinesis.approximateArrivalTimestamp;
    if (typeof seconds !== "number" || !Number.isFinite(seconds)) return undefined;
    const date = new Date(Math.round(seconds * 1000));
    return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function formatPath(path: readonly PropertyKey[]): string {
    return path.length === 0 ? "(root)" : path.map((p) => String(p)).join(".");
}

/** One line, at most MAX_REASON_CHARS characters. */
export function oneLine(text: string, max = MAX_REASON_CHARS): string {
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
