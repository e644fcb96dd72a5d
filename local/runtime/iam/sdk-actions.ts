// Which IAM requests an AWS SDK v3 call needs, so the local runtime can authorize a function's
// call against its role before the stand-in sees it. The table is explicit on purpose: IAM action
// names do not follow API names (HeadObject is s3:GetObject, ListObjectsV2 is s3:ListBucket on the
// bucket, batch calls are authorized per item), and a call nobody mapped must fail loudly rather
// than pass unchecked.

/** Where the resources live: ARNs are built in this partition, region and account. */
export interface AwsScope {
    region: string;
    account: string;
    /** Defaults to "aws". */
    partition?: string;
}

/** One IAM request a call needs: the action and the ARN it is evaluated on. */
export interface IamRequest {
    action: string;
    resource: string;
}

type Input = Record<string, unknown>;
type Mapping = (input: Input, scope: Required<AwsScope>, call: string) => IamRequest[];

/**
 * The IAM requests an SDK call needs, de-duplicated, in order. `clientName` and `commandName` as
 * the SDK's middleware context reports them (S3Client, GetObjectCommand; the Command suffix is optional).
 * Throws for a command without a mapping, and for an input that does not name its resource.
 */
export function sdkRequests(clientName: string, commandName: string, input: unknown, scope: AwsScope): IamRequest[] {
    const command = commandName.replace(/Command$/, "");
    const call = `${clientName}.${command}`;
    // Own properties only: "constructor" or "toString" must not pass for a mapping.
    const commands = Object.hasOwn(MAPPINGS, clientName) ? MAPPINGS[clientName] : undefined;
    const mapping = commands && Object.hasOwn(commands, command) ? commands[command] : undefined;
    if (!mapping) throw new Error(`no IAM mapping for ${call}: add it to local/runtime/iam/sdk-actions.ts`);
    if (typeof input !== "object" || input === null) throw new Error(`${call}: expected an input object, got ${String(input)}`);
    return dedupe(mapping(input as Input, { partition: "aws", ...scope }, call));
}

/** The commands the table maps, as "<Client>.<Command>" (for specs and error hints). */
export function mappedCommands(): string[] {
    return Object.entries(MAPPINGS).flatMap(([client, commands]) => Object.keys(commands).map((c) => `${client}.${c}`));
}

// ---- input helpers ----

function text(input: Input, key: string, call: string): string {
    const value = input[key];
    if (typeof value !== "string" || value === "") throw new Error(`${call}: expected input.${key} to be a non-empty string, got ${JSON.stringify(value)}`);
    return value;
}

function list(input: Input, key: string, call: string): Input[] {
    const value = input[key];
    if (!Array.isArray(value)) throw new Error(`${call}: expected input.${key} to be an array, got ${JSON.stringify(value)}`);
    return value as Input[];
}

function record(input: Input, key: string, call: string): Input {
    const value = input[key];
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new Error(`${call}: expected input.${key} to be an object, got ${JSON.stringify(value)}`);
    }
    return value as Input;
}

const has = (input: Input, key: string) => input[key] !== undefined && input[key] !== null && input[key] !== "";

