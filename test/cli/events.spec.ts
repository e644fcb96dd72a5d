import { expect } from "chai";
import { spawn } from "child_process";
import { mkdtemp, readFile, rm } from "fs/promises";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import {
    CreateStreamCommand,
    DescribeStreamSummaryCommand,
    GetRecordsCommand,
    GetShardIteratorCommand,
    KinesisClient,
    ListShardsCommand,
    PutRecordsCommand,
    PutRecordsCommandInput,
    waitUntilStreamExists,
} from "@aws-sdk/client-kinesis";
import { mockClient } from "aws-sdk-client-mock";
import {
    CliError,
    DEFAULT_MANIFEST,
    ProgressBar,
    SendManifest,
    SendOptions,
    VerifyOptions,
    formatSendSummary,
    formatVerifyReport,
    parseSendArgs,
    parseVerifyArgs,
    readManifest,
    describeAwsError,
    sendEvents,
    verifyEvents,
    writeManifest,
} from "../../cli";
import { Emulator, dynamoClient, kinesisClient, startDynalite, startKinesisLocal } from "../../local/runtime/emulators";
import { createHashKeyTable } from "../support/dynamo-tables";
import { eventKey } from "../../functions/shared/contract";

const ROOT = resolve(__dirname, "../..");
const TS_NODE = require.resolve("ts-node/register/transpile-only");
const UNREACHABLE = "http://127.0.0.1:9";

/** The error a function throws (sync or async), or a failure when it does not throw. */
async function failure(run: () => unknown): Promise<CliError> {
    try {
        await run();
    } catch (err) {
        expect(err, String(err)).to.be.instanceOf(CliError);
        return err as CliError;
    }
    expect.fail("expected an error");
}

interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
    ms: number;
}

