import { expect } from "chai";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { REPO_ROOT } from "../../local/engine";
import { Plan, PlannedResource } from "../../local/plan";
import { readZip } from "../../local/runtime/zip-reader";

const run = promisify(execFile);

// What another team gets: `npm pack` here, then examples/consumer (a Pulumi program of its own,
// with its own package.json and Pulumi.yaml) installed in a folder of its own from that tarball by
// a real `npm install`, type-checked against the tarball's typings, and evaluated under Pulumi's
// mocks with its own copy of @pulumi/pulumi. Nothing of this repository's source tree is on its
// path: a handler that imports a file the tarball lacks, or a package that is only a
// devDependency here, fails here as it would fail that team.

const EXAMPLE = path.join(REPO_ROOT, "examples", "consumer");
/**
 * Transitive dependencies resolve as published up to this date (npm --before), so the example
 * installs the same tree next year as today. Move it forward with the pinned versions.
 */
const RESOLVE_BEFORE = "2026-12-01";

interface PackedFile {
    path: string;
}

describe("examples/consumer: another team's program, from the packed tarball", function () {
    this.timeout(600_000);
    let scratch: string;
    let consumer: string;
    let packed: string[];
    let plan: Plan;

    before(async () => {
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "event-pipelines-consumer-"));
        const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", scratch], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
        // npm prints the prepack build's output before the JSON.
        const [info] = JSON.parse(stdout.slice(stdout.indexOf("[\n"))) as { filename: string; files: PackedFile[] }[];
        packed = info.files.map((f) => f.path).sort();
        const tarball = path.join(scratch, info.filename);

        consumer = path.join(scratch, "consumer");
        fs.cpSync(EXAMPLE, consumer, { recursive: true, filter: (src) => !/[/\\](node_modules|out|\.build)([/\\]|$)/.test(src) });
        const manifest = JSON.parse(fs.readFileSync(path.join(consumer, "package.json"), "utf8"));
        manifest.dependencies["event-pipelines"] = `file:${tarball}`;
        fs.writeFileSync(path.join(consumer, "package.json"), JSON.stringify(manifest, null, 2));
        await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", `--before=${RESOLVE_BEFORE}`], { cwd: consumer, maxBuffer: 64 << 20 });
    });

    after(() => {
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    it("packs dist/ (JavaScript and typings), the handlers, README, LICENSE and CHANGELOG, and nothing else", () => {
        expect(packed).to.include.members(["README.md", "LICENSE", "CHANGELOG.md", "package.json", "dist/components/index.js", "dist/components/index.d.ts"]);
        expect(packed).to.include.members(["functions/audit-logger/index.ts", "functions/api-consumer/message-validator.generated.js", "functions/shared/contract.ts"]);
        expect(packed).to.include.members(["dist/functions/shared/contract.js", "dist/functions/shared/contract.d.ts"]);
        // Seed 002's Glue script and SQL, which ResilientReportingPipeline uploads from the package.
        expect(packed).to.include.members(["glue/report_etl.py", "glue/sql/transform/01_parsed.sql", "glue/sql/load/06_merge_fact_transactions.sql", "dist/glue/sql-files.js"]);
        const outside = packed.filter((f) => !/^(dist\/|functions\/|glue\/sql\/)/.test(f) && !["README.md", "LICENSE", "CHANGELOG.md", "package.json", "glue/report_etl.py"].includes(f));
        expect(outside, "files outside dist/, functions/ and glue/").to.deep.equal([]);
        for (const file of packed.filter((f) => f.startsWith("dist/") && f.endsWith(".js"))) {
            expect(packed, `typings of ${file}`).to.include(file.replace(/\.js$/, ".d.ts"));
        }
        expect(packed.filter((f) => /(^|\/)test\/|\.spec\.|Pulumi\.[^/]*\.ya?ml$|^index\.ts$/.test(f)), "tests or stack files").to.deep.equal([]);
    });

    it("type-checks against the tarball's typings", async () => {
        await run(path.join(consumer, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", consumer], { cwd: consumer });
    });

    describe("evaluated under mocks with its own @pulumi/pulumi", () => {
        before(async () => {
            await run(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), path.join(REPO_ROOT, "local", "main.ts"), "--root", consumer, "--stack", "dev"], {
                cwd: consumer,
                maxBuffer: 64 << 20,
                // The engine is this repository's TypeScript, compiled with its settings; the example's
                // index.ts compiles the same (transpile only): its own settings were checked above.
                env: { ...process.env, TS_NODE_PROJECT: path.join(REPO_ROOT, "tsconfig.json") },
            });
            plan = JSON.parse(fs.readFileSync(path.join(consumer, "out", "dev", "plan.json"), "utf8"));
        });

        const named = (type: string, name: string): PlannedResource => {
            const hit = plan.resources.find((r) => r.type === type && r.name === name);
            if (!hit) throw new Error(`no ${type} ${name} in the example's plan`);
            return hit;
        };

        it("builds the components from the installed package, with the example's region", () => {
            for (const [type, name] of [
                ["event-pipelines:index:QueueWithDlq", "orders"],
                ["event-pipelines:index:FanOutTopic", "order-events"],
                ["event-pipelines:index:StreamToTable", "clicks"],
                ["event-pipelines:index:QueueWithDlq", "photo-audit"],
                ["event-pipelines:index:QueueWithDlq", "thumbnails"],
                ["event-pipelines:index:QueueWithDlq", "inbox"],
                ["event-pipelines:index:ObjectCreatedRule", "photo-created"],
                ["event-pipelines:index:ResilientReportingPipeline", "daily"],
            ]) {
                expect(named(type, name).urn).to.match(/^urn:pulumi:dev::consumer-example::/);
            }
            expect(named("aws:sns/topicSubscription:TopicSubscription", "order-events-orders-subscription").inputs.endpoint).to.equal(
                named("aws:sqs/queue:Queue", "orders-queue").outputs.arn,
            );
            expect(plan.outputs.clicksStreamName).to.match(/^clicks-stream-[0-9a-f]{7}$/);
            expect(named("aws:sqs/queue:Queue", "orders-queue").outputs.arn).to.match(/^arn:aws:sqs:eu-west-1:/);
        });

        it("uploads seed 002's Glue script and SQL from the installed package, as the package ships them", () => {
            const objects = plan.resources.filter((r) => r.type === "aws:s3/bucketObjectv2:BucketObjectv2" && r.name.startsWith("daily-"));
            const script = objects.find((o) => String(o.inputs.key).endsWith("/report_etl.py"));
            expect(script?.inputs.content).to.equal(fs.readFileSync(path.join(REPO_ROOT, "glue", "report_etl.py"), "utf8"));
            expect(objects.filter((o) => /\/scripts\/sql-|^scripts\/sql-/.test(String(o.inputs.key))).length).to.equal(fs.readdirSync(path.join(REPO_ROOT, "glue", "sql", "transform")).length);
            expect(named("aws:glue/job:Job", "daily-etl").inputs.numberOfWorkers).to.equal(4);
        });

        it("builds every function's archive: the inline callback's closure, and each shipped handler bundled from the tarball", () => {
            const functions = plan.resources.filter((r) => r.type === "aws:lambda/function:Function");
            expect(functions.map((f) => f.name).sort()).to.deep.equal([
                "clicks-consumer-function",
                "inbox-consumer-function",
                "orders-consumer-function",
                "photo-audit-consumer-function",
                "thumbnails-consumer-function",
            ]);
            const callback = named("aws:lambda/function:Function", "orders-consumer-function").inputs.code as { archive: string[] };
            expect(callback.archive).to.include("__index.js");
            for (const fn of functions.filter((f) => f.name !== "orders-consumer-function")) {
                const archive = (fn.inputs.code as { archive: string }).archive;
                const zip = path.resolve(consumer, archive);
                expect(fs.existsSync(zip), `${fn.name}: ${archive}`).to.equal(true);
                const names = readZip(fs.readFileSync(zip)).map((e) => e.name);
                expect(names, fn.name).to.include("index.js");
                expect(fn.inputs.codeSha256, fn.name).to.be.a("string");
            }
            const sharp = readZip(fs.readFileSync(path.resolve(consumer, (named("aws:lambda/function:Function", "thumbnails-consumer-function").inputs.code as { archive: string }).archive)));
            expect(sharp.some((e) => e.name === "node_modules/sharp/package.json")).to.equal(true);
        });

        it("gives each handler the names the package exports for it", () => {
            const env = (name: string) => (named("aws:lambda/function:Function", name).inputs.environment as { variables: Record<string, string> }).variables;
            expect(env("photo-audit-consumer-function").AUDIT_TABLE_NAME).to.equal(named("aws:dynamodb/table:Table", "photo-audit-table").outputs.name);
            expect(env("inbox-consumer-function").DEAD_LETTER_QUEUE_URL).to.equal(named("aws:sqs/queue:Queue", "inbox-dlq").outputs.url);
            expect(env("thumbnails-consumer-function")).to.include({ DERIVED_PREFIX: "thumbnails/", THUMBNAIL_SIZE: "256" });
            expect(env("clicks-consumer-function")).to.include({ TABLE_NAME: named("aws:dynamodb/table:Table", "clicks-table").outputs.name });
        });
    });
});
