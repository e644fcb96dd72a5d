/**
 * A local stand-in for the Lambda event source mapping of one Kinesis stream, for end-to-end
 * tests against kinesis-local: ListShards, GetShardIterator (TRIM_HORIZON, then
 * AFTER_SEQUENCE_NUMBER the checkpoint when a batch is retried), GetRecords in batches of up to
 * `batchSize`, the Lambda Kinesis event built as the service builds it (base64 data, arrival time
 * in seconds, eventID `<shardId>:<sequenceNumber>`), and ReportBatchItemFailures honoured: the
 * shard is checkpointed after the records before the lowest failed sequence number and re-read
 * from there; after `maximumRetryAttempts` retries the rest of the batch is given up (and
 * described, as the on-failure destination would be) and the shard moves on.
 *
 * It drains what is on the stream and returns: it stops on a shard once GetRecords comes back
 * empty with MillisBehindLatest 0 (or the shard is closed and read to its end).
 *
 * Not modelled: the batching window (one GetRecords response is one batch), bisecting a batch on
 * a function error (a thrown error fails the whole batch, retried as is), maximumRecordAge,
 * parallelizationFactor > 1, enhanced fan-out.
 */
import {
    DescribeStreamSummaryCommand,
    GetRecordsCommand,
    GetShardIteratorCommand,
    ListShardsCommand,
    type GetRecordsCommandOutput,
    type KinesisClient,
    type Shard,
    type _Record,
} from "@aws-sdk/client-kinesis";
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { kinesisRecord, lambdaContext } from "./lambda-events";

/** Pause before the second empty read that confirms a shard is drained. */
const DRAINED_CONFIRM_MS = 250;

