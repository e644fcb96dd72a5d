import { randomUUID } from "node:crypto";
import { DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand, PutRecordsRequestEntry } from "@aws-sdk/client-kinesis";
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
    parsePositiveNumber,
    resolveRegion,
    sleep,
} from "./common";
import { SendManifest, writeManifest } from "./manifest";
import { ProgressBar, ProgressOutput } from "./progress";

// `npm run events:send -- --stream EventStream --count 1000 --rate 200`: the seed's step 5
// (`aws kinesis put-record`) made real: many events, batched, paced, retried, and a manifest for verify.

/** PutRecords takes at most 500 records per call. */
export const MAX_BATCH = 500;
/** Every id is kept in memory and in the manifest; beyond this, run several sends. */
export const MAX_COUNT = 1_000_000;
export const DEFAULT_COUNT = 100;
/** Records per second; one shard takes 1,000. */
export const DEFAULT_RATE = 200;
export const DEFAULT_SOURCE = "cli";

export const SEND_USAGE =
    "usage: npm run events:send -- --stream <name> [--count 100] [--rate 200] [--source cli] " +
    `[--endpoint URL] [--region R] [--manifest FILE, default ${DEFAULT_MANIFEST}]`;
const SEND_FLAGS = "expected --stream, --count, --rate, --source, --endpoint, --region, --manifest";

export interface SendOptions extends AwsTarget {
    stream: string;
    /** Events to send (1 to MAX_COUNT). */
    count: number;
    /** Records per second, > 0. */
    rate: number;
    /** The events' `source` field. */
    source: string;
    /** Manifest path; undefined: write none. */
    manifest?: string;
    /** Re-sends of a record PutRecords reports as failed before giving up on it. Default 8. */
    maxRetries?: number;
    /** First backoff before a re-send, doubled each time (with jitter) up to `retryMaxDelayMs`. Default 100. */
    retryBaseDelayMs?: number;
    /** Default 5000. */
    retryMaxDelayMs?: number;
}

/** The event the CLI sends: the seed's `{"sensor": "temperature", "value": 22.5}` plus its own id, source and time. */
export interface SensorEvent {
    eventId: string;
    source: string;
    sensor: "temperature";
    value: number;
    timestamp: string;
}

export interface SendResult {
    stream: string;
    region: string;
    endpoint?: string;
    requested: number;
    /** Records the stream accepted (each exactly once, retries included). */
    sent: number;
    /** Re-sends of records PutRecords reported as failed. */
    retried: number;
    /** Records still refused after every retry. */
    failed: number;
    /** Records never sent because the run was interrupted. */
    notSent: number;
    putRecordsCalls: number;
    /** Per-record error codes PutRecords reported, with how often. */
    errorCodes: Record<string, number>;
    /** Start of sending, whole seconds rounded down: verify's `--since`. */
    since: string;
    finishedAt: string;
    elapsedMs: number;
    rate: number;
    interrupted: boolean;
    /** Path of the manifest written, if any. */
    manifest?: string;
    eventIds: string[];
    failedEventIds: string[];
}

/** Reads the `events:send` flags; throws a CliError (exit code 2) naming the bad flag. */
export function parseSendArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): SendOptions {
    const flags = parseFlags(
        argv,
        {
            stream: { type: "string" },
            count: { type: "string" },
            rate: { type: "string" },
            source: { type: "string" },
            endpoint: { type: "string" },
            region: { type: "string" },
            manifest: { type: "string" },
        },
        SEND_FLAGS,
    );
    if (flags.stream === undefined) throw new CliError(`--stream is required (the Kinesis stream name, e.g. --stream EventStream)`, 2);
    if (!/^[a-zA-Z0-9_.-]{1,128}$/.test(flags.stream)) {
        throw new CliError(`--stream: expected a stream name of 1 to 128 letters, digits, '_', '.' or '-', got '${flags.stream}'`, 2);
    }
    const source = flags.source ?? DEFAULT_SOURCE;
    if (source.length < 1 || source.length > 256) {
        throw new CliError(`--source: expected 1 to 256 characters, got ${source.length}`, 2);
    }
    if (flags.manifest === "") throw new CliError(`--manifest: expected a file path, got ''`, 2);
    return {
        stream: flags.stream,
        count: flags.count === undefined ? DEFAULT_COUNT : parseInteger("--count", flags.count, 1, MAX_COUNT),
        rate: flags.rate === undefined ? DEFAULT_RATE : parsePositiveNumber("--rate", flags.rate),
        source,
        endpoint: checkEndpoint(flags.endpoint),
        region: resolveRegion(flags.region, env),
        manifest: flags.manifest ?? DEFAULT_MANIFEST,
    };
}

