import { expect } from "chai";
import { spawn } from "child_process";
import { join, resolve } from "path";
import {
    DescribeExecutionCommand,
    DescribeExecutionCommandOutput,
    ExecutionAlreadyExists,
    InvalidName,
    ListExecutionsCommand,
    SFNClient,
    StartExecutionCommand,
    StartExecutionCommandInput,
    StateMachineDoesNotExist,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { CliError, CliIo } from "../../cli/common";
import { executionName, parseReplayArgs, replayDays, runReplay } from "../../cli/report-replay";
import { ExecutionBackend, ExecutionDescription, StepFunctionsError, startStepFunctionsApi } from "../../local/runtime/step-functions-api";

const ROOT = resolve(__dirname, "../..");
const TS_NODE = require.resolve("ts-node/register/transpile-only");
const ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:ReportPipeline";
const RUN_START = Date.parse("2026-11-25T10:15:00.123Z");
const CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

/** What a command wrote, split by stream. */
function captureIo(): CliIo & { stdout: () => string; stderr: () => string } {
    let out = "";
    let err = "";
    return {
        out: { write: (t: string) => (out += t) },
        err: { write: (t: string) => (err += t), isTTY: false },
        env: {},
        stdout: () => out,
        stderr: () => err,
    };
}

/** A clock that the injected sleep moves forward: polls cost no real time. */
function fakeTime() {
    let t = RUN_START;
    return {
        now: () => t,
        sleep: async (ms: number) => {
            t += ms;
            await Promise.resolve();
        },
    };
}

function executionArnOf(name: string): string {
    return `arn:aws:states:us-east-1:123456789012:execution:ReportPipeline:${name}`;
}

function dateOf(input: StartExecutionCommandInput): string {
    return (JSON.parse(input.input!) as { date: string }).date;
}

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

describe("report:replay (cli/report-replay.ts)", () => {
    describe("against a mocked SFN client", () => {
        const client = new SFNClient({ region: "us-east-1", credentials: CREDENTIALS });
        let sfn: ReturnType<typeof mockClient>;
        before(() => {
            sfn = mockClient(client);
        });
        after(() => sfn.restore());
        beforeEach(() => sfn.reset());

        /** Executions go RUNNING for `running` describes, then end as `outcome(date)` says. */
        function pipeline(outcome: (date: string) => Partial<DescribeExecutionCommandOutput>, running = 2) {
            const polls = new Map<string, number>();
            const dates = new Map<string, string>();
            sfn.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) => {
                const executionArn = executionArnOf(input.name!);
                dates.set(executionArn, dateOf(input));
                return { executionArn, startDate: new Date(RUN_START) };
            });
            sfn.on(DescribeExecutionCommand).callsFake(({ executionArn }: { executionArn: string }) => {
                const n = (polls.get(executionArn) ?? 0) + 1;
                polls.set(executionArn, n);
                return n <= running ? { status: "RUNNING" } : { status: "SUCCEEDED", ...outcome(dates.get(executionArn)!) };
            });
        }

        const startInputs = () => sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input as StartExecutionCommandInput);

        it("a range of three days that all succeed: one execution per day, in order, exit 0", async () => {
            pipeline(() => ({}));
            const io = captureIo();
            const code = await runReplay(["--date", "2026-11-20", "--to", "2026-11-22", "--state-machine-arn", ARN, "--poll-ms", "1000"], io, { sfn: client, ...fakeTime() });

            expect(code).to.equal(0);
            expect(startInputs()).to.deep.equal(
                ["2026-11-20", "2026-11-21", "2026-11-22"].map((date) => ({
                    stateMachineArn: ARN,
                    name: `replay-${date}-20261125T101500123Z`,
                    input: JSON.stringify({ date }),
                })),
            );
            // One line per change: RUNNING then SUCCEEDED, each day after the one before (concurrency 1).
            const progress = io.stderr().split("\n").filter(Boolean);
            expect(progress).to.deep.equal([
                `replaying 3 days 2026-11-20 to 2026-11-22 on ${ARN} (us-east-1), 1 at a time, polling every 1.0 s`,
                "[1/3] 2026-11-20  RUNNING      0.0 s  replay-2026-11-20-20261125T101500123Z",
                "[1/3] 2026-11-20  SUCCEEDED    3.0 s",
                "[2/3] 2026-11-21  RUNNING      0.0 s  replay-2026-11-21-20261125T101500123Z",
                "[2/3] 2026-11-21  SUCCEEDED    3.0 s",
                "[3/3] 2026-11-22  RUNNING      0.0 s  replay-2026-11-22-20261125T101500123Z",
                "[3/3] 2026-11-22  SUCCEEDED    3.0 s",
            ]);
            expect(io.stdout().split("\n").filter(Boolean)).to.deep.equal([
                `replayed   3 days 2026-11-20 to 2026-11-22 on ${ARN} (us-east-1)`,
                "succeeded  3 of 3 days",
                "failed     0 of 3 days",
                "elapsed    9.0 s",
            ]);
        });

        it("a failure in the middle: the other days still run, the summary names it with error and cause, exit 1", async () => {
            pipeline((date) =>
                date === "2026-11-21" ? { status: "FAILED", error: "States.TaskFailed", cause: '{"ErrorMessage":"Glue job failed:\\n raw partition missing"}' } : {},
            );
            const io = captureIo();
            const code = await runReplay(["--date", "2026-11-20", "--to", "2026-11-22", "--state-machine-arn", ARN], io, { sfn: client, ...fakeTime() });

            expect(code).to.equal(1);
            expect(startInputs().map(dateOf)).to.deep.equal(["2026-11-20", "2026-11-21", "2026-11-22"]);
            expect(io.stderr()).to.include(`[2/3] 2026-11-21  FAILED      15.0 s  States.TaskFailed: {"ErrorMessage":"Glue job failed:\\n raw partition missing"}\n`);
            expect(io.stderr()).to.include("[3/3] 2026-11-22  SUCCEEDED   15.0 s\n");
            const summary = io.stdout().split("\n").filter(Boolean);
            expect(summary.slice(1, 4)).to.deep.equal([
                "succeeded  2 of 3 days",
                "failed     1 of 3 days",
                `  2026-11-21  FAILED  States.TaskFailed: {"ErrorMessage":"Glue job failed:\\n raw partition missing"}  (execution ${executionArnOf("replay-2026-11-21-20261125T101500123Z")})`,
            ]);
            expect(io.stderr()).to.match(/\nerror: 1 of 3 days did not succeed: 2026-11-21 \(see the summary\)\n$/);
        });

        it("runs up to --concurrency days at once, still starting them in date order", async () => {
            let running = 0;
            let most = 0;
            const left = new Map<string, number>();
            sfn.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) => {
                running++;
                most = Math.max(most, running);
                left.set(executionArnOf(input.name!), 3);
                return { executionArn: executionArnOf(input.name!), startDate: new Date() };
            });
            sfn.on(DescribeExecutionCommand).callsFake(({ executionArn }: { executionArn: string }) => {
                const n = left.get(executionArn)! - 1;
                left.set(executionArn, n);
                if (n > 0) return { status: "RUNNING" };
                running--;
                return { status: "SUCCEEDED" };
            });
            const result = await replayDays(
                { from: "2026-11-01", to: "2026-11-07", stateMachineArn: ARN, region: "us-east-1", concurrency: 3, pollMs: 10 },
                { sfn: client, ...fakeTime() },
            );
            expect(most).to.equal(3);
            expect(result.succeeded).to.equal(7);
            expect(startInputs().map(dateOf)).to.deep.equal(["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06", "2026-11-07"]);
        });

        it("a state machine that does not exist stops the run at the first start, in one line", async () => {
            sfn.on(StartExecutionCommand).rejects(new StateMachineDoesNotExist({ message: `State Machine Does Not Exist: '${ARN}'`, $metadata: {} }));
            const err = await failure(() =>
                replayDays({ from: "2026-11-20", to: "2026-11-22", stateMachineArn: ARN, region: "us-east-1", concurrency: 1, pollMs: 10 }, { sfn: client, ...fakeTime() }),
            );
            expect(err.message).to.equal(
                `cannot start ${ARN} at the us-east-1 endpoint: StateMachineDoesNotExist: State Machine Does Not Exist: '${ARN}' (check --state-machine-arn, --region and --endpoint)`,
            );
            expect(sfn.commandCalls(StartExecutionCommand)).to.have.length(1);
        });

        it("prints a heartbeat while a day runs long, and gives a day up as UNKNOWN when DescribeExecution keeps failing", async () => {
            sfn.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) => ({ executionArn: executionArnOf(input.name!), startDate: new Date() }));
            let polls = 0;
            sfn.on(DescribeExecutionCommand).callsFake(({ executionArn }: { executionArn: string }) => {
                if (executionArn.includes("2026-11-20")) return ++polls < 5 ? { status: "RUNNING" } : { status: "SUCCEEDED" };
                throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
            });
            const progress: string[] = [];
            const result = await replayDays(
                { from: "2026-11-20", to: "2026-11-21", stateMachineArn: ARN, region: "us-east-1", concurrency: 1, pollMs: 1000, heartbeatMs: 2000, maxPollFailures: 3 },
                { sfn: client, ...fakeTime(), progress: { write: (t: string) => progress.push(t) } },
            );
            expect(progress).to.deep.equal([
                "[1/2] 2026-11-20  RUNNING      0.0 s  replay-2026-11-20-20261125T101500123Z\n",
                "[1/2] 2026-11-20  RUNNING      2.0 s  still running\n",
                "[1/2] 2026-11-20  RUNNING      4.0 s  still running\n",
                "[1/2] 2026-11-20  SUCCEEDED    5.0 s\n",
                "[2/2] 2026-11-21  RUNNING      0.0 s  replay-2026-11-21-20261125T101500123Z\n",
                "[2/2] 2026-11-21  UNKNOWN      3.0 s  DescribeExecution failed 3 times: ThrottlingException: Rate exceeded\n",
            ]);
            expect(result.days[1]).to.include({ status: "UNKNOWN", error: "ThrottlingException", cause: "Rate exceeded" });
            expect(result).to.include({ succeeded: 1, failed: 1 });
        });

        it("stops starting days when the state machine goes away mid-run, and lists the rest on one line", async () => {
            sfn.on(StartExecutionCommand)
                .resolvesOnce({ executionArn: executionArnOf("one"), startDate: new Date() })
                .rejects(new StateMachineDoesNotExist({ message: "State Machine Does Not Exist", $metadata: {} }));
            sfn.on(DescribeExecutionCommand).resolves({ status: "SUCCEEDED" });
            const io = captureIo();
            const code = await runReplay(["--date", "2026-11-20", "--to", "2026-11-24", "--state-machine-arn", ARN], io, { sfn: client, ...fakeTime() });
            expect(code).to.equal(1);
            expect(sfn.commandCalls(StartExecutionCommand)).to.have.length(2);
            expect(io.stdout().split("\n").filter(Boolean).slice(1, 5)).to.deep.equal([
                "succeeded  1 of 5 days",
                "failed     4 of 5 days",
                "  2026-11-21  NOT_STARTED  StateMachineDoesNotExist: State Machine Does Not Exist",
                "  2026-11-22..2026-11-24 (3 days)  NOT_STARTED  NotStarted: not tried after StateMachineDoesNotExist on 2026-11-21: State Machine Does Not Exist",
            ]);
        });

        it("stops waiting when interrupted, and says the executions go on", async () => {
            sfn.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) => ({ executionArn: executionArnOf(input.name!), startDate: new Date() }));
            // Ends after a while, so that a run that ignores the interrupt finishes (wrongly) instead of hanging.
            let described = 0;
            sfn.on(DescribeExecutionCommand).callsFake(() => ({ status: ++described < 10 ? "RUNNING" : "SUCCEEDED" }));
            const controller = new AbortController();
            const time = fakeTime();
            let polls = 0;
            const sleep = async (ms: number) => {
                if (++polls === 3) controller.abort();
                await time.sleep(ms);
            };
            const result = await replayDays(
                { from: "2026-11-20", to: "2026-11-22", stateMachineArn: ARN, region: "us-east-1", concurrency: 1, pollMs: 1000 },
                { sfn: client, now: time.now, sleep, signal: controller.signal },
            );
            expect(result.interrupted).to.equal(true);
            expect(result.days.map((d) => [d.status, d.error])).to.deep.equal([
                ["RUNNING", "Interrupted"],
                ["NOT_STARTED", "Interrupted"],
                ["NOT_STARTED", "Interrupted"],
            ]);
            expect(sfn.commandCalls(StartExecutionCommand)).to.have.length(1);
        });

        const refusals: [string, string[], RegExp][] = [
            ["a day that does not exist", ["--date", "2026-02-30"], /^--date: expected a real day as YYYY-MM-DD such as 2026-11-20, got '2026-02-30'$/],
            ["a date with slashes", ["--date", "2026/11/20"], /^--date: expected a real day as YYYY-MM-DD such as 2026-11-20, got '2026\/11\/20'$/],
            ["a bad --to", ["--date", "2026-11-20", "--to", "2026-11-31"], /^--to: expected a real day as YYYY-MM-DD .* got '2026-11-31'$/],
            ["--to before --date", ["--date", "2026-11-20", "--to", "2026-11-19"], /^--to: expected a day on or after --date 2026-11-20, got '2026-11-19'$/],
            ["too long a range", ["--date", "2026-01-01", "--to", "2027-01-02"], /^--to: expected at most 366 days from --date 2026-01-01 \(up to 2027-01-01\), got '2027-01-02' \(367 days\)$/],
            ["an unknown flag", ["--date", "2026-11-20", "--days", "3"], /^unknown option --days \(expected --date, --to, --state-machine-arn/],
            ["no --date", [], /^--date is required/],
            ["a bad --concurrency", ["--date", "2026-11-20", "--concurrency", "0"], /^--concurrency: expected a whole number from 1 to 10, got '0'$/],
            ["a bad --poll-ms", ["--date", "2026-11-20", "--poll-ms", "fast"], /^--poll-ms: expected a whole number from 10 to 600000, got 'fast'$/],
            ["a region the state machine is not in", ["--date", "2026-11-20", "--region", "eu-west-1"], /^--region: expected the state machine's region us-east-1 \(from --state-machine-arn\), got 'eu-west-1'$/],
        ];
        for (const [what, argv, pattern] of refusals) {
            it(`refuses ${what} with one line and exit code 2, before any call`, async () => {
                const io = captureIo();
                const err = await failure(() => runReplay([...argv, ...(argv.length ? ["--state-machine-arn", ARN] : [])], io, { sfn: client, ...fakeTime() }));
                expect(err.message).to.match(pattern);
                expect(err.message).not.to.include("\n");
                expect(err.exitCode).to.equal(2);
                expect(sfn.calls()).to.have.length(0);
                expect(io.stdout() + io.stderr()).to.equal("");
            });
        }

        it("requires --state-machine-arn and checks it is one", async () => {
            expect((await failure(() => parseReplayArgs(["--date", "2026-11-20"], {}))).message).to.match(
                /^--state-machine-arn is required \(the reporting state machine: pulumi stack output reportStateMachineArn\)$/,
            );
            const bad = await failure(() => parseReplayArgs(["--date", "2026-11-20", "--state-machine-arn", "ReportPipeline"], {}));
            expect(bad.message).to.match(/^--state-machine-arn: expected a state machine ARN such as arn:aws:states:.*, got 'ReportPipeline'$/);
            expect(bad.exitCode).to.equal(2);
        });

        it("takes the region from the ARN, and one day when --to is left out", () => {
            const eu = ARN.replace("us-east-1", "eu-west-1");
            expect(parseReplayArgs(["--date", "2024-02-29", "--state-machine-arn", eu], { AWS_REGION: "us-east-1" })).to.deep.equal({
                from: "2024-02-29",
                to: "2024-02-29",
                stateMachineArn: eu,
                concurrency: 1,
                pollMs: 5000,
                endpoint: undefined,
                region: "eu-west-1",
            });
        });

        it("names executions within Step Functions' limits", () => {
            const name = executionName("2026-11-20", RUN_START);
            expect(name).to.equal("replay-2026-11-20-20261125T101500123Z");
            expect(name).to.match(/^[A-Za-z0-9_-]{1,80}$/);
            expect(executionName("2026-11-20", RUN_START + 1)).not.to.equal(name);
        });
    });

    describe("end to end over HTTP against the local Step Functions endpoint", () => {
        /** Executions end after `polls` describes; the day in `failDay` fails as a Glue task would. */
        function fakeBackend(polls: number, failDay: string): ExecutionBackend & { executions: Map<string, { description: ExecutionDescription; describes: number }> } {
            const executions = new Map<string, { description: ExecutionDescription; describes: number }>();
            return {
                executions,
                async start(stateMachineArn, name, input) {
                    if (stateMachineArn !== ARN) throw new StepFunctionsError("StateMachineDoesNotExist", `State Machine Does Not Exist: '${stateMachineArn}'`);
                    const executionArn = executionArnOf(name);
                    const startDate = new Date();
                    executions.set(executionArn, { description: { status: "RUNNING", startDate, input }, describes: 0 });
                    return { executionArn, startDate };
                },
                async describe(executionArn) {
                    const e = executions.get(executionArn);
                    if (!e) return undefined;
                    if (++e.describes >= polls && e.description.status === "RUNNING") {
                        const failed = (JSON.parse(e.description.input) as { date: string }).date === failDay;
                        Object.assign(
                            e.description,
                            failed
                                ? { status: "FAILED", stopDate: new Date(), error: "States.TaskFailed", cause: "Glue job run jr_42 failed: no raw objects under raw/dt=2026-11-21/" }
                                : { status: "SUCCEEDED", stopDate: new Date(), output: '{"rows":3}' },
                        );
                    }
                    return { ...e.description };
                },
            };
        }

        it("replays three days through @aws-sdk/client-sfn: progress lines, summary, exit 1 for the failed day", async () => {
            const backend = fakeBackend(3, "2026-11-21");
            const api = await startStepFunctionsApi({ backend });
            try {
                const io = captureIo();
                const argv = ["--date", "2026-11-20", "--to", "2026-11-22", "--state-machine-arn", ARN, "--endpoint", api.url, "--poll-ms", "10", "--concurrency", "2"];
                const code = await withCredentials(() => runReplay(argv, io));

                expect(code).to.equal(1);
                const lines = io.stderr().split("\n").filter(Boolean);
                expect(lines[0]).to.equal(`replaying 3 days 2026-11-20 to 2026-11-22 on ${ARN} (us-east-1, ${api.url}), 2 at a time, polling every 10 ms`);
                for (const [i, date] of ["2026-11-20", "2026-11-21", "2026-11-22"].entries()) {
                    const mine = lines.filter((l) => l.startsWith(`[${i + 1}/3] ${date}  `));
                    const end = date === "2026-11-21" ? "FAILED   " : "SUCCEEDED";
                    expect(mine, io.stderr()).to.have.length(2);
                    expect(mine[0]).to.match(new RegExp(`^\\[${i + 1}/3\\] ${date}  RUNNING +\\d+\\.\\d s  replay-${date}-\\d{8}T\\d{9}Z$`));
                    expect(mine[1]).to.match(new RegExp(`^\\[${i + 1}/3\\] ${date}  ${end} +\\d+\\.\\d s`));
                }
                expect(lines.find((l) => l.startsWith("[2/3] 2026-11-21  FAILED"))).to.match(
                    /  States\.TaskFailed: Glue job run jr_42 failed: no raw objects under raw\/dt=2026-11-21\/$/,
                );
                expect(lines[lines.length - 1]).to.equal("error: 1 of 3 days did not succeed: 2026-11-21 (see the summary)");

                const failedArn = [...backend.executions].find(([, e]) => e.description.status === "FAILED")![0];
                expect(failedArn).to.match(/:replay-2026-11-21-\d{8}T\d{9}Z$/);
                const summary = io.stdout().split("\n").filter(Boolean);
                expect(summary[0]).to.equal(`replayed   3 days 2026-11-20 to 2026-11-22 on ${ARN} (us-east-1, ${api.url})`);
                expect(summary.slice(1, 4)).to.deep.equal([
                    "succeeded  2 of 3 days",
                    "failed     1 of 3 days",
                    `  2026-11-21  FAILED  States.TaskFailed: Glue job run jr_42 failed: no raw objects under raw/dt=2026-11-21/  (execution ${failedArn})`,
                ]);
                expect(summary[4]).to.match(/^elapsed    \d+\.\d s$/);
                // Two starts are in flight at once: they may reach the endpoint in either order.
                expect([...backend.executions.values()].map((e) => JSON.parse(e.description.input))).to.have.deep.members([
                    { date: "2026-11-20" },
                    { date: "2026-11-21" },
                    { date: "2026-11-22" },
                ]);
            } finally {
                await api.stop();
            }
        });

        it("answers the SDK with Step Functions' shapes and named exceptions", async () => {
            const api = await startStepFunctionsApi({ backend: fakeBackend(1, "none") });
            const client = new SFNClient({ region: "us-east-1", endpoint: api.url, credentials: CREDENTIALS, maxAttempts: 1 });
            try {
                const started = await client.send(new StartExecutionCommand({ stateMachineArn: ARN, name: "one", input: '{"date":"2026-11-20"}' }));
                expect(started.executionArn).to.equal(executionArnOf("one"));
                expect(started.startDate).to.be.instanceOf(Date);
                expect(Math.abs(started.startDate!.getTime() - Date.now())).to.be.below(5_000);

                const described = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
                expect(described).to.include({ executionArn: started.executionArn, stateMachineArn: ARN, name: "one", status: "SUCCEEDED", input: '{"date":"2026-11-20"}', output: '{"rows":3}' });
                expect(described.stopDate).to.be.instanceOf(Date);

                const listed = await client.send(new ListExecutionsCommand({ stateMachineArn: ARN }));
                expect(listed.executions?.map((e) => [e.name, e.status])).to.deep.equal([["one", "SUCCEEDED"]]);

                const refused = async (command: StartExecutionCommand | DescribeExecutionCommand) => {
                    try {
                        await client.send(command as never);
                    } catch (err) {
                        return err as Error & { $metadata: { httpStatusCode?: number } };
                    }
                    return expect.fail("expected an exception");
                };
                const missing = await refused(new StartExecutionCommand({ stateMachineArn: ARN.replace("ReportPipeline", "Nope"), name: "x" }));
                expect(missing).to.be.instanceOf(StateMachineDoesNotExist);
                expect(missing.$metadata.httpStatusCode).to.equal(400);
                expect(missing.message).to.include("Nope");
                expect(await refused(new StartExecutionCommand({ stateMachineArn: ARN, name: "one", input: "{}" }))).to.be.instanceOf(ExecutionAlreadyExists);
                expect(await refused(new StartExecutionCommand({ stateMachineArn: ARN, name: "has space" }))).to.be.instanceOf(InvalidName);
                expect(await refused(new StartExecutionCommand({ stateMachineArn: ARN, name: "x".repeat(81) }))).to.be.instanceOf(InvalidName);
                expect((await refused(new StartExecutionCommand({ stateMachineArn: ARN, name: "bad-input", input: "{" }))).name).to.equal("InvalidExecutionInput");
                expect((await refused(new StartExecutionCommand({ stateMachineArn: "ReportPipeline" }))).name).to.equal("InvalidArn");
                expect((await refused(new DescribeExecutionCommand({ executionArn: executionArnOf("never") }))).name).to.equal("ExecutionDoesNotExist");

                const raw = await fetch(api.url, {
                    method: "POST",
                    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "AWSStepFunctions.DeleteStateMachine" },
                    body: "{}",
                });
                expect(raw.status).to.equal(400);
                expect(await raw.json()).to.deep.include({ __type: "com.amazonaws.sfn#UnknownOperationException" });
            } finally {
                client.destroy();
                await api.stop();
            }
        });

        it("the entry script: runs the replay (exit 1 for a failed day), refuses a bad date in one line (exit 2)", async () => {
            const api = await startStepFunctionsApi({ backend: fakeBackend(2, "2026-11-20") });
            try {
                // Both at once: each pays ts-node's start-up.
                const [run, refused] = await Promise.all([
                    runEntry(["--date", "2026-11-20", "--state-machine-arn", ARN, "--endpoint", api.url, "--poll-ms", "10"]),
                    runEntry(["--date", "2026-02-30", "--state-machine-arn", ARN]),
                ]);
                expect(run.code, run.stderr).to.equal(1);
                expect(run.stderr).to.match(/\[1\/1\] 2026-11-20  FAILED +\d+\.\d s  States\.TaskFailed: Glue job run jr_42 failed/);
                expect(run.stdout).to.match(/^failed     1 of 1 day$/m);
                expect(refused.code).to.equal(2);
                expect(refused.stdout).to.equal("");
                expect(refused.stderr).to.equal("error: --date: expected a real day as YYYY-MM-DD such as 2026-11-20, got '2026-02-30'\n");
            } finally {
                await api.stop();
            }
        });
    });
});

/** The SDK's default chain reads process.env: any values do for the local endpoint. */
async function withCredentials<T>(run: () => Promise<T>): Promise<T> {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = "test";
    process.env.AWS_SECRET_ACCESS_KEY = "test";
    try {
        return await run();
    } finally {
        for (const [key, value] of [["AWS_ACCESS_KEY_ID", saved.id], ["AWS_SECRET_ACCESS_KEY", saved.secret]] as const) {
            if (value === undefined) delete process.env[key];
            else process.env[key] = value;
        }
    }
}

/** Runs cli/report-replay.ts the way `npm run report:replay` does. */
function runEntry(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        TS_NODE_PROJECT: join(ROOT, "tsconfig.json"),
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
    };
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const child = spawn(process.execPath, ["-r", TS_NODE, join(ROOT, "cli", "report-replay.ts"), ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    return new Promise((done) => child.once("close", (code) => done({ code, stdout, stderr })));
}
