// Every shipped function, as LambdaFunction deploys it (the esbuild bundle, from its zip) against
// what an inline `aws.lambda.CallbackFunction` would ship for the same handler: zip size, the
// largest inputs of the bundle (esbuild's metafile), and cold load in fresh node processes
// (require, then a first call that does the function's real work against dynalite or s3rver).
// Goals: a function without native modules ships at most 150 KiB zipped, and its cold require is
// at least 2x faster than CallbackFunction's.
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Bundle, bundleFunction } from "../components/compute/bundle";
import { functionEntry } from "../components/compute/lambda-function";
import { AUDIT_TABLE_ENV, AUDIT_TABLE_KEY, CONSUMER_ENV, EVENT_TABLE, REJECTS_TABLE, STREAM_TO_TABLE_ENV } from "../functions/shared/contract";
import { countItems, createHashKeyTable } from "../test/support/dynamo-tables";
import { dynamoClient, s3Client, startDynalite, startS3rver, type Emulator } from "../local/runtime/emulators";
import { kinesisRecord, objectCreatedEvent, sqsEvent, sqsRecord, uploadMessage } from "../test/support/lambda-events";
import { unzip, walk, zippedBytes } from "./archive";
import { CLOSURE_FILE, callbackArchive } from "./callback";
import { Sample, Variant, coldLoad } from "./cold-load";
import { goal, median, ratio, table, kib, ms } from "./report";

const RUNS = 7;
const ROOT = path.resolve(__dirname, "..");
export const SIZE_GOAL_BYTES = 150 * 1024;
export const REQUIRE_GOAL_RATIO = 2;

interface Emulators {
    dynamo: Emulator;
    s3: Emulator;
}

/** One shipped function: how to run it for real, and its factory for CallbackFunction. */
interface FunctionCase {
    name: string;
    /** The AWS SDK client it uses, which the Lambda runtime provides (left out of the bundle). */
    sdkClient: string;
    /** The handler's factory, for CallbackFunction's `callbackFactory`; or why CallbackFunction cannot run this handler. */
    factory: (() => unknown) | { unserializable: string };
    nativePackages?: string[];
    architecture?: "x86_64" | "arm64";
    /** Creates what the first call needs; returns the function's environment. */
    prepare(e: Emulators): Promise<Record<string, string>>;
    event(n: number): unknown;
    verify(result: any, stdout: string): string | undefined;
    /** Checks, after every run, that each first call did its work (one item per call, say). */
    after?(e: Emulators, calls: number): Promise<string | undefined>;
}

const noFailures = (result: any) =>
    Array.isArray(result?.batchItemFailures) && result.batchItemFailures.length === 0 ? undefined : `returned ${JSON.stringify(result)}`;
const logged = (stdout: string, message: string) => (stdout.includes(`"${message}"`) ? undefined : `did not log "${message}"`);
const credentialsOf = (e: Emulator) => ({ AWS_REGION: e.region, AWS_ACCESS_KEY_ID: e.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: e.credentials.secretAccessKey });

/**
 * The cases, their modules loaded now: each builds its own entry point on import, from an
 * environment this process only has placeholders of (the children get the real one).
 */
