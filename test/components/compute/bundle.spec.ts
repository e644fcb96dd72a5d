import { expect } from "chai";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Bundle, bundleFunction } from "../../../components/compute/bundle";
import { LambdaFunction, functionEntry } from "../../../components/compute/lambda-function";
import { lambdaContext, objectCreatedEvent, sqsEvent, sqsRecord } from "../../support/lambda-events";
import { captureJsonLines } from "../../support/process-io";
import { one, record } from "../../support/pulumi-harness";
import { ZipEntry, readZip } from "../../../local/runtime/zip-reader";

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

function cleanUp(): void {
    for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    if (fs.existsSync(SRC_ROOT) && fs.readdirSync(SRC_ROOT).length === 0) fs.rmdirSync(SRC_ROOT);
}

/** Writes `source` as `<a temp folder under .build/test-src>/<name>/index.ts`, where node_modules resolves. */
function handlerSource(name: string, source: string): string {
    const entry = path.join(tempDir(SRC_ROOT, "bundle-"), name, "index.ts");
    fs.mkdirSync(path.dirname(entry), { recursive: true });
    fs.writeFileSync(entry, source);
    return entry;
}

const sha256 = (b: Buffer, encoding: "base64" | "hex") => createHash("sha256").update(b).digest(encoding);

/** Links this repository's @aws-sdk/client-* packages into `nodeModules`: what the Lambda Node.js runtime provides. */
function runtimeSdkClients(nodeModules: string): void {
    const sdk = path.join(process.cwd(), "node_modules", "@aws-sdk");
    fs.mkdirSync(path.join(nodeModules, "@aws-sdk"), { recursive: true });
    for (const name of fs.readdirSync(sdk).filter((n) => n.startsWith("client-"))) {
        fs.symlinkSync(path.join(sdk, name), path.join(nodeModules, "@aws-sdk", name), "dir");
    }
}

describe("bundleFunction", () => {
    const entry = functionEntry("audit-logger");
    let first: Bundle;
    let zip: Buffer;

    before(async () => {
        first = await bundleFunction(entry, { outDir: tempDir(os.tmpdir(), "bundle-a-") });
        zip = fs.readFileSync(first.zipPath);
    });

    after(cleanUp);

    it("lists what the bundle is made of, by package and folder, largest first (esbuild's metafile)", () => {
        expect(first.inputs.length).to.be.above(3);
        expect(first.inputs.map((i) => i.bytes)).to.deep.equal([...first.inputs.map((i) => i.bytes)].sort((a, b) => b - a));
        expect(first.inputs.map((i) => i.from)).to.include.members(["@aws-lambda-powertools/logger", "functions/audit-logger", "functions/shared"]);
        expect(first.inputs.reduce((n, i) => n + i.bytes, 0)).to.be.at.most(first.codeBytes);
    });

    it("fails in one line naming the handler and the import it cannot resolve", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bundle-unresolved-"));
        const entry = path.join(dir, "index.ts");
        fs.writeFileSync(entry, 'import { x } from "../nowhere/defaults";\nexport const handler = async () => x;\n');
        try {
            const failure = await bundleFunction(entry, { outDir: dir }).then(() => undefined, (err: Error) => err);
            expect(failure?.message).to.match(new RegExp(`^bundleFunction: ${entry.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: Could not resolve "../nowhere/defaults" \\(.*index\\.ts:1\\)$`));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
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
        // A copy of the whole functions/ folder: the handler's own modules and the shared ones it imports.
        const functions = path.join(tempDir(SRC_ROOT, "bundle-"), "functions");
        fs.cpSync(path.dirname(path.dirname(entry)), functions, { recursive: true });
        const copy = path.join(functions, "audit-logger", "index.ts");
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

        const puts: Record<string, any>[] = [];

        before(() => {
            // Extracted outside the repository: no node_modules to fall back on, except the SDK
            // clients the Lambda runtime provides (simulated one folder up, where Node looks next).
            const dir = path.join(tempDir(os.tmpdir(), "bundle-run-"), "task");
            fs.mkdirSync(dir);
            runtimeSdkClients(path.join(path.dirname(dir), "node_modules"));
            for (const e of readZip(zip)) fs.writeFileSync(path.join(dir, e.name), e.contents);
            const saved = process.env.POWERTOOLS_LOG_LEVEL;
            process.env.POWERTOOLS_LOG_LEVEL = "INFO";
            try {
                // The table client is the one thing stubbed: this checks the archive, not DynamoDB.
                const client = { send: async (command: { input: Record<string, any> }) => (puts.push(command.input), {}) };
                handler = require(path.join(dir, "index.js")).createHandler({ client, tableName: "audit-test" });
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
            const { result: response, lines: logs } = await captureJsonLines(() => handler(event, lambdaContext));
            expect(response).to.deep.equal({ batchItemFailures: [{ itemIdentifier: "m-not-json" }, { itemIdentifier: "m-wrong-shape" }] });

            const uploaded = logs.filter((l) => l.message === "object uploaded");
            expect(uploaded).to.have.length(1);
            expect(uploaded[0]).to.include({ level: "INFO", service: "audit-logger", messageId: "m-valid" });
            expect(uploaded[0].audit).to.include({ bucket: "uploads", key: "photos/cat.jpg", size: 5 });
            const rejected = logs.filter((l) => l.message === "rejected message");
            expect(rejected.map((l) => l.messageId)).to.deep.equal(["m-not-json", "m-wrong-shape"]);
            expect(rejected.every((l) => l.level === "ERROR")).to.equal(true);
            expect(puts.map((p) => p.TableName)).to.deep.equal(["audit-test"]);
        });
    });
});

// ---- native packages (sharp): shipped under node_modules/, picked for the Lambda platform ----

/** Writes a package folder: its package.json from `manifest`, plus the given files. */
function writePackage(dir: string, manifest: Record<string, unknown>, files: Record<string, string> = { "index.js": "module.exports = 1;\n" }): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ version: "1.0.0", ...manifest }));
    for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
    }
}

