/**
 * Seed 003 end to end, on the local runtime: the dev stack's plan deployed (the bucket on s3rver
 * with its EventBridge notifications, the rule and its transformer on the runtime's bus, the
 * topic, subscriptions and queues on fauxqs, the functions from their deployed archives, the API
 * on a loopback port), then scenario 003 as `npm start` runs it, then the committed image
 * fixtures uploaded through the same path. What landed is read straight from the stand-ins.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import sharp from "sharp";
import { derivedKeys } from "../../functions/image-processor/keys";
import type { Plan } from "../../local/plan";
import { startRuntime, type LocalRuntime } from "../../local/runtime";
import { encodeS3EventKey } from "../../local/runtime/s3-event-keys";
import type { FlowReport } from "../../local/scenarios";
import { LAB_UPLOADS, runEventDrivenLab } from "../../local/scenarios/event-driven-lab";
import { stackPlan } from "../support/stack-plans";

const FIXTURES = path.join(__dirname, "..", "fixtures", "images");
/** What the image processor must make of each committed fixture, uploaded under fixtures/. */
const FIXTURE_OUTCOMES: Record<string, "thumbnail" | "undecodable" | "not-image-content"> = {
    "landscape.png": "thumbnail",
    "portrait.jpg": "thumbnail",
    "small.gif": "thumbnail",
    "square.webp": "thumbnail",
    "UPPER.JPG": "thumbnail",
    "truncated.jpg": "undecodable",
    "not-an-image.png": "not-image-content",
};
const fixtureKey = (file: string) => `fixtures/set 1/${file}`;

describe("e2e: uploads and the messages API (seed 003), on the local runtime", function () {
    this.timeout(120_000);
    let plan: Plan;
    let runtime: LocalRuntime;
    let report: FlowReport;
    let bucket: string;
    const logsOf = (fn: string) => (runtime.logs.get(fn) ?? []).flatMap((l) => (l.startsWith("{") ? [JSON.parse(l) as Record<string, any>] : []));
    const keys = async (prefix: string) => ((await runtime.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();

    before(async () => {
        plan = await stackPlan("dev");
        runtime = await startRuntime({ plan, timeScale: 0.01 });
        bucket = String(plan.outputs.s3_bucket_name);
        report = await runEventDrivenLab(runtime);
        for (const file of Object.keys(FIXTURE_OUTCOMES)) {
            await runtime.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: fixtureKey(file), Body: fs.readFileSync(path.join(FIXTURES, file)) }));
        }
        await runtime.idle();
    });
    after(async () => {
        await runtime?.stop();
    });

    it("passes every check of scenario 003", () => {
        const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
        expect(failed).to.deep.equal([]);
        expect(report.checks.length).to.be.at.least(10);
    });

    it("records one audit item per upload, the key decoded from S3's encoding", async () => {
        const items = ((await runtime.clients.dynamodb.send(new ScanCommand({ TableName: String(plan.outputs.auditTableName) }))).Items ?? []).map((i) => unmarshall(i));
        const expected = [...LAB_UPLOADS.map((u) => u.key), ...Object.keys(FIXTURE_OUTCOMES).map(fixtureKey)].sort();
        expect(items.map((i) => i.key).sort()).to.deep.equal(expected);
        const spaced = items.find((i) => i.key === "photos/red flower.jpg")!;
        expect(spaced.eventKey).to.equal(encodeS3EventKey("photos/red flower.jpg"));
        expect(spaced.auditId).to.match(/^s3:\/\/.+\/photos\/red flower\.jpg#seq:[0-9A-F]+$/);
    });

    it("writes a WebP thumbnail within THUMBNAIL_SIZE and its metadata exactly for the decodable images", async () => {
        const prefix = "thumbnails/fixtures/";
        const decodable = Object.keys(FIXTURE_OUTCOMES).filter((f) => FIXTURE_OUTCOMES[f] === "thumbnail");
        const expected = decodable.flatMap((f) => Object.values(derivedKeys(fixtureKey(f), "thumbnails/"))).sort();
        expect(await keys(prefix)).to.deep.equal(expected);
        const size = Number((plan.resources.find((r) => r.name === "uploads-images-consumer-function")!.inputs.environment as any).variables.THUMBNAIL_SIZE);
        for (const f of decodable) {
            const object = await runtime.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: derivedKeys(fixtureKey(f), "thumbnails/").thumbnail }));
            const meta = await sharp(Buffer.from(await object.Body!.transformToByteArray())).metadata();
            expect(meta.format, f).to.equal("webp");
            expect(Math.max(meta.width!, meta.height!), f).to.be.at.most(size);
        }
    });

    it("skips the corrupt file and the text named .png with one WARN each", () => {
        const warnings = logsOf("uploads-images-consumer-function").filter((l) => l.level === "WARN");
        expect(warnings.map((l) => [l.key, l.reason]).sort()).to.deep.equal(
            Object.entries(FIXTURE_OUTCOMES)
                .filter(([, outcome]) => outcome !== "thumbnail")
                .map(([f, outcome]) => [fixtureKey(f), outcome])
                .sort(),
        );
    });

    it("never hands the image processor a non-image key or its own writes", () => {
        const seen = new Set(logsOf("uploads-images-consumer-function").map((l) => l.key).filter(Boolean));
        expect([...seen].sort()).to.deep.equal(["photos/red flower.jpg", ...Object.keys(FIXTURE_OUTCOMES).map(fixtureKey)].sort());
    });

    it("filters at the subscription: the images queue never received the non-image uploads", () => {
        const mapping = "uploads-images-consumer-events";
        const received = runtime.counters.get(`mapping:${mapping}`, "received");
        expect(received, "messages the images mapping received").to.equal(1 + Object.keys(FIXTURE_OUTCOMES).length);
    });

    it("answers the API's 400, 403 and 429 and queues the valid body", () => {
        const checks = report.checks.filter((c) => /\b(400|403|429|200)\b/.test(c.name));
        expect(checks.map((c) => c.name.match(/\b(400|403|429|200)\b/)![1]).sort()).to.deep.equal(["200", "400", "403", "429"]);
        expect(checks.filter((c) => !c.ok)).to.deep.equal([]);
        expect(report.rejected.reasons.get("429 throttled")).to.be.greaterThan(0);
    });
});