function dedupe(requests: IamRequest[]): IamRequest[] {
    const seen = new Set<string>();
    return requests.filter((r) => {
        const key = `${r.action} ${r.resource}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
    });
}

const on = (action: string, resource: string): IamRequest => ({ action, resource });

// ---- S3 ----

const bucketArn = (s: Required<AwsScope>, bucket: string) => `arn:${s.partition}:s3:::${bucket}`;
const objectArn = (s: Required<AwsScope>, bucket: string, key: string) => `arn:${s.partition}:s3:::${bucket}/${key}`;

/** An action on the object the input names (Bucket + Key); a versioned variant when it names a VersionId. */
function s3Object(action: string, versionAction?: string): Mapping {
    return (input, s, call) => [
        on(versionAction && has(input, "VersionId") ? versionAction : action, objectArn(s, text(input, "Bucket", call), text(input, "Key", call))),
    ];
}

function s3Bucket(action: string): Mapping {
    return (input, s, call) => [on(action, bucketArn(s, text(input, "Bucket", call)))];
}

/** CopySource is "bucket/key" URL-encoded, optionally with a leading slash and "?versionId=". */
function copySource(input: Input, s: Required<AwsScope>, call: string): IamRequest {
    const source = text(input, "CopySource", call).replace(/^\//, "");
    const [path, query = ""] = source.split("?");
    const slash = path.indexOf("/");
    if (slash <= 0 || slash === path.length - 1) throw new Error(`${call}: expected input.CopySource as "bucket/key", got ${JSON.stringify(source)}`);
    const versioned = new URLSearchParams(query).has("versionId");
    const key = decodeURIComponent(path.slice(slash + 1));
    return on(versioned ? "s3:GetObjectVersion" : "s3:GetObject", objectArn(s, decodeURIComponent(path.slice(0, slash)), key));
}

/** PutObject also needs s3:PutObjectAcl for a canned or explicit ACL, and s3:PutObjectTagging for tags. */
const putObject: Mapping = (input, s, call) => {
    const arn = objectArn(s, text(input, "Bucket", call), text(input, "Key", call));
    const requests = [on("s3:PutObject", arn)];
    if (["ACL", "GrantFullControl", "GrantRead", "GrantReadACP", "GrantWriteACP"].some((k) => has(input, k))) requests.push(on("s3:PutObjectAcl", arn));
    if (has(input, "Tagging")) requests.push(on("s3:PutObjectTagging", arn));
    return requests;
};

const S3: Record<string, Mapping> = {
    GetObject: s3Object("s3:GetObject", "s3:GetObjectVersion"),
    // HEAD is authorized as the GET it describes.
    HeadObject: s3Object("s3:GetObject", "s3:GetObjectVersion"),
    GetObjectAttributes: s3Object("s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"),
    GetObjectTagging: s3Object("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    PutObjectTagging: s3Object("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    DeleteObjectTagging: s3Object("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    GetObjectAcl: s3Object("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    PutObjectAcl: s3Object("s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
    PutObject: putObject,
    DeleteObject: s3Object("s3:DeleteObject", "s3:DeleteObjectVersion"),
    // One request per key: a batch delete is allowed only if every single delete would be.
    DeleteObjects: (input, s, call) => {
        const bucket = text(input, "Bucket", call);
        return list(record(input, "Delete", call), "Objects", `${call} Delete`).map((o) =>
            on(has(o, "VersionId") ? "s3:DeleteObjectVersion" : "s3:DeleteObject", objectArn(s, bucket, text(o, "Key", `${call} Delete.Objects[]`))),
        );
    },
    CopyObject: (input, s, call) => [copySource(input, s, call), ...putObject(input, s, call)],
    RestoreObject: s3Object("s3:RestoreObject"),
    // Multipart uploads are authorized as the PutObject they build.
    CreateMultipartUpload: putObject,
    UploadPart: s3Object("s3:PutObject"),
    UploadPartCopy: (input, s, call) => [copySource(input, s, call), ...s3Object("s3:PutObject")(input, s, call)],
    CompleteMultipartUpload: s3Object("s3:PutObject"),
    AbortMultipartUpload: s3Object("s3:AbortMultipartUpload"),
    ListParts: s3Object("s3:ListMultipartUploadParts"),
    ListMultipartUploads: s3Bucket("s3:ListBucketMultipartUploads"),
    // Listing (and HEAD on the bucket) is s3:ListBucket on the bucket, not on its objects.
    ListObjects: s3Bucket("s3:ListBucket"),
    ListObjectsV2: s3Bucket("s3:ListBucket"),
    HeadBucket: s3Bucket("s3:ListBucket"),
    ListObjectVersions: s3Bucket("s3:ListBucketVersions"),
    GetBucketLocation: s3Bucket("s3:GetBucketLocation"),
    ListBuckets: () => [on("s3:ListAllMyBuckets", "*")],
};

// ---- DynamoDB ----

/** TableName may be a name or (since 2024) the table's ARN. */
function tableArn(s: Required<AwsScope>, table: string): string {
    return table.startsWith("arn:") ? table : `arn:${s.partition}:dynamodb:${s.region}:${s.account}:table/${table}`;
}

function dynamoTable(action: string): Mapping {
    return (input, s, call) => [on(action, tableArn(s, text(input, "TableName", call)))];
}

/** Query and Scan on an index are authorized on the index's ARN. */
function dynamoRead(action: string): Mapping {
    return (input, s, call) => {
        const table = tableArn(s, text(input, "TableName", call));
        return [on(action, has(input, "IndexName") ? `${table}/index/${text(input, "IndexName", call)}` : table)];
    };
}

/** Batch calls are authorized once per table they touch. */
function dynamoBatch(action: string): Mapping {
    return (input, s, call) => {
        const tables = Object.keys(record(input, "RequestItems", call));
        if (tables.length === 0) throw new Error(`${call}: expected input.RequestItems to name at least one table`);
        return tables.map((t) => on(action, tableArn(s, t)));
    };
}

/** A transaction is authorized as each of its items' single-item actions, per table. */
function dynamoTransaction(actions: Record<string, string>): Mapping {
    return (input, s, call) =>
        list(input, "TransactItems", call).map((item, i) => {
            const kind = Object.keys(actions).find((k) => has(item, k));
            if (!kind) throw new Error(`${call}: expected TransactItems[${i}] to hold one of ${Object.keys(actions).join(", ")}`);
            return on(actions[kind], tableArn(s, text(record(item, kind, call), "TableName", `${call} TransactItems[${i}].${kind}`)));
        });
}

const DYNAMODB: Record<string, Mapping> = {
    GetItem: dynamoTable("dynamodb:GetItem"),
    PutItem: dynamoTable("dynamodb:PutItem"),
    UpdateItem: dynamoTable("dynamodb:UpdateItem"),
    DeleteItem: dynamoTable("dynamodb:DeleteItem"),
    Query: dynamoRead("dynamodb:Query"),
    Scan: dynamoRead("dynamodb:Scan"),
    BatchGetItem: dynamoBatch("dynamodb:BatchGetItem"),
    BatchWriteItem: dynamoBatch("dynamodb:BatchWriteItem"),
    TransactWriteItems: dynamoTransaction({
        Put: "dynamodb:PutItem",
        Update: "dynamodb:UpdateItem",
        Delete: "dynamodb:DeleteItem",
        ConditionCheck: "dynamodb:ConditionCheckItem",
    }),
    TransactGetItems: dynamoTransaction({ Get: "dynamodb:GetItem" }),
    DescribeTable: dynamoTable("dynamodb:DescribeTable"),
    DescribeTimeToLive: dynamoTable("dynamodb:DescribeTimeToLive"),
    ListTables: () => [on("dynamodb:ListTables", "*")],
};

// ---- SQS ----

/**
 * https://sqs.<region>.amazonaws.com/<account>/<name> → arn:aws:sqs:<region>:<account>:<name>.
 * A URL of AWS's (including the legacy <region>.queue.amazonaws.com form) keeps its own region and
 * account; any other host is a local stand-in, whose queue lives in the scope's region and account.
 */
export function queueArnFromUrl(url: string, scope: AwsScope): string {
    const partition = scope.partition ?? "aws";
    let parsed: URL;
    try {
        parsed = new URL(url);
    } catch {
        throw new Error(`expected an SQS queue URL such as https://sqs.<region>.amazonaws.com/<account>/<name>, got ${JSON.stringify(url)}`);
    }
    const segments = parsed.pathname.split("/").filter(Boolean);
    const name = segments[segments.length - 1];
    if (!name) throw new Error(`expected an SQS queue URL ending in the queue's name, got ${JSON.stringify(url)}`);
    const aws = /^(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?$/.exec(parsed.hostname);
    const account = aws && /^\d{12}$/.test(segments[0] ?? "") ? segments[0] : scope.account;
    const region = aws ? (aws[1] ?? aws[2]) : scope.region;
    return `arn:${partition}:sqs:${region}:${account}:${name}`;
}

function sqsQueue(action: string): Mapping {
    return (input, s, call) => {
        const url = text(input, "QueueUrl", call);
        try {
            return [on(action, queueArnFromUrl(url, s))];
        } catch (error) {
            throw new Error(`${call}: ${(error as Error).message}`);
        }
    };
}

const SQS: Record<string, Mapping> = {
    SendMessage: sqsQueue("sqs:SendMessage"),
    // Batch APIs have no actions of their own: they are authorized as the single action.
    SendMessageBatch: sqsQueue("sqs:SendMessage"),
    ReceiveMessage: sqsQueue("sqs:ReceiveMessage"),
    DeleteMessage: sqsQueue("sqs:DeleteMessage"),
    DeleteMessageBatch: sqsQueue("sqs:DeleteMessage"),
    ChangeMessageVisibility: sqsQueue("sqs:ChangeMessageVisibility"),
    ChangeMessageVisibilityBatch: sqsQueue("sqs:ChangeMessageVisibility"),
    GetQueueAttributes: sqsQueue("sqs:GetQueueAttributes"),
    SetQueueAttributes: sqsQueue("sqs:SetQueueAttributes"),
    PurgeQueue: sqsQueue("sqs:PurgeQueue"),
    ListQueueTags: sqsQueue("sqs:ListQueueTags"),
    ListDeadLetterSourceQueues: sqsQueue("sqs:ListDeadLetterSourceQueues"),
    GetQueueUrl: (input, s, call) => {
        const account = has(input, "QueueOwnerAWSAccountId") ? text(input, "QueueOwnerAWSAccountId", call) : s.account;
        return [on("sqs:GetQueueUrl", `arn:${s.partition}:sqs:${s.region}:${account}:${text(input, "QueueName", call)}`)];
    },
    ListQueues: () => [on("sqs:ListQueues", "*")],
};

// ---- SNS ----

function snsTopic(action: string): Mapping {
    return (input, _s, call) => [on(action, text(input, "TopicArn", call))];
}

/** arn:aws:sns:<region>:<account>:<topic>:<subscription id> → the topic's ARN. */
function topicOfSubscription(arn: string, call: string): string {
    const parts = arn.split(":");
    if (parts.length !== 7 || parts[2] !== "sns") throw new Error(`${call}: expected input.SubscriptionArn as arn:aws:sns:<region>:<account>:<topic>:<id>, got ${JSON.stringify(arn)}`);
    return parts.slice(0, 6).join(":");
}

const SNS: Record<string, Mapping> = {
    Publish: (input, _s, call) => {
        // TargetArn is a topic or a mobile endpoint; an SMS (PhoneNumber) has no stand-in to deliver to.
        if (has(input, "TopicArn")) return [on("sns:Publish", text(input, "TopicArn", call))];
        if (has(input, "TargetArn")) return [on("sns:Publish", text(input, "TargetArn", call))];
        throw new Error(`${call}: expected input.TopicArn or input.TargetArn (SMS publishing is not mapped)`);
    },
    PublishBatch: snsTopic("sns:Publish"),
    GetTopicAttributes: snsTopic("sns:GetTopicAttributes"),
    ListSubscriptionsByTopic: snsTopic("sns:ListSubscriptionsByTopic"),
    Subscribe: snsTopic("sns:Subscribe"),
    Unsubscribe: (input, _s, call) => [on("sns:Unsubscribe", topicOfSubscription(text(input, "SubscriptionArn", call), call))],
    ListTopics: () => [on("sns:ListTopics", "*")],
};

// ---- Kinesis ----

/**
 * Kinesis calls name their stream by StreamARN or StreamName. GetRecords (a ShardIterator) and a
 * ListShards page (a NextToken) may name neither: their stream is sealed in an opaque token.
 */
function kinesisStream(action: string): Mapping {
    return (input, s, call) => {
        if (has(input, "StreamARN")) return [on(action, text(input, "StreamARN", call))];
        if (has(input, "StreamName")) return [on(action, `arn:${s.partition}:kinesis:${s.region}:${s.account}:stream/${text(input, "StreamName", call)}`)];
        throw new Error(`${call}: expected input.StreamARN or input.StreamName to authorize against (an opaque token does not name its stream)`);
    };
}

const KINESIS: Record<string, Mapping> = {
    PutRecord: kinesisStream("kinesis:PutRecord"),
    PutRecords: kinesisStream("kinesis:PutRecords"),
    GetRecords: kinesisStream("kinesis:GetRecords"),
    GetShardIterator: kinesisStream("kinesis:GetShardIterator"),
    ListShards: kinesisStream("kinesis:ListShards"),
    DescribeStream: kinesisStream("kinesis:DescribeStream"),
    DescribeStreamSummary: kinesisStream("kinesis:DescribeStreamSummary"),
    ListStreamConsumers: kinesisStream("kinesis:ListStreamConsumers"),
    ListStreams: () => [on("kinesis:ListStreams", "*")],
};

const MAPPINGS: Record<string, Record<string, Mapping>> = {
    S3Client: S3,
    DynamoDBClient: DYNAMODB,
    SQSClient: SQS,
    SNSClient: SNS,
    KinesisClient: KINESIS,
};
