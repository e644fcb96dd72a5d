import { expect } from "chai";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import {
    CreateBucketCommand,
    GetObjectCommand,
    HeadObjectCommand,
    ListObjectsV2Command,
    PutObjectCommand,
    S3Client,
    S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { execFile } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Readable } from "stream";
import sharp from "sharp";
import { bundleFunction } from "../../components/compute/bundle";
import { matchesEventPattern, objectCreatedPattern } from "../../components/messaging/event-patterns";
import { functionEntry } from "../../components/compute/lambda-function";
import * as ip from "../../functions/image-processor";
import { Emulator, freePort, s3Client, startS3rver } from "../../local/runtime/emulators";
import { lambdaContext, objectCreatedEvent, sqsEvent, sqsRecord, uploadMessage } from "../support/lambda-events";
import { captureJsonLines } from "../support/process-io";
import { readZip } from "../../local/runtime/zip-reader";

const FIXTURES = path.join(__dirname, "..", "fixtures", "images");
const BUCKET = "uploads";
const PREFIX = ip.DEFAULT_DERIVED_PREFIX;
const THUMB = 32;

/** The committed fixtures: decodable ones with their size and the thumbnail expected at 32 px. */
const IMAGES = [
    { file: "landscape.png", format: "png", width: 64, height: 40, thumb: [32, 20] },
    { file: "portrait.jpg", format: "jpeg", width: 48, height: 64, thumb: [24, 32] },
    // Smaller than the thumbnail: kept at its size, not enlarged.
    { file: "small.gif", format: "gif", width: 30, height: 20, thumb: [30, 20] },
    { file: "square.webp", format: "webp", width: 50, height: 50, thumb: [32, 32] },
    { file: "UPPER.JPG", format: "jpeg", width: 80, height: 60, thumb: [32, 24] },
] as const;

const fixture = (file: string) => fs.readFileSync(path.join(FIXTURES, file));

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
type LogLine = Record<string, any>;

/** Builds a handler with INFO logging (the logger reads its level when it is built) and the given settings. */
function makeHandler(s3: S3Client, env: Record<string, string> = {}): Handler {
    const saved = process.env.POWERTOOLS_LOG_LEVEL;
    process.env.POWERTOOLS_LOG_LEVEL = "INFO";
    try {
        return ip.createHandler({ s3, env: { THUMBNAIL_SIZE: String(THUMB), ...env } });
    } finally {
        if (saved === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
        else process.env.POWERTOOLS_LOG_LEVEL = saved;
    }
}

/** Runs the handler, capturing the JSON lines it logs. */
async function invoke(handler: Handler, ...records: SQSRecord[]): Promise<{ response: SQSBatchResponse; logs: LogLine[] }> {
    const { result: response, lines } = await captureJsonLines(() => handler(sqsEvent(...records), lambdaContext));
    const logs = lines as LogLine[];
    return { response, logs };
}

/** An SQS record as the images queue receives it: the Object Created event of `key`, in the rule's envelope. */
function upload(messageId: string, key: string, size = 5, versionId: string | null = null): SQSRecord {
    return sqsRecord(messageId, uploadMessage({ key, bucket: BUCKET, size, versionId }));
}

const failures = (r: SQSBatchResponse) => r.batchItemFailures.map((f) => f.itemIdentifier);

async function listKeys(s3: S3Client, prefix = ""): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

async function getBytes(s3: S3Client, key: string): Promise<Buffer> {
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await got.Body!.transformToByteArray());
}

function s3Error(name: string, status: number): S3ServiceException {
    return new S3ServiceException({ name, $fault: status >= 500 ? "server" : "client", $metadata: { httpStatusCode: status }, message: `${name} (test)` });
}

