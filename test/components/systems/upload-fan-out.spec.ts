import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import { AUDIT_TABLE_ENV, IMAGE_PROCESSOR_ENV } from "../../../functions/shared/contract";
import { UploadFanOut, UploadFanOutArgs } from "../../../components/systems/upload-fan-out";
import { Plan } from "../../../local/plan";
import { ALERT_TOPIC_ARN, childrenOf, one, policyOf, record, descendantsOf } from "../../support/pulumi-harness";
import { readZip } from "../../../local/runtime/zip-reader";

const T = {
    component: "event-pipelines:index:UploadFanOut",
    queue: "event-pipelines:index:QueueWithDlq",
    fn: "aws:lambda/function:Function",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    rule: "aws:cloudwatch/eventRule:EventRule",
    target: "aws:cloudwatch/eventTarget:EventTarget",
    subscription: "aws:sns/topicSubscription:TopicSubscription",
    table: "aws:dynamodb/table:Table",
    bucket: "aws:s3/bucket:Bucket",
};

const build = (args: Partial<UploadFanOutArgs> = {}): Promise<Plan> =>
    record(() => void new UploadFanOut("photos", { alertTopicArn: ALERT_TOPIC_ARN, ...args }));

const env = (plan: Plan, fn: string) => (one(plan, T.fn, fn).inputs.environment as { variables: Record<string, string> }).variables;
const statementsOn = (plan: Plan, policy: string, service: string) =>
    policyOf(one(plan, T.rolePolicy, policy)).Statement.filter((s) => (s.Action as string[]).some((a) => a.startsWith(`${service}:`)));