/** One event with a fresh id and a plausible temperature. */
export function makeEvent(source: string, now = new Date()): SensorEvent {
    return {
        eventId: randomUUID(),
        source,
        sensor: "temperature",
        value: Math.round((15 + Math.random() * 15) * 10) / 10,
        timestamp: now.toISOString(),
    };
}

/** Codes that no retry will fix (the stream's KMS key is unusable); everything else (throttling, InternalFailure) is retried. */
const PERMANENT_ERROR = /^KMS(?!Throttling)|AccessDenied/;

/**
 * Checks the stream is there, then sends `count` events with PutRecords in batches of up to 500
 * (fewer when `rate` is lower, so no second carries much more than `rate` records), paced so that
 * the run takes about count/rate seconds. Entries PutRecords reports as failed are re-sent alone
 * with exponential backoff. Writes the manifest (also after a failure part-way, listing what was
 * accepted). Stops after the batch in flight when `io.signal` aborts.
 */
export async function sendEvents(
    options: SendOptions,
    io: { progress?: ProgressOutput; kinesis?: KinesisClient; signal?: AbortSignal } = {},
): Promise<SendResult> {
    const ctx: AwsCallContext = { service: "Kinesis", resource: `stream ${options.stream}`, region: options.region, endpoint: options.endpoint };
    const probe = io.kinesis ?? new KinesisClient(clientConfig(options, PROBE_TUNING));
    const data = io.kinesis ?? new KinesisClient(clientConfig(options, DATA_TUNING));
    const maxRetries = options.maxRetries ?? 8;
    const baseDelay = options.retryBaseDelayMs ?? 100;
    const maxDelay = options.retryMaxDelayMs ?? 5_000;
    const batchSize = Math.max(1, Math.min(MAX_BATCH, Math.floor(options.rate)));
    const progress = new ProgressBar(io.progress, options.count);

    const generated: string[] = [];
    const accepted: string[] = [];
    const refused: string[] = [];
    const errorCodes: Record<string, number> = {};
    let retried = 0;
    let calls = 0;
    let startedMs = Date.now();
    let fatal: unknown;

    try {
        await checkStream(probe, options.stream, ctx);
        startedMs = Date.now();
        for (let offset = 0; offset < options.count && !io.signal?.aborted; ) {
            const size = Math.min(batchSize, options.count - offset);
            const now = new Date();
            let pending = Array.from({ length: size }, () => {
                const event = makeEvent(options.source, now);
                generated.push(event.eventId);
                const entry: PutRecordsRequestEntry = { Data: Buffer.from(JSON.stringify(event)), PartitionKey: event.eventId };
                return { id: event.eventId, entry };
            });
            for (let attempt = 0; pending.length > 0; attempt++) {
                const response = await data.send(new PutRecordsCommand({ StreamName: options.stream, Records: pending.map((p) => p.entry) }));
                calls++;
                const results = response.Records ?? [];
                if (results.length !== pending.length) {
                    throw new CliError(`PutRecords on stream ${options.stream} answered ${results.length} results for ${pending.length} records`);
                }
                const again: typeof pending = [];
                results.forEach((r, i) => {
                    if (!r.ErrorCode) {
                        accepted.push(pending[i].id);
                        return;
                    }
                    errorCodes[r.ErrorCode] = (errorCodes[r.ErrorCode] ?? 0) + 1;
                    if (PERMANENT_ERROR.test(r.ErrorCode)) refused.push(pending[i].id);
                    else again.push(pending[i]);
                });
                if (again.length > 0 && (attempt >= maxRetries || io.signal?.aborted)) {
                    refused.push(...again.map((p) => p.id));
                    again.length = 0;
                }
                progress.update(accepted.length + refused.length, retried);
                if (again.length > 0) {
                    retried += again.length;
                    const ceiling = Math.min(maxDelay, baseDelay * 2 ** attempt);
                    await sleep(ceiling / 2 + Math.random() * (ceiling / 2), io.signal);
                }
                pending = again;
            }
            offset += size;
            // Pacing: the next batch starts once `offset` records' worth of time has passed since the
            // start; after the last one this also makes the whole run last count/rate seconds.
            await sleep(startedMs + (offset / options.rate) * 1000 - Date.now(), io.signal);
        }
    } catch (err) {
        fatal = err;
    } finally {
        progress.finish();
        if (!io.kinesis) {
            probe.destroy();
            data.destroy();
        }
    }

    const acceptedSet = new Set(accepted);
    const refusedSet = new Set(refused);
    // After a failure part-way, the batch in flight is neither accepted nor refused yet: count it as failed.
    const failedEventIds = [...refused, ...generated.filter((id) => !acceptedSet.has(id) && !refusedSet.has(id))];
    const finished = Date.now();
    const result: SendResult = {
        stream: options.stream,
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        requested: options.count,
        sent: accepted.length,
        retried,
        failed: failedEventIds.length,
        notSent: options.count - generated.length,
        putRecordsCalls: calls,
        errorCodes,
        since: new Date(Math.floor(startedMs / 1000) * 1000).toISOString(),
        finishedAt: new Date(finished).toISOString(),
        elapsedMs: finished - startedMs,
        rate: options.rate,
        interrupted: !fatal && generated.length < options.count,
        eventIds: accepted,
        failedEventIds,
    };

    if (options.manifest && generated.length > 0) {
        const manifest: SendManifest = {
            stream: result.stream,
            region: result.region,
            ...(result.endpoint ? { endpoint: result.endpoint } : {}),
            source: options.source,
            since: result.since,
            finishedAt: result.finishedAt,
            requested: result.requested,
            eventIds: result.eventIds,
            failedEventIds: result.failedEventIds,
        };
        await writeManifest(options.manifest, manifest);
        result.manifest = options.manifest;
    }

    if (fatal) {
        const error = describeAwsError(fatal, ctx);
        if (result.sent === 0) throw error;
        throw new CliError(`${error.message}; ${result.sent} of ${result.requested} events were accepted before that (ids in ${result.manifest ?? "no manifest"})`);
    }
    return result;
}