describe("image-processor", () => {
    describe("keys and settings", () => {
        it("derives the thumbnail and metadata keys under the prefix, keeping the whole source key", () => {
            expect(ip.derivedKeys("photos/cat.jpg")).to.deep.equal({
                thumbnail: "thumbnails/photos/cat.jpg.thumb.webp",
                metadata: "thumbnails/photos/cat.jpg.json",
            });
            expect(ip.derivedKeys("a.PNG", "derived/").thumbnail).to.equal("derived/a.PNG.thumb.webp");
            expect(ip.isDerivedKey("thumbnails/photos/cat.jpg.thumb.webp")).to.equal(true);
            expect(ip.isDerivedKey("photos/thumbnails/cat.jpg")).to.equal(false);
        });

        it("takes image suffixes in any letter case, as the subscription filter does", () => {
            for (const key of ["a.jpg", "b.JPEG", "c.Png", "d.gif", "e.WEBP"]) expect(ip.hasImageSuffix(key), key).to.equal(true);
            for (const key of ["a.txt", "jpg", "a.jpg.txt", "a.svg"]) expect(ip.hasImageSuffix(key), key).to.equal(false);
        });

        it("reads its settings from the environment, with the exported defaults", () => {
            expect(ip.readSettings({})).to.deep.equal({
                derivedPrefix: "thumbnails/",
                thumbnailSize: 256,
                maxImageBytes: 20 * 1024 * 1024,
                maxInputPixels: 40_000_000,
            });
            expect(Object.keys(ip.IMAGE_PROCESSOR_ENV)).to.deep.equal(["DERIVED_PREFIX", "THUMBNAIL_SIZE", "MAX_IMAGE_BYTES", "MAX_INPUT_PIXELS"]);
            expect(ip.readSettings({ THUMBNAIL_SIZE: "64", MAX_IMAGE_BYTES: "100", DERIVED_PREFIX: "d/" })).to.include({ thumbnailSize: 64, maxImageBytes: 100, derivedPrefix: "d/" });
        });

        it("refuses a bad setting at cold start, in one line naming it", () => {
            for (const [env, name] of [
                [{ THUMBNAIL_SIZE: "big" }, "THUMBNAIL_SIZE"],
                [{ MAX_IMAGE_BYTES: "-1" }, "MAX_IMAGE_BYTES"],
                [{ MAX_INPUT_PIXELS: "1.5" }, "MAX_INPUT_PIXELS"],
                [{ DERIVED_PREFIX: "" }, "DERIVED_PREFIX"],
            ] as const) {
                expect(() => ip.createHandler({ s3: new S3Client({}), env }), name).to.throw(new RegExp(`^image-processor: ${name}=.* must be`));
            }
        });
    });

    describe("parseImageUpload", () => {
        it("reads the upload from the rule's envelope, and from a bare event", () => {
            const expected = {
                bucket: "uploads",
                key: "p/a.png",
                size: 7,
                etag: "b1946ac92492d2347c6235b4d2611184",
                versionId: "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                eventTime: "2025-01-01T12:00:00Z",
            };
            expect(ip.parseImageUpload(uploadMessage({ key: "p/a.png", size: 7 }))).to.include(expected);
            expect(ip.parseImageUpload(JSON.stringify(objectCreatedEvent({ key: "p/a.png", size: 7 })))).to.include(expected);
        });

        it("refuses a body that is not an Object Created event, in one line", () => {
            expect(() => ip.parseImageUpload("not json")).to.throw(/^message body is not JSON/);
            const deleted = { ...objectCreatedEvent(), "detail-type": "Object Deleted" };
            expect(() => ip.parseImageUpload(JSON.stringify(deleted))).to.throw(/expected an "Object Created" event/);
        });
    });

    describe("against s3rver", () => {
        let emulator: Emulator;
        let s3: S3Client;
        const sources = new Map<string, { key: string; size: number }>();

        before(async () => {
            emulator = await startS3rver();
            s3 = s3Client(emulator);
            await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
            for (const file of fs.readdirSync(FIXTURES)) {
                const body = fixture(file);
                const key = `photos/${file}`;
                await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
                sources.set(file, { key, size: body.length });
            }
        });

        after(async () => {
            s3?.destroy();
            await emulator?.stop();
        });

        const record = (id: string, file: string) => upload(id, sources.get(file)!.key, sources.get(file)!.size);

        it("writes a thumbnail that fits THUMBNAIL_SIZE for each format, the upper-case .JPG included", async () => {
            const handler = makeHandler(s3);
            const { response, logs } = await invoke(handler, ...IMAGES.map((img, i) => record(`m${i}`, img.file)));
            expect(response.batchItemFailures).to.deep.equal([]);
            for (const img of IMAGES) {
                const { thumbnail } = ip.derivedKeys(`photos/${img.file}`);
                const meta = await sharp(await getBytes(s3, thumbnail)).metadata();
                expect({ format: meta.format, width: meta.width, height: meta.height }, img.file).to.deep.equal({
                    format: "webp",
                    width: img.thumb[0],
                    height: img.thumb[1],
                });
            }
            const written = logs.filter((l) => l.message === "thumbnail written");
            expect(written.map((l) => l.key)).to.deep.equal(IMAGES.map((img) => `photos/${img.file}`));
            expect(written.every((l) => l.level === "INFO" && l.service === "image-processor")).to.equal(true);
            expect(logs.filter((l) => l.level !== "INFO")).to.deep.equal([]);
        });

        it("decodes the event's URL-encoded key, and falls back to the key as spelled when only that exists", async () => {
            const gif = fixture("small.gif");
            for (const key of ["photos/red flower (1).gif", "photos/c++.gif"]) {
                await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: gif }));
                sources.set(key, { key, size: gif.length }); // uploads, not the processor's output
            }
            const { response, logs } = await invoke(
                makeHandler(s3),
                // As S3 writes keys into its events: a space as "+", parentheses as %28 and %29.
                sqsRecord("encoded", uploadMessage({ key: "photos/red+flower+%281%29.gif", bucket: BUCKET, size: gif.length, versionId: null })),
                // A literal "+" the event did not encode: decoded, it names nothing; as spelled, it exists.
                sqsRecord("literal", uploadMessage({ key: "photos/c++.gif", bucket: BUCKET, size: gif.length, versionId: null })),
            );
            expect(response.batchItemFailures).to.deep.equal([]);
            expect(logs.filter((l) => l.message === "thumbnail written").map((l) => l.key)).to.deep.equal(["photos/red flower (1).gif", "photos/c++.gif"]);
            for (const key of ["photos/red flower (1).gif", "photos/c++.gif"]) {
                expect((await getBytes(s3, ip.derivedKeys(key).thumbnail)).length, key).to.be.above(0);
            }
        });

        it("writes a metadata JSON describing the source, the image and the thumbnail", async () => {
            const handler = makeHandler(s3);
            await invoke(handler, upload("m1", "photos/landscape.png", sources.get("landscape.png")!.size, "v-123"));
            const keys = ip.derivedKeys("photos/landscape.png");
            const thumbBytes = await getBytes(s3, keys.thumbnail);
            const doc = JSON.parse((await getBytes(s3, keys.metadata)).toString("utf8"));
            expect(doc).to.deep.equal({
                schemaVersion: 1,
                source: {
                    bucket: BUCKET,
                    key: "photos/landscape.png",
                    versionId: "v-123",
                    // The object read (s3rver's ETag is its MD5), not the event's.
                    etag: createHash("md5").update(fixture("landscape.png")).digest("hex"),
                    sizeBytes: fixture("landscape.png").length,
                    eventTime: "2025-01-01T12:00:00Z",
                },
                image: { format: "png", width: 64, height: 40, orientation: null, pages: 1, hasAlpha: false },
                thumbnail: { key: keys.thumbnail, format: "webp", contentType: "image/webp", width: 32, height: 20, sizeBytes: thumbBytes.length },
            });
            const head = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: keys.thumbnail }));
            expect(head.ContentType).to.equal("image/webp");
            await head.Body!.transformToByteArray();
        });

        it("skips, with one WARN line naming key and reason and no retry: derived keys, non-images, corrupt files, vanished objects", async () => {
            const handler = makeHandler(s3);
            const before = await listKeys(s3, PREFIX);
            const cases = [
                { id: "derived", key: "thumbnails/photos/landscape.png.thumb.webp", reason: "derived-key" },
                { id: "text-key", key: "docs/readme.txt", reason: "not-image-key" },
                { id: "text-as-png", key: "photos/not-an-image.png", reason: "not-image-content" },
                { id: "truncated", key: "photos/truncated.jpg", reason: "undecodable" },
                { id: "gone", key: "photos/deleted-since.jpg", reason: "not-found" },
            ];
            const { response, logs } = await invoke(handler, ...cases.map((c) => upload(c.id, c.key)));
            expect(response.batchItemFailures).to.deep.equal([]);
            const warnings = logs.filter((l) => l.level === "WARN");
            expect(warnings.map((l) => [l.messageId, l.key, l.reason])).to.deep.equal(cases.map((c) => [c.id, c.key, c.reason]));
            for (const w of warnings) {
                expect(w.message).to.equal("image skipped");
                expect(w.bucket).to.equal(BUCKET);
                expect(w.detail).to.be.a("string").and.not.match(/\n/);
            }
            expect(warnings.find((w) => w.reason === "undecodable")!.detail).to.match(/premature end/i);
            expect(logs.filter((l) => l.level !== "WARN")).to.deep.equal([]);
            // Nothing written for any of them.
            expect(await listKeys(s3, PREFIX)).to.deep.equal(before);
        });

        it("skips an object over MAX_IMAGE_BYTES: by the event's size before downloading, by ContentLength after", async () => {
            const handler = makeHandler(s3, { MAX_IMAGE_BYTES: "500" });
            const { response, logs } = await invoke(
                handler,
                // Not even in the bucket: a download would have reported "not-found".
                upload("by-event", "photos/huge.jpg", 10_000_000),
                // The event understates the size (737 bytes in fact): caught on the object itself.
                upload("by-object", "photos/landscape.png", 10),
                // Under the limit: processed.
                upload("small", "photos/small.gif", sources.get("small.gif")!.size),
            );
            expect(response.batchItemFailures).to.deep.equal([]);
            const skipped = logs.filter((l) => l.message === "image skipped");
            expect(skipped.map((l) => [l.messageId, l.reason])).to.deep.equal([
                ["by-event", "too-large"],
                ["by-object", "too-large"],
            ]);
            expect(skipped.map((l) => l.detail)).to.deep.equal([
                "object is 10000000 bytes, over MAX_IMAGE_BYTES (500)",
                `object is ${sources.get("landscape.png")!.size} bytes, over MAX_IMAGE_BYTES (500)`,
            ]);
            expect(logs.filter((l) => l.message === "thumbnail written").map((l) => l.messageId)).to.deep.equal(["small"]);
        });

        it("skips an image over MAX_INPUT_PIXELS without decoding it", async () => {
            // landscape.png is 64 × 40 = 2560 pixels; small.gif 30 × 20 = 600.
            const handler = makeHandler(s3, { MAX_INPUT_PIXELS: "1000" });
            const { response, logs } = await invoke(handler, record("big", "landscape.png"), record("ok", "small.gif"));
            expect(response.batchItemFailures).to.deep.equal([]);
            expect(logs.filter((l) => l.level === "WARN").map((l) => [l.messageId, l.reason])).to.deep.equal([["big", "too-many-pixels"]]);
            expect(logs.filter((l) => l.message === "thumbnail written").map((l) => l.messageId)).to.deep.equal(["ok"]);
        });

        it("reports an unparseable message as a batch item failure, with its reason logged", async () => {
            const handler = makeHandler(s3);
            const { response, logs } = await invoke(handler, sqsRecord("bad", "{not json"), record("good", "small.gif"));
            expect(failures(response)).to.deep.equal(["bad"]);
            const rejected = logs.filter((l) => l.message === "rejected message");
            expect(rejected).to.have.length(1);
            expect(rejected[0]).to.include({ level: "ERROR", messageId: "bad" });
            expect(rejected[0].reason).to.match(/^message body is not JSON/);
        });

        it("fails the item, for SQS to retry, when S3 cannot be reached", async () => {
            // Nothing listens on this port: the connection is refused, as in a network outage.
            const port = await freePort();
            const unreachable = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: "us-east-1", credentials: emulator.credentials, forcePathStyle: true, maxAttempts: 1 });
            try {
                const handler = makeHandler(unreachable);
                const { response, logs } = await invoke(handler, upload("derived", "thumbnails/x.jpg.thumb.webp"), record("net", "small.gif"));
                expect(failures(response)).to.deep.equal(["net"]);
                const failed = logs.filter((l) => l.level === "ERROR");
                expect(failed).to.have.length(1);
                expect(failed[0]).to.include({ message: "image processing failed, the message will be retried", messageId: "net", key: "photos/small.gif" });
                expect(failed[0].error).to.match(/ECONNREFUSED/);
            } finally {
                unreachable.destroy();
            }
        });

        describe("the loop guard", () => {
            const pattern = objectCreatedPattern({ bucketName: BUCKET, excludePrefixes: [PREFIX] });
            const event = (key: string) => objectCreatedEvent({ key, bucket: BUCKET });

            it("writes only keys the upload rule's pattern ignores, while it matches the uploads", async () => {
                const handler = makeHandler(s3);
                const originals = IMAGES.map((img) => `photos/${img.file}`);
                await invoke(handler, ...IMAGES.map((img, i) => record(`m${i}`, img.file)));
                // Every key in the bucket that is not a fixture upload was written by the processor.
                const uploaded = new Set([...sources.values()].map((s) => s.key));
                const written = (await listKeys(s3)).filter((k) => !uploaded.has(k));
                expect(written.length).to.be.at.least(2 * IMAGES.length);
                for (const key of written) {
                    expect(key.startsWith(PREFIX), key).to.equal(true);
                    expect(matchesEventPattern(pattern, event(key)), `rule must ignore ${key}`).to.equal(false);
                }
                for (const key of originals) expect(matchesEventPattern(pattern, event(key)), `rule must match ${key}`).to.equal(true);
            });

            it("skips an event for each derived key, writing nothing", async () => {
                const handler = makeHandler(s3);
                const derived = await listKeys(s3, PREFIX);
                expect(derived.length).to.be.greaterThan(0);
                const before = await listKeys(s3);
                const { response, logs } = await invoke(handler, ...derived.map((key, i) => upload(`d${i}`, key)));
                expect(response.batchItemFailures).to.deep.equal([]);
                expect(logs.map((l) => l.reason)).to.deep.equal(derived.map(() => "derived-key"));
                expect(await listKeys(s3)).to.deep.equal(before);
            });
        });

        describe("the deployed artifact", () => {
            let work: string;

            before(() => {
                work = fs.mkdtempSync(path.join(os.tmpdir(), "image-processor-zip-"));
            });

            after(() => {
                if (work) fs.rmSync(work, { recursive: true, force: true });
            });

            it("runs from its own zip, loading sharp and libvips from the zip's node_modules", async () => {
                // x86_64: the architecture the processor is deployed with, whose binaries this machine has.
                const bundle = await bundleFunction(functionEntry("image-processor"), { nativePackages: ["sharp"], architecture: "x86_64", outDir: path.join(work, "out") });
                const task = path.join(work, "task");
                for (const e of readZip(fs.readFileSync(bundle.zipPath))) {
                    fs.mkdirSync(path.dirname(path.join(task, e.name)), { recursive: true });
                    fs.writeFileSync(path.join(task, e.name), e.contents);
                }
                // What the Lambda runtime adds on NODE_PATH: the AWS SDK v3 clients, and nothing else.
                const runtime = path.join(work, "runtime", "node_modules");
                fs.mkdirSync(path.join(runtime, "@aws-sdk"), { recursive: true });
                fs.symlinkSync(path.dirname(require.resolve("@aws-sdk/client-s3/package.json")), path.join(runtime, "@aws-sdk", "client-s3"), "dir");

                const eventFile = path.join(work, "event.json");
                fs.writeFileSync(eventFile, JSON.stringify(sqsEvent(upload("zip-1", "photos/UPPER.JPG", sources.get("UPPER.JPG")!.size))));
                const resultFile = path.join(work, "result.json");
                const runner = [
                    `const fs = require("fs");`,
                    `const { handler } = require("./index.js");`,
                    `const ctx = { awsRequestId: "r1", functionName: "image-processor", getRemainingTimeInMillis: () => 30000 };`,
                    `handler(JSON.parse(fs.readFileSync(${JSON.stringify(eventFile)}, "utf8")), ctx).then((response) => {`,
                    `  fs.writeFileSync(${JSON.stringify(resultFile)}, JSON.stringify({`,
                    `    response,`,
                    `    sharp: require.resolve("sharp"),`,
                    `    loaded: Object.keys(require.cache),`,
                    `    mapped: fs.readFileSync("/proc/self/maps", "utf8").split("\\n").filter((l) => l.includes("libvips")).map((l) => l.split(/\\s+/).pop()),`,
                    `  }));`,
                    `}, (err) => { console.error(err); process.exit(1); });`,
                ].join("\n");
                fs.writeFileSync(path.join(task, "run.js"), runner);

                // A child process: its own module cache and loader, with the working directory in the task.
                const env: NodeJS.ProcessEnv = {
                    PATH: process.env.PATH,
                    NODE_PATH: runtime,
                    AWS_ENDPOINT_URL_S3: emulator.endpoint,
                    AWS_REGION: emulator.region,
                    AWS_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
                    AWS_SECRET_ACCESS_KEY: emulator.credentials.secretAccessKey,
                    THUMBNAIL_SIZE: "40",
                    POWERTOOLS_LOG_LEVEL: "INFO",
                };
                const output = await new Promise<string>((resolve, reject) =>
                    // Asynchronous: s3rver answers from this process's event loop.
                    execFile(process.execPath, ["run.js"], { cwd: task, env, timeout: 30_000 }, (err, stdout, stderr) =>
                        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
                    ),
                );
                const result = JSON.parse(fs.readFileSync(resultFile, "utf8")) as { response: SQSBatchResponse; sharp: string; loaded: string[]; mapped: string[] };
                expect(result.response).to.deep.equal({ batchItemFailures: [] });
                const logs = output.split("\n").filter(Boolean).map((l) => JSON.parse(l) as LogLine);
                expect(logs.map((l) => l.message)).to.deep.equal(["thumbnail written"]);

                // sharp, its .node addon and libvips all came from the extracted zip.
                const inTask = (p: string) => p.startsWith(task + path.sep);
                expect(inTask(result.sharp), result.sharp).to.equal(true);
                const addons = result.loaded.filter((p) => p.endsWith(".node"));
                expect(addons).to.have.length(1);
                expect(addons.every(inTask), addons.join(", ")).to.equal(true);
                expect(result.loaded.filter((p) => p.includes(`${path.sep}sharp${path.sep}`)).every(inTask)).to.equal(true);
                expect(result.mapped.length).to.be.greaterThan(0);
                expect(result.mapped.every(inTask), result.mapped.join(", ")).to.equal(true);

                const meta = await sharp(await getBytes(s3, ip.derivedKeys("photos/UPPER.JPG").thumbnail)).metadata();
                expect([meta.format, meta.width, meta.height]).to.deep.equal(["webp", 40, 30]);
            });
        });
    });

    describe("with S3 faults injected", () => {
        let s3: S3Client;
        let mock: ReturnType<typeof mockClient>;

        beforeEach(() => {
            s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
            mock = mockClient(s3);
            // The look after writing: no version to compare (an unversioned bucket's answer without an ETag).
            mock.on(HeadObjectCommand).resolves({});
        });

        afterEach(() => {
            mock.restore();
            s3.destroy();
        });

        const body = (file: string) => ({ Body: Readable.from([fixture(file)]) as any, ContentLength: fixture(file).length });

        it("skips an object that no longer exists, asking for the key's current version", async () => {
            mock.on(GetObjectCommand).rejects(s3Error("NoSuchKey", 404));
            const { response, logs } = await invoke(makeHandler(s3), upload("m1", "photos/a.jpg", 5, "v-old"));
            expect(response.batchItemFailures).to.deep.equal([]);
            expect(logs.map((l) => [l.level, l.reason])).to.deep.equal([["WARN", "not-found"]]);
            expect(mock.commandCalls(GetObjectCommand)[0].args[0].input).to.deep.equal({ Bucket: BUCKET, Key: "photos/a.jpg" });
        });

        it("renders the key's current version, also for an event of an older one, asking once which version is current", async () => {
            mock.on(GetObjectCommand).callsFake(() => ({ ...body("small.gif"), VersionId: "v-new", ETag: '"etag-new"' }));
            mock.on(HeadObjectCommand).resolves({ VersionId: "v-new" });
            mock.on(PutObjectCommand).resolves({});
            const { response, logs } = await invoke(makeHandler(s3), upload("old", "photos/a.gif", 5, "v-old"));
            expect(response.batchItemFailures).to.deep.equal([]);
            expect(logs.map((l) => l.message)).to.deep.equal(["thumbnail written"]);
            const metadata = JSON.parse(String(mock.commandCalls(PutObjectCommand)[1].args[0].input.Body));
            expect(metadata.source).to.deep.include({ versionId: "v-new", etag: "etag-new" });
            expect(mock.commandCalls(GetObjectCommand)).to.have.length(1);
            expect(mock.commandCalls(HeadObjectCommand).map((c) => c.args[0].input)).to.deep.equal([{ Bucket: BUCKET, Key: "photos/a.gif" }]);
        });

        it("renders again when a newer version arrived while it wrote, and leaves the message to SQS when the key keeps changing", async () => {
            let version = 1;
            mock.on(GetObjectCommand).callsFake(() => ({ ...body("small.gif"), VersionId: `v${version}` }));
            // Each look finds a version newer than the one just written, twice, then the same.
            mock.on(HeadObjectCommand).callsFake(() => ({ VersionId: `v${version < 3 ? ++version : version}` }));
            mock.on(PutObjectCommand).resolves({});
            const settled = await invoke(makeHandler(s3), upload("m1", "photos/a.gif", 5, "v1"));
            expect(settled.response.batchItemFailures).to.deep.equal([]);
            expect(mock.commandCalls(GetObjectCommand)).to.have.length(3);
            expect(JSON.parse(String(mock.commandCalls(PutObjectCommand)[5].args[0].input.Body)).source.versionId).to.equal("v3");

            mock.reset();
            mock.on(GetObjectCommand).callsFake(() => ({ ...body("small.gif"), VersionId: `v${version}` }));
            mock.on(HeadObjectCommand).callsFake((input) => ({ VersionId: input.Key === "photos/a.gif" ? `v${++version}` : `v${version}` }));
            mock.on(PutObjectCommand).resolves({});
            const churning = await invoke(makeHandler(s3), upload("m2", "photos/a.gif", 5, "v3"), upload("ok", "photos/ok.gif"));
            expect(failures(churning.response)).to.deep.equal(["m2"]);
            expect(mock.commandCalls(GetObjectCommand).filter((c) => c.args[0].input.Key === "photos/a.gif")).to.have.length(ip.MAX_RENDER_ROUNDS);
            expect(churning.logs.find((l) => l.level === "ERROR")?.error).to.match(/^Error: s3:\/\/uploads\/photos\/a\.gif changed 5 times while its thumbnail was written; the message will be retried$/);
        });

        it("tells versions apart by ETag where the bucket has no versioning, rendering again when it changed", async () => {
            let etag = 1;
            mock.on(GetObjectCommand).callsFake(() => ({ ...body("small.gif"), ETag: `"etag-${etag}"` }));
            mock.on(HeadObjectCommand).callsFake(() => ({ ETag: `"etag-${etag < 2 ? ++etag : etag}"` }));
            mock.on(PutObjectCommand).resolves({});
            const { response } = await invoke(makeHandler(s3), upload("m1", "photos/a.gif", 5));
            expect(response.batchItemFailures).to.deep.equal([]);
            expect(mock.commandCalls(GetObjectCommand)).to.have.length(2);
            expect(JSON.parse(String(mock.commandCalls(PutObjectCommand)[3].args[0].input.Body)).source.etag).to.equal("etag-2");
        });

        it("keeps what it wrote when the key is deleted before it looks again (a 404 is no retry)", async () => {
            mock.on(GetObjectCommand).callsFake(() => ({ ...body("small.gif"), VersionId: "v1" }));
            mock.on(HeadObjectCommand).rejects(s3Error("NotFound", 404));
            mock.on(PutObjectCommand).resolves({});
            const { response, logs } = await invoke(makeHandler(s3), upload("m1", "photos/a.gif", 5, "v1"));
            expect(response.batchItemFailures).to.deep.equal([]);
            expect(logs.map((l) => l.message)).to.deep.equal(["thumbnail written"]);
            expect(mock.commandCalls(GetObjectCommand)).to.have.length(1);
        });

        it("fails the item, for SQS to retry, when asking which version is current fails otherwise", async () => {
            mock.on(GetObjectCommand).callsFake(() => ({ ...body("small.gif"), VersionId: "v1" }));
            mock.on(HeadObjectCommand).rejects(s3Error("SlowDown", 503));
            mock.on(PutObjectCommand).resolves({});
            const { response } = await invoke(makeHandler(s3), upload("m1", "photos/a.gif", 5, "v1"), upload("ok", "photos/b.txt"));
            expect(failures(response)).to.deep.equal(["m1"]);
        });

        it("fails the item on throttling, a 5xx or a denied write, and only that item", async () => {
            mock.on(GetObjectCommand, { Key: "photos/slow.jpg" }).rejects(s3Error("SlowDown", 503));
            mock.on(GetObjectCommand, { Key: "photos/broken.jpg" }).rejects(s3Error("InternalError", 500));
            mock.on(GetObjectCommand, { Key: "photos/ok.gif" }).callsFake(() => body("small.gif"));
            mock.on(GetObjectCommand, { Key: "photos/denied.gif" }).callsFake(() => body("small.gif"));
            mock.on(PutObjectCommand).resolves({});
            mock.on(PutObjectCommand, { Key: ip.derivedKeys("photos/denied.gif").thumbnail }).rejects(s3Error("AccessDenied", 403));
            const { response, logs } = await invoke(
                makeHandler(s3),
                upload("slow", "photos/slow.jpg"),
                upload("broken", "photos/broken.jpg"),
                upload("ok", "photos/ok.gif"),
                upload("denied", "photos/denied.gif"),
            );
            expect(failures(response)).to.deep.equal(["slow", "broken", "denied"]);
            const errors = logs.filter((l) => l.level === "ERROR");
            expect(errors.map((l) => [l.messageId, l.httpStatusCode])).to.deep.equal([
                ["slow", 503],
                ["broken", 500],
                ["denied", 403],
            ]);
            expect(errors[0].error).to.match(/^SlowDown: /);
            expect(logs.filter((l) => l.message === "thumbnail written").map((l) => l.messageId)).to.deep.equal(["ok"]);
        });

        it("writes a key too long to derive under a hashed name, its metadata naming the source key", async () => {
            const key = `photos/${"k".repeat(1000)}.jpg`; // valid (1011 bytes); prefixed, it would not be
            mock.on(GetObjectCommand).callsFake(() => body("small.gif"));
            mock.on(PutObjectCommand).resolves({});
            const { response, logs } = await invoke(makeHandler(s3), upload("long", key));
            expect(response.batchItemFailures).to.deep.equal([]);
            const hash = createHash("sha256").update(key).digest("hex");
            const written = mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
            expect(written).to.deep.equal([`thumbnails/_long/${hash}.thumb.webp`, `thumbnails/_long/${hash}.json`]);
            const metadata = JSON.parse(String(mock.commandCalls(PutObjectCommand)[1].args[0].input.Body));
            expect(metadata.source.key).to.equal(key);
            expect(logs.map((l) => l.message)).to.deep.equal(["thumbnail written"]);
            // Every derived key, hashed or not, stays under the prefix the upload rule ignores.
            expect(ip.isDerivedKey(written[0]!)).to.equal(true);
        });

        it("stops reading a body longer than MAX_IMAGE_BYTES when S3 gives no length", async () => {
            let read = 0;
            // 1 KiB chunks, far more than the limit; counts what the handler pulled.
            const endless = Readable.from(
                (function* () {
                    for (let i = 0; i < 1000; i++) {
                        read++;
                        yield Buffer.alloc(1024);
                    }
                })(),
            );
            mock.on(GetObjectCommand).resolves({ Body: endless as any });
            const { response, logs } = await invoke(makeHandler(s3, { MAX_IMAGE_BYTES: "4000" }), upload("m1", "photos/stream.jpg", 5));
            expect(response.batchItemFailures).to.deep.equal([]);
            expect(logs.map((l) => [l.reason, l.detail])).to.deep.equal([["too-large", "object body is over MAX_IMAGE_BYTES (4000)"]]);
            expect(read).to.be.lessThan(10);
            expect(mock.commandCalls(PutObjectCommand)).to.have.length(0);
        });

        it("fails the whole batch when every item fails, so all of it is retried", async () => {
            mock.on(GetObjectCommand).rejects(s3Error("SlowDown", 503));
            let thrown: unknown;
            try {
                await invoke(makeHandler(s3), upload("a", "photos/a.jpg"), upload("b", "photos/b.jpg"));
            } catch (err) {
                thrown = err;
            }
            expect((thrown as Error)?.name).to.equal("FullBatchFailureError");
        });
    });
});