const manifestOf = (entries: ZipEntry[], dir: string) => JSON.parse(file(entries, `${dir}/package.json`).toString("utf8")) as Record<string, any>;

/** The package folders of a zip: `node_modules/<name>` and nested `…/node_modules/<name>`, scopes included. */
function packageDirs(entries: ZipEntry[]): string[] {
    return entries.filter((e) => /(^|\/)node_modules\/(@[^/]+\/)?[^/@]+\/package\.json$/.test(e.name) && !e.name.slice(0, -"/package.json".length).match(/\/(lib|dist|src)\//)).map((e) => e.name.slice(0, -"/package.json".length));
}

describe("bundleFunction with nativePackages", () => {
    const SHARP_VERSION = JSON.parse(fs.readFileSync(path.join(process.cwd(), "node_modules", "sharp", "package.json"), "utf8")).version as string;
    const installed = (name: string) => fs.existsSync(path.join(process.cwd(), "node_modules", name, "package.json"));
    let sharpUser: string;
    let first: Bundle;
    let entries: ZipEntry[];

    before(async () => {
        sharpUser = handlerSource(
            "sharp-user",
            [
                'import sharp from "sharp";',
                "export const handler = async () => (await sharp({ create: { width: 2, height: 2, channels: 3, background: \"#f00\" } }).png().toBuffer()).length;",
                "",
            ].join("\n"),
        );
        first = await bundleFunction(sharpUser, { nativePackages: ["sharp"], architecture: "x86_64", outDir: tempDir(os.tmpdir(), "native-a-") });
        entries = readZip(fs.readFileSync(first.zipPath));
    });

    after(cleanUp);

    it("keeps sharp out of index.js and ships it, with its linux-x64 glibc binaries, under node_modules/", () => {
        const code = file(entries, "index.js").toString("utf8");
        expect(code).to.contain('require("sharp")');
        expect(first.codeBytes).to.be.lessThan(2000);
        expect(manifestOf(entries, "node_modules/sharp").version).to.equal(SHARP_VERSION);
        file(entries, `node_modules/@img/sharp-linux-x64/lib/sharp-linux-x64-${SHARP_VERSION}.node`);
        expect(entries.some((e) => /^node_modules\/@img\/sharp-libvips-linux-x64\/lib\/libvips-cpp\.so/.test(e.name))).to.equal(true);
        // sharp's runtime dependencies come along; its optional packages for other platforms do not.
        expect(first.packages.map((p) => p.replace(/@[^@]+$/, ""))).to.deep.equal([
            "@img/colour",
            "@img/sharp-libvips-linux-x64",
            "@img/sharp-linux-x64",
            "detect-libc",
            "semver",
            "sharp",
        ]);
        expect(packageDirs(entries).map((d) => d.replace(/^node_modules\//, "")).sort()).to.deep.equal(first.packages.map((p) => p.replace(/@[^@]+$/, "")));
    });

    it("ships no package built for another platform: no darwin, win32, musl, wasm or other CPU", () => {
        expect(entries.filter((e) => /darwin|win32|musl|wasm|freebsd|linux-arm|ppc64|s390x|riscv/.test(e.name)).map((e) => e.name)).to.deep.equal([]);
        for (const dir of packageDirs(entries)) {
            const m = manifestOf(entries, dir);
            for (const [field, value] of [["os", "linux"], ["cpu", "x64"], ["libc", "glibc"]] as const) {
                if (m[field]) expect(m[field], `${dir} ${field}`).to.include(value);
            }
        }
    });

    it("writes the same bytes for the same input: sorted entries, fixed time, mode 0644 for the binaries too", async () => {
        const second = await bundleFunction(sharpUser, { nativePackages: ["sharp"], architecture: "x86_64", outDir: tempDir(os.tmpdir(), "native-b-") });
        expect(second.sha256).to.equal(first.sha256);
        expect(fs.readFileSync(second.zipPath).equals(fs.readFileSync(first.zipPath))).to.equal(true);
        const names = entries.map((e) => e.name);
        expect(names).to.deep.equal([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        for (const e of entries) {
            expect([e.dosDate, e.dosTime, e.mode], e.name).to.deep.equal([33, 0, 0o100644]);
        }
    });

    it("loads sharp from the extracted zip alone", () => {
        const dir = path.join(tempDir(os.tmpdir(), "native-run-"), "task");
        for (const e of entries) {
            fs.mkdirSync(path.dirname(path.join(dir, e.name)), { recursive: true });
            fs.writeFileSync(path.join(dir, e.name), e.contents);
        }
        // A child process, so the repository's own sharp (already loaded here) cannot be reused.
        const script = 'require("./index.js").handler().then((n) => console.log(JSON.stringify({ n, sharp: require.resolve("sharp") })))';
        const out = execFileSync(process.execPath, ["-e", script], { cwd: dir, env: { PATH: process.env.PATH }, encoding: "utf8" }) as string;
        const result = JSON.parse(out.trim().split("\n").pop()!) as { n: number; sharp: string };
        expect(result.n).to.be.greaterThan(50);
        expect(result.sharp.startsWith(dir + path.sep), result.sharp).to.equal(true);
    });

    it("fails for arm64 on this machine in one line naming the missing packages and the npm command", async function () {
        if (installed("@img/sharp-linux-arm64")) this.skip(); // someone installed them: nothing is missing
        let message = "";
        try {
            await bundleFunction(sharpUser, { nativePackages: ["sharp"], architecture: "arm64", outDir: tempDir(os.tmpdir(), "native-c-") });
        } catch (err) {
            message = (err as Error).message;
        }
        expect(message).to.equal(
            `bundleFunction: sharp on Lambda arm64 (linux-arm64, glibc) needs @img/sharp-libvips-linux-arm64, @img/sharp-linux-arm64, not installed on this machine; install with: npm install --os=linux --cpu=arm64 --libc=glibc sharp; or set the function's architecture to "x86_64", whose build is installed here`,
        );
    });

    it("fails in one line when a native package is not installed at all", async () => {
        let message = "";
        try {
            await bundleFunction(sharpUser, { nativePackages: ["no-such-native-module"], architecture: "x86_64", outDir: tempDir(os.tmpdir(), "native-d-") });
        } catch (err) {
            message = (err as Error).message;
        }
        expect(message).to.equal("bundleFunction: native package no-such-native-module is not installed; run: npm install no-such-native-module");
    });

    describe("on a package tree built for the purpose", () => {
        let entry: string;
        let nodeModules: string;

        before(() => {
            entry = handlerSource("fake-user", 'import fake from "fake-native";\nexport const handler = async () => fake;\n');
            // Looked up before the repository's node_modules, as Node and npm would.
            nodeModules = path.join(path.dirname(path.dirname(entry)), "node_modules");
            writePackage(path.join(nodeModules, "fake-native"), {
                name: "fake-native",
                dependencies: { helper: "^2.0.0" },
                optionalDependencies: {
                    "fake-native-linux-x64": "1.0.0",
                    "fake-native-linuxmusl-x64": "1.0.0",
                    "fake-native-darwin-arm64": "1.0.0",
                    "fake-native-not-linux": "1.0.0",
                    "fake-native-linux-arm64": "1.0.0", // not installed, as npm skips it on x64
                    "fake-native-extras": "1.0.0", // not installed, and not platform-specific: fine
                },
            });
            // helper@2 nested under fake-native, helper@1 at the top for the platform package.
            writePackage(path.join(nodeModules, "fake-native", "node_modules", "helper"), { name: "helper", version: "2.0.0" });
            writePackage(path.join(nodeModules, "helper"), { name: "helper", version: "1.0.0" });
            writePackage(path.join(nodeModules, "fake-native-linux-x64"), { name: "fake-native-linux-x64", os: ["linux"], cpu: ["x64"], libc: ["glibc"], dependencies: { helper: "^1.0.0" } }, { "lib/fake.node": "binary" });
            writePackage(path.join(nodeModules, "fake-native-linuxmusl-x64"), { name: "fake-native-linuxmusl-x64", os: ["linux"], cpu: ["x64"], libc: ["musl"] });
            writePackage(path.join(nodeModules, "fake-native-darwin-arm64"), { name: "fake-native-darwin-arm64", os: ["darwin"], cpu: ["arm64"] });
            writePackage(path.join(nodeModules, "fake-native-not-linux"), { name: "fake-native-not-linux", os: ["!linux"] });
            writePackage(path.join(nodeModules, "fake-broken"), { name: "fake-broken", dependencies: { "absent-dependency": "1.0.0" } });
        });

        it("keeps the installed nesting and only the packages that fit linux-x64 glibc", async () => {
            const bundle = await bundleFunction(entry, { nativePackages: ["fake-native"], architecture: "x86_64", outDir: tempDir(os.tmpdir(), "native-e-") });
            const names = readZip(fs.readFileSync(bundle.zipPath)).map((e) => e.name);
            expect(names).to.deep.equal([
                "index.js",
                "index.js.map",
                "node_modules/fake-native-linux-x64/lib/fake.node",
                "node_modules/fake-native-linux-x64/package.json",
                "node_modules/fake-native/index.js",
                "node_modules/fake-native/node_modules/helper/index.js",
                "node_modules/fake-native/node_modules/helper/package.json",
                "node_modules/fake-native/package.json",
                "node_modules/helper/index.js",
                "node_modules/helper/package.json",
            ]);
            expect(bundle.packages).to.deep.equal(["fake-native-linux-x64@1.0.0", "fake-native@1.0.0", "helper@1.0.0", "helper@2.0.0"]);
        });

        it("names a platform package missing for arm64 (known by its name when no lockfile lists it)", async () => {
            let message = "";
            try {
                await bundleFunction(entry, { nativePackages: ["fake-native"], architecture: "arm64", outDir: tempDir(os.tmpdir(), "native-f-") });
            } catch (err) {
                message = (err as Error).message;
            }
            expect(message).to.equal(
                `bundleFunction: fake-native on Lambda arm64 (linux-arm64, glibc) needs fake-native-linux-arm64, not installed on this machine; install with: npm install --os=linux --cpu=arm64 --libc=glibc fake-native; or set the function's architecture to "x86_64", whose build is installed here`,
            );
        });

        it("names a missing required dependency and the package that needs it", async () => {
            let message = "";
            try {
                await bundleFunction(entry, { nativePackages: ["fake-broken"], architecture: "x86_64", outDir: tempDir(os.tmpdir(), "native-g-") });
            } catch (err) {
                message = (err as Error).message;
            }
            expect(message).to.equal("bundleFunction: absent-dependency (a dependency of fake-broken) is not installed; run: npm install fake-broken");
        });
    });

    it("gives LambdaFunction the archive for its architecture, with the native packages", async () => {
        const plan = await record(() => {
            new LambdaFunction("images", { entry: sharpUser, nativePackages: ["sharp"], architecture: "x86_64" });
        });
        const fn = one(plan, "aws:lambda/function:Function", "images-function").inputs;
        expect(fn.codeSha256).to.equal(first.sha256);
        expect(fn.architectures).to.deep.equal(["x86_64"]);
    });

    it("refuses nativePackages with an inline callback", () => {
        expect(() => new LambdaFunction("cb", { callback: async () => 1, nativePackages: ["sharp"] })).to.throw(/nativePackages needs entry/);
    });
});
