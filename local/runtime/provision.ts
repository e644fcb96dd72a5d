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
import { CreateStreamCommand, DescribeStreamSummaryCommand, IncreaseStreamRetentionPeriodCommand, type CreateStreamCommandInput, type KinesisClient } from "@aws-sdk/client-kinesis";
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { CreateTopicCommand, SubscribeCommand, type SNSClient } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { PlannedResource } from "../plan";
import type { TimeScale } from "./types";

// Creates each planned bucket, table, stream, queue, topic and subscription on its stand-in, from
// the plan's own inputs. Inputs that shape what a stand-in stores or delivers are translated;
// inputs that only matter in AWS (encryption, recovery, tags...) are listed as not emulated; any
// other input stops provisioning, so a new behaviour-changing input cannot be dropped silently.

/** Planned identifier ↔ stand-in identifier: queue URLs and ARNs, topic ARNs, stream ARNs. */
export class Identifiers {
    private readonly toLocal = new Map<string, string>();
    private readonly toPlanned = new Map<string, string>();

    add(planned: string, local: string): void {
        this.toLocal.set(planned, local);
        this.toPlanned.set(local, planned);
    }

    /** The stand-in's identifier for a planned one (unchanged when they are the same, e.g. bucket names). */
    local(planned: string): string {
        return this.toLocal.get(planned) ?? planned;
    }

    planned(local: string): string {
        return this.toPlanned.get(local) ?? local;
    }

    /** The pairs that differ, for a function's SDK to translate exact strings. */
    pairs(): [string, string][] {
        return [...this.toLocal.entries()].filter(([a, b]) => a !== b);
    }
}

function refuseUnknownInputs(r: PlannedResource, translated: string[], notEmulated: string[]): void {
    const unknown = Object.keys(r.inputs).filter((k) => !translated.includes(k) && !notEmulated.includes(k));
    if (unknown.length > 0) {
        throw new Error(`local runtime: ${r.type} ${r.name} sets ${unknown.join(", ")}, which the runtime does not translate (teach local/runtime/provision.ts, or list them as not emulated)`);
    }
}

const physical = (r: PlannedResource, field = "name") => String(r.outputs[field] ?? r.inputs[field] ?? r.name);

// ---- S3 ----

export async function createBucket(s3: S3Client, r: PlannedResource): Promise<string> {
    refuseUnknownInputs(r, ["bucket", "bucketPrefix"], ["forceDestroy", "tags", "objectLockEnabled"]);
    const name = physical(r, "bucket");
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    return name;
}

// ---- DynamoDB ----

interface PlannedIndex {
    name: string;
    keySchemas?: { attributeName: string; keyType: "HASH" | "RANGE" }[];
    hashKey?: string;
    rangeKey?: string;
    projectionType?: string;
    nonKeyAttributes?: string[];
    readCapacity?: number;
    writeCapacity?: number;
}

function keySchema(hashKey: string | undefined, rangeKey: string | undefined, where: string): KeySchemaElement[] {
    if (!hashKey) throw new Error(`local runtime: ${where} has no hash key`);
    return [{ AttributeName: hashKey, KeyType: "HASH" }, ...(rangeKey ? [{ AttributeName: rangeKey, KeyType: "RANGE" as const }] : [])];
}

function projection(index: PlannedIndex): Projection {
    return { ProjectionType: (index.projectionType ?? "ALL") as Projection["ProjectionType"], ...(index.nonKeyAttributes?.length ? { NonKeyAttributes: index.nonKeyAttributes } : {}) };
}