function cases(): FunctionCase[] {
    Object.assign(process.env, {
        [CONSUMER_ENV.deadLetterQueueUrl]: "https://sqs.us-east-1.amazonaws.com/123456789012/placeholder",
        [STREAM_TO_TABLE_ENV.tableName]: "placeholder",
        [STREAM_TO_TABLE_ENV.rejectsTableName]: "placeholder",
        AWS_REGION: process.env.AWS_REGION ?? "us-east-1",
    });
    return [
    {
        name: "api-consumer",
        sdkClient: "@aws-sdk/client-sqs",
        // Pulumi's closure serializer keeps the validator ajv precompiled (a function of a plain .js
        // module) as an object without its body: the inline variant would fail every message.
        factory: { unserializable: "Pulumi's serializer drops the body of the precompiled validator" },
        prepare: async (e) => ({ ...credentialsOf(e.dynamo), [CONSUMER_ENV.deadLetterQueueUrl]: "https://sqs.us-east-1.amazonaws.com/123456789012/bench-dlq" }),
        event: (n) => sqsEvent(sqsRecord(`bench-${n}`, JSON.stringify({ message: `bench message ${n}`, type: "bench.message" }))),
        verify: (result, stdout) => noFailures(result) ?? logged(stdout, "message processed"),
    },
    {
        name: "audit-logger",
        sdkClient: "@aws-sdk/client-dynamodb",
        factory: require("../functions/audit-logger").createHandler,
        prepare: async (e) => {
            await createHashKeyTable(dynamoClient(e.dynamo), "bench-audit", AUDIT_TABLE_KEY);
            return { ...credentialsOf(e.dynamo), AWS_ENDPOINT_URL_DYNAMODB: e.dynamo.endpoint, [AUDIT_TABLE_ENV]: "bench-audit" };
        },
        // A distinct object version per call: each writes its record rather than taking the duplicate path.
        event: (n) => sqsEvent(sqsRecord(`bench-${n}`, JSON.stringify(objectCreatedEvent({ key: "incoming/report.csv", versionId: `bench-version-${n}` })))),
        verify: (result, stdout) => noFailures(result) ?? logged(stdout, "object uploaded"),
        after: async (e, calls) => {
            const items = await countItems(dynamoClient(e.dynamo), "bench-audit");
            return items === calls ? undefined : `${calls} calls wrote ${items} audit records`;
        },
    },
    {
        name: "stream-to-table",
        sdkClient: "@aws-sdk/client-dynamodb",
        factory: require("../functions/stream-to-table").createHandlerFromEnv,
        prepare: async (e) => {
            const client = dynamoClient(e.dynamo);
            await createHashKeyTable(client, "bench-events", EVENT_TABLE.hashKey);
            await createHashKeyTable(client, "bench-rejects", REJECTS_TABLE.hashKey);
            return {
                ...credentialsOf(e.dynamo),
                AWS_ENDPOINT_URL_DYNAMODB: e.dynamo.endpoint,
                [STREAM_TO_TABLE_ENV.tableName]: "bench-events",
                [STREAM_TO_TABLE_ENV.rejectsTableName]: "bench-rejects",
            };
        },
        event: (n) => ({
            Records: Array.from({ length: 10 }, (_, i) =>
                kinesisRecord({
                    shardId: "shardId-000000000000",
                    sequenceNumber: String(49590338271490256608559692538361571095921575989136580000n + BigInt(n * 10 + i)),
                    partitionKey: `sensor-${i}`,
                    data: Buffer.from(JSON.stringify({ eventId: `bench-${n}-${i}`, source: "bench", sensor: "temperature", value: 22.5 })).toString("base64"),
                    approximateArrivalTimestamp: Date.now() / 1000,
                    streamArn: "arn:aws:kinesis:us-east-1:123456789012:stream/bench",
                }),
            ),
        }),
        verify: (result, stdout) => noFailures(result) ?? (stdout.includes('"10 records: 10 written, 0 rejected, 0 failed"') ? undefined : "did not write its 10 records"),
        after: async (e, calls) => {
            const items = await countItems(dynamoClient(e.dynamo), "bench-events");
            return items === calls * 10 ? undefined : `${calls} calls of 10 records wrote ${items} items`;
        },
    },
    {
        name: "image-processor",
        sdkClient: "@aws-sdk/client-s3",
        factory: require("../functions/image-processor").createHandler,
        nativePackages: ["sharp"],
        architecture: "x86_64",
        prepare: async (e) => {
            const s3 = s3Client(e.s3);
            await s3.send(new CreateBucketCommand({ Bucket: "bench-uploads" }));
            const image = fs.readFileSync(path.join(ROOT, "test", "fixtures", "images", "landscape.png"));
            await s3.send(new PutObjectCommand({ Bucket: "bench-uploads", Key: "photos/bench.png", Body: image }));
            return { ...credentialsOf(e.s3), AWS_ENDPOINT_URL_S3: e.s3.endpoint, THUMBNAIL_SIZE: "64" };
        },
        event: (n) => sqsEvent(sqsRecord(`bench-${n}`, uploadMessage({ bucket: "bench-uploads", key: "photos/bench.png", size: 737, versionId: null }))),
        verify: (result, stdout) => noFailures(result) ?? logged(stdout, "thumbnail written"),
    },
    ];
}

