// One execution environment of a local Lambda function: a child process started in the folder the
// deployed archive was unpacked into (as /var/task), with the plan's environment. It loads the
// handler once (the cold start), then answers invocations sent over IPC, one at a time, as the
// Lambda runtime does. Plain JavaScript, so a cold start costs no compiler.
//
// Every AWS SDK v3 client the handler constructs is pointed at the local stand-ins, and every
// command it sends is first authorized by the runtime (IAM, against the function's role) over IPC:
// a denied call throws the error AWS would, before any request leaves.
"use strict";
const Module = require("module");
const path = require("path");
const crypto = require("crypto");
const { fillStandInGaps } = require("./stand-in-gaps");

const config = JSON.parse(process.env.LOCAL_RUNTIME_CONFIG || "{}");
delete process.env.LOCAL_RUNTIME_CONFIG;
/** clientName → endpoint URL, e.g. { S3Client: "http://127.0.0.1:4567" }. */
const endpoints = config.endpoints || {};
/** Exact identifiers as the plan names them → as the stand-ins know them (queue URLs, ARNs). */
const ids = new Map(config.ids || []);

/** The error code each service answers an unauthorized call with. */
const DENIED_CODE = { S3Client: "AccessDenied", SQSClient: "AccessDenied", SNSClient: "AuthorizationError", DynamoDBClient: "AccessDeniedException", KinesisClient: "AccessDeniedException" };

let nextCall = 0;
const pendingCalls = new Map();

function authorize(clientName, commandName, input) {
    const id = ++nextCall;
    return new Promise((resolve, reject) => {
        pendingCalls.set(id, { resolve, reject });
        process.send({ type: "authorize", id, client: clientName, command: commandName, input: jsonSafe(input) });
    });
}

/** Input as JSON can carry it: bodies become their length, which no IAM decision depends on. */
function jsonSafe(value) {
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) return { bytes: value.length };
    if (value && typeof value === "object" && typeof value.pipe === "function") return { stream: true };
    if (Array.isArray(value)) return value.map(jsonSafe);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
    return value;
}

/** Replaces every string that is exactly a planned identifier by the stand-in's. */
function translate(value) {
    if (typeof value === "string") return ids.has(value) ? ids.get(value) : value;
    if (Buffer.isBuffer(value) || value instanceof Uint8Array || value instanceof Date) return value;
    if (value && typeof value === "object" && typeof value.pipe === "function") return value;
    if (Array.isArray(value)) return value.map(translate);
    if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, translate(v)]));
    }
    return value;
}

function deniedError(clientName, message, unsupported) {
    const code = unsupported || DENIED_CODE[clientName] || "AccessDeniedException";
    const err = new Error(message);
    err.name = code;
    err.Code = code;
    err.$fault = "client";
    err.$metadata = { httpStatusCode: 403, requestId: crypto.randomUUID(), attempts: 1, totalRetryDelay: 0 };
    return err;
}

/** The local middleware: authorize with the runtime, then send with the stand-ins' identifiers. */
function localMiddleware(next, context) {
    return async (args) => {
        const clientName = context.clientName;
        const verdict = await authorize(clientName, context.commandName, args.input);
        if (!verdict.allowed) throw deniedError(clientName, verdict.message, verdict.code);
        return next({ ...args, input: translate(args.input) });
    };
}

function localClient(Base, clientName, mod) {
    const endpoint = endpoints[clientName];
    if (!endpoint) return Base;
    const extra = {};
    if (clientName === "S3Client") extra.forcePathStyle = true;
    if (clientName === "KinesisClient") {
        // kinesis-local's plain port speaks HTTP/1.1 only; the Kinesis client defaults to HTTP/2.
        const { NodeHttpHandler } = require(require.resolve("@smithy/node-http-handler", { paths: [config.sdkFrom || process.cwd()] }));
        extra.requestHandler = new NodeHttpHandler();
    }
    const Local = class extends Base {
        constructor(clientConfig = {}) {
            super({ ...clientConfig, ...extra, endpoint, region: process.env.AWS_REGION });
            this.middlewareStack.add(localMiddleware, { step: "initialize", name: "localRuntimeAuthorize", priority: "high" });
            fillStandInGaps(this, clientName, mod, () => new Base({ ...extra, endpoint, region: process.env.AWS_REGION }));
        }
    };
    Object.defineProperty(Local, "name", { value: Base.name });
    return Local;
}

// The SDK the Lambda Node.js runtime provides, resolved where the runtime linked it; each client
// module is handed out with its client classes replaced by local ones.
const patched = new Map();
const load = Module._load;
Module._load = function (request, parent, isMain) {
    const mod = load.apply(this, arguments);
    if (typeof request !== "string" || !/^@aws-sdk\/client-[a-z0-9-]+$/.test(request)) return mod;
    if (patched.has(mod)) return patched.get(mod);
    // Own properties only, as esbuild's interop copies them.
    const copy = {};
    for (const key of Object.getOwnPropertyNames(mod)) {
        const value = mod[key];
        copy[key] = typeof value === "function" && /Client$/.test(key) && value.prototype && typeof value.prototype.send === "function" ? localClient(value, key, mod) : value;
    }
    patched.set(mod, copy);
    return copy;
};

function errorOf(err) {
    if (err instanceof Error) return { errorType: err.name || "Error", errorMessage: err.message };
    return { errorType: "Error", errorMessage: typeof err === "string" ? err : JSON.stringify(err) };
}

const [file, exportName] = (() => {
    const handler = process.env._HANDLER || "index.handler";
    const dot = handler.lastIndexOf(".");
    return [handler.slice(0, dot), handler.slice(dot + 1)];
})();

let handler;
function loadHandler() {
    if (handler) return handler;
    const mod = require(path.resolve(process.cwd(), file));
    handler = mod[exportName];
    if (typeof handler !== "function") throw Object.assign(new Error(`Cannot find ${exportName} in ${file}`), { name: "Runtime.HandlerNotFound" });
    return handler;
}

process.on("message", async (message) => {
    if (message.type === "authorized") {
        const call = pendingCalls.get(message.id);
        pendingCalls.delete(message.id);
        if (call) call.resolve(message.verdict);
        return;
    }
    if (message.type !== "invoke") return;
    const deadline = Date.now() + message.timeoutMs;
    const context = {
        callbackWaitsForEmptyEventLoop: true,
        functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
        functionVersion: "$LATEST",
        invokedFunctionArn: message.functionArn,
        memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        awsRequestId: message.requestId,
        logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
        done() {},
        fail() {},
        succeed() {},
    };
    try {
        const response = await loadHandler()(message.event, context);
        process.send({ type: "result", id: message.id, ok: true, response: response === undefined ? null : response });
    } catch (err) {
        process.send({ type: "result", id: message.id, ok: false, ...errorOf(err) });
    }
});

// An environment never outlives its runtime.
process.on("disconnect", () => process.exit(0));
process.send({ type: "ready" });
