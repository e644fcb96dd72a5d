import { existsSync } from "node:fs";
import { AttributeValue, DynamoDBClient, ScanCommand, ScanCommandInput } from "@aws-sdk/client-dynamodb";
import {
    AwsCallContext,
    AwsTarget,
    CliError,
    CliIo,
    DATA_TUNING,
    DEFAULT_MANIFEST,
    PROBE_TUNING,
    checkEndpoint,
    clientConfig,
    describeAwsError,
    parseFlags,
    parseInteger,
    parseIsoTime,
    resolveRegion,
} from "./common";
import { SendManifest, readManifest } from "./manifest";
import { eventKey } from "../functions/shared/contract";

// `npm run events:verify -- --table EventLogs --since <ISO>`: did what events:send put on the stream land
// in the events table (docs/stream-to-table.md), and what did the handler reject since then?

export const DEFAULT_SAMPLE = 5;
/** Longest part of a reject's decoded data shown in a sample line. */
const PREVIEW_CHARS = 60;

export const VERIFY_USAGE =
    "usage: npm run events:verify -- --table <name> --since <ISO time> [--rejects-table <name>, default <table>Rejected] " +
    `[--manifest FILE, default ${DEFAULT_MANIFEST} if it exists] [--sample 5] [--endpoint URL] [--region R]`;
const VERIFY_FLAGS = "expected --table, --since, --rejects-table, --manifest, --sample, --endpoint, --region";

export interface VerifyOptions extends AwsTarget {
    table: string;
    rejectsTable: string;
    /** ISO-8601 (canonical `toISOString()` form): only items with `arrivedAt` (rejects: `rejectedAt`) at or after it count. */
    since: string;
    /** Manifest written by events:send; undefined: compare nothing. */
    manifest?: string;
    /** True when `manifest` is only the default path: a missing file then means "no manifest", not an error. */
    manifestOptional?: boolean;
    /** Ids / rejects listed in the report. */
    sample: number;
    /** Scan page size (DynamoDB's Limit); default: DynamoDB's 1 MB pages. */
    pageSize?: number;
}

export interface RejectSample {
    recordId: string;
    reason: string;
    arrivedAt?: string;
    rejectedAt?: string;
    /** The start of the record's data, decoded from base64, for recognising it. */
    preview?: string;
}

export interface VerifyReport {
    table: string;
    rejectsTable: string;
    region: string;
    endpoint?: string;
    since: string;
    /** Items the scan read (before the `arrivedAt` filter). */
    scanned: number;
    /** Items with `arrivedAt >= since`. */
    landed: number;
    /** Absent when no manifest was given or found. */
    manifest?: {
        file: string;
        stream: string;
        since: string;
        /** Events the stream accepted at send time: the ones expected in the table. */
        expected: number;
        /** Of those, how many landed (with arrivedAt >= since). */
        landed: number;
        missing: number;
        /** The first `sample` missing ids, in sending order. */
        missingSample: string[];
        /** Events the stream refused at send time (not expected). */
        refusedAtSend: number;
    };
    rejected: { count: number; sample: RejectSample[] };
    /** Notes about how to read the numbers (e.g. --since later than the manifest's send). */
    notes: string[];
    /** True when no manifest event is missing. */
    ok: boolean;
}

/** Reads the `events:verify` flags; throws a CliError (exit code 2) naming the bad flag. */
export function parseVerifyArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): VerifyOptions {
    const flags = parseFlags(
        argv,
        {
            table: { type: "string" },
            since: { type: "string" },
            "rejects-table": { type: "string" },
            manifest: { type: "string" },
            sample: { type: "string" },
            endpoint: { type: "string" },
            region: { type: "string" },
        },
        VERIFY_FLAGS,
    );
    if (flags.table === undefined) throw new CliError(`--table is required (the events table name, e.g. --table EventLogs)`, 2);
    const table = checkTableName("--table", flags.table);
    const rejectsTable = checkTableName("--rejects-table", flags["rejects-table"] ?? `${table}Rejected`);
    if (flags.since === undefined) {
        throw new CliError(`--since is required (an ISO-8601 time such as the 'since' events:send printed, e.g. 2024-05-01T10:00:00Z)`, 2);
    }
    if (flags.manifest === "") throw new CliError(`--manifest: expected a file path, got ''`, 2);
    return {
        table,
        rejectsTable,
        since: parseIsoTime("--since", flags.since),
        manifest: flags.manifest ?? DEFAULT_MANIFEST,
        manifestOptional: flags.manifest === undefined,
        sample: flags.sample === undefined ? DEFAULT_SAMPLE : parseInteger("--sample", flags.sample, 0, 1000),
        endpoint: checkEndpoint(flags.endpoint),
        region: resolveRegion(flags.region, env),
    };
}

