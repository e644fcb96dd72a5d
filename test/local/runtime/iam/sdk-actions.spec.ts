import { expect } from "chai";
import { planAuthorizer } from "../../../../local/runtime/iam/authorizer";
import { mappedCommands, queueArnFromUrl, sdkRequests } from "../../../../local/runtime/iam/sdk-actions";
import { stackPlan } from "../../../support/stack-plans";

const SCOPE = { region: "us-east-1", account: "123456789012" };
const BUCKET = "arn:aws:s3:::uploads";
const QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/images";
const QUEUE = "arn:aws:sqs:us-east-1:123456789012:images";
const TOPIC = "arn:aws:sns:us-east-1:123456789012:uploads";
const TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/Events";
const STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/EventStream";

const map = (client: string, command: string, input: object) => sdkRequests(client, command, input, SCOPE);

describe("local/runtime/iam/sdk-actions", () => {
    describe("S3", () => {
        it("authorizes HeadObject as s3:GetObject on the object", () => {
            expect(map("S3Client", "HeadObject", { Bucket: "uploads", Key: "a/b.jpg" })).to.deep.equal([{ action: "s3:GetObject", resource: `${BUCKET}/a/b.jpg` }]);
        });

        it("authorizes GetObject and HeadObject of a version as s3:GetObjectVersion", () => {
            expect(map("S3Client", "GetObject", { Bucket: "uploads", Key: "k", VersionId: "v1" })).to.deep.equal([{ action: "s3:GetObjectVersion", resource: `${BUCKET}/k` }]);
            expect(map("S3Client", "HeadObject", { Bucket: "uploads", Key: "k", VersionId: "v1" })).to.deep.equal([{ action: "s3:GetObjectVersion", resource: `${BUCKET}/k` }]);
            expect(map("S3Client", "GetObject", { Bucket: "uploads", Key: "k" })).to.deep.equal([{ action: "s3:GetObject", resource: `${BUCKET}/k` }]);
        });

        it("authorizes ListObjectsV2, ListObjects and HeadBucket as s3:ListBucket on the bucket ARN", () => {
            for (const command of ["ListObjectsV2", "ListObjects", "HeadBucket"]) {
                expect(map("S3Client", command, { Bucket: "uploads", Prefix: "a/" }), command).to.deep.equal([{ action: "s3:ListBucket", resource: BUCKET }]);
            }
        });

        it("authorizes CopyObject as s3:GetObject on the source and s3:PutObject on the destination", () => {
            expect(map("S3Client", "CopyObject", { Bucket: "uploads", Key: "thumbnails/b.jpg", CopySource: "/uploads/a%20b.jpg" })).to.deep.equal([
                { action: "s3:GetObject", resource: `${BUCKET}/a b.jpg` },
                { action: "s3:PutObject", resource: `${BUCKET}/thumbnails/b.jpg` },
            ]);
            expect(map("S3Client", "CopyObject", { Bucket: "other", Key: "b", CopySource: "uploads/a?versionId=v2" })[0]).to.deep.equal({
                action: "s3:GetObjectVersion",
                resource: `${BUCKET}/a`,
            });
        });

        it("authorizes DeleteObjects as s3:DeleteObject per key (s3:DeleteObjectVersion for a version)", () => {
            const requests = map("S3Client", "DeleteObjects", { Bucket: "uploads", Delete: { Objects: [{ Key: "a" }, { Key: "b" }, { Key: "a" }, { Key: "c", VersionId: "v" }] } });
            expect(requests).to.deep.equal([
                { action: "s3:DeleteObject", resource: `${BUCKET}/a` },
                { action: "s3:DeleteObject", resource: `${BUCKET}/b` },
                { action: "s3:DeleteObjectVersion", resource: `${BUCKET}/c` },
            ]);
        });

        it("adds s3:PutObjectAcl and s3:PutObjectTagging to a PutObject that sets an ACL or tags", () => {
            expect(map("S3Client", "PutObject", { Bucket: "uploads", Key: "k", Body: "x" }).map((r) => r.action)).to.deep.equal(["s3:PutObject"]);
            expect(map("S3Client", "PutObject", { Bucket: "uploads", Key: "k", ACL: "private", Tagging: "a=b" }).map((r) => r.action)).to.deep.equal([
                "s3:PutObject",
                "s3:PutObjectAcl",
                "s3:PutObjectTagging",
            ]);
        });

        it("builds ARNs in the scope's partition", () => {
            expect(sdkRequests("S3Client", "GetObject", { Bucket: "b", Key: "k" }, { ...SCOPE, partition: "aws-cn" })[0].resource).to.equal("arn:aws-cn:s3:::b/k");
        });
    });

    describe("SQS", () => {
        it("authorizes the batch calls as their single actions on the queue named by QueueUrl", () => {
            expect(map("SQSClient", "SendMessageBatch", { QueueUrl: QUEUE_URL, Entries: [] })).to.deep.equal([{ action: "sqs:SendMessage", resource: QUEUE }]);
            expect(map("SQSClient", "DeleteMessageBatch", { QueueUrl: QUEUE_URL, Entries: [] })).to.deep.equal([{ action: "sqs:DeleteMessage", resource: QUEUE }]);
            expect(map("SQSClient", "ChangeMessageVisibilityBatch", { QueueUrl: QUEUE_URL, Entries: [] })).to.deep.equal([
                { action: "sqs:ChangeMessageVisibility", resource: QUEUE },
            ]);
        });

        it("turns a queue URL into the queue's ARN", () => {
            expect(queueArnFromUrl("https://sqs.eu-west-1.amazonaws.com/210987654321/q", SCOPE)).to.equal("arn:aws:sqs:eu-west-1:210987654321:q");
            expect(queueArnFromUrl("https://us-west-2.queue.amazonaws.com/210987654321/q", SCOPE)).to.equal("arn:aws:sqs:us-west-2:210987654321:q");
            // A stand-in's URL says nothing about AWS: its queue is the scope's.
            expect(queueArnFromUrl("http://127.0.0.1:4566/000000000000/q", SCOPE)).to.equal("arn:aws:sqs:us-east-1:123456789012:q");
            expect(() => queueArnFromUrl("images", SCOPE)).to.throw(/expected an SQS queue URL/);
        });
    });

    describe("SNS", () => {
        it("authorizes PublishBatch as sns:Publish on the topic", () => {
            expect(map("SNSClient", "PublishBatch", { TopicArn: TOPIC, PublishBatchRequestEntries: [] })).to.deep.equal([{ action: "sns:Publish", resource: TOPIC }]);
        });

        it("authorizes Unsubscribe on the subscription's topic", () => {
            expect(map("SNSClient", "Unsubscribe", { SubscriptionArn: `${TOPIC}:0e42b9e6` })).to.deep.equal([{ action: "sns:Unsubscribe", resource: TOPIC }]);
        });
    });

    describe("DynamoDB", () => {
        it("authorizes BatchWriteItem and BatchGetItem once per table in RequestItems", () => {
            const RequestItems = { Events: [], Rejects: [] };
            expect(map("DynamoDBClient", "BatchWriteItem", { RequestItems })).to.deep.equal([
                { action: "dynamodb:BatchWriteItem", resource: TABLE },
                { action: "dynamodb:BatchWriteItem", resource: "arn:aws:dynamodb:us-east-1:123456789012:table/Rejects" },
            ]);
            expect(map("DynamoDBClient", "BatchGetItem", { RequestItems }).map((r) => r.action)).to.deep.equal(["dynamodb:BatchGetItem", "dynamodb:BatchGetItem"]);
        });

        it("authorizes TransactWriteItems as each item's single-item action on its table", () => {
            const requests = map("DynamoDBClient", "TransactWriteItems", {
                TransactItems: [
                    { Put: { TableName: "Events", Item: {} } },
                    { Update: { TableName: "Events", Key: {} } },
                    { Delete: { TableName: "Rejects", Key: {} } },
                    { ConditionCheck: { TableName: "Events", Key: {} } },
                    { Put: { TableName: "Events", Item: {} } },
                ],
            });
            expect(requests).to.deep.equal([
                { action: "dynamodb:PutItem", resource: TABLE },
                { action: "dynamodb:UpdateItem", resource: TABLE },
                { action: "dynamodb:DeleteItem", resource: "arn:aws:dynamodb:us-east-1:123456789012:table/Rejects" },
                { action: "dynamodb:ConditionCheckItem", resource: TABLE },
            ]);
        });

        it("authorizes Query and Scan on an index on the index's ARN", () => {
            expect(map("DynamoDBClient", "Query", { TableName: "Events", IndexName: "bySource" })).to.deep.equal([{ action: "dynamodb:Query", resource: `${TABLE}/index/bySource` }]);
            expect(map("DynamoDBClient", "Scan", { TableName: "Events", IndexName: "bySource" })).to.deep.equal([{ action: "dynamodb:Scan", resource: `${TABLE}/index/bySource` }]);
            expect(map("DynamoDBClient", "Query", { TableName: "Events" })).to.deep.equal([{ action: "dynamodb:Query", resource: TABLE }]);
        });

        it("accepts a table ARN as TableName", () => {
            expect(map("DynamoDBClient", "GetItem", { TableName: TABLE, Key: {} })).to.deep.equal([{ action: "dynamodb:GetItem", resource: TABLE }]);
        });
    });

    describe("Kinesis", () => {
        const commands = ["PutRecord", "PutRecords", "GetRecords", "GetShardIterator", "ListShards", "DescribeStream", "DescribeStreamSummary"];

        it("authorizes the stream calls on the stream named by StreamName or StreamARN", () => {
            for (const command of commands) {
                expect(map("KinesisClient", command, { StreamName: "EventStream" }), command).to.deep.equal([{ action: `kinesis:${command}`, resource: STREAM }]);
                expect(map("KinesisClient", command, { StreamARN: STREAM }), command).to.deep.equal([{ action: `kinesis:${command}`, resource: STREAM }]);
            }
        });

        it("refuses a GetRecords that names its stream only through the shard iterator", () => {
            expect(() => map("KinesisClient", "GetRecords", { ShardIterator: "AAAA" })).to.throw("KinesisClient.GetRecords: expected input.StreamARN or input.StreamName");
        });
    });

    describe("the table", () => {
        it("accepts the command name as the SDK's middleware reports it, with the Command suffix", () => {
            expect(map("S3Client", "HeadObjectCommand", { Bucket: "uploads", Key: "k" })).to.deep.equal(map("S3Client", "HeadObject", { Bucket: "uploads", Key: "k" }));
        });

        it("throws a one-line error for an unmapped command", () => {
            expect(() => map("S3Client", "SelectObjectContentCommand", {})).to.throw(
                /^no IAM mapping for S3Client\.SelectObjectContent: add it to local\/runtime\/iam\/sdk-actions\.ts$/,
            );
            expect(() => map("LambdaClient", "Invoke", {})).to.throw("no IAM mapping for LambdaClient.Invoke: add it to local/runtime/iam/sdk-actions.ts");
            // Not a mapping either: a name inherited from Object.prototype.
            expect(() => map("S3Client", "constructor", {})).to.throw("no IAM mapping for S3Client.constructor");
        });

        it("names the input field a call is missing", () => {
            expect(() => map("SQSClient", "SendMessage", { MessageBody: "x" })).to.throw("SQSClient.SendMessage: expected input.QueueUrl to be a non-empty string");
            expect(() => map("S3Client", "GetObject", { Bucket: "b" })).to.throw("S3Client.GetObject: expected input.Key");
        });

        // Each mapped command, with an input that names the dev stack's resources: whatever the
        // table maps to must be an action iam-simulate knows, on a resource of a type that action takes.
        it("maps every command to actions and resource types IAM knows", async () => {
            const plan = await stackPlan("dev");
            const authorizer = planAuthorizer(plan);
            const role = plan.resources.find((r) => r.name === "uploads-images-consumer-role")!.outputs.arn as string;
            const queueUrl = plan.resources.find((r) => r.name === "uploads-images-queue")!.outputs.url as string;
            const topic = plan.resources.find((r) => r.name === "uploads-topic-sns")!.outputs.arn as string;
            const object = { Bucket: "uploads-bucket-6cba64a", Key: "photo.jpg" };
            const table = { TableName: "EventLogsDev" };
            const stream = { StreamName: "EventStreamDev" };
            const samples: Record<string, object> = {
                ...Object.fromEntries(
                    ["GetObject", "HeadObject", "GetObjectAttributes", "GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging", "GetObjectAcl", "PutObjectAcl", "PutObject", "DeleteObject", "RestoreObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload", "ListParts"].map((c) => [`S3Client.${c}`, { ...object, VersionId: "v1", ACL: "private", Tagging: "a=b" }]),
                ),
                ...Object.fromEntries(["ListMultipartUploads", "ListObjects", "ListObjectsV2", "HeadBucket", "ListObjectVersions", "GetBucketLocation"].map((c) => [`S3Client.${c}`, { Bucket: object.Bucket }])),
                "S3Client.DeleteObjects": { Bucket: object.Bucket, Delete: { Objects: [{ Key: "a" }, { Key: "b", VersionId: "v" }] } },
                "S3Client.CopyObject": { ...object, CopySource: `${object.Bucket}/a.jpg?versionId=v` },
                "S3Client.UploadPartCopy": { ...object, CopySource: `${object.Bucket}/a.jpg` },
                "S3Client.ListBuckets": {},
                ...Object.fromEntries(["GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable", "DescribeTimeToLive"].map((c) => [`DynamoDBClient.${c}`, table])),
                "DynamoDBClient.Query": { ...table, IndexName: "bySourceAndTime" },
                "DynamoDBClient.Scan": table,
                "DynamoDBClient.BatchGetItem": { RequestItems: { EventLogsDev: {} } },
                "DynamoDBClient.BatchWriteItem": { RequestItems: { EventLogsDev: [] } },
                "DynamoDBClient.TransactWriteItems": { TransactItems: [{ Put: table }, { Update: table }, { Delete: table }, { ConditionCheck: table }] },
                "DynamoDBClient.TransactGetItems": { TransactItems: [{ Get: table }] },
                "DynamoDBClient.ListTables": {},
                ...Object.fromEntries(
                    ["SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "GetQueueAttributes", "SetQueueAttributes", "PurgeQueue", "ListQueueTags", "ListDeadLetterSourceQueues"].map((c) => [`SQSClient.${c}`, { QueueUrl: queueUrl }]),
                ),
                "SQSClient.GetQueueUrl": { QueueName: "uploads-images-queue-44a2530" },
                "SQSClient.ListQueues": {},
                ...Object.fromEntries(["Publish", "PublishBatch", "GetTopicAttributes", "ListSubscriptionsByTopic", "Subscribe"].map((c) => [`SNSClient.${c}`, { TopicArn: topic }])),
                "SNSClient.Unsubscribe": { SubscriptionArn: `${topic}:c23ad6f1` },
                "SNSClient.ListTopics": {},
                ...Object.fromEntries(["PutRecord", "PutRecords", "GetRecords", "GetShardIterator", "ListShards", "DescribeStream", "DescribeStreamSummary", "ListStreamConsumers"].map((c) => [`KinesisClient.${c}`, stream])),
                "KinesisClient.ListStreams": {},
            };
            expect(Object.keys(samples).sort(), "a sample input per mapped command").to.deep.equal(mappedCommands().sort());
            for (const [call, input] of Object.entries(samples)) {
                const [client, command] = call.split(".");
                for (const request of sdkRequests(client, command, input, authorizer.scope)) {
                    // Throws for an action or resource type iam-simulate rejects; allowed or not does not matter here.
                    const decision = await authorizer.authorize({ principal: { role }, ...request });
                    expect(decision.message, call).to.be.a("string");
                }
            }
        });
    });
});