/** aws:dynamodb/table:Table inputs → CreateTable. */
export function tableRequest(r: PlannedResource): CreateTableCommandInput {
    refuseUnknownInputs(
        r,
        ["name", "hashKey", "rangeKey", "attributes", "globalSecondaryIndexes", "localSecondaryIndexes", "billingMode", "readCapacity", "writeCapacity"],
        ["pointInTimeRecovery", "serverSideEncryption", "deletionProtectionEnabled", "ttl", "tags", "tableClass", "streamEnabled", "streamViewType"],
    );
    const i = r.inputs as { hashKey?: string; rangeKey?: string; attributes?: { name: string; type: string }[]; globalSecondaryIndexes?: PlannedIndex[]; localSecondaryIndexes?: PlannedIndex[]; billingMode?: string; readCapacity?: number; writeCapacity?: number };
    const name = physical(r);
    const provisioned = (i.billingMode ?? "PROVISIONED") === "PROVISIONED";
    const throughput = (x: { readCapacity?: number; writeCapacity?: number }) =>
        provisioned ? { ProvisionedThroughput: { ReadCapacityUnits: x.readCapacity ?? 1, WriteCapacityUnits: x.writeCapacity ?? 1 } } : {};
    const gsis: GlobalSecondaryIndex[] = (i.globalSecondaryIndexes ?? []).map((g) => ({
        IndexName: g.name,
        KeySchema: keySchema(
            g.keySchemas?.find((k) => k.keyType === "HASH")?.attributeName ?? g.hashKey,
            g.keySchemas?.find((k) => k.keyType === "RANGE")?.attributeName ?? g.rangeKey,
            `index ${g.name} of table ${name}`,
        ),
        Projection: projection(g),
        ...throughput(g),
    }));
    const lsis: LocalSecondaryIndex[] = (i.localSecondaryIndexes ?? []).map((l) => ({ IndexName: l.name, KeySchema: keySchema(i.hashKey, l.rangeKey, `index ${l.name} of table ${name}`), Projection: projection(l) }));
    return {
        TableName: name,
        KeySchema: keySchema(i.hashKey, i.rangeKey, `table ${name}`),
        AttributeDefinitions: (i.attributes ?? []).map((a): AttributeDefinition => ({ AttributeName: a.name, AttributeType: a.type as AttributeDefinition["AttributeType"] })),
        BillingMode: provisioned ? "PROVISIONED" : "PAY_PER_REQUEST",
        ...throughput(i),
        ...(gsis.length ? { GlobalSecondaryIndexes: gsis } : {}),
        ...(lsis.length ? { LocalSecondaryIndexes: lsis } : {}),
    };
}

export async function createTable(dynamodb: DynamoDBClient, r: PlannedResource): Promise<string> {
    const request = tableRequest(r);
    await dynamodb.send(new CreateTableCommand(request));
    return request.TableName!;
}

// ---- Kinesis ----

const KINESIS_DEFAULT_RETENTION_HOURS = 24;

/** aws:kinesis/stream:Stream inputs → CreateStream. */
export function streamRequest(r: PlannedResource): CreateStreamCommandInput {
    refuseUnknownInputs(r, ["name", "shardCount", "streamModeDetails", "retentionPeriod"], ["encryptionType", "kmsKeyId", "tags", "enforceConsumerDeletion", "shardLevelMetrics"]);
    const mode = ((r.inputs.streamModeDetails ?? {}) as { streamMode?: string }).streamMode ?? "PROVISIONED";
    if (mode !== "PROVISIONED" && mode !== "ON_DEMAND") throw new Error(`local runtime: stream ${r.name} has streamMode ${mode}, expected PROVISIONED or ON_DEMAND`);
    const shardCount = r.inputs.shardCount;
    if (mode === "PROVISIONED" && typeof shardCount !== "number") throw new Error(`local runtime: PROVISIONED stream ${r.name} has no shardCount`);
    return { StreamName: physical(r), ...(mode === "PROVISIONED" ? { ShardCount: shardCount as number } : {}), StreamModeDetails: { StreamMode: mode } };
}

