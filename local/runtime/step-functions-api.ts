/**
 * A local Step Functions endpoint: the AWS JSON 1.0 wire protocol (POST /, `X-Amz-Target:
 * AWSStepFunctions.<Operation>`) for StartExecution, DescribeExecution and ListExecutions, over a
 * backend that runs the executions. `@aws-sdk/client-sfn` pointed at `url` gets the answers and the
 * named exceptions (StateMachineDoesNotExist, ExecutionAlreadyExists, InvalidName...) AWS gives.
 *
 * This layer checks what Step Functions checks before a backend sees a call (ARNs, names, input)
 * and keeps the names started here, so a backend only runs and describes executions.
 */
import { randomUUID } from "crypto";
import { createServer, IncomingMessage, ServerResponse } from "http";
import { AddressInfo, Socket } from "net";

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PENDING_REDRIVE";

export interface ExecutionDescription {
    status: ExecutionStatus;
    startDate: Date;
    stopDate?: Date;
    /** The execution's input, JSON text. */
    input: string;
    /** JSON text, once SUCCEEDED. */
    output?: string;
    error?: string;
    cause?: string;
    /** Default: the state machine named in the execution ARN. */
    stateMachineArn?: string;
    /** Default: the last part of the execution ARN. */
    name?: string;
}

/** What runs the executions: an in-memory fake in tests, the local state machine later. */
export interface ExecutionBackend {
    /**
     * Starts an execution. Throws a StepFunctionsError("StateMachineDoesNotExist") for a state machine
     * it does not run. Called only with a checked ARN, a valid name not used before here, and JSON input.
     */
    start(stateMachineArn: string, name: string, input: string): Promise<{ executionArn: string; startDate: Date }>;
    /** undefined (or a StepFunctionsError("ExecutionDoesNotExist")) for an execution it does not know. */
    describe(executionArn: string): Promise<ExecutionDescription | undefined>;
}

/** The exceptions of the operations served here, as Step Functions names them. */
export type StepFunctionsErrorType =
    | "StateMachineDoesNotExist"
    | "ExecutionDoesNotExist"
    | "ExecutionAlreadyExists"
    | "ExecutionLimitExceeded"
    | "InvalidName"
    | "InvalidArn"
    | "InvalidExecutionInput"
    | "InvalidToken"
    | "ValidationException";

/** Thrown by a backend (or this layer) to answer with a Step Functions exception, HTTP 400. */
export class StepFunctionsError extends Error {
    constructor(
        readonly type: StepFunctionsErrorType,
        message: string,
    ) {
        super(message);
        this.name = type;
    }
}

export interface StepFunctionsApiOptions {
    backend: ExecutionBackend;
    /** Default 0: a free port. */
    port?: number;
}

export interface LocalStepFunctionsApi {
    /** Base URL, e.g. http://127.0.0.1:PORT: the SDK's `endpoint`. */
    url: string;
    /** Closes the server and every open connection. */
    stop(): Promise<void>;
}

const HOST = "127.0.0.1";
const TARGET_PREFIX = "AWSStepFunctions.";
const CONTENT_TYPE = "application/x-amz-json-1.0";
/** Step Functions' limit on an execution's input, in UTF-8 bytes. */
export const MAX_INPUT_BYTES = 262_144;
/** Requests larger than any valid StartExecution are cut off rather than buffered. */
const MAX_BODY_BYTES = 2 * MAX_INPUT_BYTES;

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[^:]{1,80}(:[^:]{1,80})?$/;
const EXECUTION_ARN = /^(arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}):execution:([^:]{1,80}):([^:]{1,80})$/;
/** Step Functions refuses whitespace, brackets, wildcards, these specials and control characters in names. */
const BAD_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

interface Started {
    stateMachineArn: string;
    name: string;
    input: string;
    executionArn: string;
}

/** A parsed request body: only the members an operation reads, each checked for its type. */
type Body = Record<string, unknown>;

class Api {
    /** "<state machine ARN> <name>" → the execution started here with it (names are unique per state machine). */
    private readonly byName = new Map<string, Started>();
    /** In start order, for ListExecutions. */
    private readonly started: Started[] = [];

    constructor(private readonly backend: ExecutionBackend) {}

    async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const requestId = randomUUID();
        const reply = (status: number, body: unknown) => {
            res.writeHead(status, { "content-type": CONTENT_TYPE, "x-amzn-requestid": requestId });
            res.end(JSON.stringify(body));
        };
        const fail = (status: number, type: string, message: string) =>
            // The namespaced form real Step Functions sends; the SDK keeps the part after '#'.
            reply(status, { __type: `com.amazonaws.sfn#${type}`, message });