/** Runs an entry script the way `npm run events:*` does, from a scratch folder (so no stray manifest is picked up). */
function runEntry(script: "events-send.ts" | "events-verify.ts", args: string[], cwd: string): Promise<Run> {
    const started = Date.now();
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        TS_NODE_PROJECT: join(ROOT, "tsconfig.json"),
        // The default credential chain finds these first; the emulators accept any.
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        AWS_REGION: "us-east-1",
    };
    // The CLI itself must keep the SDK's Node-version notice off stderr.
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const child = spawn(process.execPath, ["-r", TS_NODE, join(ROOT, "cli", script), ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    return new Promise((done) => child.once("close", (code) => done({ code, stdout, stderr, ms: Date.now() - started })));
}

/** Asserts the "one clear line" contract: exactly one stderr line, starting with `error: `. */
function expectOneErrorLine(run: Run, pattern: RegExp): void {
    const lines = run.stderr.split("\n").filter((l) => l !== "");
    expect(lines, run.stderr).to.have.length(1);
    expect(lines[0]).to.match(/^error: /);
    expect(lines[0]).to.match(pattern);
    expect(run.stderr).not.to.match(/\n\s+at /);
    expect(run.code).to.be.a("number").and.not.equal(0);
}

let scratch: string;

describe("operator CLI (cli/)", () => {
    before(async () => {
        scratch = await mkdtemp(join(tmpdir(), "events-cli-"));
    });
    after(async () => {
        await rm(scratch, { recursive: true, force: true });
    });

    describe("argument parsing", () => {
        it("send: --stream alone takes the documented defaults", () => {
            expect(parseSendArgs(["--stream", "EventStream"], {})).to.deep.equal({
                stream: "EventStream",
                count: 100,
                rate: 200,
                source: "cli",
                endpoint: undefined,
                region: "us-east-1",
                manifest: DEFAULT_MANIFEST,
            });
        });

        it("send: reads every flag, and the region from AWS_REGION", () => {
            const argv = ["--stream", "S", "--count", "1000", "--rate=2.5", "--source", "probe", "--endpoint", "http://localhost:4567", "--manifest", "m.json"];
            expect(parseSendArgs(argv, { AWS_REGION: "eu-west-1" })).to.deep.equal({
                stream: "S",
                count: 1000,
                rate: 2.5,
                source: "probe",
                endpoint: "http://localhost:4567",
                region: "eu-west-1",
                manifest: "m.json",
            });
            expect(parseSendArgs(["--stream", "S", "--region", "ap-south-1"], { AWS_REGION: "eu-west-1" }).region).to.equal("ap-south-1");
        });

        const sendRefusals: [string[], RegExp][] = [
            [["--stream", "S", "--bogus"], /^unknown option --bogus \(expected --stream, --count/],
            [[], /^--stream is required/],
            [["--count", "5"], /^--stream is required/],
            [["--stream"], /^--stream expects a value/],
            [["--stream", "S", "extra"], /^unexpected argument 'extra'/],
            [["--stream", "bad name"], /^--stream: expected a stream name/],
            [["--stream", "S", "--count", "abc"], /^--count: expected a whole number from 1 to 1000000, got 'abc'$/],
            [["--stream", "S", "--count", "0"], /^--count: expected a whole number .* got '0'$/],
            [["--stream", "S", "--count", "-5"], /^--count: expected a whole number .* got '-5'$/],
            [["--stream", "S", "--count", "1.5"], /^--count: expected a whole number .* got '1.5'$/],
            [["--stream", "S", "--count", "1e3"], /^--count: expected a whole number .* got '1e3'$/],
            [["--stream", "S", "--rate", "0"], /^--rate: expected a number > 0, got '0'$/],
            [["--stream", "S", "--rate", "-1"], /^--rate: expected a number > 0, got '-1'$/],
            [["--stream", "S", "--rate", "fast"], /^--rate: expected a number > 0, got 'fast'$/],
            [["--stream", "S", "--endpoint", "localhost:4567"], /^--endpoint: expected an http\(s\) URL/],
            [["--stream", "S", "--region", "US East"], /^--region: expected an AWS region/],
        ];
        for (const [argv, pattern] of sendRefusals) {
            it(`send refuses ${JSON.stringify(argv)} with one line and exit code 2`, async () => {
                const err = await failure(() => parseSendArgs(argv, {}));
                expect(err.message).to.match(pattern);
                expect(err.message).not.to.include("\n");
                expect(err.exitCode).to.equal(2);
            });
        }

        it("verify: defaults the rejects table, the sample and the (optional) manifest; canonicalises --since", () => {
            expect(parseVerifyArgs(["--table", "EventLogs", "--since", "2024-05-01T12:00:00+02:00"], {})).to.deep.equal({
                table: "EventLogs",
                rejectsTable: "EventLogsRejected",
                since: "2024-05-01T10:00:00.000Z",
                manifest: DEFAULT_MANIFEST,
                manifestOptional: true,
                sample: 5,
                endpoint: undefined,
                region: "us-east-1",
            });
            const explicit = parseVerifyArgs(
                ["--table", "T1x", "--since", "2024-05-01", "--rejects-table", "Bad", "--manifest", "m.json", "--sample", "0"],
                { AWS_REGION: "eu-west-1" },
            );
            expect(explicit).to.include({ rejectsTable: "Bad", manifest: "m.json", manifestOptional: false, sample: 0, region: "eu-west-1" });
            expect(explicit.since).to.equal("2024-05-01T00:00:00.000Z");
        });

        const verifyRefusals: [string[], RegExp][] = [
            [["--since", "2024-05-01"], /^--table is required/],
            [["--table", "EventLogs"], /^--since is required/],
            [["--table", "EventLogs", "--since", "yesterday"], /^--since: expected an ISO-8601 time such as 2024-05-01T10:00:00Z, got 'yesterday'$/],
            [["--table", "EventLogs", "--since", "2024-13-45T00:00:00Z"], /^--since: expected an ISO-8601 time/],
            [["--table", "EventLogs", "--since", "2024-05-01", "--sample", "-1"], /^--sample: expected a whole number from 0 to 1000, got '-1'$/],
            [["--table", "EventLogs", "--since", "2024-05-01", "--stream", "S"], /^unknown option --stream \(expected --table, --since/],
            [["--table", "T", "--since", "2024-05-01"], /^--table: expected a table name/],
        ];
        for (const [argv, pattern] of verifyRefusals) {
            it(`verify refuses ${JSON.stringify(argv)} with one line and exit code 2`, async () => {
                const err = await failure(() => parseVerifyArgs(argv, {}));
                expect(err.message).to.match(pattern);
                expect(err.message).not.to.include("\n");
                expect(err.exitCode).to.equal(2);
            });
        }
    });

    describe("progress bar", () => {
        it("prints about one line per 10% when stderr is not a TTY", () => {
            const written: string[] = [];
            const bar = new ProgressBar({ write: (t: string) => written.push(t), isTTY: false }, 1000);
            for (let done = 50; done <= 1000; done += 50) bar.update(done, 0);
            bar.finish();
            expect(written).to.have.length(10);
            expect(written[0]).to.match(/^sending \[###\.+\]\s+10% 100\/1000 records, 0 retried, /);
            expect(written[9]).to.match(/^sending \[#{30}\] 100% 1000\/1000 records/);
            expect(written.every((l) => l.endsWith("\n") && !l.includes("\r"))).to.equal(true);
        });

        it("redraws one line with \\r on a TTY and ends it when done", () => {
            const written: string[] = [];
            const bar = new ProgressBar({ write: (t: string) => written.push(t), isTTY: true, columns: 200 }, 10);
            bar.update(1, 0);
            bar.update(10, 2);
            bar.finish();
            expect(written).to.have.length(3);
            expect(written[0]).to.match(/^\rsending \[###\.+\]\s+10% 1\/10 records, 0 retried/);
            expect(written[1]).to.match(/^\rsending \[#{30}\] 100% 10\/10 records, 2 retried/);
            expect(written[2]).to.equal("\n");
        });
    });

    describe("send retries the entries PutRecords reports as failed", () => {
        const options = (manifest: string): SendOptions => ({
            stream: "EventStream",
            count: 6,
            rate: 1_000_000,
            source: "test",
            region: "us-east-1",
            manifest,
            retryBaseDelayMs: 1,
            retryMaxDelayMs: 2,
        });
        const entries = (input: PutRecordsCommandInput) => input.Records!.map((r) => r.PartitionKey!);

        it("re-sends exactly the failed entries, counts them, and lists every event in the manifest", async () => {
            const client = new KinesisClient({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
            const kinesis = mockClient(client);
            kinesis.on(DescribeStreamSummaryCommand).resolves({ StreamDescriptionSummary: { StreamStatus: "ACTIVE" } as never });
            const throttled = { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded for shard" };
            kinesis
                .on(PutRecordsCommand)
                .resolvesOnce({ FailedRecordCount: 2, Records: [{ SequenceNumber: "1" }, throttled, { SequenceNumber: "2" }, throttled, {}, {}] })
                .resolvesOnce({ FailedRecordCount: 1, Records: [{ SequenceNumber: "3" }, throttled] })
                .resolves({ FailedRecordCount: 0, Records: [{ SequenceNumber: "4" }] });
            const file = join(scratch, "retry.json");

            const result = await sendEvents(options(file), { kinesis: client });

            const calls = kinesis.commandCalls(PutRecordsCommand).map((c) => entries(c.args[0].input));
            expect(calls).to.have.length(3);
            expect(calls[1]).to.deep.equal([calls[0][1], calls[0][3]]);
            expect(calls[2]).to.deep.equal([calls[0][3]]);
            expect(result).to.include({ sent: 6, retried: 3, failed: 0, putRecordsCalls: 3 });
            expect(result.errorCodes).to.deep.equal({ ProvisionedThroughputExceededException: 3 });
            const manifest = await readManifest(file);
            expect([...manifest.eventIds].sort()).to.deep.equal([...calls[0]].sort());
            expect(manifest.failedEventIds).to.deep.equal([]);
            expect(formatSendSummary(result)[1]).to.equal("retried   3 records (PutRecords reported ProvisionedThroughputExceededException x3)");
        });

        it("gives up after maxRetries, never retries a KMS refusal, and names the failures in the manifest", async () => {
            const client = new KinesisClient({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
            const kinesis = mockClient(client);
            kinesis.on(DescribeStreamSummaryCommand).resolves({ StreamDescriptionSummary: { StreamStatus: "ACTIVE" } as never });
            kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => ({
                FailedRecordCount: input.Records!.length,
                Records: input.Records!.map((_, i) =>
                    input.Records!.length === 6 && i === 0 ? { ErrorCode: "KMSAccessDeniedException" } : { ErrorCode: "InternalFailure" },
                ),
            }));
            const file = join(scratch, "give-up.json");

            const result = await sendEvents({ ...options(file), maxRetries: 2 }, { kinesis: client });

            const calls = kinesis.commandCalls(PutRecordsCommand).map((c) => entries(c.args[0].input));
            expect(calls.map((c) => c.length)).to.deep.equal([6, 5, 5]);
            expect(result).to.include({ sent: 0, retried: 10, failed: 6 });
            expect((await readManifest(file)).failedEventIds).to.have.members(calls[0]);
        });
        it("paces to --rate: 1,000 events at 2,000/s go as two batches 0.25 s apart and take ~0.5 s", async () => {
            const client = new KinesisClient({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
            const kinesis = mockClient(client);
            kinesis.on(DescribeStreamSummaryCommand).resolves({ StreamDescriptionSummary: { StreamStatus: "ACTIVE" } as never });
            const putAt: number[] = [];
            kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
                putAt.push(Date.now());
                return { FailedRecordCount: 0, Records: input.Records!.map((_, i) => ({ SequenceNumber: String(i), ShardId: "shardId-000000000000" })) };
            });
            const started = Date.now();

            const result = await sendEvents({ ...options(join(scratch, "paced.json")), count: 1000, rate: 2000 }, { kinesis: client });

            expect(result).to.include({ sent: 1000, putRecordsCalls: 2 });
            expect(putAt[1] - putAt[0]).to.be.within(240, 400);
            expect(Date.now() - started).to.be.within(490, 900);
            expect(result.elapsedMs).to.be.within(490, 900);
        });
        it("stops after the batch in flight when interrupted, and still writes the manifest", async () => {
            const client = new KinesisClient({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
            const kinesis = mockClient(client);
            kinesis.on(DescribeStreamSummaryCommand).resolves({ StreamDescriptionSummary: { StreamStatus: "ACTIVE" } as never });
            const controller = new AbortController();
            kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
                controller.abort();
                return { FailedRecordCount: 0, Records: input.Records!.map(() => ({ SequenceNumber: "1" })) };
            });
            const file = join(scratch, "interrupted.json");
            const started = Date.now();

            const result = await sendEvents({ ...options(file), count: 1000, rate: 1000 }, { kinesis: client, signal: controller.signal });

            expect(Date.now() - started).to.be.below(400);
            expect(result).to.include({ interrupted: true, sent: 500, notSent: 500, failed: 0, putRecordsCalls: 1 });
            expect((await readManifest(file)).eventIds).to.have.length(500);
            expect(formatSendSummary(result)).to.include("stopped   interrupted: 500 events not sent");
        });
    });

    describe("AWS errors as one line", () => {
        const ctx = { service: "Kinesis" as const, resource: "stream EventStream", region: "us-east-1", endpoint: "http://127.0.0.1:9" };
        const cases: [string, unknown, string][] = [
            [
                "refused connection (Node's AggregateError carries the code inside)",
                Object.assign(new Error(""), { name: "AggregateError", code: undefined, errors: [{ code: "ECONNREFUSED", message: "connect ECONNREFUSED ::1:9" }] }),
                "cannot reach Kinesis at http://127.0.0.1:9: connect ECONNREFUSED ::1:9 (expected a reachable endpoint; check --endpoint and --region)",
            ],
            [
                "connect timeout",
                Object.assign(new Error("Socket timed out without establishing a connection within 2000 ms"), { name: "TimeoutError" }),
                "cannot reach Kinesis at http://127.0.0.1:9: Socket timed out without establishing a connection within 2000 ms (expected a reachable endpoint; check --endpoint and --region)",
            ],
            [
                "response timeout",
                Object.assign(new Error("@smithy/node-http-handler - [ERROR] a request has exceeded the configured 5000 ms requestTimeout."), { name: "TimeoutError" }),
                "no answer from Kinesis at http://127.0.0.1:9 for stream EventStream: a request has exceeded the configured 5000 ms requestTimeout. (expected a responsive endpoint; check --endpoint)",
            ],
            [
                "no credentials",
                Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }),
                "no AWS credentials found by the default chain (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; any values do for a local emulator)",
            ],
            [
                "refused credentials",
                Object.assign(new Error("The security token included in the request is invalid.\nmore"), { name: "UnrecognizedClientException" }),
                "Kinesis refused the request for stream EventStream: UnrecognizedClientException: The security token included in the request is invalid.",
            ],
            [
                "anything else, first line only",
                Object.assign(new Error("boom\nsecond line"), { name: "InternalFailure" }),
                "Kinesis call for stream EventStream at http://127.0.0.1:9 failed: InternalFailure: boom",
            ],
        ];
        for (const [title, err, line] of cases) {
            it(title, () => {
                expect(describeAwsError(err, ctx).message).to.equal(line);
            });
        }
        it("names the region's endpoint when no --endpoint is given", () => {
            const err = Object.assign(new Error("Stream x under account 1 not found."), { name: "ResourceNotFoundException" });
            expect(describeAwsError(err, { ...ctx, endpoint: undefined }).message).to.equal(
                "stream EventStream not found in us-east-1 at the us-east-1 endpoint (check the name, --region and --endpoint)",
            );
        });
    });

    describe("send against kinesis-local", () => {
        let emulator: Emulator;
        let client: KinesisClient;

        before(async () => {
            emulator = await startKinesisLocal();
            client = kinesisClient(emulator);
        });
        after(async () => {
            client?.destroy();
            await emulator?.stop();
        });

        async function createStream(name: string): Promise<void> {
            await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
            await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { StreamName: name });
        }

        /** Every record on the stream's only shard, decoded. */
        async function readBack(name: string, expected: number): Promise<{ eventId: string; [k: string]: unknown }[]> {
            const { Shards } = await client.send(new ListShardsCommand({ StreamName: name }));
            expect(Shards).to.have.length(1);
            let { ShardIterator: iterator } = await client.send(
                new GetShardIteratorCommand({ StreamName: name, ShardId: Shards![0].ShardId, ShardIteratorType: "TRIM_HORIZON" }),
            );
            const records: { eventId: string }[] = [];
            for (let round = 0; iterator && round < 50; round++) {
                const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
                records.push(...(page.Records ?? []).map((r) => JSON.parse(Buffer.from(r.Data!).toString("utf8"))));
                if ((page.Records ?? []).length === 0 && records.length >= expected) break;
                iterator = page.NextShardIterator;
            }
            return records;
        }

        const target = (stream: string, count: number, rate: number, manifest: string): SendOptions => ({
            stream,
            count,
            rate,
            source: "cli-test",
            manifest,
            region: emulator.region,
            endpoint: emulator.endpoint,
            credentials: emulator.credentials,
        });

        it("sends 1,200 events as 500 + 500 + 200 and every manifest id arrives on the stream exactly once", async () => {
            await createStream("cli-batches");
            const file = join(scratch, "batches", "last-send.json");
            const counted = kinesisClient(emulator);
            const batchSizes: number[] = [];
            counted.middlewareStack.add(
                (next, context) => async (args) => {
                    if (context.commandName === "PutRecordsCommand") batchSizes.push((args.input as PutRecordsCommandInput).Records!.length);
                    return next(args);
                },
                { step: "initialize" },
            );
            const started = new Date();

            // 1,000 records/s is one shard's limit: no throttling, so no retries to blur the call count.
            const result = await sendEvents(target("cli-batches", 1200, 1000, file), { kinesis: counted });
            counted.destroy();

            expect(batchSizes).to.deep.equal([500, 500, 200]);
            expect(result).to.include({ requested: 1200, sent: 1200, retried: 0, failed: 0, putRecordsCalls: 3, manifest: file });
            const manifest: SendManifest = JSON.parse(await readFile(file, "utf8"));
            expect(manifest.stream).to.equal("cli-batches");
            expect(manifest.eventIds).to.have.length(1200);
            expect(new Set(manifest.eventIds).size).to.equal(1200);
            expect(Date.parse(manifest.since)).to.be.at.most(started.getTime() + 1000);

            const records = await readBack("cli-batches", 1200);
            expect(records).to.have.length(1200);
            const seen = new Map<string, number>();
            for (const r of records) seen.set(r.eventId, (seen.get(r.eventId) ?? 0) + 1);
            expect([...seen.keys()].sort()).to.deep.equal([...manifest.eventIds].sort());
            expect([...seen.values()].every((n) => n === 1)).to.equal(true);
            const sample = records[0] as Record<string, unknown>;
            expect(sample).to.have.all.keys("eventId", "source", "sensor", "value", "timestamp");
            expect(sample).to.include({ source: "cli-test", sensor: "temperature" });
            expect(sample.value).to.be.a("number");
            expect(new Date(sample.timestamp as string).toISOString()).to.equal(sample.timestamp);
        });

        it("paces to --rate between batches: 60 events at 40/s go as 40 + 20, a second apart, in ~1.5 s", async () => {
            await createStream("cli-rate");
            const timed = kinesisClient(emulator);
            const putAt: number[] = [];
            timed.middlewareStack.add(
                (next, context) => async (args) => {
                    if (context.commandName === "PutRecordsCommand") putAt.push(Date.now());
                    return next(args);
                },
                { step: "initialize" },
            );
            const started = Date.now();

            // kinesis-local takes a good part of a second for a 500-record call, so only a low rate
            // shows the pacing rather than the emulator's own speed.
            const result = await sendEvents(target("cli-rate", 60, 40, join(scratch, "rate.json")), { kinesis: timed });
            timed.destroy();

            const wall = Date.now() - started;
            expect(result).to.include({ sent: 60, putRecordsCalls: 2 });
            expect(putAt[1] - putAt[0]).to.be.within(950, 1400);
            expect(result.elapsedMs).to.be.within(1450, 2500);
            expect(wall).to.be.at.least(1450);
        });

        it("names a stream that does not exist", async () => {
            const err = await failure(() => sendEvents(target("no-such-stream", 5, 100, join(scratch, "none.json"))));
            expect(err.message).to.equal(
                `stream no-such-stream not found in us-east-1 at ${emulator.endpoint} (check the name, --region and --endpoint)`,
            );
        });

        it("runs as `events:send`: progress on stderr, the summary on stdout, exit code 0", async () => {
            await createStream("cli-entry");
            const file = join(scratch, "entry.json");

            const run = await runEntry("events-send.ts", ["--stream", "cli-entry", "--count", "20", "--rate", "100", "--endpoint", emulator.endpoint, "--manifest", file], scratch);

            expect(run.code, run.stderr).to.equal(0);
            expect(run.stderr).to.match(/^sending \[#{30}\] 100% 20\/20 records, 0 retried, /);
            const lines = run.stdout.trimEnd().split("\n");
            expect(lines[0]).to.equal(`sent      20 of 20 events to stream cli-entry (us-east-1, ${emulator.endpoint}) in 1 PutRecords calls`);
            expect(lines.slice(1, 3)).to.deep.equal(["retried   0 records", "failed    0 records"]);
            expect(lines[3]).to.match(/^elapsed   0\.\d\d s \(\d+ records\/s, --rate 100\)$/);
            const manifest = await readManifest(file);
            expect(lines.slice(4)).to.deep.equal([
                `since     ${manifest.since}`,
                `manifest  ${file}`,
                `verify    npm run events:verify -- --table <events table> --since ${manifest.since} --manifest ${file}`,
            ]);
            expect(manifest.eventIds).to.have.length(20);
        });
    });

    describe("verify against dynalite", () => {
        let emulator: Emulator;
        let client: DynamoDBClient;
        const since = "2024-05-01T10:00:00.000Z";
        const ids = Array.from({ length: 12 }, (_, i) => `evt-${String(i).padStart(2, "0")}`);
        let manifestFile: string;

        before(async () => {
            emulator = await startDynalite();
            client = dynamoClient(emulator);
            for (const [name, key] of [
                ["EventLogs", "eventId"],
                ["EventLogsRejected", "recordId"],
                ["Complete", "eventId"],
                ["CompleteRejected", "recordId"],
            ]) {
                await createHashKeyTable(client, name, key);
            }
            const putEvent = (table: string, eventId: string, arrivedAt: string) =>
                client.send(new PutItemCommand({ TableName: table, Item: { eventId: { S: eventId }, arrivedAt: { S: arrivedAt }, payload: { M: {} } } }));
            // EventLogs: 9 of the 12 manifest events landed after `since` (evt-03, evt-07, evt-11 did not),
            // plus 2 other events after `since` and 2 before it.
            // Keyed as the handler keys them: by the manifest's source and each id.
            for (const [i, id] of ids.entries()) if (![3, 7, 11].includes(i)) await putEvent("EventLogs", eventKey("cli", id), `2024-05-01T10:00:${String(i).padStart(2, "0")}.000Z`);
            await putEvent("EventLogs", "other-1", "2024-05-01T10:05:00.000Z");
            await putEvent("EventLogs", "other-2", since);
            await putEvent("EventLogs", "old-1", "2024-05-01T09:59:59.999Z");
            await putEvent("EventLogs", "old-2", "2024-04-30T00:00:00.000Z");
            for (const id of ids) await putEvent("Complete", eventKey("cli", id), "2024-05-01T11:00:00.000Z");

            const putReject = (recordId: string, reason: string, rawData: string, rejectedAt: string) =>
                client.send(
                    new PutItemCommand({
                        TableName: "EventLogsRejected",
                        Item: {
                            recordId: { S: recordId },
                            reason: { S: reason },
                            rawData: { S: Buffer.from(rawData).toString("base64") },
                            arrivedAt: { S: rejectedAt },
                            rejectedAt: { S: rejectedAt },
                        },
                    }),
                );
            await putReject("shardId-000000000000:0003", "bad JSON: Unexpected token 'o'", "not json", "2024-05-01T10:00:03.500Z");
            await putReject("shardId-000000000000:0001", "schema: timestamp is not an ISO-8601 date-time", '{"timestamp":"noon"}', "2024-05-01T10:00:01.500Z");
            await putReject("shardId-000000000000:0002", "bad UTF-8", "x".repeat(100), "2024-05-01T10:00:02.500Z");
            await putReject("shardId-000000000000:0000", "bad JSON: before since", "{", "2024-05-01T09:00:00.000Z");

            manifestFile = join(scratch, "verify", "last-send.json");
            await writeManifest(manifestFile, {
                stream: "EventStream",
                region: "us-east-1",
                source: "cli",
                since,
                finishedAt: "2024-05-01T10:00:12.000Z",
                requested: 12,
                eventIds: ids,
                failedEventIds: [],
            });
        });
        after(async () => {
            client?.destroy();
            await emulator?.stop();
        });

        const options = (overrides: Partial<VerifyOptions> = {}): VerifyOptions => ({
            table: "EventLogs",
            rejectsTable: "EventLogsRejected",
            since,
            manifest: manifestFile,
            sample: 2,
            region: emulator.region,
            endpoint: emulator.endpoint,
            credentials: emulator.credentials,
            // Small pages, so the scans have to follow LastEvaluatedKey.
            pageSize: 3,
            ...overrides,
        });

        it("counts what landed since --since, names the missing manifest ids and the rejects with their reasons", async () => {
            const report = await verifyEvents(options());

            expect(report).to.include({ landed: 11, scanned: 13, ok: false });
            expect(report.manifest).to.deep.include({ expected: 12, landed: 9, missing: 3, missingSample: ["evt-03", "evt-07"], refusedAtSend: 0 });
            expect(report.rejected.count).to.equal(3);
            expect(report.rejected.sample).to.deep.equal([
                {
                    recordId: "shardId-000000000000:0001",
                    reason: "schema: timestamp is not an ISO-8601 date-time",
                    arrivedAt: "2024-05-01T10:00:01.500Z",
                    rejectedAt: "2024-05-01T10:00:01.500Z",
                    preview: '{"timestamp":"noon"}',
                },
                {
                    recordId: "shardId-000000000000:0002",
                    reason: "bad UTF-8",
                    arrivedAt: "2024-05-01T10:00:02.500Z",
                    rejectedAt: "2024-05-01T10:00:02.500Z",
                    preview: `${"x".repeat(60)}...`,
                },
            ]);
            expect(formatVerifyReport(report)).to.deep.equal([
                `table     EventLogs (us-east-1, ${emulator.endpoint}), items with arrivedAt >= ${since}`,
                "landed    11 items (scanned 13)",
                `manifest  ${manifestFile}: 12 events sent to stream EventStream from ${since}, 9 landed`,
                "missing   3 of 12",
                "  evt-03",
                "  evt-07",
                "  ... and 1 more",
                `rejected  3 records in EventLogsRejected since ${since}`,
                '  shardId-000000000000:0001  schema: timestamp is not an ISO-8601 date-time  data="{\\"timestamp\\":\\"noon\\"}"',
                `  shardId-000000000000:0002  bad UTF-8  data="${"x".repeat(60)}..."`,
                "  ... and 1 more",
                "result    FAILED: 3 of 12 manifest events are missing from EventLogs (exit code 1)",
            ]);
        });

        it("reports OK when every manifest event landed, and without a manifest just counts", async () => {
            const complete = await verifyEvents(options({ table: "Complete", rejectsTable: "CompleteRejected" }));
            expect(complete).to.include({ landed: 12, ok: true });
            expect(complete.manifest).to.include({ missing: 0 });
            expect(complete.rejected).to.deep.equal({ count: 0, sample: [] });
            expect(formatVerifyReport(complete).at(-1)).to.equal("result    OK: all 12 manifest events landed in Complete");

            const noManifest = await verifyEvents(options({ manifest: join(scratch, "absent.json"), manifestOptional: true }));
            expect(noManifest).to.include({ landed: 11, ok: true });
            expect(noManifest.manifest).to.equal(undefined);
        });

        it("names a missing table, rejects table or manifest", async () => {
            const where = `in us-east-1 at ${emulator.endpoint} (check the name, --region and --endpoint)`;
            expect((await failure(() => verifyEvents(options({ table: "NoSuchTable" })))).message).to.equal(`table NoSuchTable not found ${where}`);
            expect((await failure(() => verifyEvents(options({ rejectsTable: "NoSuchRejects" })))).message).to.equal(
                `rejects table NoSuchRejects not found ${where}`,
            );
            expect((await failure(() => verifyEvents(options({ manifest: join(scratch, "absent.json") })))).message).to.match(
                /^manifest .*absent\.json not found \(expected the file written by events:send --manifest\)$/,
            );
        });

        it("runs as `events:verify`: exit code 1 with FAILED when events are missing, 0 when none are", async () => {
            const common = ["--since", since, "--endpoint", emulator.endpoint, "--manifest", manifestFile];

            const missing = await runEntry("events-verify.ts", ["--table", "EventLogs", ...common], scratch);
            expect(missing.code, missing.stderr).to.equal(1);
            expect(missing.stderr).to.equal("");
            expect(missing.stdout).to.include("missing   3 of 12\n  evt-03\n  evt-07\n  evt-11\n");
            expect(missing.stdout).to.match(/result {4}FAILED: 3 of 12 manifest events are missing from EventLogs \(exit code 1\)\n$/);

            const complete = await runEntry("events-verify.ts", ["--table", "Complete", ...common, "--sample", "1"], scratch);
            expect(complete.code, complete.stderr).to.equal(0);
            expect(complete.stdout).to.match(/result {4}OK: all 12 manifest events landed in Complete\n$/);
        });
    });

    describe("entry scripts fail with one line", () => {
        it("events:send with an unknown flag", async () => {
            const run = await runEntry("events-send.ts", ["--stream", "EventStream", "--bogus"], scratch);
            expectOneErrorLine(run, /^error: unknown option --bogus \(expected --stream/);
            expect(run.code).to.equal(2);
            expect(run.stdout).to.equal("");
        });

        it("events:send with a non-numeric --count", async () => {
            const run = await runEntry("events-send.ts", ["--stream", "EventStream", "--count", "many"], scratch);
            expectOneErrorLine(run, /^error: --count: expected a whole number from 1 to 1000000, got 'many'$/);
        });

        it("events:send to an unreachable endpoint, within seconds", async () => {
            const run = await runEntry("events-send.ts", ["--stream", "EventStream", "--endpoint", UNREACHABLE], scratch);
            expectOneErrorLine(run, /^error: cannot reach Kinesis at http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/);
            expect(run.code).to.equal(1);
            expect(run.ms).to.be.below(15_000);
        });

        it("events:verify with a bad --since", async () => {
            const run = await runEntry("events-verify.ts", ["--table", "EventLogs", "--since", "last tuesday"], scratch);
            expectOneErrorLine(run, /^error: --since: expected an ISO-8601 time such as 2024-05-01T10:00:00Z, got 'last tuesday'$/);
        });

        it("events:verify against an unreachable endpoint, within seconds", async () => {
            const run = await runEntry("events-verify.ts", ["--table", "EventLogs", "--since", "2024-05-01", "--endpoint", UNREACHABLE], scratch);
            expectOneErrorLine(run, /^error: cannot reach DynamoDB at http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/);
            expect(run.ms).to.be.below(15_000);
        });
    });
});