export interface FunctionResult {
    name: string;
    bundle: Bundle;
    native: boolean;
    bundleFiles: number;
    bundleLoad: { require: number; call: number };
    /** Undefined when CallbackFunction cannot run the handler (see `unserializable`). */
    callbackLoad?: { require: number; call: number };
    unserializable?: string;
    sdkClient: string;
    /** Requiring the SDK client alone, in a fresh process: the part of a cold require both variants share. */
    sdkRequire: number;
}

/** Unpacks the zip as Lambda would, with the SDK service clients the runtime provides beside it. */
function unpack(bundle: Bundle, dir: string): number {
    const entries = unzip(fs.readFileSync(bundle.zipPath));
    for (const [name, contents] of entries) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), contents);
    }
    const sdk = path.dirname(path.dirname(require.resolve("@aws-sdk/client-dynamodb/package.json")));
    fs.mkdirSync(path.join(dir, "node_modules", "@aws-sdk"), { recursive: true });
    for (const client of fs.readdirSync(sdk).filter((d) => d.startsWith("client-"))) {
        fs.symlinkSync(path.join(sdk, client), path.join(dir, "node_modules", "@aws-sdk", client), "dir");
    }
    return entries.size;
}

export async function benchFunctions(): Promise<FunctionResult[]> {
    process.chdir(ROOT); // bundleFunction and computeCodePaths work relative to the project's package.json
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "event-pipelines-bench-"));
    // In this process: the children are spawned asynchronously, so these keep answering.
    const emulators: Emulators = { dynamo: await startDynalite(), s3: await startS3rver() };
    const results: FunctionResult[] = [];
    try {
        // What CallbackFunction adds besides the closure is the same for every function: computed once.
        const all = cases();
        const codePaths = (await callbackArchive(() => undefined)).codePaths;
        const trees = codePaths.map((p) => ({ path: p, ...walk(p) }));
        const callbackFiles = 1 + trees.reduce((n, t) => n + t.files, 0);
        const callbackZip = await zippedBytes(new Map(), trees.flatMap((t) => t.paths));

        for (const fn of all) {
            const bundle = await bundleFunction(functionEntry(fn.name), { outDir: tmp, nativePackages: fn.nativePackages, architecture: fn.architecture });
            const bundleDir = path.join(tmp, fn.name, "bundle");
            const bundleFiles = unpack(bundle, bundleDir);
            // The SDK client alone, required the same way in the same rounds: what both variants load first.
            const sdkOnly = path.join(tmp, fn.name, "sdk-only.js");
            fs.writeFileSync(sdkOnly, `require(${JSON.stringify(require.resolve(fn.sdkClient))});\nexports.handler = async () => ({ batchItemFailures: [] });\n`);
            const variants: (Variant & { check: FunctionCase["verify"] })[] = [
                { label: `${fn.name}: esbuild bundle`, module: path.join(bundleDir, "index.js"), nodeFlags: ["--enable-source-maps"], check: fn.verify },
                { label: `${fn.sdkClient} alone`, module: sdkOnly, nodeFlags: [], check: () => undefined },
            ];
            if (typeof fn.factory === "function") {
                const callback = await callbackArchive(fn.factory);
                const callbackDir = path.join(tmp, fn.name, "callback");
                fs.mkdirSync(callbackDir, { recursive: true });
                fs.writeFileSync(path.join(callbackDir, CLOSURE_FILE), callback.closureText);
                // Its node_modules/* folders are the project's own: a symlink resolves as the archive would.
                fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(callbackDir, "node_modules"), "dir");
                variants.push({ label: `${fn.name}: CallbackFunction`, module: path.join(callbackDir, CLOSURE_FILE), nodeFlags: [], check: fn.verify });
            }
            const env = { ...(await fn.prepare(emulators)), POWERTOOLS_LOG_LEVEL: "INFO" };
            let calls = 0;
            const call = (v: (typeof variants)[number]) => coldLoad(v, fn.event(v.check === fn.verify ? ++calls : 0), env, v.check);
            // One unmeasured warm-up each (file cache), then alternate which goes first, so drift hits both alike.
            for (const v of variants) await call(v);
            const samples: Sample[][] = variants.map(() => []);
            for (let round = 0; round < RUNS; round++) {
                for (let k = 0; k < variants.length; k++) {
                    const i = (k + round) % variants.length;
                    samples[i].push(await call(variants[i]));
                }
            }
            const problem = await fn.after?.(emulators, calls);
            if (problem) throw new Error(`${fn.name}: ${problem}`);
            const load = (s: Sample[]) => ({ require: median(s.map((x) => x.requireMs)), call: median(s.map((x) => x.callMs)) });
            results.push({
                name: fn.name,
                bundle,
                native: (fn.nativePackages ?? []).length > 0,
                bundleFiles,
                bundleLoad: load(samples[0]),
                callbackLoad: samples[2] && load(samples[2]),
                unserializable: typeof fn.factory === "function" ? undefined : fn.factory.unserializable,
                sdkClient: fn.sdkClient,
                sdkRequire: load(samples[1]).require,
            });
        }

        console.log(`Shipped functions: the esbuild bundle LambdaFunction deploys vs. an inline aws.lambda.CallbackFunction (node ${process.version}, ${os.cpus().length} CPUs)`);
        console.log(`Cold load in a fresh node process, median of ${RUNS} runs each, interleaved; every first call did its work (verified).\n`);
        table(
            ["function", "zip", "largest inputs of index.js", "cold require", "first call", "CF require", "CF first call", "CF / bundle require"],
            results.map((r) => [
                r.name,
                kib(r.bundle.zipBytes),
                r.bundle.inputs.slice(0, 3).map((i) => `${i.from} ${kib(i.bytes)}`).join(", "),
                ms(r.bundleLoad.require),
                ms(r.bundleLoad.call),
                r.callbackLoad ? ms(r.callbackLoad.require) : "-",
                r.callbackLoad ? ms(r.callbackLoad.call) : "-",
                r.callbackLoad ? ratio(r.callbackLoad.require, r.bundleLoad.require) : "-",
            ]),
        );
        for (const r of results.filter((x) => x.unserializable)) console.log(`  ${r.name}: no CallbackFunction variant: ${r.unserializable}.`);
        console.log("\nOf each cold require, the AWS SDK client (the Lambda runtime's, left out of the bundle) is shared by both variants:");
        table(
            ["function", "SDK client", "required alone", "bundle without it", "CF without it", "CF / bundle, without it"],
            results.map((r) => {
                const own = r.bundleLoad.require - r.sdkRequire;
                const cf = r.callbackLoad && r.callbackLoad.require - r.sdkRequire;
                return [r.name, r.sdkClient, ms(r.sdkRequire), ms(own), cf === undefined ? "-" : ms(cf), cf === undefined ? "-" : ratio(cf, Math.max(own, 1))];
            }),
            2,
        );
        console.log(`\nWhat ships: the bundle's files vs. CallbackFunction's (${callbackFiles.toLocaleString("en-US")} files, ${kib(callbackZip)} zipped, for every function: each package.json dependency).`);
        table(
            ["function", "files", "zip", "CF zip / bundle zip"],
            results.map((r) => [r.name, String(r.bundleFiles), kib(r.bundle.zipBytes), ratio(callbackZip, r.bundle.zipBytes)]),
        );
        console.log("\nGoals (functions without native modules):");
        table(
            ["function", `zip <= ${kib(SIZE_GOAL_BYTES)}`, `cold require >= ${REQUIRE_GOAL_RATIO}x faster than CallbackFunction`],
            results.map((r) => {
                const speed = r.callbackLoad
                    ? goal(r.callbackLoad.require / r.bundleLoad.require >= REQUIRE_GOAL_RATIO, ratio(r.callbackLoad.require, r.bundleLoad.require))
                    : "n/a (no CallbackFunction variant)";
                return r.native
                    ? [r.name, `n/a (native: ${r.bundle.packages.length} packages shipped)`, `n/a (${r.callbackLoad ? ratio(r.callbackLoad.require, r.bundleLoad.require) : "-"})`]
                    : [r.name, goal(r.bundle.zipBytes <= SIZE_GOAL_BYTES, kib(r.bundle.zipBytes)), speed];
            }),
        );
        return results;
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
        await emulators.dynamo.stop();
        await emulators.s3.stop();
    }
}