        const text = await readBody(req);
        const target = String(req.headers["x-amz-target"] ?? "");
        if (req.method !== "POST" || req.url?.split("?")[0] !== "/" || !target.startsWith(TARGET_PREFIX)) {
            return fail(400, "UnknownOperationException", `expected POST / with X-Amz-Target: ${TARGET_PREFIX}<Operation>`);
        }
        if (text === undefined) return fail(413, "SerializationException", `request body over ${MAX_BODY_BYTES} bytes`);
        const type = String(req.headers["content-type"] ?? "");
        if (!/^application\/(x-amz-json-1\.0|json)\b/.test(type)) {
            return fail(400, "SerializationException", `expected content-type ${CONTENT_TYPE}, got '${type}'`);
        }
        let body: Body;
        try {
            const parsed: unknown = text === "" ? {} : JSON.parse(text);
            if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
            body = parsed as Body;
        } catch {
            return fail(400, "SerializationException", "the request body is not a JSON object");
        }

        const operation = target.slice(TARGET_PREFIX.length);
        try {
            switch (operation) {
                case "StartExecution":
                    return reply(200, await this.startExecution(body));
                case "DescribeExecution":
                    return reply(200, await this.describeExecution(body));
                case "ListExecutions":
                    return reply(200, await this.listExecutions(body));
                default:
                    return fail(400, "UnknownOperationException", `operation ${operation} is not served by the local Step Functions endpoint`);
            }
        } catch (err) {
            if (err instanceof StepFunctionsError) return fail(400, err.type, err.message);
            // A backend bug, not an answer AWS would give: a 500 the SDK reports (after its retries).
            return fail(500, "InternalFailure", `local Step Functions backend failed: ${(err as Error)?.message ?? String(err)}`);
        }
    }

    private async startExecution(body: Body) {
        const stateMachineArn = requiredString(body, "stateMachineArn");
        if (!STATE_MACHINE_ARN.test(stateMachineArn)) throw new StepFunctionsError("InvalidArn", `Invalid Arn: '${stateMachineArn}'`);
        const name = optionalString(body, "name") ?? randomUUID();
        if (name.length < 1 || name.length > 80 || BAD_NAME_CHARS.test(name)) {
            throw new StepFunctionsError("InvalidName", `Invalid Name: '${name}' (1 to 80 characters, no whitespace, brackets, wildcards or special characters)`);
        }
        const input = optionalString(body, "input") ?? "{}";
        if (Buffer.byteLength(input, "utf8") > MAX_INPUT_BYTES) {
            throw new StepFunctionsError("InvalidExecutionInput", `input is over ${MAX_INPUT_BYTES} bytes`);
        }
        try {
            JSON.parse(input);
        } catch (err) {
            throw new StepFunctionsError("InvalidExecutionInput", `Invalid State Machine Execution Input: '${(err as Error).message}'`);
        }
        optionalString(body, "traceHeader");

        const key = `${stateMachineArn} ${name}`;
        const earlier = this.byName.get(key);
        if (earlier) {
            // Step Functions (standard workflows) answers a repeat with the same input while the
            // execution runs with that execution: a retried request must not start a second run.
            const now = earlier.input === input ? await this.backend.describe(earlier.executionArn) : undefined;
            if (now?.status === "RUNNING") return { executionArn: earlier.executionArn, startDate: epochSeconds(now.startDate) };
            throw new StepFunctionsError("ExecutionAlreadyExists", `Execution Already Exists: '${earlier.executionArn}'`);
        }
        const { executionArn, startDate } = await this.backend.start(stateMachineArn, name, input);
        const started = { stateMachineArn, name, input, executionArn };
        this.byName.set(key, started);
        this.started.push(started);
        return { executionArn, startDate: epochSeconds(startDate) };
    }

    private async describeExecution(body: Body) {
        const executionArn = requiredString(body, "executionArn");
        const arn = EXECUTION_ARN.exec(executionArn);
        if (!arn) throw new StepFunctionsError("InvalidArn", `Invalid Arn: '${executionArn}'`);
        optionalString(body, "includedData");
        const d = await this.backend.describe(executionArn);
        if (!d) throw new StepFunctionsError("ExecutionDoesNotExist", `Execution Does Not Exist: '${executionArn}'`);
        const known = this.started.find((s) => s.executionArn === executionArn);
        return {
            executionArn,
            stateMachineArn: d.stateMachineArn ?? known?.stateMachineArn ?? `${arn[1]}:stateMachine:${arn[2]}`,
            name: d.name ?? known?.name ?? arn[3],
            status: d.status,
            startDate: epochSeconds(d.startDate),
            ...(d.stopDate ? { stopDate: epochSeconds(d.stopDate) } : {}),
            input: d.input,
            inputDetails: { included: true },
            ...(d.output !== undefined ? { output: d.output, outputDetails: { included: true } } : {}),
            ...(d.error !== undefined ? { error: d.error } : {}),
            ...(d.cause !== undefined ? { cause: d.cause } : {}),
            redriveCount: 0,
        };
    }

    /** The executions started through this endpoint, newest first, as Step Functions orders them. */
    private async listExecutions(body: Body) {
        const stateMachineArn = requiredString(body, "stateMachineArn");
        if (!STATE_MACHINE_ARN.test(stateMachineArn)) throw new StepFunctionsError("InvalidArn", `Invalid Arn: '${stateMachineArn}'`);
        const statusFilter = optionalString(body, "statusFilter");
        const maxResults = body.maxResults === undefined || body.maxResults === 0 ? 100 : body.maxResults;
        if (typeof maxResults !== "number" || !Number.isInteger(maxResults) || maxResults < 0 || maxResults > 1000) {
            throw new StepFunctionsError("ValidationException", "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 0 and 1000");
        }
        const token = optionalString(body, "nextToken");
        const offset = token === undefined ? 0 : Number(Buffer.from(token, "base64url").toString("utf8"));
        if (!Number.isSafeInteger(offset) || offset < 0) throw new StepFunctionsError("InvalidToken", `Invalid Token: '${token}'`);

        const items = [];
        for (const s of [...this.started].reverse()) {
            if (s.stateMachineArn !== stateMachineArn) continue;
            const d = await this.backend.describe(s.executionArn);
            if (!d || (statusFilter !== undefined && d.status !== statusFilter)) continue;
            items.push({
                executionArn: s.executionArn,
                stateMachineArn,
                name: s.name,
                status: d.status,
                startDate: epochSeconds(d.startDate),
                ...(d.stopDate ? { stopDate: epochSeconds(d.stopDate) } : {}),
            });
        }
        const page = items.slice(offset, offset + maxResults);
        const more = offset + maxResults < items.length;
        return { executions: page, ...(more ? { nextToken: Buffer.from(String(offset + maxResults)).toString("base64url") } : {}) };
    }
}