/** Creates the stream and waits until it is ACTIVE; returns its ARN on kinesis-local. */
export async function createStream(kinesis: KinesisClient, r: PlannedResource): Promise<string> {
    const request = streamRequest(r);
    await kinesis.send(new CreateStreamCommand(request));
    let arn = await activeStream(kinesis, request.StreamName!);
    const retention = r.inputs.retentionPeriod;
    if (typeof retention === "number" && retention > KINESIS_DEFAULT_RETENTION_HOURS) {
        await kinesis.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: request.StreamName, RetentionPeriodHours: retention }));
        arn = await activeStream(kinesis, request.StreamName!);
    }
    return arn;
}

async function activeStream(kinesis: KinesisClient, name: string): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
        const { StreamDescriptionSummary: s } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
        if (s?.StreamStatus === "ACTIVE") return s.StreamARN!;
        if (Date.now() > deadline) throw new Error(`local runtime: stream ${name} still ${s?.StreamStatus} after 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

// ---- SQS ----

/** Whole seconds of the scaled clock, at least 1 (SQS counts visibility in whole seconds; 0 would mean "at once"). */
const scaledSeconds = (seconds: number, time: TimeScale) => Math.max(1, Math.round(time.ms(seconds) / 1000));

/** aws:sqs/queue:Queue inputs → CreateQueue attributes, the DLQ translated to its stand-in ARN. */
export function queueAttributes(r: PlannedResource, ids: Identifiers, time: TimeScale): Record<string, string> {
    refuseUnknownInputs(
        r,
        ["name", "namePrefix", "visibilityTimeoutSeconds", "messageRetentionSeconds", "delaySeconds", "receiveWaitTimeSeconds", "redrivePolicy", "maxMessageSize", "fifoQueue", "contentBasedDeduplication"],
        ["sqsManagedSseEnabled", "kmsMasterKeyId", "kmsDataKeyReusePeriodSeconds", "policy", "tags", "redriveAllowPolicy"],
    );
    const i = r.inputs as Record<string, any>;
    const attributes: Record<string, string> = {};
    // Planned 30 s when unset, as SQS's default.
    attributes.VisibilityTimeout = String(scaledSeconds(i.visibilityTimeoutSeconds ?? 30, time));
    if (i.messageRetentionSeconds !== undefined) attributes.MessageRetentionPeriod = String(i.messageRetentionSeconds);
    if (i.delaySeconds) attributes.DelaySeconds = String(scaledSeconds(i.delaySeconds, time));
    if (i.maxMessageSize !== undefined) attributes.MaximumMessageSize = String(i.maxMessageSize);
    // Long polling: a receive without its own WaitTimeSeconds waits this long (the mappings set theirs).
    if (i.receiveWaitTimeSeconds !== undefined) attributes.ReceiveMessageWaitTimeSeconds = String(i.receiveWaitTimeSeconds);
    if (i.fifoQueue) attributes.FifoQueue = "true";
    if (i.contentBasedDeduplication) attributes.ContentBasedDeduplication = "true";
    if (typeof i.redrivePolicy === "string") {
        const redrive = JSON.parse(i.redrivePolicy) as { deadLetterTargetArn: string; maxReceiveCount: number };
        attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: ids.local(redrive.deadLetterTargetArn), maxReceiveCount: redrive.maxReceiveCount });
    }
    return attributes;
}

/** Creates the queue (its DLQ must exist already); records its URL and ARN pairs. */
export async function createQueue(sqs: SQSClient, r: PlannedResource, ids: Identifiers, time: TimeScale): Promise<{ url: string; arn: string }> {
    const name = physical(r);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: queueAttributes(r, ids, time) }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
    ids.add(String(r.outputs.url ?? r.outputs.id), QueueUrl!);
    ids.add(String(r.outputs.arn), Attributes!.QueueArn!);
    return { url: QueueUrl!, arn: Attributes!.QueueArn! };
}

/** A queue of the runtime's own (not in the plan), e.g. where a denied subscription delivers. */
export async function createSinkQueue(sqs: SQSClient, name: string): Promise<{ url: string; arn: string }> {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
    return { url: QueueUrl!, arn: Attributes!.QueueArn! };
}

/** Queues in an order where every DLQ comes before the queues that name it. */
export function queuesInRedriveOrder(queues: PlannedResource[]): PlannedResource[] {
    const byArn = new Map(queues.map((q) => [String(q.outputs.arn), q]));
    const done = new Set<PlannedResource>();
    const out: PlannedResource[] = [];
    const visit = (q: PlannedResource, path: PlannedResource[]) => {
        if (done.has(q)) return;
        if (path.includes(q)) throw new Error(`local runtime: queues ${path.map((p) => p.name).join(" → ")} form a redrive cycle`);
        const redrive = typeof q.inputs.redrivePolicy === "string" ? (JSON.parse(q.inputs.redrivePolicy) as { deadLetterTargetArn?: string }) : undefined;
        const dlq = redrive?.deadLetterTargetArn ? byArn.get(redrive.deadLetterTargetArn) : undefined;
        if (redrive?.deadLetterTargetArn && !dlq) throw new Error(`local runtime: queue ${q.name}'s DLQ ${redrive.deadLetterTargetArn} is not in the plan`);
        if (dlq) visit(dlq, [...path, q]);
        done.add(q);
        out.push(q);
    };
    for (const q of queues) visit(q, []);
    return out;
}