export type KinesisBatchHandler = (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse | void | undefined>;

export interface PollOptions {
    client: KinesisClient;
    streamName: string;
    handler: KinesisBatchHandler;
    /** Records per invocation at most (GetRecords' Limit). Default 100, the mapping's default. */
    batchSize?: number;
    /** Retries of a failing batch before the rest of it is given up. Default 10 (the component's default). */
    maximumRetryAttempts?: number;
    /** Invocations per batch read: > 1 redelivers every batch (at-least-once), for duplicate tests. Default 1. */
    deliveries?: number;
    /** Default: lambda-events' lambdaContext. */
    context?: Context;
    region?: string;
    /** Fails the poll if draining takes longer. Default 60 s. */
    timeoutMs?: number;
}

/** What the on-failure destination would receive for a batch given up (its KinesisBatchInfo, plus why). */
export interface GivenUpBatch {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    batchSize: number;
    /** Failed invocations of this part of the batch (the first one and its retries). */
    attempts: number;
    reason: string;
    sequenceNumbers: string[];
}

export interface PollStats {
    shards: number;
    /** Batches read from the stream (GetRecords responses with records; a retry reads a new one). */
    batches: number;
    /** Handler invocations (batches × deliveries). */
    invocations: number;
    /** Records handed to the handler, redeliveries and retries included. */
    recordsDelivered: number;
    /** Distinct records handed to the handler. */
    uniqueRecords: number;
    /** batchItemFailures entries the handler returned, over all invocations. */
    failuresReported: number;
    /** Invocations that threw (or returned an unusable response): whole-batch failures. */
    handlerErrors: number;
    /** Batches re-read after a failure. */
    retries: number;
    givenUp: GivenUpBatch[];
    /** Last checkpointed sequence number per shard. */
    checkpoints: Record<string, string>;
    /** Invocations that carried each sequence number. */
    deliveriesBySequence: Map<string, number>;
    getRecordsCalls: number;
    elapsedMs: number;
}

/** Drains every shard of `streamName` through `handler`, as the event source mapping would. */
export async function pollStream(options: PollOptions): Promise<PollStats> {
    const batchSize = options.batchSize ?? 100;
    const maximumRetryAttempts = options.maximumRetryAttempts ?? 10;
    const deliveries = options.deliveries ?? 1;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new Error(`pollStream: batchSize must be 1 to 10000, got ${batchSize}`);
    if (!Number.isInteger(maximumRetryAttempts) || maximumRetryAttempts < 0) throw new Error(`pollStream: maximumRetryAttempts must be >= 0, got ${maximumRetryAttempts}`);
    if (!Number.isInteger(deliveries) || deliveries < 1) throw new Error(`pollStream: deliveries must be >= 1, got ${deliveries}`);
    const { client, streamName, handler } = options;
    const context = options.context ?? lambdaContext;
    const region = options.region ?? "us-east-1";
    const started = Date.now();
    const deadline = started + (options.timeoutMs ?? 60_000);

    const stats: PollStats = {
        shards: 0,
        batches: 0,
        invocations: 0,
        recordsDelivered: 0,
        uniqueRecords: 0,
        failuresReported: 0,
        handlerErrors: 0,
        retries: 0,
        givenUp: [],
        checkpoints: {},
        deliveriesBySequence: new Map(),
        getRecordsCalls: 0,
        elapsedMs: 0,
    };

    const { StreamDescriptionSummary } = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    const streamArn = StreamDescriptionSummary?.StreamARN;
    if (!streamArn) throw new Error(`pollStream: stream ${streamName} has no ARN`);
    const shards = await listShards(client, streamName);
    stats.shards = shards.length;

    const iterator = async (shardId: string, checkpoint: string | undefined): Promise<string> => {
        const { ShardIterator } = await client.send(
            new GetShardIteratorCommand(
                checkpoint === undefined
                    ? { StreamName: streamName, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }
                    : { StreamName: streamName, ShardId: shardId, ShardIteratorType: "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber: checkpoint },
            ),
        );
        if (!ShardIterator) throw new Error(`pollStream: no iterator for ${shardId}`);
        return ShardIterator;
    };

    const drainShard = async (shardId: string): Promise<void> => {
        let checkpoint: string | undefined;
        let failing: { sequenceNumber: string; attempts: number } | undefined;
        let it: string | undefined = await iterator(shardId, checkpoint);
        let emptyAtTip = false;
        while (it) {
            if (Date.now() > deadline) throw new Error(`pollStream: ${shardId} of ${streamName} not drained within ${options.timeoutMs ?? 60_000} ms`);
            const out: GetRecordsCommandOutput = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: batchSize }));
            stats.getRecordsCalls++;
            const records = out.Records ?? [];
            if (records.length === 0) {
                // Caught up with the tip (or read a closed shard to its end): this shard is drained.
                // kinesis-local reports "0 ms behind" from arrival times, so a record put in the same
                // millisecond as the read can still be unread: only two empty reads in a row, a
                // pause apart, count as drained.
                if ((out.MillisBehindLatest ?? 0) === 0) {
                    if (emptyAtTip) return;
                    emptyAtTip = true;
                    await new Promise((resolve) => setTimeout(resolve, DRAINED_CONFIRM_MS));
                }
                it = out.NextShardIterator;
                continue;
            }
            emptyAtTip = false;
            stats.batches++;
            const lambdaRecords = () => records.map((r) => toLambdaRecord(r, shardId, streamArn, region));

            // Deliver (possibly several times); the lowest failed record over all deliveries governs.
            let failedAt: number | undefined;
            let reason = "";
            for (let d = 0; d < deliveries; d++) {
                stats.invocations++;
                stats.recordsDelivered += records.length;
                for (const r of records) {
                    const n = stats.deliveriesBySequence.get(r.SequenceNumber!) ?? 0;
                    if (n === 0) stats.uniqueRecords++;
                    stats.deliveriesBySequence.set(r.SequenceNumber!, n + 1);
                }
                const outcome = await invoke(handler, { Records: lambdaRecords() }, context, records, stats);
                if (outcome && (failedAt === undefined || outcome.index < failedAt)) {
                    failedAt = outcome.index;
                    reason = outcome.reason;
                }
            }

            if (failedAt === undefined) {
                checkpoint = records[records.length - 1].SequenceNumber!;
                stats.checkpoints[shardId] = checkpoint;
                failing = undefined;
                it = out.NextShardIterator;
                continue;
            }

            // Checkpoint after the records before the failure, then retry from the failed one.
            if (failedAt > 0) {
                checkpoint = records[failedAt - 1].SequenceNumber!;
                stats.checkpoints[shardId] = checkpoint;
            }
            const failedSequence = records[failedAt].SequenceNumber!;
            const attempts = failing?.sequenceNumber === failedSequence ? failing.attempts + 1 : 1;
            if (attempts > maximumRetryAttempts) {
                const rest = records.slice(failedAt).map((r) => r.SequenceNumber!);
                stats.givenUp.push({
                    shardId,
                    startSequenceNumber: rest[0],
                    endSequenceNumber: rest[rest.length - 1],
                    batchSize: rest.length,
                    attempts,
                    reason,
                    sequenceNumbers: rest,
                });
                checkpoint = rest[rest.length - 1];
                stats.checkpoints[shardId] = checkpoint;
                failing = undefined;
                it = out.NextShardIterator;
                continue;
            }
            failing = { sequenceNumber: failedSequence, attempts };
            stats.retries++;
            it = await iterator(shardId, checkpoint);
        }
    };

    // Shards in parallel, a child only after its parent (resharding keeps order per partition key).
    const done = new Map<string, Promise<void>>();
    const ids = new Set(shards.map((s) => s.ShardId!));
    for (const shard of shards) {
        const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => !!p && ids.has(p));
        done.set(
            shard.ShardId!,
            Promise.all(parents.map((p) => done.get(p))).then(() => drainShard(shard.ShardId!)),
        );
    }
    await Promise.all(done.values());
    stats.elapsedMs = Date.now() - started;
    return stats;
}

