import { expect } from "chai";
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordCommand,
  waitUntilStreamExists,
} from "@aws-sdk/client-kinesis";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  Emulator,
  dynamoClient,
  kinesisClient,
  s3Client,
  startDynalite,
  startKinesisLocal,
  startS3rver,
} from "../../../local/runtime/emulators";

describe("local/runtime/emulators", () => {
  describe("dynalite", () => {
    let emulator: Emulator;
    let client: DynamoDBClient;

    before(async () => {
      emulator = await startDynalite();
      client = dynamoClient(emulator);
    });

    after(async () => {
      client?.destroy();
      await emulator?.stop();
    });

    it("stores and returns an item", async () => {
      await client.send(
        new CreateTableCommand({
          TableName: "smoke",
          AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
          KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
      await client.send(new PutItemCommand({ TableName: "smoke", Item: { pk: { S: "k1" }, value: { N: "42" } } }));

      const { Item } = await client.send(new GetItemCommand({ TableName: "smoke", Key: { pk: { S: "k1" } } }));

      expect(Item).to.deep.equal({ pk: { S: "k1" }, value: { N: "42" } });
    });
  });

  describe("s3rver", () => {
    let emulator: Emulator;
    let client: S3Client;

    before(async () => {
      emulator = await startS3rver();
      client = s3Client(emulator);
    });

    after(async () => {
      client?.destroy();
      await emulator?.stop();
    });

    it("stores and returns an object's bytes", async () => {
      const body = Buffer.from([0, 1, 2, 254, 255, ...Buffer.from("smoke")]);
      await client.send(new CreateBucketCommand({ Bucket: "smoke-bucket" }));
      await client.send(new PutObjectCommand({ Bucket: "smoke-bucket", Key: "dir/object.bin", Body: body }));

      const { Body } = await client.send(new GetObjectCommand({ Bucket: "smoke-bucket", Key: "dir/object.bin" }));
      const received = Buffer.from(await Body!.transformToByteArray());

      // Hex makes a mismatch readable in the assertion diff.
      expect(received.toString("hex")).to.equal(body.toString("hex"));
    });
  });

  describe("kinesis-local", () => {
    let emulator: Emulator;
    let client: KinesisClient;

    before(async () => {
      emulator = await startKinesisLocal();
      client = kinesisClient(emulator);
    });

    after(async () => {
      client?.destroy();
      await emulator?.stop();
    });

    it("returns a put record from TRIM_HORIZON", async () => {
      const StreamName = "smoke-stream";
      await client.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
      await waitUntilStreamExists({ client, maxWaitTime: 10, minDelay: 0.05, maxDelay: 0.5 }, { StreamName });
      const data = Buffer.from(JSON.stringify({ hello: "kinesis" }));
      const { ShardId } = await client.send(new PutRecordCommand({ StreamName, PartitionKey: "pk", Data: data }));

      const { StreamDescription } = await client.send(new DescribeStreamCommand({ StreamName }));
      expect(StreamDescription?.Shards?.map((s) => s.ShardId)).to.deep.equal([ShardId]);
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({ StreamName, ShardId, ShardIteratorType: "TRIM_HORIZON" }),
      );
      const { Records } = await client.send(new GetRecordsCommand({ ShardIterator }));

      expect(Records?.map((r) => Buffer.from(r.Data!).toString())).to.deep.equal([data.toString()]);
    });
  });
});