/** AWS JSON's timestamp: epoch seconds as a number, with the milliseconds as a fraction. */
function epochSeconds(date: Date): number {
    return date.getTime() / 1000;
}

function requiredString(body: Body, member: string): string {
    const value = optionalString(body, member);
    if (value === undefined) {
        throw new StepFunctionsError("ValidationException", `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
    }
    return value;
}

function optionalString(body: Body, member: string): string | undefined {
    const value = body[member];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string") throw new StepFunctionsError("ValidationException", `1 validation error detected: Value at '${member}' must be a string`);
    return value;
}

/** The body as text, or undefined when it is over MAX_BODY_BYTES. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_BODY_BYTES) chunks.push(chunk);
        });
        req.on("end", () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString("utf8")));
        req.on("error", reject);
    });
}

/** Serves `backend` as Step Functions on a loopback port. */
export async function startStepFunctionsApi(options: StepFunctionsApiOptions): Promise<LocalStepFunctionsApi> {
    const api = new Api(options.backend);
    const sockets = new Set<Socket>();
    const server = createServer((req, res) => {
        api.handle(req, res).catch((e: Error) => {
            if (!res.headersSent) res.writeHead(500, { "content-type": CONTENT_TYPE });
            res.end(JSON.stringify({ __type: "InternalFailure", message: `local Step Functions endpoint failed: ${e.message}` }));
        });
    });
    server.on("connection", (socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 0, HOST, () => resolve());
    });
    const url = `http://${HOST}:${(server.address() as AddressInfo).port}`;
    let stopped: Promise<void> | undefined;
    return {
        url,
        stop: () =>
            (stopped ??= new Promise<void>((resolve) => {
                server.close(() => resolve());
                for (const socket of sockets) socket.destroy();
            })),
    };
}
