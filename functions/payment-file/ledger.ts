import { type AttributeValue, type DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { FILES_TABLE, PAYMENTS_TABLE } from "../shared/contract";
import type { Payment } from "./payment-line";

// The two tables' writes, each one request: a payment is claimed with a conditional put that
// returns the item already there when the condition fails (so a duplicate or a conflict costs one
// request, not a read and a write); a file's manifest item counts its done chunks with an atomic
// ADD guarded by the chunk's own entry, so exactly one chunk's write sees the file complete.

/** Where a line was read: the file's identity and the line's byte offset. What tells a retry of the same line from a duplicate. */
export interface LineSource {
    fileId: string;
    offset: number;
}

/** A payment as the table keeps it. */
export interface StoredPayment {
    event_id: string;
    hash: string;
    type: string;
    currency: string;
    /** Minor units, as a decimal string (exact at any size). */
    amount_minor: string;
    occurred_at: string;
    payer: string;
    payee: string;
    /** The canonical content the hash is of. */
    content: string;
    file_id: string;
    offset: number;
}

/**
 * - applied: this line's claim holds (now, or from an earlier try of the same line);
 * - duplicate: another line claimed it with the same content;
 * - conflict: another line claimed it with different content, which stays.
 */
export type ClaimOutcome = { kind: "applied" } | { kind: "duplicate"; existing: StoredPayment } | { kind: "conflict"; existing: StoredPayment };

export function storedPayment(payment: Payment, source: LineSource): StoredPayment {
    return {
        event_id: payment.eventId,
        hash: payment.hash,
        type: payment.type,
        currency: payment.currency,
        amount_minor: payment.amountMinor.toString(),
        occurred_at: payment.occurredAt,
        payer: payment.payer,
        payee: payment.payee,
        content: payment.canonical,
        file_id: source.fileId,
        offset: source.offset,
    };
}

const isConditionFailure = (err: unknown) => (err as Error)?.name === "ConditionalCheckFailedException";

/** The item a failed condition returned (ReturnValuesOnConditionCheckFailure ALL_OLD). */
function returnedItem<T>(err: unknown, what: string): T {
    const item = (err as { Item?: Record<string, AttributeValue> }).Item;
    if (!item) throw new Error(`${what}: DynamoDB refused the condition without returning the item (ReturnValuesOnConditionCheckFailure ALL_OLD)`);
    return unmarshall(item) as T;
}

/** Claims `payment.eventId` for this line: one PutItem, never an overwrite. */
export async function claimPayment(client: DynamoDBClient, table: string, payment: Payment, source: LineSource): Promise<ClaimOutcome> {
    try {
        await client.send(
            new PutItemCommand({
                TableName: table,
                Item: marshall(storedPayment(payment, source)),
                ConditionExpression: "attribute_not_exists(#id)",
                ExpressionAttributeNames: { "#id": PAYMENTS_TABLE.hashKey },
                ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            }),
        );
        return { kind: "applied" };
    } catch (err) {
        if (!isConditionFailure(err)) throw err;
        const existing = returnedItem<StoredPayment>(err, `payment ${payment.eventId}`);
        if (existing.file_id === source.fileId && Number(existing.offset) === source.offset) return { kind: "applied" };
        return { kind: existing.hash === payment.hash ? "duplicate" : "conflict", existing };
    }
}

// ---- the files table ------------------------------------------------------------------------

/** What became of the lines of a chunk or a file: `lines` = applied + duplicates + conflicts + quarantined + blank. */
export interface LineCounts {
    lines: number;
    applied: number;
    duplicates: number;
    conflicts: number;
    quarantined: number;
    blank: number;
}

/** What a chunk leaves in its file's manifest item once read. */
export interface ChunkSummary extends LineCounts {
    index: number;
    start: number;
    end: number;
    /** Applied amounts in minor units (decimal strings), by `<currency>:<type>`. */
    amounts: Record<string, string>;
}

/** The manifest item of one file version. */
export interface FileItem {
    file_id: string;
    bucket: string;
    key: string;
    version_tag: string;
    version_id?: string;
    etag?: string;
    size: number;
    chunk_bytes: number;
    chunks: number;
    done: number;
    /** Chunk summaries by "c<index>". */
    parts: Record<string, ChunkSummary>;
    enqueued?: boolean;
    manifest_key?: string;
}

export type FilePlan = Omit<FileItem, "done" | "parts" | "enqueued" | "manifest_key">;

export const partName = (index: number) => `c${index}`;

/** Creates the file's manifest item; an item already there (a redelivered event) is returned as it is. */
export async function openFile(client: DynamoDBClient, table: string, plan: FilePlan): Promise<{ created: boolean; file: FileItem }> {
    const item: FileItem = { ...plan, done: 0, parts: {} };
    try {
        await client.send(
            new PutItemCommand({
                TableName: table,
                Item: marshall(item, { removeUndefinedValues: true }),
                ConditionExpression: "attribute_not_exists(#id)",
                ExpressionAttributeNames: { "#id": FILES_TABLE.hashKey },
                ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            }),
        );
        return { created: true, file: item };
    } catch (err) {
        if (!isConditionFailure(err)) throw err;
        return { created: false, file: returnedItem<FileItem>(err, `file ${plan.file_id}`) };
    }
}

/** Sets one attribute of an existing file item (enqueued, manifest_key). */
export async function markFile(client: DynamoDBClient, table: string, fileId: string, field: "enqueued" | "manifest_key", value: boolean | string): Promise<void> {
    await client.send(
        new UpdateItemCommand({
            TableName: table,
            Key: marshall({ [FILES_TABLE.hashKey]: fileId }),
            UpdateExpression: "SET #f = :v",
            ConditionExpression: "attribute_exists(#id)",
            ExpressionAttributeNames: { "#f": field, "#id": FILES_TABLE.hashKey },
            ExpressionAttributeValues: marshall({ ":v": value }),
        }),
    );
}

/**
 * Records a chunk's summary and counts it done, once: a second record of the same chunk changes
 * nothing. `completed` is true for exactly the one write that made `done` reach `chunks`; `file`
 * is the item after the write (or as it was, when the chunk had been recorded before).
 */
export async function recordChunk(client: DynamoDBClient, table: string, fileId: string, summary: ChunkSummary): Promise<{ recorded: boolean; completed: boolean; file: FileItem }> {
    try {
        const out = await client.send(
            new UpdateItemCommand({
                TableName: table,
                Key: marshall({ [FILES_TABLE.hashKey]: fileId }),
                UpdateExpression: "SET parts.#part = :summary ADD done :one",
                ConditionExpression: "attribute_exists(#id) AND attribute_not_exists(parts.#part)",
                ExpressionAttributeNames: { "#id": FILES_TABLE.hashKey, "#part": partName(summary.index) },
                ExpressionAttributeValues: marshall({ ":summary": summary, ":one": 1 }, { removeUndefinedValues: true }),
                ReturnValues: "ALL_NEW",
                ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            }),
        );
        const file = unmarshall(out.Attributes ?? {}) as FileItem;
        return { recorded: true, completed: file.done === file.chunks, file };
    } catch (err) {
        if (!isConditionFailure(err)) throw err;
        const item = (err as { Item?: Record<string, AttributeValue> }).Item;
        if (!item) throw new Error(`chunk ${summary.index} of ${fileId}: the file has no manifest item (was it planned?)`);
        return { recorded: false, completed: false, file: unmarshall(item) as FileItem };
    }
}
