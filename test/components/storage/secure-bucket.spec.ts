import { expect } from "chai";
import { SecureBucket, SecureBucketArgs } from "../../../components/storage/secure-bucket";
import { Plan } from "../../../local/plan";
import { ofType, one, policyOf, record, generated } from "../../support/pulumi-harness";

const BUCKET = generated("aws:s3/bucket:Bucket", "uploads-bucket");
const BUCKET_ARN = `arn:aws:s3:::${BUCKET}`;

function build(args: SecureBucketArgs = {}): Promise<Plan> {
    return record(() => {
        new SecureBucket("uploads", args);
    });
}

describe("SecureBucket", () => {
    let plan: Plan;
    before(async () => {
        plan = await build();
    });

    it("creates a bucket that is never force-destroyed, under the component's type token", () => {
        expect(one(plan, "aws:s3/bucket:Bucket", "uploads-bucket").inputs.forceDestroy).to.equal(false);
        expect(one(plan, "event-pipelines:index:SecureBucket", "uploads")).to.not.equal(undefined);
    });

    it("blocks all public access", () => {
        expect(one(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "uploads-public-access-block").inputs).to.deep.include({
            bucket: BUCKET,
            blockPublicAcls: true,
            blockPublicPolicy: true,
            ignorePublicAcls: true,
            restrictPublicBuckets: true,
        });
    });

    it("encrypts with SSE-KMS and a Bucket Key, on the AWS-managed key by default", () => {
        const sse = one(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "uploads-encryption");
        expect(sse.inputs.bucket).to.equal(BUCKET);
        expect(sse.inputs.rules).to.deep.equal([{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }]);
    });

    it("uses a customer-managed key when given one", async () => {
        const key = "arn:aws:kms:us-east-1:123456789012:key/1234";
        const withKey = await build({ kmsKeyArn: key });
        const sse = one(withKey, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "uploads-encryption");
        expect((sse.inputs.rules as any[])[0].applyServerSideEncryptionByDefault).to.deep.equal({ sseAlgorithm: "aws:kms", kmsMasterKeyId: key });
    });

    it("turns versioning on and ACLs off (bucket owner enforced)", () => {
        expect(one(plan, "aws:s3/bucketVersioning:BucketVersioning", "uploads-versioning").inputs.versioningConfiguration).to.deep.equal({ status: "Enabled" });
        expect(one(plan, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "uploads-ownership").inputs.rule).to.deep.equal({
            objectOwnership: "BucketOwnerEnforced",
        });
    });

    it("denies any request without TLS on the bucket and its objects, and allows nothing else", () => {
        const policy = one(plan, "aws:s3/bucketPolicy:BucketPolicy", "uploads-policy");
        expect(policy.inputs.bucket).to.equal(BUCKET);
        expect(policyOf(policy)).to.deep.equal({
            Version: "2012-10-17",
            Statement: [
                {
                    Sid: "DenyInsecureTransport",
                    Effect: "Deny",
                    Principal: "*",
                    Action: "s3:*",
                    Resource: [BUCKET_ARN, `${BUCKET_ARN}/*`],
                    Condition: { Bool: { "aws:SecureTransport": "false" } },
                },
            ],
        });
    });

    it("sends the bucket's events to EventBridge", () => {
        expect(one(plan, "aws:s3/bucketNotification:BucketNotification", "uploads-notification").inputs).to.deep.include({
            bucket: BUCKET,
            eventbridge: true,
        });
    });

    it("exposes the bucket name and ARN", async () => {
        let bucket: SecureBucket | undefined;
        await record(() => {
            bucket = new SecureBucket("uploads", {});
        });
        const [name, arn] = await Promise.all([
            new Promise((resolve) => bucket!.bucketName.apply(resolve)),
            new Promise((resolve) => bucket!.arn.apply(resolve)),
        ]);
        expect(name).to.equal(BUCKET);
        expect(arn).to.equal(BUCKET_ARN);
    });

    it("can leave EventBridge notifications off", async () => {
        const off = await build({ eventBridge: false });
        expect(ofType(off, "aws:s3/bucketNotification:BucketNotification")).to.have.length(0);
    });

    it("sets protect on the bucket when asked", async () => {
        const protectedPlan = await build({ protect: true });
        expect(one(protectedPlan, "aws:s3/bucket:Bucket", "uploads-bucket").protect).to.equal(true);
        expect(one(plan, "aws:s3/bucket:Bucket", "uploads-bucket").protect).to.equal(false);
    });

    describe("lifecycle", () => {
        const LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration";

        it("expires noncurrent versions after 30 days and aborts uploads left incomplete after 7, by default, once versioning is on", () => {
            const lifecycle = one(plan, LIFECYCLE, "uploads-lifecycle");
            expect(lifecycle.inputs.bucket).to.equal(BUCKET);
            expect(lifecycle.inputs.rules).to.deep.equal([
                {
                    id: "expire-noncurrent-versions",
                    status: "Enabled",
                    filter: {},
                    noncurrentVersionExpiration: { noncurrentDays: 30 },
                    expiration: { expiredObjectDeleteMarker: true },
                },
                { id: "abort-incomplete-uploads", status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } },
            ]);
            expect(lifecycle.dependencies).to.include(one(plan, "aws:s3/bucketVersioning:BucketVersioning", "uploads-versioning").urn);
        });

        it("takes other days, and 0 turns a rule off (no lifecycle at all when both are off)", async () => {
            const custom = await build({ lifecycle: { noncurrentVersionExpirationDays: 90, abortIncompleteUploadDays: 0 } });
            const rules = one(custom, LIFECYCLE, "uploads-lifecycle").inputs.rules as { id: string; noncurrentVersionExpiration?: unknown }[];
            expect(rules.map((r) => r.id)).to.deep.equal(["expire-noncurrent-versions"]);
            expect(rules[0].noncurrentVersionExpiration).to.deep.equal({ noncurrentDays: 90 });
            const none = await build({ lifecycle: { noncurrentVersionExpirationDays: 0, abortIncompleteUploadDays: 0 } });
            expect(ofType(none, LIFECYCLE)).to.have.length(0);
        });

        it("refuses days S3 would not take, in one line naming the bucket and the field", () => {
            expect(() => new SecureBucket("bad", { lifecycle: { noncurrentVersionExpirationDays: -1 } })).to.throw(
                'SecureBucket "bad": lifecycle.noncurrentVersionExpirationDays = -1: expected an integer from 0 to 36500',
            );
            expect(() => new SecureBucket("bad", { lifecycle: { abortIncompleteUploadDays: 1.5 } })).to.throw(/lifecycle\.abortIncompleteUploadDays = 1\.5/);
        });

        it("moves current versions to cheaper storage classes in day order, and refuses day 0 of a transition", async () => {
            const tiered = await build({ lifecycle: { transitions: [{ days: 365, storageClass: "GLACIER_IR" }, { days: 30, storageClass: "STANDARD_IA" }] } });
            const rules = one(tiered, LIFECYCLE, "uploads-lifecycle").inputs.rules as { id: string; transitions?: unknown }[];
            expect(rules.find((r) => r.id === "transition-current-versions")?.transitions).to.deep.equal([
                { days: 30, storageClass: "STANDARD_IA" },
                { days: 365, storageClass: "GLACIER_IR" },
            ]);
            expect(() => new SecureBucket("bad", { lifecycle: { transitions: [{ days: 0, storageClass: "GLACIER" }] } })).to.throw(
                'SecureBucket "bad": lifecycle.transitions[0].days = 0: expected an integer from 1 to 36500',
            );
        });
    });

    describe("writeOnce", () => {
        it("denies writes under the prefix to all but the writer, and deletes there to everyone, next to the TLS rule", async () => {
            const writer = "arn:aws:iam::123456789012:role/firehose";
            const p = await build({ writeOnce: { prefix: "raw/", writerArn: writer } });
            const statements = policyOf(one(p, "aws:s3/bucketPolicy:BucketPolicy", "uploads-policy")).Statement;
            expect(statements.map((s) => s.Sid)).to.deep.equal(["DenyInsecureTransport", "OnlyTheWriterWrites", "NoOneDeletes"]);
            expect(statements[1]).to.deep.include({ Effect: "Deny", Principal: "*", Resource: `${BUCKET_ARN}/raw/*`, Condition: { ArnNotEquals: { "aws:PrincipalArn": writer } } });
            expect(statements[1].Action).to.include("s3:PutObject");
            expect(statements[2]).to.deep.include({ Effect: "Deny", Principal: "*", Resource: `${BUCKET_ARN}/raw/*` });
            expect(statements[2].Action).to.include.members(["s3:DeleteObject", "s3:DeleteObjectVersion"]);
            expect(statements[2]).to.not.have.property("Condition");
        });
    });
});
