import { expect } from "chai";
import { LambdaFunction } from "../../../components/compute/lambda-function";
import { QueueWithDlq } from "../../../components/messaging/queue-with-dlq";
import { AUTONAME_SUFFIX_LENGTH, NAME_RULES, autoName, explicitName, generatedName, nameProblem, namePrefix } from "../../../components/shared/naming";
import { SecureBucket } from "../../../components/storage/secure-bucket";
import { StreamToTable } from "../../../components/systems/stream-to-table";
import { UploadFanOut } from "../../../components/systems/upload-fan-out";
import { ALERT_TOPIC_ARN, record } from "../../support/pulumi-harness";

describe("naming", () => {
    describe("the limits", () => {
        it("are AWS's for each type the components name", () => {
            const max = Object.fromEntries(Object.entries(NAME_RULES).map(([type, rule]) => [type, rule.maxLength]));
            expect(max).to.deep.include({
                "aws:iam/role:Role": 64,
                "aws:lambda/function:Function": 64,
                "aws:sqs/queue:Queue": 80,
                "aws:sns/topic:Topic": 256,
                "aws:cloudwatch/eventRule:EventRule": 64,
                "aws:s3/bucket:Bucket": 63,
                "aws:dynamodb/table:Table": 255,
                "aws:kinesis/stream:Stream": 128,
            });
        });

        it("say what is wrong: too long, too short, or characters the service refuses", () => {
            expect(nameProblem("aws:sqs/queue:Queue", "q".repeat(81))).to.equal("is 81 characters, above the 80 SQS queue names allow");
            expect(nameProblem("aws:sqs/queue:Queue", "q".repeat(80))).to.equal(undefined);
            expect(nameProblem("aws:dynamodb/table:Table", "ab")).to.equal("is 2 characters, below the 3 DynamoDB table names need");
            expect(nameProblem("aws:dynamodb/table:Table", "abc")).to.equal(undefined);
            expect(nameProblem("aws:s3/bucket:Bucket", "Uploads_bucket")).to.equal("has characters S3 bucket names refuse (allowed: lower-case letters, digits, . and -)");
            expect(() => nameProblem("aws:ec2/vpc:Vpc", "x")).to.throw("naming: no name rule for aws:ec2/vpc:Vpc");
        });
    });

    describe("autoName", () => {
        it("passes a logical name whose generated name fits, up to the limit minus Pulumi's 8 characters", () => {
            const longest = "r".repeat(64 - AUTONAME_SUFFIX_LENGTH);
            expect(autoName('X "x"', "aws:iam/role:Role", longest)).to.equal(longest);
            expect(() => autoName('X "x"', "aws:iam/role:Role", `${longest}r`)).to.throw(
                `X "x": IAM role name "${longest}r" plus Pulumi's 8 generated characters is 65 characters, above the 64 IAM role names allow; use a shorter component name`,
            );
        });

        it("lower-cases before checking a bucket, as Pulumi generates it", () => {
            expect(autoName('X "x"', "aws:s3/bucket:Bucket", "Uploads-bucket")).to.equal("Uploads-bucket");
            expect(() => autoName('X "x"', "aws:s3/bucket:Bucket", "uploads_bucket")).to.throw(/has characters S3 bucket names refuse/);
        });

        it("generates what the offline engine and Pulumi would: name, dash, 7 hex characters", () => {
            expect(generatedName("aws:sqs/queue:Queue", "orders-queue", "seed")).to.match(/^orders-queue-[0-9a-f]{7}$/);
            expect(generatedName("aws:s3/bucket:Bucket", "Photos-bucket", "seed")).to.match(/^photos-bucket-[0-9a-f]{7}$/);
        });
    });

    describe("namePrefix and explicitName", () => {
        it("count Terraform's 26 characters after a prefix, and check a given name as it is", () => {
            expect(() => namePrefix('X "x"', "aws:cloudwatch/logGroup:LogGroup", `/aws/lambda/${"l".repeat(480)}-`)).to.throw(/log group name prefix .* plus the 26 generated characters is 519 characters, above the 512/);
            expect(explicitName('X "x"', "aws:kinesis/stream:Stream", undefined, "streamName")).to.equal(undefined);
            expect(() => explicitName('X "x"', "aws:kinesis/stream:Stream", "Event Stream", "streamName")).to.throw(
                'X "x": streamName "Event Stream" has characters Kinesis stream names refuse (allowed: letters, digits, _ . and -)',
            );
        });
    });

    describe("components refuse at construction a name AWS would refuse, in one line naming the component, the resource and the limit", () => {
        /** The message the program stopped with. */
        const refusal = async (build: () => void): Promise<string> => {
            try {
                await record(build);
            } catch (err) {
                return (err as Error).message;
            }
            return expect.fail("expected the program to be refused");
        };

        it("QueueWithDlq: the queue names", async () => {
            const name = "q".repeat(70);
            expect(await refusal(() => new QueueWithDlq(name, { alertTopicArn: ALERT_TOPIC_ARN }))).to.equal(
                `QueueWithDlq "${name}": SQS queue name "${name}-dlq" plus Pulumi's 8 generated characters is 82 characters, above the 80 SQS queue names allow; use a shorter component name`,
            );
        });

        it("LambdaFunction: the role and the function names (64 each)", async () => {
            const role = "f".repeat(52);
            expect(await refusal(() => new LambdaFunction(role, { callback: async () => undefined }))).to.equal(
                `LambdaFunction "${role}": IAM role name "${role}-role" plus Pulumi's 8 generated characters is 65 characters, above the 64 IAM role names allow; use a shorter component name`,
            );
            const fn = "f".repeat(48);
            expect(await refusal(() => new LambdaFunction(fn, { callback: async () => undefined }))).to.match(
                new RegExp(`^LambdaFunction "${fn}": Lambda function name "${fn}-function" plus Pulumi's 8 generated characters is 65 characters, above the 64`),
            );
        });

        it("SecureBucket: characters S3 refuses", async () => {
            expect(await refusal(() => new SecureBucket("uploads_raw"))).to.match(/^SecureBucket "uploads_raw": S3 bucket name "uploads_raw-bucket" plus Pulumi's 8 generated characters has characters S3 bucket names refuse/);
        });

        it("StreamToTable: a given stream or table name", async () => {
            expect(await refusal(() => new StreamToTable("events", { alertTopicArn: ALERT_TOPIC_ARN, streamName: "Event Stream" }))).to.match(/^StreamToTable "events": streamName "Event Stream" has characters/);
            expect(await refusal(() => new StreamToTable("events", { alertTopicArn: ALERT_TOPIC_ARN, tableName: "E".repeat(250) }))).to.match(/rejectsTableName "E+Rejected" is 258 characters, above the 255/);
        });

        it("a system component: through the building block that would break, before anything is deployed", async () => {
            const name = "u".repeat(40);
            expect(await refusal(() => new UploadFanOut(name, { alertTopicArn: ALERT_TOPIC_ARN }))).to.match(new RegExp(`^LambdaFunction "${name}-images-consumer": .* above the 64`));
        });
    });
});