function checkTableName(flag: string, name: string): string {
    if (!/^[a-zA-Z0-9_.-]{3,255}$/.test(name)) {
        throw new CliError(`${flag}: expected a table name of 3 to 255 letters, digits, '_', '.' or '-', got '${name}'`, 2);
    }
    return name;
}

/**
 * Scans the events table for items that arrived since `since` and the rejects table for records
 * rejected since then, and compares the first with the manifest's event ids. Both tables are
 * probed first (one-item scans), so a wrong name or endpoint fails within seconds.
 */
export async function verifyEvents(options: VerifyOptions, io: { dynamodb?: DynamoDBClient } = {}): Promise<VerifyReport> {
    const manifest = await loadManifest(options);
    const probe = io.dynamodb ?? new DynamoDBClient(clientConfig(options, PROBE_TUNING));
    const data = io.dynamodb ?? new DynamoDBClient(clientConfig(options, DATA_TUNING));
    const eventsCtx: AwsCallContext = { service: "DynamoDB", resource: `table ${options.table}`, region: options.region, endpoint: options.endpoint };
    const rejectsCtx: AwsCallContext = { ...eventsCtx, resource: `rejects table ${options.rejectsTable}` };
    try {
        await scanPages(probe, { TableName: options.table, Limit: 1, ProjectionExpression: "eventId" }, eventsCtx, () => false);
        await scanPages(probe, { TableName: options.rejectsTable, Limit: 1, ProjectionExpression: "recordId" }, rejectsCtx, () => false);

        const landedIds = new Set<string>();
        let scanned = 0;
        await scanPages(
            data,
            {
                TableName: options.table,
                ProjectionExpression: "#id",
                FilterExpression: "#at >= :since",
                ExpressionAttributeNames: { "#id": "eventId", "#at": "arrivedAt" },
                ExpressionAttributeValues: { ":since": { S: options.since } },
                ConsistentRead: true,
                ...(options.pageSize ? { Limit: options.pageSize } : {}),
            },
            eventsCtx,
            (items, scannedCount) => {
                scanned += scannedCount;
                for (const item of items) if (item.eventId?.S !== undefined) landedIds.add(item.eventId.S);
                return true;
            },
        );

        let rejectedCount = 0;
        let rejectSample: RejectSample[] = [];
        await scanPages(
            data,
            {
                TableName: options.rejectsTable,
                ProjectionExpression: "recordId, reason, rawData, arrivedAt, rejectedAt",
                FilterExpression: "rejectedAt >= :since",
                ExpressionAttributeValues: { ":since": { S: options.since } },
                ConsistentRead: true,
                ...(options.pageSize ? { Limit: options.pageSize } : {}),
            },
            rejectsCtx,
            (items) => {
                rejectedCount += items.length;
                // Keep the earliest `sample` rejects, so the sample does not depend on scan order.
                rejectSample = [...rejectSample, ...items.map(toRejectSample)].sort(byRejectedAt).slice(0, options.sample);
                return true;
            },
        );

        const notes: string[] = [];
        let manifestReport: VerifyReport["manifest"];
        if (manifest) {
            // The table keys each event by its source and id (eventKey, functions/shared/contract.ts).
            const missingIds = manifest.data.eventIds.filter((id) => !landedIds.has(eventKey(manifest.data.source, id)));
            manifestReport = {
                file: manifest.file,
                stream: manifest.data.stream,
                since: manifest.data.since,
                expected: manifest.data.eventIds.length,
                landed: manifest.data.eventIds.length - missingIds.length,
                missing: missingIds.length,
                missingSample: missingIds.slice(0, options.sample),
                refusedAtSend: manifest.data.failedEventIds.length,
            };
            if (manifest.data.since < options.since) {
                notes.push(
                    `the manifest's send started at ${manifest.data.since}, before --since ${options.since}: events that arrived before --since count as missing`,
                );
            }
            if (manifestReport.refusedAtSend > 0) {
                notes.push(`${manifestReport.refusedAtSend} events were refused by the stream at send time; they are not expected here`);
            }
        }
        return {
            table: options.table,
            rejectsTable: options.rejectsTable,
            region: options.region,
            ...(options.endpoint ? { endpoint: options.endpoint } : {}),
            since: options.since,
            scanned,
            landed: landedIds.size,
            ...(manifestReport ? { manifest: manifestReport } : {}),
            rejected: { count: rejectedCount, sample: rejectSample },
            notes,
            ok: !manifestReport || manifestReport.missing === 0,
        };
    } finally {
        if (!io.dynamodb) {
            probe.destroy();
            data.destroy();
        }
    }
}