async function checkStream(client: KinesisClient, stream: string, ctx: AwsCallContext): Promise<void> {
    let status: string | undefined;
    try {
        const { StreamDescriptionSummary } = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
        status = StreamDescriptionSummary?.StreamStatus;
    } catch (err) {
        throw describeAwsError(err, ctx);
    }
    if (status !== "ACTIVE" && status !== "UPDATING") {
        throw new CliError(`stream ${stream} is ${status ?? "in an unknown state"} (expected ACTIVE; wait for it and retry)`);
    }
}

/** The summary printed after a send, one line per fact. */
export function formatSendSummary(r: SendResult): string[] {
    const seconds = r.elapsedMs / 1000;
    const where = [r.region, r.endpoint].filter(Boolean).join(", ");
    const codes = Object.entries(r.errorCodes)
        .map(([code, n]) => `${code} x${n}`)
        .join(", ");
    const lines = [
        `sent      ${r.sent} of ${r.requested} events to stream ${r.stream} (${where}) in ${r.putRecordsCalls} PutRecords calls`,
        `retried   ${r.retried} records${codes ? ` (PutRecords reported ${codes})` : ""}`,
        `failed    ${r.failed} records${r.failed ? " (ids under failedEventIds in the manifest)" : ""}`,
    ];
    if (r.interrupted) lines.push(`stopped   interrupted: ${r.notSent} events not sent`);
    lines.push(
        `elapsed   ${seconds.toFixed(2)} s (${seconds > 0 ? Math.round(r.sent / seconds) : r.sent} records/s, --rate ${r.rate})`,
        `since     ${r.since}`,
        `manifest  ${r.manifest ?? "(none written)"}`,
        `verify    npm run events:verify -- --table <events table> --since ${r.since}` +
            (r.manifest && r.manifest !== DEFAULT_MANIFEST ? ` --manifest ${r.manifest}` : ""),
    );
    return lines;
}

/** `events:send` as a command: returns the exit code (0 all sent, 1 some failed or interrupted). */
export async function runSend(argv: string[], io: CliIo): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        io.out.write(`${SEND_USAGE}\n`);
        return 0;
    }
    const options = parseSendArgs(argv, io.env);
    const result = await sendEvents(options, { progress: io.err, signal: io.signal });
    for (const line of formatSendSummary(result)) io.out.write(`${line}\n`);
    if (result.failed > 0) {
        io.err.write(`error: ${result.failed} of ${result.requested} events were refused by stream ${result.stream} after retries (ids under failedEventIds in ${result.manifest ?? "the manifest"})\n`);
        return 1;
    }
    if (result.interrupted) {
        io.err.write(`error: interrupted after ${result.sent} of ${result.requested} events\n`);
        return 1;
    }
    return 0;
}
