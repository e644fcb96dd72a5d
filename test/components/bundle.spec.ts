import { expect } from "chai";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Bundle, bundleFunction } from "../../components/bundle";
import { LambdaFunction, functionEntry } from "../../components/lambda-function";
import { lambdaContext, objectCreatedEvent, sqsEvent, sqsRecord } from "../support/lambda-events";
import { one, record } from "../support/pulumi-harness";
import { ZipEntry, readZip } from "../support/zip-reader";

// ---- one file of a zip (readZip is test/support/zip-reader), failing the test when it is missing ----

function file(entries: ZipEntry[], name: string): Buffer {
    const hit = entries.find((e) => e.name === name);
    if (!hit) expect.fail(`no ${name} in the zip (have ${entries.map((e) => e.name).join(", ")})`);
    return hit.contents;
}

// ---- temporary folders, removed afterwards ----

const SRC_ROOT = path.join(process.cwd(), ".build", "test-src");
const made: string[] = [];

function tempDir(under: string, prefix: string): string {
    fs.mkdirSync(under, { recursive: true });
    const dir = fs.mkdtempSync(path.join(under, prefix));
    made.push(dir);
    return dir;
}

/** Writes `source` as `<a temp folder under .build/test-src>/<name>/index.ts`, where node_modules resolves. */
function handlerSource(name: string, source: string): string {
    const entry = path.join(tempDir(SRC_ROOT, "bundle-"), name, "index.ts");
    fs.mkdirSync(path.dirname(entry), { recursive: true });
    fs.writeFileSync(entry, source);
    return entry;
}

const sha256 = (b: Buffer, encoding: "base64" | "hex") => createHash("sha256").update(b).digest(encoding);

