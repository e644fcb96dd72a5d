import { expect } from "chai";
import { MockContext, mockCall, mockOutputs, physicalName, stableUuid } from "../../local/mock-state";

// A region and account other than the defaults, so every ARN below proves it reads the context.
const ctx: MockContext = { region: "eu-west-1", accountId: "111122223333", stack: "test" };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("mock state", () => {
    describe("stableUuid", () => {
        it("is UUID-shaped, the same for the same seed and different for another", () => {
            expect(stableUuid("aws:kms/key:Key::orders-key")).to.match(UUID);
            expect(stableUuid("aws:kms/key:Key::orders-key")).to.equal(stableUuid("aws:kms/key:Key::orders-key"));
            expect(stableUuid("aws:kms/key:Key::orders-key")).not.to.equal(stableUuid("aws:kms/key:Key::audit-key"));
        });
    });

    describe("mockOutputs", () => {
        it("gives a queue its URL as id, an SQS ARN and its generated name, keeping the inputs", () => {
            const { id, state } = mockOutputs("aws:sqs/queue:Queue", "orders-queue", { sqsManagedSseEnabled: true }, ctx);
            const name = physicalName("aws:sqs/queue:Queue", "orders-queue", {}, ctx);
            expect(name).to.match(/^orders-queue-[0-9a-f]{7}$/);
            expect(id).to.equal(`https://sqs.eu-west-1.amazonaws.com/111122223333/${name}`);
            expect(state).to.deep.equal({
                sqsManagedSseEnabled: true,
                name,
                url: `https://sqs.eu-west-1.amazonaws.com/111122223333/${name}`,
                arn: `arn:aws:sqs:eu-west-1:111122223333:${name}`,
            });
        });

        it("uses an explicit physical name over the logical one", () => {
            const { state } = mockOutputs("aws:sqs/queue:Queue", "orders-queue", { name: "orders.fifo" }, ctx);
            expect(state).to.include({ name: "orders.fifo", arn: "arn:aws:sqs:eu-west-1:111122223333:orders.fifo" });
        });

        it("gives a topic its ARN as id", () => {
            const { id, state } = mockOutputs("aws:sns/topic:Topic", "alerts", {}, ctx);
            expect(id).to.match(/^arn:aws:sns:eu-west-1:111122223333:alerts-[0-9a-f]{7}$/);
            expect(state).to.include({ arn: id, name: id.split(":").pop() });
        });

        it("gives a role a global IAM ARN (no region) and a role unique id", () => {
            const { id, state } = mockOutputs("aws:iam/role:Role", "orders-consumer-role", {}, ctx);
            expect(id).to.match(/^orders-consumer-role-[0-9a-f]{7}$/);
            expect(state.arn).to.equal(`arn:aws:iam::111122223333:role/${id}`);
            expect(state.uniqueId).to.match(/^AROA[0-9A-F]{17}$/);
        });

        it("names a log group from its namePrefix with Terraform's 26 characters, stable per logical name", () => {
            const group = (name: string) => mockOutputs("aws:cloudwatch/logGroup:LogGroup", name, { namePrefix: "/aws/lambda/orders-" }, ctx);
            const { id, state } = group("orders-logs");
            expect(state.name).to.match(/^\/aws\/lambda\/orders-[0-9]{26}$/);
            expect(id).to.equal(state.name);
            expect(state.arn).to.equal(`arn:aws:logs:eu-west-1:111122223333:log-group:${state.name}`);
            expect(group("orders-logs").state.name, "same logical name, same physical name").to.equal(state.name);
            expect(group("audit-logs").state.name, "another logical name, another suffix").not.to.equal(state.name);
        });

        it("gives a function its ARN, qualified ARN and the API Gateway invoke ARN", () => {
            const { id, state } = mockOutputs("aws:lambda/function:Function", "orders-consumer", { name: "orders-consumer-fn" }, ctx);
            const arn = "arn:aws:lambda:eu-west-1:111122223333:function:orders-consumer-fn";
            expect(id).to.equal("orders-consumer-fn");
            expect(state).to.include({
                name: "orders-consumer-fn",
                arn,
                qualifiedArn: `${arn}:$LATEST`,
                version: "$LATEST",
                invokeArn: `arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/${arn}/invocations`,
            });
        });

        it("gives a KMS key an id and ARN from a uuid that is stable per type and logical name", () => {
            const { id, state } = mockOutputs("aws:kms/key:Key", "orders-key-cmk", {}, ctx);
            const uuid = stableUuid("aws:kms/key:Key::orders-key-cmk");
            expect(id).to.equal(uuid);
            expect(state).to.include({ keyId: uuid, arn: `arn:aws:kms:eu-west-1:111122223333:key/${uuid}` });
            expect(mockOutputs("aws:kms/key:Key", "orders-key-cmk", {}, ctx).id).to.equal(id);
        });

        it("gives a bucket a global S3 ARN from its bucket name", () => {
            const { id, state } = mockOutputs("aws:s3/bucket:Bucket", "uploads-bucket", { bucket: "uploads-bucket" }, ctx);
            expect(id).to.equal("uploads-bucket");
            expect(state).to.include({ bucket: "uploads-bucket", arn: "arn:aws:s3:::uploads-bucket" });
        });

        it("gives any other type an id from its logical name and an ARN in its service's namespace", () => {
            const { id, state } = mockOutputs("aws:sqs/queuePolicy:QueuePolicy", "orders-queue-policy", { queueUrl: "u" }, ctx);
            expect(id).to.equal("orders-queue-policy-id");
            const name = physicalName("aws:sqs/queuePolicy:QueuePolicy", "orders-queue-policy", {}, ctx);
            expect(state).to.deep.equal({ queueUrl: "u", name, arn: `arn:aws:sqs:eu-west-1:111122223333:${name}` });
        });
    });

    describe("physicalName: what the provider would name a resource", () => {
        it("generates Pulumi's autoname, the logical name, a dash and 7 hex characters, the same on every run", () => {
            const name = physicalName("aws:lambda/function:Function", "orders-consumer-function", {}, ctx);
            expect(name).to.match(/^orders-consumer-function-[0-9a-f]{7}$/);
            expect(physicalName("aws:lambda/function:Function", "orders-consumer-function", {}, ctx)).to.equal(name);
        });

        it("draws other characters for another stack, another type or another logical name", () => {
            const base = physicalName("aws:sqs/queue:Queue", "orders-queue", {}, ctx);
            expect(physicalName("aws:sqs/queue:Queue", "orders-queue", {}, { ...ctx, stack: "prod" })).to.not.equal(base);
            expect(physicalName("aws:sns/topic:Topic", "orders-queue", {}, ctx)).to.not.equal(base);
            expect(physicalName("aws:sqs/queue:Queue", "audit-queue", {}, ctx).slice(-7)).to.not.equal(base.slice(-7));
        });

        it("lower-cases a generated bucket name, as Pulumi does, and keeps a given one", () => {
            expect(physicalName("aws:s3/bucket:Bucket", "Uploads-bucket", {}, ctx)).to.match(/^uploads-bucket-[0-9a-f]{7}$/);
            expect(physicalName("aws:s3/bucket:Bucket", "uploads-bucket", { bucket: "given" }, ctx)).to.equal("given");
            expect(physicalName("aws:sqs/queue:Queue", "orders-queue", { name: "given" }, ctx)).to.equal("given");
        });

        it("fails, as the provider would, when the generated name breaks AWS's limit", () => {
            const logical = "x".repeat(57);
            expect(() => physicalName("aws:iam/role:Role", logical, {}, ctx)).to.throw(new RegExp(`^aws:iam/role:Role "${logical}": the generated name "${logical}-[0-9a-f]{7}" is 65 characters, above the 64 IAM role names allow$`));
            expect(physicalName("aws:iam/role:Role", "x".repeat(56), {}, ctx)).to.have.length(64);
        });
    });

    describe("mockCall", () => {
        it("answers getCallerIdentity, getRegion and getPartition from the context", () => {
            expect(mockCall("aws:index/getCallerIdentity:getCallerIdentity", ctx)).to.include({ accountId: "111122223333", arn: "arn:aws:iam::111122223333:user/offline" });
            expect(mockCall("aws:index/getRegion:getRegion", ctx)).to.include({ name: "eu-west-1", region: "eu-west-1" });
            expect(mockCall("aws:index/getPartition:getPartition", ctx)).to.include({ partition: "aws", dnsSuffix: "amazonaws.com" });
        });

        it("refuses a provider function it has no answer for, naming it and the file to edit", () => {
            expect(() => mockCall("aws:ec2/getVpc:getVpc", ctx)).to.throw(/aws:ec2\/getVpc:getVpc.*add it to local\/mock-state\.ts/);
        });
    });
});
