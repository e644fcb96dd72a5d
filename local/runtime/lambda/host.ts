import { ChildProcess, fork } from "child_process";
import { createHash, randomUUID } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { PlannedResource } from "../../plan";
import type { InvokeResult, Invocable } from "../types";
import { readZip } from "../zip-reader";

// A planned aws:lambda/function:Function run from its deployed archive: the zip the plan names
// (checked against its codeSha256) is unpacked once, and each execution environment is a child
// process (worker.js) in that folder with the plan's environment. Invocations beyond the function's
// concurrency wait for an environment, as a mapping's throttled invocations are retried; the
// planned timeout kills the environment, as Lambda does.

const WORKER = path.join(__dirname, "worker.js");
/** Environments per function when the plan reserves no concurrency: enough for the mappings' concurrency here. */
export const DEFAULT_LOCAL_CONCURRENCY = 4;
/** Function inputs the runtime honours. */
const FUNCTION_INPUTS_RUN = new Set(["code", "codeSha256", "sourceCodeHash", "handler", "runtime", "role", "timeout", "memorySize", "environment", "reservedConcurrentExecutions", "loggingConfig", "packageType", "layers", "name"]);
/**
 * Inputs with no bearing on a function invoked by a mapping on this machine: its CPU, X-Ray,
 * versions, tags; the DLQ of asynchronous invocations (mappings invoke synchronously); disk size.
 */
const FUNCTION_INPUTS_NOT_EMULATED = new Set(["architectures", "tracingConfig", "description", "tags", "publish", "deadLetterConfig", "ephemeralStorage", "kmsKeyArn", "snapStart", "skipDestroy"]);
/** What the Lambda Node.js runtime provides besides the archive: the AWS SDK v3 clients. */
const RUNTIME_PACKAGES = /^client-/;

/** A call a function's SDK is about to make, to authorize as its role. */
export interface SdkCall {
    client: string;
    command: string;
    input: Record<string, unknown>;
}

export interface LocalFunctionOptions {
    resource: PlannedResource;
    /** Where the plan's relative archive paths start (the project folder the program ran in). */
    projectRoot: string;
    /** Unpacked archives go below it. */
    workDir: string;
    /** SDK client name → stand-in endpoint. */
    endpoints: Record<string, string>;
    /** Planned identifier → stand-in identifier, for exact strings in SDK inputs. */
    ids: [string, string][];
    /** Every SDK call the function makes, before it is sent. */
    authorize(call: SdkCall): Promise<{ allowed: boolean; message: string }>;
    /** Each line the function writes to stdout or stderr (its CloudWatch log). */
    log(line: string): void;
    /** Extra environment (region, credentials for the stand-ins). */
    environment: Record<string, string>;
    /** Environments at once when the plan reserves no concurrency (e.g. its mappings' maximum). Default DEFAULT_LOCAL_CONCURRENCY. */
    concurrency?: number;
}

interface Environment {
    child: ChildProcess;
    ready: Promise<void>;
    busy: boolean;
    pending?: { id: string; resolve(result: InvokeResult): void; started: number; timer: NodeJS.Timeout };
}

export class LocalFunction implements Invocable {
    readonly arn: string;
    readonly name: string;
    readonly physicalName: string;
    readonly roleArn: string;
    readonly timeoutSeconds: number;
    readonly concurrency: number;
    readonly taskRoot: string;
    /** Invocations started, environments started (cold starts), invocations that waited for one. */
    readonly stats = { invocations: 0, coldStarts: 0, throttled: 0, timeouts: 0, errors: 0 };
    private readonly environments: Environment[] = [];
    private readonly waiting: (() => void)[] = [];
    private readonly env: Record<string, string>;
    private stopped = false;