describe("bundleFunction", () => {
    const entry = functionEntry("audit-logger");
    let first: Bundle;
    let zip: Buffer;

    before(async () => {
        first = await bundleFunction(entry, { outDir: tempDir(os.tmpdir(), "bundle-a-") });
        zip = fs.readFileSync(first.zipPath);
    });

    after(() => {
        for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
        if (fs.existsSync(SRC_ROOT) && fs.readdirSync(SRC_ROOT).length === 0) fs.rmdirSync(SRC_ROOT);
    });

    it("writes the same bytes and hash for the same source, whatever the output folder", async () => {
        const second = await bundleFunction(entry, { outDir: tempDir(os.tmpdir(), "bundle-b-") });
        expect(path.dirname(second.zipPath)).not.to.equal(path.dirname(first.zipPath));
        expect(path.basename(second.zipPath)).to.equal(path.basename(first.zipPath));
        const again = fs.readFileSync(second.zipPath);
        expect(again.equals(zip), "zip bytes").to.equal(true);
        expect(second.sha256).to.equal(first.sha256);
        expect(second.zipBytes).to.equal(zip.length);
        expect(second.codeBytes).to.equal(first.codeBytes);
    });

    it("reports the base64 sha256 of the zip, and names it after the handler and the hash", () => {
        expect(first.sha256).to.equal(sha256(zip, "base64"));
        expect(first.zipBytes).to.equal(zip.length);
        expect(path.basename(first.zipPath)).to.equal(`audit-logger-${sha256(zip, "hex").slice(0, 16)}.zip`);
    });

    it("writes to .build/lambda, relative to the working directory, by default", async () => {
        const bundle = await bundleFunction(entry);
        expect(bundle.zipPath).to.equal(path.join(".build", "lambda", path.basename(first.zipPath)));
        expect(bundle.sha256).to.equal(first.sha256);
        expect(fs.readFileSync(bundle.zipPath).equals(zip)).to.equal(true);
    });

    it("gives the function the same codeSha256 on every evaluation", async () => {
        const hashes: unknown[] = [];
        for (let i = 0; i < 2; i++) {
            const plan = await record(() => {
                new LambdaFunction("audit", { entry });
            });
            hashes.push(one(plan, "aws:lambda/function:Function", "audit-function").inputs.codeSha256);
        }
        expect(hashes[0]).to.equal(first.sha256);
        expect(hashes[1]).to.equal(first.sha256);
    });

    it("holds exactly index.js and index.js.map, with a fixed time and mode", () => {
        const entries = readZip(zip);
        expect(entries.map((e) => e.name)).to.deep.equal(["index.js", "index.js.map"]);
        for (const e of entries) {
            expect(e.method, `${e.name} compression`).to.equal(8);
            // 1980-01-01 00:00:00 in DOS format: date (0 << 9) | (1 << 5) | 1, time 0.
            expect(e.dosDate, `${e.name} date`).to.equal(33);
            expect(e.dosTime, `${e.name} time`).to.equal(0);
            expect(e.mode, `${e.name} mode`).to.equal(0o100644);
        }
        expect(file(entries, "index.js").length).to.equal(first.codeBytes);
    });

    it("links a source map with relative sources and no source text", () => {
        const entries = readZip(zip);
        const code = file(entries, "index.js").toString("utf8");
        expect(code.trimEnd().endsWith("//# sourceMappingURL=index.js.map")).to.equal(true);
        const map = JSON.parse(file(entries, "index.js.map").toString("utf8")) as { sources: string[]; sourcesContent?: unknown };
        expect(map.sources).to.include("../../functions/audit-logger/index.ts");
        expect(map.sources.filter((s) => path.isAbsolute(s) || s.includes(process.cwd()))).to.deep.equal([]);
        expect(map).not.to.have.property("sourcesContent");
    });

    it("changes the hash when the code changes, and only then", async () => {
        const copy = handlerSource("audit-logger", fs.readFileSync(entry, "utf8"));
        const original = await bundleFunction(copy, { outDir: tempDir(os.tmpdir(), "bundle-c-") });
        const unchanged = await bundleFunction(copy, { outDir: tempDir(os.tmpdir(), "bundle-d-") });
        expect(unchanged.sha256).to.equal(original.sha256);

        // A comment is not code: minified away, it leaves the archive as it was.
        fs.appendFileSync(copy, "\n// a reviewer's note\n");
        const commented = await bundleFunction(copy, { outDir: tempDir(os.tmpdir(), "bundle-e-") });
        expect(commented.sha256).to.equal(original.sha256);

        fs.appendFileSync(copy, "export const AUDIT_FORMAT_VERSION = 2;\n");
        const changed = await bundleFunction(copy, { outDir: tempDir(os.tmpdir(), "bundle-f-") });
        expect(changed.sha256).not.to.equal(original.sha256);
        expect(changed.zipPath).not.to.equal(original.zipPath);
        const code = file(readZip(fs.readFileSync(changed.zipPath)), "index.js").toString("utf8");
        expect(code).to.contain("AUDIT_FORMAT_VERSION");
    });

    it("leaves the AWS SDK v3 out of the bundle, as a require the runtime satisfies", async () => {
        const sdkUser = handlerSource(
            "sdk-user",
            [
                'import { GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";',
                "const sqs = new SQSClient({});",
                "export const handler = async (event: { queueName: string }) =>",
                "    (await sqs.send(new GetQueueUrlCommand({ QueueName: event.queueName }))).QueueUrl;",
                "",
            ].join("\n"),
        );
        const bundle = await bundleFunction(sdkUser, { outDir: tempDir(os.tmpdir(), "bundle-g-") });
        const code = file(readZip(fs.readFileSync(bundle.zipPath)), "index.js").toString("utf8");
        expect(code).to.contain('require("@aws-sdk/client-sqs")');
        expect(code).not.to.contain("@smithy");
        // The SQS client bundled would be hundreds of kilobytes.
        expect(bundle.codeBytes).to.be.lessThan(2000);
        expect(path.basename(bundle.zipPath)).to.match(/^sdk-user-[0-9a-f]{16}\.zip$/);
    });

    it("leaves out the packages named in external, besides the SDK", async () => {
        const bundle = await bundleFunction(entry, { outDir: tempDir(os.tmpdir(), "bundle-h-"), external: ["@aws-lambda-powertools/logger"] });
        const code = file(readZip(fs.readFileSync(bundle.zipPath)), "index.js").toString("utf8");
        expect(code).to.contain('require("@aws-lambda-powertools/logger")');
        expect(code).not.to.contain('require("@aws-lambda-powertools/batch")');
        expect(bundle.sha256).not.to.equal(first.sha256);
    });

    describe("the bundled audit-logger, loaded from its zip alone", () => {
        let handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

        before(() => {
            // Extracted outside the repository: no node_modules to fall back on.
            const dir = tempDir(os.tmpdir(), "bundle-run-");
            for (const e of readZip(zip)) fs.writeFileSync(path.join(dir, e.name), e.contents);
            const saved = process.env.POWERTOOLS_LOG_LEVEL;
            process.env.POWERTOOLS_LOG_LEVEL = "INFO";
            try {
                handler = require(path.join(dir, "index.js")).handler;
            } finally {
                if (saved === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
                else process.env.POWERTOOLS_LOG_LEVEL = saved;
            }
        });

        it("exports a handler that reports exactly the bad messages of a batch, logging JSON lines", async () => {
            expect(handler).to.be.a("function");
            const event = sqsEvent(
                sqsRecord("m-valid", JSON.stringify(objectCreatedEvent("photos/cat.jpg"))),
                sqsRecord("m-not-json", "<xml>nope</xml>"),
                sqsRecord("m-wrong-shape", JSON.stringify({ detail: { bucket: {} } })),
            );
            const lines: string[] = [];
            const out = process.stdout.write;
            const err = process.stderr.write;
            const capture = (chunk: unknown) => (lines.push(String(chunk)), true);
            process.stdout.write = capture as typeof process.stdout.write;
            process.stderr.write = capture as typeof process.stderr.write;
            let response: SQSBatchResponse;
            try {
                response = await handler(event, lambdaContext);
            } finally {
                process.stdout.write = out;
                process.stderr.write = err;
            }
            expect(response).to.deep.equal({ batchItemFailures: [{ itemIdentifier: "m-not-json" }, { itemIdentifier: "m-wrong-shape" }] });

            const logs = lines.join("").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
            const uploaded = logs.filter((l) => l.message === "object uploaded");
            expect(uploaded).to.have.length(1);
            expect(uploaded[0]).to.include({ level: "INFO", service: "audit-logger", messageId: "m-valid" });
            expect(uploaded[0].audit).to.include({ bucket: "uploads", key: "photos/cat.jpg", size: 5 });
            const rejected = logs.filter((l) => l.message === "rejected message");
            expect(rejected.map((l) => l.messageId)).to.deep.equal(["m-not-json", "m-wrong-shape"]);
            expect(rejected.every((l) => l.level === "ERROR")).to.equal(true);
        });
    });
});
