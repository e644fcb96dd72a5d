import { evaluateStack } from "./engine";
import { formatFidelity, startRuntime, stopRuntimes } from "./runtime";

// `npm run local [-- --stack prod]`: evaluates the stack, deploys its plan on the local runtime and
// keeps it up until Ctrl-C, printing what a person needs to use it by hand: each stand-in's
// endpoint, the buckets, queues and tables by name, and the API's URL and key. Every function's
// log lines are printed as they come.

const USAGE = "expected optionally --stack <name>";

function stackOf(argv: string[]): string {
    if (argv.length === 0) return "dev";
    const [flag, inline] = argv[0].split(/=(.*)/s);
    const value = inline ?? argv[1];
    if ((flag !== "--stack" && flag !== "-s") || !value || argv.length > (inline === undefined ? 2 : 1)) throw new Error(`unknown arguments ${argv.join(" ")} (${USAGE})`);
    return value;
}

async function main(): Promise<void> {
    // Before anything starts, so a Ctrl-C during start-up stops what has started.
    let stopping = false;
    const stop = async () => {
        if (stopping) return;
        stopping = true;
        console.log("\nStopping the local runtime…");
        await stopRuntimes();
        console.log("Stopped; nothing is left running.");
        process.exit(0);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    const stack = stackOf(process.argv.slice(2));
    const plan = await evaluateStack({ stack });
    const runtime = await startRuntime({ plan, onLog: (fn, line) => console.log(`[${fn}] ${line}`) });

    for (const line of formatFidelity(runtime.fidelity, runtime.notRun)) console.log(line);
    const names = (type: string) => plan.resources.filter((r) => r.type === type).map((r) => String(r.outputs.name ?? r.outputs.bucket ?? r.name));
    const e = runtime.endpoints;
    const bucket = names("aws:s3/bucket:Bucket")[0];
    console.log("");
    console.log(`Stack ${stack} runs locally. Credentials: any key pair works except for S3, which takes S3RVER / S3RVER.`);
    console.log(`  S3        ${e.s3}   (path-style) buckets: ${names("aws:s3/bucket:Bucket").join(", ")}`);
    console.log(`  DynamoDB  ${e.dynamodb}   tables: ${names("aws:dynamodb/table:Table").join(", ")}`);
    console.log(`  Kinesis   ${e.kinesis}   streams: ${names("aws:kinesis/stream:Stream").join(", ")}`);
    console.log(`  SQS, SNS  ${e.sqs}   queues: ${names("aws:sqs/queue:Queue").join(", ")}`);
    for (const api of runtime.api.apis) {
        for (const [stage, url] of Object.entries(api.stageUrls)) console.log(`  API       ${url}   (${api.name}, stage ${stage})`);
        for (const key of api.keys) console.log(`            x-api-key: ${key.value}   (${key.name})`);
    }
    const url = Object.values(runtime.api.apis[0]?.stageUrls ?? {})[0];
    const key = runtime.api.apis[0]?.keys[0]?.value;
    console.log("");
    console.log("Try:");
    if (bucket) {
        console.log(`  node -e 'const s3 = require("@aws-sdk/client-s3"); new s3.S3Client({ endpoint: "${e.s3}", region: "${runtime.region}", forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } })` +
            `.send(new s3.PutObjectCommand({ Bucket: "${bucket}", Key: "photos/photo.jpg", Body: require("fs").readFileSync("photo.jpg") })).then(() => console.log("uploaded"))'`);
        console.log(`  (or any S3 client: endpoint ${e.s3}, path-style, keys S3RVER / S3RVER)`);
    }
    if (url && key) console.log(`  curl -s -X POST ${url}/messages -H 'x-api-key: ${key}' -H 'content-type: application/json' -d '{"message":"hello"}'`);
    console.log("Ctrl-C stops everything.");

    // What the flows would hide from someone watching function logs: denials, dead letters, drops.
    const shown = new Map<string, number>();
    setInterval(() => {
        for (const name of ["denied", "deadLettered", "dropped", "lost", "unsupported"]) {
            for (const [reason, n] of runtime.counters.total(name).reasons) {
                const key = `${name}: ${reason}`;
                if ((shown.get(key) ?? 0) < n) console.log(`[runtime] ${n - (shown.get(key) ?? 0)}× ${key}`);
                shown.set(key, n);
            }
        }
    }, 1000).unref();
}

main().catch((err: Error) => {
    console.error(`error: ${err.message.split("\n")[0]}`);
    process.exit(1);
});