    constructor(private readonly options: LocalFunctionOptions) {
        const r = options.resource;
        const inputs = r.inputs as Record<string, any>;
        this.name = r.name;
        this.arn = String(r.outputs.arn);
        this.physicalName = String(r.outputs.name ?? r.name);
        this.roleArn = String(inputs.role);
        this.timeoutSeconds = typeof inputs.timeout === "number" ? inputs.timeout : 3;
        const reserved = inputs.reservedConcurrentExecutions;
        if (reserved === 0) throw new Error(`lambda ${r.name}: reservedConcurrentExecutions is 0, so AWS would never run it`);
        this.concurrency = typeof reserved === "number" && reserved > 0 ? reserved : Math.max(DEFAULT_LOCAL_CONCURRENCY, options.concurrency ?? 0);
        const unknown = Object.keys(inputs).filter((k) => !FUNCTION_INPUTS_RUN.has(k) && !FUNCTION_INPUTS_NOT_EMULATED.has(k));
        if (unknown.length > 0) throw new Error(`lambda ${r.name}: sets ${unknown.join(", ")}, which the local runtime does not run (teach local/runtime/lambda/host.ts, or list them as not emulated)`);
        if (typeof inputs.runtime === "string" && !inputs.runtime.startsWith("nodejs")) throw new Error(`lambda ${r.name}: runtime ${inputs.runtime}; the local runtime runs Node.js functions only`);
        if (inputs.packageType === "Image") throw new Error(`lambda ${r.name}: container images are not run locally (expected a zip archive)`);
        if (inputs.layers?.length) throw new Error(`lambda ${r.name}: layers are not run locally (${inputs.layers.join(", ")})`);
        this.taskRoot = unpack(r, options.projectRoot, options.workDir);
        const variables: Record<string, unknown> = inputs.environment?.variables ?? {};
        const logGroup = inputs.loggingConfig?.logGroup ?? `/aws/lambda/${this.physicalName}`;
        this.env = {
            PATH: process.env.PATH ?? "",
            ...Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
            ...options.environment,
            AWS_LAMBDA_FUNCTION_NAME: this.physicalName,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(inputs.memorySize ?? 128),
            AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
            AWS_LAMBDA_LOG_GROUP_NAME: logGroup,
            AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${randomUUID().replace(/-/g, "")}`,
            AWS_EXECUTION_ENV: `AWS_Lambda_${inputs.runtime ?? "nodejs"}`,
            LAMBDA_TASK_ROOT: this.taskRoot,
            _HANDLER: String(inputs.handler ?? "index.handler"),
            TZ: ":UTC",
            LOCAL_RUNTIME_CONFIG: JSON.stringify({ endpoints: options.endpoints, ids: options.ids, sdkFrom: path.resolve(__dirname, "../../..") }),
        };
    }

    async invoke(event: unknown): Promise<InvokeResult> {
        if (this.stopped) throw new Error(`lambda ${this.name}: the runtime has stopped`);
        const environment = await this.acquire();
        this.stats.invocations++;
        const started = Date.now();
        try {
            await environment.ready;
        } catch (err) {
            this.release(environment);
            this.stats.errors++;
            return { ok: false, errorType: "Runtime.ExitError", errorMessage: (err as Error).message, durationMs: Date.now() - started };
        }
        const result = await new Promise<InvokeResult>((resolve) => {
            const id = randomUUID();
            const timer = setTimeout(() => {
                // As Lambda does on a timeout: the environment is discarded, the next invoke starts cold.
                this.stats.timeouts++;
                environment.pending = undefined;
                this.discard(environment);
                resolve({ ok: false, errorType: "Sandbox.Timedout", errorMessage: `Task timed out after ${this.timeoutSeconds.toFixed(2)} seconds`, durationMs: Date.now() - started });
            }, this.timeoutSeconds * 1000);
            environment.pending = { id, resolve, started, timer };
            environment.child.send({ type: "invoke", id, requestId: id, event, functionArn: this.arn, timeoutMs: this.timeoutSeconds * 1000 });
        });
        if (!result.ok) this.stats.errors++;
        this.release(environment);
        return result;
    }

    /** Ends every environment; resolves once each child has exited. */
    async stop(): Promise<void> {
        this.stopped = true;
        await Promise.all([...this.environments].map((e) => this.discard(e)));
    }

    private async acquire(): Promise<Environment> {
        for (;;) {
            const idle = this.environments.find((e) => !e.busy);
            if (idle) {
                idle.busy = true;
                return idle;
            }
            if (this.environments.length < this.concurrency) {
                const started = this.start();
                started.busy = true;
                return started;
            }
            this.stats.throttled++;
            await new Promise<void>((resolve) => this.waiting.push(resolve));
        }
    }

    private release(environment: Environment): void {
        environment.busy = false;
        this.waiting.shift()?.();
    }

    private start(): Environment {
        this.stats.coldStarts++;
        const child = fork(WORKER, [], { cwd: this.taskRoot, env: this.env, stdio: ["ignore", "pipe", "pipe", "ipc"], execArgv: [] });
        const environment: Environment = { child, busy: false, ready: Promise.resolve() };
        let tail = "";
        const lines = (stream: NodeJS.ReadableStream | null) => {
            let buffered = "";
            stream?.on("data", (chunk: Buffer) => {
                buffered += chunk.toString();
                tail = (tail + chunk.toString()).slice(-2000);
                const parts = buffered.split("\n");
                buffered = parts.pop() ?? "";
                for (const line of parts) if (line.trim() !== "") this.options.log(line);
            });
        };
        lines(child.stdout);
        lines(child.stderr);
        environment.ready = new Promise<void>((resolve, reject) => {
            child.once("message", (m: any) => (m?.type === "ready" ? resolve() : reject(new Error(`lambda ${this.name}: unexpected first message`))));
            child.once("exit", (code, signal) => reject(new Error(`lambda ${this.name}: the environment exited before it was ready (code ${code}, signal ${signal}): ${tail.trim().split("\n").pop() ?? ""}`)));
        });
        environment.ready.catch(() => undefined);
        child.on("message", (m: any) => {
            if (m?.type === "authorize") {
                this.options
                    .authorize({ client: m.client, command: m.command, input: m.input })
                    // A call the runtime cannot decide (an unmapped command) fails loudly, not as a denial.
                    .catch((err: Error) => ({ allowed: false, message: `local runtime: ${err.message}`, code: "LocalRuntime.Unsupported" }))
                    .then((verdict) => child.connected && child.send({ type: "authorized", id: m.id, verdict }));
            } else if (m?.type === "result" && environment.pending && environment.pending.id === m.id) {
                const { resolve, started, timer } = environment.pending;
                clearTimeout(timer);
                environment.pending = undefined;
                const durationMs = Date.now() - started;
                resolve(m.ok ? { ok: true, response: m.response, durationMs } : { ok: false, errorType: m.errorType, errorMessage: m.errorMessage, durationMs });
            }
        });
        child.on("exit", (code, signal) => {
            const index = this.environments.indexOf(environment);
            if (index >= 0) this.environments.splice(index, 1);
            if (environment.pending) {
                const { resolve, started, timer } = environment.pending;
                clearTimeout(timer);
                environment.pending = undefined;
                resolve({ ok: false, errorType: "Runtime.ExitError", errorMessage: `RequestId: exited with code ${code} signal ${signal}: ${tail.trim().split("\n").pop() ?? ""}`, durationMs: Date.now() - started });
            }
        });
        this.environments.push(environment);
        return environment;
    }

    private discard(environment: Environment): Promise<void> {
        const index = this.environments.indexOf(environment);
        if (index >= 0) this.environments.splice(index, 1);
        const child = environment.child;
        if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
        return new Promise<void>((resolve) => {
            child.once("exit", () => resolve());
            child.kill("SIGKILL");
        });
    }
}

/**
 * Unpacks the function's archive into its own folder below `workDir` (as Lambda into /var/task),
 * after checking it is the archive the plan deploys, and links the SDK the Node.js runtime provides.
 */
function unpack(r: PlannedResource, projectRoot: string, workDir: string): string {
    const code = r.inputs.code as { archive?: unknown } | undefined;
    if (!code || typeof code.archive !== "string") throw new Error(`lambda ${r.name}: inputs.code is ${JSON.stringify(code)}, expected a file archive`);
    const archive = path.resolve(projectRoot, code.archive);
    if (!fs.existsSync(archive)) throw new Error(`lambda ${r.name}: the planned archive ${archive} does not exist (evaluate the stack first)`);
    const zip = fs.readFileSync(archive);
    const sha = createHash("sha256").update(zip).digest("base64");
    if (r.inputs.codeSha256 !== undefined && r.inputs.codeSha256 !== sha) {
        throw new Error(`lambda ${r.name}: ${code.archive} has SHA-256 ${sha}, but the plan deploys ${String(r.inputs.codeSha256)}`);
    }
    const dir = fs.mkdtempSync(path.join(workDir, `${r.name}-`));
    for (const entry of readZip(zip)) {
        if (entry.name.endsWith("/")) continue;
        const target = path.join(dir, entry.name);
        if (!target.startsWith(dir + path.sep)) throw new Error(`lambda ${r.name}: archive entry ${entry.name} escapes the task root`);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, entry.contents, { mode: entry.mode & 0o777 || 0o644 });
    }
    const sdk = path.dirname(path.dirname(require.resolve("@aws-sdk/client-s3/package.json")));
    const linked = path.join(dir, "node_modules", "@aws-sdk");
    fs.mkdirSync(linked, { recursive: true });
    for (const client of fs.readdirSync(sdk).filter((d) => RUNTIME_PACKAGES.test(d))) {
        if (!fs.existsSync(path.join(linked, client))) fs.symlinkSync(path.join(sdk, client), path.join(linked, client), "dir");
    }
    return dir;
}

/** A folder for unpacked archives, removed by the returned function. */
export function makeWorkDir(): { dir: string; remove(): void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-runtime-"));
    const remove = () => fs.rmSync(dir, { recursive: true, force: true });
    // A process ended without stop() still leaves no folder behind.
    process.once("exit", remove);
    return {
        dir,
        remove: () => {
            process.removeListener("exit", remove);
            remove();
        },
    };
}
