import { expect } from "chai";
import { MockContext, mockCall, mockOutputs, stableUuid } from "../../local/mock-state";

// A region and account other than the defaults, so every ARN below proves it reads the context.
const ctx: MockContext = { region: "eu-west-1", accountId: "111122223333" };
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
        it("gives a queue its URL as id, an SQS ARN and its name, keeping the inputs", () => {
            const { id, state } = mockOutputs("aws:sqs/queue:Queue", "orders-queue", { sqsManagedSseEnabled: true }, ctx);
            expect(id).to.equal("https://sqs.eu-west-1.amazonaws.com/111122223333/orders-queue");
            expect(state).to.deep.equal({
                sqsManagedSseEnabled: true,
                name: "orders-queue",
                url: "https://sqs.eu-west-1.amazonaws.com/111122223333/orders-queue",
                arn: "arn:aws:sqs:eu-west-1:111122223333:orders-queue",
            });
        });

        it("uses an explicit physical name over the logical one", () => {
            const { state } = mockOutputs("aws:sqs/queue:Queue", "orders-queue", { name: "orders.fifo" }, ctx);
            expect(state).to.include({ name: "orders.fifo", arn: "arn:aws:sqs:eu-west-1:111122223333:orders.fifo" });
        });

        it("gives a topic its ARN as id", () => {
            const { id, state } = mockOutputs("aws:sns/topic:Topic", "alerts", {}, ctx);
            expect(id).to.equal("arn:aws:sns:eu-west-1:111122223333:alerts");
            expect(state).to.include({ arn: id, name: "alerts" });
        });

        it("gives a role a global IAM ARN (no region) and a role unique id", () => {
            const { id, state } = mockOutputs("aws:iam/role:Role", "orders-consumer-role", {}, ctx);
            expect(id).to.equal("orders-consumer-role");
            expect(state.arn).to.equal("arn:aws:iam::111122223333:role/orders-consumer-role");
            expect(state.uniqueId).to.match(/^AROA[0-9A-F]{17}$/);
        });

        it("names a log group from its namePrefix with a suffix that is stable per logical name", () => {
            const group = (name: string) => mockOutputs("aws:cloudwatch/logGroup:LogGroup", name, { namePrefix: "/aws/lambda/orders-" }, ctx);
            const { id, state } = group("orders-logs");
            expect(state.name).to.match(/^\/aws\/lambda\/orders-[0-9a-f]{7}$/);
            expect(state.name).to.equal(`/aws/lambda/orders-${stableUuid("orders-logs").slice(0, 7)}`);
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
            const { id, state } = mockOutputs("aws:s3/bucket:Bucket", "uploads", { bucket: "uploads-bucket" }, ctx);
            expect(id).to.equal("uploads-bucket");
            expect(state).to.include({ bucket: "uploads-bucket", arn: "arn:aws:s3:::uploads-bucket" });
        });

        it("gives any other type an id from its logical name and an ARN in its service's namespace", () => {
            const { id, state } = mockOutputs("aws:sqs/queuePolicy:QueuePolicy", "orders-queue-policy", { queueUrl: "u" }, ctx);
            expect(id).to.equal("orders-queue-policy-id");
            expect(state).to.deep.equal({ queueUrl: "u", name: "orders-queue-policy", arn: "arn:aws:sqs:eu-west-1:111122223333:orders-queue-policy" });
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