async function listShards(client: KinesisClient, streamName: string): Promise<Shard[]> {
    const shards: Shard[] = [];
    let token: string | undefined;
    do {
        const out = await client.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: streamName }));
        shards.push(...(out.Shards ?? []));
        token = out.NextToken;
    } while (token);
    // Parents before children, so the map above finds them.
    return shards.sort((a, b) => a.SequenceNumberRange!.StartingSequenceNumber!.localeCompare(b.SequenceNumberRange!.StartingSequenceNumber!, "en", { numeric: true }));
}

/** A GetRecords record as the Lambda service hands it over. */
export function toLambdaRecord(r: _Record, shardId: string, streamArn: string, region = "us-east-1"): KinesisStreamRecord {
    return kinesisRecord({
        shardId,
        sequenceNumber: r.SequenceNumber!,
        partitionKey: r.PartitionKey!,
        // The SDK returns the record's bytes; Lambda delivers them base64-encoded.
        data: Buffer.from(r.Data ?? new Uint8Array()).toString("base64"),
        approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp ?? new Date()).getTime() / 1000,
        streamArn,
        region,
    });
}

/**
 * One invocation; returns the index of the lowest failed record (and why), or undefined when the
 * batch succeeded. As Lambda does, a throw, or a failure entry whose itemIdentifier is missing or
 * not in the batch, fails the whole batch.
 */
async function invoke(
    handler: KinesisBatchHandler,
    event: KinesisStreamEvent,
    context: Context,
    records: _Record[],
    stats: PollStats,
): Promise<{ index: number; reason: string } | undefined> {
    let response: KinesisStreamBatchResponse | void | undefined;
    try {
        response = await handler(event, context);
    } catch (err) {
        stats.handlerErrors++;
        return { index: 0, reason: `handler threw: ${(err as Error)?.message ?? String(err)}` };
    }
    const failures = response?.batchItemFailures ?? [];
    if (!Array.isArray(failures)) {
        stats.handlerErrors++;
        return { index: 0, reason: "batchItemFailures is not an array" };
    }
    if (failures.length === 0) return undefined;
    stats.failuresReported += failures.length;
    let lowest = Number.POSITIVE_INFINITY;
    for (const f of failures) {
        const index = typeof f?.itemIdentifier === "string" ? records.findIndex((r) => r.SequenceNumber === f.itemIdentifier) : -1;
        if (index < 0) return { index: 0, reason: `batchItemFailures names ${JSON.stringify(f?.itemIdentifier)}, not a record of the batch` };
        lowest = Math.min(lowest, index);
    }
    return { index: lowest, reason: `${failures.length} record(s) reported in batchItemFailures` };
}