describe("UploadFanOut", () => {
    let plan: Plan;
    before(async () => {
        plan = await build();
    });

    it("names every part `<name>-<role>` (or `<name>`), all below the component", () => {
        const component = one(plan, T.component, "photos");
        const descendants = descendantsOf(plan, component);
        expect(descendants.every((d) => d.name === "photos" || d.name.startsWith("photos-")), descendants.map((d) => d.name).join(", ")).to.equal(true);
        expect(childrenOf(plan, component).map((c) => `${c.type}::${c.name}`).sort()).to.deep.equal([
            "event-pipelines:index:FanOutTopic::photos",
            "event-pipelines:index:KeyedTable::photos-audit-records",
            "event-pipelines:index:ObjectCreatedRule::photos-created",
            "event-pipelines:index:QueueWithDlq::photos-audit",
            "event-pipelines:index:QueueWithDlq::photos-images",
            "event-pipelines:index:SecureBucket::photos",
        ]);
        expect(plan.resources.length).to.equal(descendants.length + 2);
    });

    it("sends the bucket's Object Created events, except under the derived prefix, to the topic in the uploads envelope", () => {
        const pattern = JSON.parse(one(plan, T.rule, "photos-created-rule").inputs.eventPattern as string);
        expect(pattern.detail.bucket.name).to.deep.equal([one(plan, T.bucket, "photos-bucket").outputs.bucket]);
        expect(pattern.detail.object.key).to.deep.equal([{ "anything-but": { prefix: "thumbnails/" } }]);
        expect(one(plan, T.target, "photos-created-target").inputs.inputTransformer).to.deep.equal({
            inputPaths: { object: "$.detail.object" },
            inputTemplate: '{"object": <object>, "event": <aws.events.event.json>}',
        });
    });

    it("subscribes the images queue to image keys only (by suffix at object.key), and the audit queue to everything", () => {
        const images = one(plan, T.subscription, "photos-images-subscription").inputs;
        expect(images.filterPolicyScope).to.equal("MessageBody");
        const keys = JSON.parse(images.filterPolicy as string).object.key as { suffix: string }[];
        expect(keys).to.have.length(56);
        expect(keys.map((k) => k.suffix)).to.include.members([".jpg", ".JPEG", ".Png", ".webp"]);
        expect(one(plan, T.subscription, "photos-audit-subscription").inputs.filterPolicy).to.equal(undefined);
    });

    it("runs the image processor on x86_64 with sharp in its archive, the handler's defaults, 1024 MB and at least 60 s", () => {
        const fn = one(plan, T.fn, "photos-images-consumer-function").inputs;
        expect(fn).to.deep.include({ architectures: ["x86_64"], memorySize: 1024, timeout: 60 });
        expect(env(plan, "photos-images-consumer-function")).to.deep.include(IMAGE_PROCESSOR_ENV);
        const archive = (fn.code as { archive: string }).archive;
        const names = readZip(fs.readFileSync(archive)).map((e) => e.name);
        expect(names).to.include.members(["index.js", "node_modules/sharp/package.json"]);
        expect(names.some((n) => n.startsWith("node_modules/@img/sharp-linux-x64/"))).to.equal(true);
    });

    it("lets the image processor read the bucket's objects and write only under the derived prefix", () => {
        const arn = one(plan, T.bucket, "photos-bucket").outputs.arn;
        expect(statementsOn(plan, "photos-images-consumer-policy", "s3")).to.deep.equal([
            { Effect: "Allow", Action: ["s3:GetObject"], Resource: [`${arn}/*`] },
            { Effect: "Allow", Action: ["s3:ListBucket"], Resource: [arn] },
            { Effect: "Allow", Action: ["s3:PutObject"], Resource: [`${arn}/thumbnails/*`] },
        ]);
    });

    it("lets the audit logger put items in its table only, and names the table for it", () => {
        const table = one(plan, T.table, "photos-audit-records-table");
        expect(table.inputs.hashKey).to.equal("auditId");
        expect(env(plan, "photos-audit-consumer-function")[AUDIT_TABLE_ENV]).to.equal(table.outputs.name);
        expect(statementsOn(plan, "photos-audit-consumer-policy", "dynamodb")).to.deep.equal([{ Effect: "Allow", Action: ["dynamodb:PutItem"], Resource: [table.outputs.arn] }]);
    });

    it("applies the queue, consumer, function and image settings it is given", async () => {
        const custom = await build({
            queues: { maxReceiveCount: 7, retentionDays: 3 },
            consumers: { batchSize: 5, maximumConcurrency: 3 },
            functions: { memorySizeMb: 512, timeoutSeconds: 90, logRetentionDays: 7 },
            imageProcessor: { memorySizeMb: 2048, thumbnailSizePx: 128, maxImageBytes: 1_000_000 },
            derivedPrefix: "derived/",
        });
        expect(JSON.parse(one(custom, "aws:sqs/queue:Queue", "photos-audit-queue").inputs.redrivePolicy as string).maxReceiveCount).to.equal(7);
        expect(one(custom, "aws:lambda/eventSourceMapping:EventSourceMapping", "photos-images-consumer-events").inputs).to.deep.include({ batchSize: 5, scalingConfig: { maximumConcurrency: 3 } });
        expect(one(custom, T.fn, "photos-audit-consumer-function").inputs).to.deep.include({ memorySize: 512, timeout: 90 });
        expect(one(custom, T.fn, "photos-images-consumer-function").inputs).to.deep.include({ memorySize: 2048, timeout: 90 });
        expect(env(custom, "photos-images-consumer-function")).to.deep.include({ DERIVED_PREFIX: "derived/", THUMBNAIL_SIZE: "128", MAX_IMAGE_BYTES: "1000000" });
        const pattern = JSON.parse(one(custom, T.rule, "photos-created-rule").inputs.eventPattern as string);
        expect(pattern.detail.object.key).to.deep.equal([{ "anything-but": { prefix: "derived/" } }]);
        const arn = one(custom, T.bucket, "photos-bucket").outputs.arn;
        expect(statementsOn(custom, "photos-images-consumer-policy", "s3").pop()).to.deep.equal({ Effect: "Allow", Action: ["s3:PutObject"], Resource: [`${arn}/derived/*`] });
    });

    it("gives every part its own aliases", async () => {
        const parts = ["bucket", "rule", "topic", "images", "audit", "auditRecords"] as const;
        const partAliases = Object.fromEntries(parts.map((p) => [p, [{ name: `old-${p}`, parent: pulumi.rootStackResource }]]));
        const aliased = await build({ partAliases });
        const component = (type: string, name: string) => one(aliased, `event-pipelines:index:${type}`, name).aliases;
        const urn = (type: string, p: string) => `urn:pulumi:test::event-pipelines::event-pipelines:index:${type}::old-${p}`;
        expect(component("SecureBucket", "photos")).to.deep.equal([urn("SecureBucket", "bucket")]);
        expect(component("ObjectCreatedRule", "photos-created")).to.deep.equal([urn("ObjectCreatedRule", "rule")]);
        expect(component("FanOutTopic", "photos")).to.deep.equal([urn("FanOutTopic", "topic")]);
        expect(component("QueueWithDlq", "photos-images")).to.deep.equal([urn("QueueWithDlq", "images")]);
        expect(component("QueueWithDlq", "photos-audit")).to.deep.equal([urn("QueueWithDlq", "audit")]);
        expect(component("KeyedTable", "photos-audit-records")).to.deep.equal([urn("KeyedTable", "auditRecords")]);
    });

    it("gives each part the aliases it is handed, and leaves the others alone", async () => {
        const aliased = await build({ partAliases: { images: [{ name: "images", parent: pulumi.rootStackResource }] } });
        const images = one(aliased, T.queue, "photos-images");
        expect(images.aliases).to.deep.equal(["urn:pulumi:test::event-pipelines::event-pipelines:index:QueueWithDlq::images"]);
        // Its children follow: the engine derives their aliases from the parent's.
        expect(one(aliased, "aws:sqs/queue:Queue", "photos-images-queue").aliases).to.deep.equal([
            "urn:pulumi:test::event-pipelines::event-pipelines:index:QueueWithDlq$aws:sqs/queue:Queue::images-queue",
        ]);
        expect(one(aliased, T.queue, "photos-audit").aliases).to.equal(undefined);
    });
});