// ---- SNS ----

export async function createTopic(sns: SNSClient, r: PlannedResource, ids: Identifiers): Promise<string> {
    refuseUnknownInputs(r, ["name", "namePrefix", "fifoTopic", "contentBasedDeduplication"], ["kmsMasterKeyId", "policy", "tags", "displayName", "tracingConfig", "signatureVersion"]);
    const { TopicArn } = await sns.send(
        new CreateTopicCommand({ Name: physical(r), Attributes: r.inputs.fifoTopic ? { FifoTopic: "true", ...(r.inputs.contentBasedDeduplication ? { ContentBasedDeduplication: "true" } : {}) } : undefined }),
    );
    ids.add(String(r.outputs.arn), TopicArn!);
    return TopicArn!;
}

/** The subscription's attributes, its DLQ translated. */
export function subscriptionAttributes(r: PlannedResource, ids: Identifiers): Record<string, string> {
    refuseUnknownInputs(r, ["topic", "protocol", "endpoint", "filterPolicy", "filterPolicyScope", "rawMessageDelivery", "redrivePolicy"], ["confirmationTimeoutInMinutes", "endpointAutoConfirms"]);
    const i = r.inputs as Record<string, any>;
    const attributes: Record<string, string> = {};
    if (i.filterPolicy !== undefined) attributes.FilterPolicy = String(i.filterPolicy);
    if (i.filterPolicyScope !== undefined) attributes.FilterPolicyScope = String(i.filterPolicyScope);
    if (i.rawMessageDelivery) attributes.RawMessageDelivery = "true";
    if (typeof i.redrivePolicy === "string") {
        const redrive = JSON.parse(i.redrivePolicy) as { deadLetterTargetArn: string };
        attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: ids.local(redrive.deadLetterTargetArn) });
    }
    return attributes;
}

/** Subscribes `endpoint` (a stand-in queue ARN) to the topic with the planned attributes. */
export async function subscribe(sns: SNSClient, r: PlannedResource, ids: Identifiers, endpoint: string): Promise<void> {
    if (r.inputs.protocol !== "sqs") throw new Error(`local runtime: subscription ${r.name} uses protocol ${String(r.inputs.protocol)}; the runtime delivers to sqs only`);
    await sns.send(new SubscribeCommand({ TopicArn: ids.local(String(r.inputs.topic)), Protocol: "sqs", Endpoint: endpoint, Attributes: subscriptionAttributes(r, ids), ReturnSubscriptionArn: true }));
}
