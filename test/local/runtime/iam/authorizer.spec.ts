import { expect } from "chai";
import type { Plan, PlannedResource } from "../../../../local/plan";
import { authorizeSdkCall, planAuthorizer, planPolicies, planScope } from "../../../../local/runtime/iam/authorizer";
import type { AccessRequest } from "../../../../local/runtime/types";
import { stackPlan } from "../../../support/stack-plans";

const ACCOUNT = "123456789012";

/** A copy of the plan with extra resources, or with some resources' inputs replaced. */
function withChanges(plan: Plan, extra: Partial<PlannedResource>[], replace: Record<string, Record<string, unknown>> = {}): Plan {
    const copy: Plan = JSON.parse(JSON.stringify(plan));
    for (const r of copy.resources) if (replace[r.name]) r.inputs = { ...r.inputs, ...replace[r.name] };
    for (const r of extra) {
        copy.resources.push({ urn: `urn:test::${r.name}`, custom: true, dependencies: [], inputs: {}, outputs: {}, protect: false, type: "", name: "", ...r });
    }
    return copy;
}

const policy = (...Statement: object[]) => JSON.stringify({ Version: "2012-10-17", Statement });

describe("local/runtime/iam/authorizer", () => {
    let plan: Plan;
    const arn = (name: string) => {
        const found = plan.resources.find((r) => r.name === name);
        if (!found) throw new Error(`no ${name} in the dev plan`);
        return found.outputs.arn as string;
    };
    const role = (name: string) => ({ role: arn(name) });
    const service = (name: string, sourceArn: string, sourceAccount = ACCOUNT) => ({ service: name, sourceArn, sourceAccount });

    before(async () => {
        plan = await stackPlan("dev");
    });

    it("reads the partition, region and account from the plan's ARNs", () => {
        expect(planScope(plan)).to.deep.equal({ partition: "aws", region: "us-east-1", account: ACCOUNT });
    });

    describe("a function's role", () => {
        it("lets the image processor get an object of the uploads bucket, not delete it", async () => {
            const authorizer = planAuthorizer(plan);
            const object = `${arn("uploads-bucket")}/photos/cat.jpg`;
            expect(await authorizer.authorize({ principal: role("uploads-images-consumer-role"), action: "s3:GetObject", resource: object })).to.deep.equal({
                allowed: true,
                message: "allowed",
            });
            const denied = await authorizer.authorize({ principal: role("uploads-images-consumer-role"), action: "s3:DeleteObject", resource: object });
            expect(denied).to.deep.equal({
                allowed: false,
                message:
                    "User: arn:aws:sts::123456789012:assumed-role/uploads-images-consumer-role-ccbcd93/uploads-images-consumer-function-53350ab " +
                    `is not authorized to perform: s3:DeleteObject on resource: ${object} because no identity-based policy allows the s3:DeleteObject action`,
            });
        });

        it("lets the image processor put thumbnails only under thumbnails/", async () => {
            const authorizer = planAuthorizer(plan);
            const put = (key: string) => authorizer.authorize({ principal: role("uploads-images-consumer-role"), action: "s3:PutObject", resource: `${arn("uploads-bucket")}/${key}` });
            expect((await put("thumbnails/cat.jpg")).allowed).to.equal(true);
            expect((await put("photos/cat.jpg")).allowed).to.equal(false);
        });

        it("lets the stream consumer batch-write its table, not the audit table", async () => {
            const authorizer = planAuthorizer(plan);
            const write = (table: string) => authorizer.authorize({ principal: role("events-consumer-role"), action: "dynamodb:BatchWriteItem", resource: arn(table) });
            expect((await write("events-table")).allowed).to.equal(true);
            const denied = await write("uploads-audit-records-table");
            expect(denied.allowed).to.equal(false);
            expect(denied.message).to.match(/^User: arn:aws:sts::123456789012:assumed-role\/events-consumer-role-520c997\/events-consumer-function-2b89449 is not authorized/);
            expect(denied.message).to.match(/because no identity-based policy allows the dynamodb:BatchWriteItem action$/);
        });

        it("lets the stream consumer decrypt with its stream's key, whose key policy delegates to IAM, and no other key", async () => {
            const authorizer = planAuthorizer(plan);
            const decrypt = (key: string) => authorizer.authorize({ principal: role("events-consumer-role"), action: "kms:Decrypt", resource: arn(key) });
            expect((await decrypt("events-stream-key-cmk")).allowed).to.equal(true);
            expect((await decrypt("uploads-topic-key-cmk")).allowed).to.equal(false);
        });

        it("denies every request sent without TLS: the bucket policy's explicit deny", async () => {
            const plainHttp = planAuthorizer(plan, { secureTransport: false });
            const decision = await plainHttp.authorize({ principal: role("uploads-images-consumer-role"), action: "s3:GetObject", resource: `${arn("uploads-bucket")}/a.jpg` });
            expect(decision.allowed).to.equal(false);
            expect(decision.message).to.match(/ on resource: arn:aws:s3:::uploads-bucket-6cba64a\/a\.jpg with an explicit deny in a resource-based policy$/);
        });
    });

    describe("the API Gateway integration's role", () => {
        it("may send to the inbox queue and no other queue", async () => {
            const authorizer = planAuthorizer(plan);
            const queues = plan.resources.filter((r) => r.type === "aws:sqs/queue:Queue").map((r) => r.outputs.arn as string);
            const allowed: string[] = [];
            for (const queue of queues) {
                if ((await authorizer.authorize({ principal: role("messages-role"), action: "sqs:SendMessage", resource: queue })).allowed) allowed.push(queue);
            }
            expect(queues).to.have.length.greaterThan(1);
            expect(allowed).to.deep.equal([arn("messages-inbox-queue")]);
            expect((await authorizer.authorize({ principal: role("messages-role"), action: "sqs:ReceiveMessage", resource: arn("messages-inbox-queue") })).allowed).to.equal(false);
        });
    });

    describe("a service principal", () => {
        it("lets SNS send to the images queue for the uploads topic only", async () => {
            const authorizer = planAuthorizer(plan);
            const send = (sourceArn: string, sourceAccount = ACCOUNT) =>
                authorizer.authorize({ principal: service("sns.amazonaws.com", sourceArn, sourceAccount), action: "sqs:SendMessage", resource: arn("uploads-images-queue") });
            expect(await send(arn("uploads-topic-sns"))).to.deep.equal({ allowed: true, message: "allowed" });
            expect(await send(arn("alerts-topic-sns"))).to.deep.equal({
                allowed: false,
                message: `User: sns.amazonaws.com is not authorized to perform: sqs:SendMessage on resource: ${arn("uploads-images-queue")} because no resource-based policy allows the sqs:SendMessage action`,
            });
            expect((await send(arn("uploads-topic-sns"), "210987654321")).allowed).to.equal(false);
        });

        it("does not let another service send to the images queue for the uploads topic", async () => {
            const decision = await planAuthorizer(plan).authorize({
                principal: service("events.amazonaws.com", arn("uploads-topic-sns")),
                action: "sqs:SendMessage",
                resource: arn("uploads-images-queue"),
            });
            expect(decision.allowed).to.equal(false);
        });

        it("lets EventBridge publish to the uploads topic for the uploads-created rule, and send to its undelivered queue", async () => {
            const authorizer = planAuthorizer(plan);
            const rule = arn("uploads-created-rule");
            const events = (sourceArn: string, action: string, resource: string) => authorizer.authorize({ principal: service("events.amazonaws.com", sourceArn), action, resource });
            expect((await events(rule, "sns:Publish", arn("uploads-topic-sns"))).allowed).to.equal(true);
            expect((await events(rule, "sqs:SendMessage", arn("uploads-created-undelivered-queue"))).allowed).to.equal(true);
            expect((await events(`${rule}-other`, "sns:Publish", arn("uploads-topic-sns"))).allowed).to.equal(false);
            expect((await events(rule, "sns:Publish", arn("alerts-topic-sns"))).allowed).to.equal(false);
        });

        it("is denied by a target without a resource policy", async () => {
            const decision = await planAuthorizer(plan).authorize({
                principal: service("events.amazonaws.com", arn("uploads-created-rule")),
                action: "dynamodb:PutItem",
                resource: arn("events-table"),
            });
            expect(decision).to.deep.equal({
                allowed: false,
                message: `User: events.amazonaws.com is not authorized to perform: dynamodb:PutItem on resource: ${arn("events-table")} because no resource-based policy allows the dynamodb:PutItem action`,
            });
        });
    });

    describe("the plan's policies", () => {
        const thumbnailWriter = (name: string) => ({ name, policy: policy({ Effect: "Allow", Action: "s3:DeleteObject", Resource: "arn:aws:s3:::uploads-bucket-6cba64a/thumbnails/*" }) });
        const deleteThumbnail = (authorizer: ReturnType<typeof planAuthorizer>) =>
            authorizer.authorize({ principal: role("uploads-images-consumer-role"), action: "s3:DeleteObject", resource: "arn:aws:s3:::uploads-bucket-6cba64a/thumbnails/a.jpg" });

        it("include a role's inlinePolicies", async () => {
            const changed = withChanges(plan, [], { "uploads-images-consumer-role": { inlinePolicies: [thumbnailWriter("deleter")] } });
            expect((await deleteThumbnail(planAuthorizer(changed))).allowed).to.equal(true);
            expect((await deleteThumbnail(planAuthorizer(plan))).allowed).to.equal(false);
        });

        it("include a customer-managed policy attached with a RolePolicyAttachment", async () => {
            const policyArn = `arn:aws:iam::${ACCOUNT}:policy/thumbnail-deleter`;
            const changed = withChanges(plan, [
                { type: "aws:iam/policy:Policy", name: "thumbnail-deleter", inputs: { policy: thumbnailWriter("x").policy }, outputs: { arn: policyArn, id: policyArn } },
                { type: "aws:iam/rolePolicyAttachment:RolePolicyAttachment", name: "attach", inputs: { role: "uploads-images-consumer-role-ccbcd93", policyArn } },
            ]);
            expect((await deleteThumbnail(planAuthorizer(changed))).allowed).to.equal(true);
        });

        it("fail loudly on an AWS-managed policy, naming it", async () => {
            const policyArn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
            const changed = withChanges(plan, [
                { type: "aws:iam/rolePolicyAttachment:RolePolicyAttachment", name: "basic", inputs: { role: "uploads-images-consumer-role-ccbcd93", policyArn } },
            ]);
            const authorizer = planAuthorizer(changed);
            const error = await deleteThumbnail(authorizer).then(
                () => undefined,
                (e: Error) => e,
            );
            expect(error?.message).to.equal(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment basic: AWS-managed policy arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole cannot be evaluated locally; use a customer-managed or inline policy",
            );
            // Other roles are still evaluated.
            expect((await authorizer.authorize({ principal: role("messages-role"), action: "sqs:SendMessage", resource: arn("messages-inbox-queue") })).allowed).to.equal(true);
        });

        it("word an identity policy's explicit deny as AWS does", async () => {
            const changed = withChanges(plan, [
                { type: "aws:iam/rolePolicy:RolePolicy", name: "deny", inputs: { role: "uploads-images-consumer-role-ccbcd93", policy: policy({ Effect: "Deny", Action: "s3:*", Resource: "*" }) } },
            ]);
            const decision = await planAuthorizer(changed).authorize({ principal: role("uploads-images-consumer-role"), action: "s3:GetObject", resource: `${arn("uploads-bucket")}/a.jpg` });
            expect(decision.allowed).to.equal(false);
            expect(decision.message).to.match(/ is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::uploads-bucket-6cba64a\/a\.jpg with an explicit deny in an identity-based policy$/);
        });

        it("let a same-account resource policy alone allow a role, as AWS does", async () => {
            const queue = arn("events-failures-queue");
            const queuePolicy = plan.resources.find((r) => r.name === "events-failures-queue-policy")!;
            const statements = JSON.parse(queuePolicy.inputs.policy as string).Statement;
            const changed = withChanges(plan, [], {
                "events-failures-queue-policy": { policy: policy(...statements, { Effect: "Allow", Principal: { AWS: arn("uploads-audit-consumer-role") }, Action: "sqs:SendMessage", Resource: queue }) },
            });
            const send = (p: Plan) => planAuthorizer(p).authorize({ principal: role("uploads-audit-consumer-role"), action: "sqs:SendMessage", resource: queue });
            expect((await send(changed)).allowed).to.equal(true);
            expect((await send(plan)).allowed).to.equal(false);
        });

        it("give a KMS key without a key policy AWS's default one, which delegates to IAM", async () => {
            const decrypt = (p: Plan) => planAuthorizer(p).authorize({ principal: role("events-consumer-role"), action: "kms:Decrypt", resource: arn("events-stream-key-cmk") });
            const withoutKeyPolicy: Plan = { ...plan, resources: plan.resources.filter((r) => r.name !== "events-stream-key-policy") };
            expect((await decrypt(withoutKeyPolicy)).allowed).to.equal(true);
            // A key policy that does not trust the account keeps the role out, whatever its IAM policies say.
            const serviceOnly = policy({ Effect: "Allow", Principal: { Service: "events.amazonaws.com" }, Action: "kms:Decrypt", Resource: "*" });
            const decision = await decrypt(withChanges(plan, [], { "events-stream-key-policy": { policy: serviceOnly } }));
            expect(decision.allowed).to.equal(false);
            expect(decision.message).to.match(/because no resource-based policy allows the kms:Decrypt action$/);
        });

        it("find the resource policy of an object's bucket and of a queue's URL", () => {
            const policies = planPolicies(plan);
            expect(policies.resourcePolicy(`${arn("uploads-bucket")}/any/key`)?.name).to.equal("uploads-policy");
            expect(policies.resourcePolicy(arn("uploads-images-queue"))?.name).to.equal("uploads-images-queue-policy");
            expect(policies.resourcePolicy(arn("uploads-topic-sns"))?.name).to.equal("uploads-topic-policy");
            expect(policies.resourcePolicy(arn("events-stream-key-cmk"))?.name).to.equal("events-stream-key-policy");
            expect(policies.resourcePolicy(arn("events-table"))).to.equal(undefined);
        });
    });

    describe("errors", () => {
        it("throws a one-line error naming an unknown role", async () => {
            const error = await planAuthorizer(plan)
                .authorize({ principal: { role: `arn:aws:iam::${ACCOUNT}:role/nobody` }, action: "s3:GetObject", resource: `${arn("uploads-bucket")}/a` })
                .then(
                    () => undefined,
                    (e: Error) => e,
                );
            expect(error?.message).to.equal("unknown role arn:aws:iam::123456789012:role/nobody: no aws:iam/role:Role in plan dev has this ARN");
        });

        it("throws a one-line error for a request iam-simulate cannot evaluate, rather than deciding it", async () => {
            const authorizer = planAuthorizer(plan);
            const failure = (request: AccessRequest) =>
                authorizer.authorize(request).then(
                    () => undefined,
                    (e: Error) => e.message,
                );
            const unknownAction = await failure({ principal: role("uploads-images-consumer-role"), action: "s3:GetObjekt", resource: `${arn("uploads-bucket")}/a` });
            expect(unknownAction).to.match(/^cannot evaluate s3:GetObjekt on arn:aws:s3:::uploads-bucket-6cba64a\/a for arn:aws:sts::.*: invalid\.action$/);
            // s3:GetObject is on objects, not buckets.
            const wrongType = await failure({ principal: role("uploads-images-consumer-role"), action: "s3:GetObject", resource: arn("uploads-bucket") });
            expect(wrongType).to.match(/^cannot evaluate s3:GetObject on arn:aws:s3:::uploads-bucket-6cba64a .*: no\.resource\.types$/);
            expect(wrongType).not.to.include("\n");
        });

        it("rejects a principal that is not a service", async () => {
            const error = await planAuthorizer(plan)
                .authorize({ principal: service("arn:aws:iam::123456789012:root", arn("uploads-topic-sns")), action: "sqs:SendMessage", resource: arn("uploads-images-queue") })
                .then(
                    () => undefined,
                    (e: Error) => e.message,
                );
            expect(error).to.equal('expected a service principal such as sns.amazonaws.com, got "arn:aws:iam::123456789012:root"');
        });
    });

    describe("the cache", () => {
        it("decides a repeated request once", async () => {
            const authorizer = planAuthorizer(plan);
            const request = { principal: role("uploads-images-consumer-role"), action: "s3:GetObject", resource: `${arn("uploads-bucket")}/a.jpg` };
            const first = await authorizer.authorize(request);
            const again = await Promise.all([authorizer.authorize({ ...request }), authorizer.authorize({ ...request })]);
            expect(again).to.deep.equal([first, first]);
            expect(authorizer.simulations).to.equal(1);
            await authorizer.authorize({ ...request, resource: `${arn("uploads-bucket")}/b.jpg` });
            expect(authorizer.simulations).to.equal(2);
        });

        it("keeps service principals' decisions apart by source", async () => {
            const authorizer = planAuthorizer(plan);
            const send = (sourceArn: string) => authorizer.authorize({ principal: service("sns.amazonaws.com", sourceArn), action: "sqs:SendMessage", resource: arn("uploads-images-queue") });
            expect((await send(arn("uploads-topic-sns"))).allowed).to.equal(true);
            expect((await send(arn("alerts-topic-sns"))).allowed).to.equal(false);
        });

        it("re-evaluates requests whose policies read the clock", async () => {
            let now = new Date("2030-01-01T00:00:00Z");
            const changed = withChanges(plan, [
                {
                    type: "aws:iam/rolePolicy:RolePolicy",
                    name: "until-2031",
                    inputs: {
                        role: "uploads-images-consumer-role-ccbcd93",
                        policy: policy({ Effect: "Allow", Action: "s3:DeleteObject", Resource: "*", Condition: { DateLessThan: { "aws:CurrentTime": "2031-01-01T00:00:00Z" } } }),
                    },
                },
            ]);
            const authorizer = planAuthorizer(changed, { now: () => now });
            const request = { principal: role("uploads-images-consumer-role"), action: "s3:DeleteObject", resource: `${arn("uploads-bucket")}/a.jpg` };
            expect((await authorizer.authorize(request)).allowed).to.equal(true);
            now = new Date("2032-01-01T00:00:00Z");
            expect((await authorizer.authorize(request)).allowed).to.equal(false);
        });
    });

    describe("authorizeSdkCall", () => {
        it("allows a call only if every request it needs is allowed", async () => {
            const authorizer = planAuthorizer(plan);
            const images = arn("uploads-images-consumer-role");
            const bucket = "uploads-bucket-6cba64a";
            const copy = (Key: string) => authorizeSdkCall(authorizer, images, { client: "S3Client", command: "CopyObjectCommand", input: { Bucket: bucket, Key, CopySource: `${bucket}/cat.jpg` } });
            expect((await copy("thumbnails/cat.jpg")).allowed).to.equal(true);
            const denied = await copy("photos/cat-copy.jpg");
            expect(denied.message).to.match(/s3:PutObject on resource: arn:aws:s3:::uploads-bucket-6cba64a\/photos\/cat-copy\.jpg because no identity-based policy allows/);
        });

        it("rejects an unmapped call", async () => {
            const error = await authorizeSdkCall(planAuthorizer(plan), arn("uploads-images-consumer-role"), { client: "S3Client", command: "SelectObjectContentCommand", input: {} }).then(
                () => undefined,
                (e: Error) => e.message,
            );
            expect(error).to.equal("no IAM mapping for S3Client.SelectObjectContent: add it to local/runtime/iam/sdk-actions.ts");
        });
    });
});
