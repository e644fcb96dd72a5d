import { expect } from "chai";
import { oneLineError } from "../../../support/errors";
import * as fs from "fs";
import { createServer, type IncomingHttpHeaders, type Server } from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { bundleFunction, type Bundle } from "../../../../components/compute/bundle";
import type { PlannedResource } from "../../../../local/plan";
import { DEFAULT_LOCAL_CONCURRENCY, LocalFunction, makeWorkDir, type LocalFunctionOptions, type SdkCall } from "../../../../local/runtime/lambda/host";
import type { InvokeResult } from "../../../../local/runtime/types";

// LocalFunction runs a deployed archive in child processes. The archives are built here with the
// repository's own bundler from the handlers in test/fixtures/runtime/, so what runs is what
// bundleFunction would deploy.

const FIXTURES = path.join(__dirname, "..", "..", "..", "fixtures", "runtime");
const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const ROLE = `arn:aws:iam::${ACCOUNT}:role/echo-role-1a2b3c4`;
const ENVIRONMENT = { AWS_REGION: REGION, AWS_ACCESS_KEY_ID: "LOCAL", AWS_SECRET_ACCESS_KEY: "LOCAL", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };

type Fixture = "echo-context" | "sleeps" | "exits" | "calls-sqs";

interface Echo {
    event: Record<string, unknown>;
    pid: number;
    startedAt: number;
    endedAt: number;
    context: Record<string, unknown>;
    env: Record<string, string>;
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** Waits up to `ms` for `pid` to be gone; true when it is. */
async function goneWithin(pid: number, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (alive(pid)) {
        if (Date.now() > deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return true;
}

function response<T>(result: InvokeResult): T {
    if (!result.ok) expect.fail(`expected a response, got ${result.errorType}: ${result.errorMessage}`);
    return result.response as T;
}

describe("LocalFunction (local/runtime/lambda/host.ts)", function () {
    this.timeout(30_000);

    let scratch: string;
    let work: { dir: string; remove(): void };
    const bundles = new Map<Fixture, Bundle>();
    const started: LocalFunction[] = [];
    const logs = new Map<string, string[]>();

    before(async () => {
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "host-spec-"));
        work = makeWorkDir();
        for (const fixture of ["echo-context", "sleeps", "exits", "calls-sqs"] as Fixture[]) {
            bundles.set(fixture, await bundleFunction(path.join(FIXTURES, `${fixture}.ts`), { outDir: path.join(scratch, "archives") }));
        }
    });

    after(async () => {
        await Promise.all(started.map((fn) => fn.stop()));
        work?.remove();
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    /** The aws:lambda/function:Function the plan would hold for `fixture`'s archive. */
    function functionResource(name: string, fixture: Fixture, inputs: Record<string, unknown> = {}): PlannedResource {
        const bundle = bundles.get(fixture)!;
        return {
            urn: `urn:pulumi:dev::event-pipelines::aws:lambda/function:Function::${name}`,
            type: "aws:lambda/function:Function",
            name,
            custom: true,
            dependencies: [],
            protect: false,
            inputs: {
                // Relative to the project root, as the engine records it.
                code: { archive: path.relative(scratch, bundle.zipPath) },
                codeSha256: bundle.sha256,
                handler: "index.handler",
                runtime: "nodejs20.x",
                memorySize: 256,
                role: ROLE,
                timeout: 10,
                environment: { variables: { TABLE_NAME: "EventLogsDev", NODE_OPTIONS: "--enable-source-maps" } },
                ...inputs,
            },
            outputs: { arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}-1a2b3c4`, name: `${name}-1a2b3c4` },
        };
    }

    function localFunction(resource: PlannedResource, options: Partial<LocalFunctionOptions> = {}): LocalFunction {
        const lines: string[] = [];
        logs.set(resource.name, lines);
        const fn = new LocalFunction({
            resource,
            projectRoot: scratch,
            workDir: work.dir,
            endpoints: {},
            ids: [],
            authorize: async () => ({ allowed: true, message: "allowed" }),
            log: (line) => lines.push(line),
            environment: ENVIRONMENT,
            ...options,
        });
        started.push(fn);
        return fn;
    }

    it("answers with the handler's response, the Lambda context and the plan's environment", async () => {
        // Set in this process only: an execution environment must not inherit it.
        process.env.HOST_SPEC_PARENT_ONLY = "leaked";
        const fn = localFunction(functionResource("echo", "echo-context"));
        delete process.env.HOST_SPEC_PARENT_ONLY;
        const result = await fn.invoke({ hello: "world", n: 1 });
        const echo = response<Echo>(result);
        expect(echo.event).to.deep.equal({ hello: "world", n: 1 });
        expect(echo.context).to.include({
            functionName: "echo-1a2b3c4",
            functionVersion: "$LATEST",
            invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:echo-1a2b3c4`,
            memoryLimitInMB: "256",
            logGroupName: "/aws/lambda/echo-1a2b3c4",
        });
        expect(echo.context.awsRequestId).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(echo.context.logStreamName).to.match(/^local\/\[\$LATEST\][0-9a-f]{32}$/);
        expect(echo.context.remainingMs).to.be.within(5_000, 10_000);
        expect(echo.env).to.include({
            AWS_LAMBDA_FUNCTION_NAME: "echo-1a2b3c4",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256",
            AWS_EXECUTION_ENV: "AWS_Lambda_nodejs20.x",
            TABLE_NAME: "EventLogsDev",
            NODE_OPTIONS: "--enable-source-maps",
            AWS_REGION: REGION,
            LAMBDA_TASK_ROOT: fn.taskRoot,
            _HANDLER: "index.handler",
        });
        expect(echo.env).to.not.have.any.keys("HOST_SPEC_PARENT_ONLY", "LOCAL_RUNTIME_CONFIG");
        expect(echo.pid).to.not.equal(process.pid);
        expect(result.durationMs).to.be.at.least(0);
        expect(fn.stats).to.include({ invocations: 1, coldStarts: 1, errors: 0 });
        // What the handler wrote to stdout is its log.
        expect(logs.get("echo")!.map((l) => JSON.parse(l))).to.deep.include({ message: "echo", pid: echo.pid });
        await fn.stop();
    });

    it("reports a handler's error as Lambda does, by its name, and keeps the environment warm", async () => {
        const fn = localFunction(functionResource("echo-errors", "echo-context"));
        const result = await fn.invoke({ fail: "detail.object.key is missing" });
        expect(result).to.deep.include({ ok: false, errorType: "ValidationError", errorMessage: "detail.object.key is missing" });
        expect(result.durationMs).to.be.a("number");
        // A handler error is the handler's, not the environment's: the next invoke reuses it.
        response<Echo>(await fn.invoke({}));
        expect(fn.stats).to.include({ invocations: 2, coldStarts: 1, errors: 1 });
        await fn.stop();
    });

    it("ends an invocation at the planned timeout as Sandbox.Timedout, and starts the next in a fresh environment", async () => {
        const fn = localFunction(functionResource("sleeper", "sleeps", { timeout: 1 }));
        const result = await fn.invoke({ ms: 5_000 });
        expect(result).to.deep.include({ ok: false, errorType: "Sandbox.Timedout", errorMessage: "Task timed out after 1.00 seconds" });
        expect(result.durationMs).to.be.within(950, 3_000);
        const [first] = logs.get("sleeper")!.map((l) => JSON.parse(l) as { pid: number });
        expect(await goneWithin(first.pid, 2_000), "the timed-out environment is killed").to.equal(true);
        const next = response<{ pid: number }>(await fn.invoke({ ms: 0 }));
        expect(next.pid).to.not.equal(first.pid);
        expect(fn.stats).to.include({ invocations: 2, coldStarts: 2, timeouts: 1, errors: 1 });
        await fn.stop();
    });

    it("reports an environment that exits mid-invocation as Runtime.ExitError with its last line", async () => {
        const fn = localFunction(functionResource("crasher", "exits"));
        const result = await fn.invoke({ code: 3 });
        expect(result).to.include({ ok: false, errorType: "Runtime.ExitError" });
        if (result.ok) return;
        expect(result.errorMessage).to.include("code 3").and.include("exiting with code 3");
        // The environment is gone: the next invoke starts cold.
        expect((await fn.invoke({ code: 4 })).ok).to.equal(false);
        expect(fn.stats).to.include({ invocations: 2, coldStarts: 2, errors: 2 });
        await fn.stop();
    });

    it("never overlaps two invocations of a function with reserved concurrency 1 (and does without it)", async () => {
        const overlapping = async (fn: LocalFunction) => {
            const [a, b] = (await Promise.all([fn.invoke({ delayMs: 300 }), fn.invoke({ delayMs: 300 })])).map((r) => response<Echo>(r)).sort((x, y) => x.startedAt - y.startedAt);
            return { overlap: b.startedAt < a.endedAt, pids: new Set([a.pid, b.pid]).size };
        };
        const single = localFunction(functionResource("single", "echo-context", { reservedConcurrentExecutions: 1 }));
        expect(single.concurrency).to.equal(1);
        expect(await overlapping(single)).to.deep.equal({ overlap: false, pids: 1 });
        expect(single.stats).to.include({ invocations: 2, coldStarts: 1, throttled: 1 });
        // The same measure sees the overlap when the concurrency allows it.
        const wide = localFunction(functionResource("wide", "echo-context"));
        expect(await overlapping(wide)).to.deep.equal({ overlap: true, pids: 2 });
        await Promise.all([single.stop(), wide.stop()]);
    });

    it("authorizes each SDK call with its client, command and planned input, then sends it with the stand-in's identifiers", async () => {
        const requests: { headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = [];
        // A stand-in SQS endpoint answering GetQueueUrl in the JSON protocol.
        const server: Server = createServer((req, res) => {
            let body = "";
            req.on("data", (c) => (body += c));
            req.on("end", () => {
                const input = JSON.parse(body) as { QueueName: string };
                requests.push({ headers: req.headers, body: input });
                res.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
                res.end(JSON.stringify({ QueueUrl: `http://${req.headers.host}/000000000000/${input.QueueName}` }));
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        try {
            const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
            const calls: SdkCall[] = [];
            let verdict = { allowed: false, message: `User: ${ROLE} is not authorized to perform: sqs:GetQueueUrl on resource: arn:aws:sqs:${REGION}:${ACCOUNT}:events-queue-88e95d5` };
            const fn = localFunction(functionResource("sdk-caller", "calls-sqs"), {
                endpoints: { SQSClient: endpoint },
                ids: [["events-queue-88e95d5", "events-queue-local"]],
                authorize: async (call) => {
                    calls.push(call);
                    return verdict;
                },
            });

            const denied = response<{ caught?: { name: string; message: string } }>(await fn.invoke({ queueName: "events-queue-88e95d5" }));
            expect(denied).to.deep.equal({ caught: { name: "AccessDenied", message: verdict.message } });
            expect(calls).to.deep.equal([{ client: "SQSClient", command: "GetQueueUrlCommand", input: { QueueName: "events-queue-88e95d5" } }]);
            expect(requests, "a denied call sends nothing").to.deep.equal([]);

            verdict = { allowed: true, message: "allowed" };
            const allowed = response<{ queueUrl?: string }>(await fn.invoke({ queueName: "events-queue-88e95d5" }));
            expect(allowed).to.deep.equal({ queueUrl: `${endpoint}/000000000000/events-queue-local` });
            expect(calls[1]).to.deep.equal({ client: "SQSClient", command: "GetQueueUrlCommand", input: { QueueName: "events-queue-88e95d5" } });
            expect(requests.map((r) => [r.headers["x-amz-target"], r.body])).to.deep.equal([["AmazonSQS.GetQueueUrl", { QueueName: "events-queue-local" }]]);
            await fn.stop();
        } finally {
            await new Promise((resolve) => server.close(resolve));
        }
    });

    it("refuses at construction, in one line, an archive whose SHA-256 is not the planned codeSha256", () => {
        const resource = functionResource("tampered", "echo-context", { codeSha256: "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=" });
        let message = "";
        try {
            localFunction(resource);
        } catch (err) {
            message = (err as Error).message;
        }
        expect(message).to.equal(
            `lambda tampered: ${(resource.inputs.code as { archive: string }).archive} has SHA-256 ${bundles.get("echo-context")!.sha256}, but the plan deploys n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=`,
        );
    });

    it("refuses at construction, in one line, an input it does not run and a runtime other than Node.js", () => {
        const refusal = (inputs: Record<string, unknown>) => oneLineError(() => localFunction(functionResource("refused", "echo-context", inputs)));
        expect(refusal({ vpcConfig: { subnetIds: ["subnet-1"] } })).to.equal(
            "lambda refused: sets vpcConfig, which the local runtime does not run (teach local/runtime/lambda/host.ts, or list them as not emulated)",
        );
        expect(refusal({ runtime: "python3.12" })).to.equal("lambda refused: runtime python3.12; the local runtime runs Node.js functions only");
        // Inert on this machine, and listed as such: accepted.
        expect(() => localFunction(functionResource("inert", "echo-context", { architectures: ["arm64"], tracingConfig: { mode: "Active" }, ephemeralStorage: { size: 1024 } }))).to.not.throw();
    });

    it("runs as many environments as its mappings may invoke at once, when that is more than the local default", () => {
        expect(localFunction(functionResource("wide", "echo-context"), { concurrency: 20 }).concurrency).to.equal(20);
        expect(localFunction(functionResource("narrow", "echo-context"), { concurrency: 2 }).concurrency).to.equal(DEFAULT_LOCAL_CONCURRENCY);
        expect(localFunction(functionResource("reserved", "echo-context", { reservedConcurrentExecutions: 3 }), { concurrency: 20 }).concurrency).to.equal(3);
    });

    it("stop() ends every environment: no child process is left", async () => {
        const fn = localFunction(functionResource("many", "echo-context"));
        const echoes = (await Promise.all([1, 2, 3].map(() => fn.invoke({ delayMs: 200 })))).map((r) => response<Echo>(r));
        const pids = [...new Set(echoes.map((e) => e.pid))];
        expect(pids).to.have.length(3);
        pids.forEach((pid) => expect(alive(pid), `pid ${pid} before stop()`).to.equal(true));
        await fn.stop();
        expect(pids.filter(alive), "pids still running after stop()").to.deep.equal([]);
        let refused = "";
        await fn.invoke({}).catch((err: Error) => (refused = err.message));
        expect(refused).to.equal("lambda many: the runtime has stopped");
    });
});