async function loadManifest(options: VerifyOptions): Promise<{ file: string; data: SendManifest } | undefined> {
    if (!options.manifest) return undefined;
    if (options.manifestOptional && !existsSync(options.manifest)) return undefined;
    return { file: options.manifest, data: await readManifest(options.manifest) };
}

/** Scans page after page; `onPage` returns false to stop early. SDK errors become one-line CliErrors. */
async function scanPages(
    client: DynamoDBClient,
    input: ScanCommandInput,
    ctx: AwsCallContext,
    onPage: (items: Record<string, AttributeValue>[], scannedCount: number) => boolean,
): Promise<void> {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
        let page;
        try {
            page = await client.send(new ScanCommand({ ...input, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }));
        } catch (err) {
            throw describeAwsError(err, ctx);
        }
        if (!onPage(page.Items ?? [], page.ScannedCount ?? 0)) return;
        startKey = page.LastEvaluatedKey;
    } while (startKey);
}

function toRejectSample(item: Record<string, AttributeValue>): RejectSample {
    const sample: RejectSample = { recordId: item.recordId?.S ?? "?", reason: item.reason?.S ?? "(no reason)" };
    if (item.arrivedAt?.S) sample.arrivedAt = item.arrivedAt.S;
    if (item.rejectedAt?.S) sample.rejectedAt = item.rejectedAt.S;
    if (item.rawData?.S !== undefined) {
        const text = Buffer.from(item.rawData.S, "base64").toString("utf8");
        sample.preview = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}...` : text;
    }
    return sample;
}

function byRejectedAt(a: RejectSample, b: RejectSample): number {
    return (a.rejectedAt ?? "").localeCompare(b.rejectedAt ?? "") || a.recordId.localeCompare(b.recordId);
}

/** The report printed by verify, one line per fact (samples indented). */
export function formatVerifyReport(r: VerifyReport): string[] {
    const where = [r.region, r.endpoint].filter(Boolean).join(", ");
    const lines = [`table     ${r.table} (${where}), items with arrivedAt >= ${r.since}`, `landed    ${r.landed} items (scanned ${r.scanned})`];
    const m = r.manifest;
    if (m) {
        lines.push(`manifest  ${m.file}: ${m.expected} events sent to stream ${m.stream} from ${m.since}, ${m.landed} landed`);
        lines.push(`missing   ${m.missing} of ${m.expected}`);
        for (const id of m.missingSample) lines.push(`  ${id}`);
        if (m.missing > m.missingSample.length) lines.push(`  ... and ${m.missing - m.missingSample.length} more`);
    } else {
        lines.push(`manifest  none (pass --manifest FILE written by events:send to find missing events)`);
    }
    lines.push(`rejected  ${r.rejected.count} records in ${r.rejectsTable} since ${r.since}`);
    for (const s of r.rejected.sample) {
        lines.push(`  ${s.recordId}  ${s.reason}${s.preview !== undefined ? `  data=${JSON.stringify(s.preview)}` : ""}`);
    }
    if (r.rejected.count > r.rejected.sample.length) lines.push(`  ... and ${r.rejected.count - r.rejected.sample.length} more`);
    for (const note of r.notes) lines.push(`note      ${note}`);
    if (!m) lines.push(`result    OK: nothing to compare without a manifest`);
    else if (r.ok) lines.push(`result    OK: all ${m.expected} manifest events landed in ${r.table}`);
    else lines.push(`result    FAILED: ${m.missing} of ${m.expected} manifest events are missing from ${r.table} (exit code 1)`);
    return lines;
}

/** `events:verify` as a command: returns the exit code (0 nothing missing, 1 something missing). */
export async function runVerify(argv: string[], io: CliIo): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        io.out.write(`${VERIFY_USAGE}\n`);
        return 0;
    }
    const report = await verifyEvents(parseVerifyArgs(argv, io.env));
    for (const line of formatVerifyReport(report)) io.out.write(`${line}\n`);
    return report.ok ? 0 : 1;
}
