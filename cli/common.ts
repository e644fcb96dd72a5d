import { parseArgs, ParseArgsConfig } from "node:util";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { KinesisClientConfig } from "@aws-sdk/client-kinesis";

// Shared by the operator CLI (`npm run events:send`, `npm run events:verify`): argument checks that
// fail with one readable line, AWS client settings that fail fast, and SDK errors turned into that line.

export const DEFAULT_REGION = "us-east-1";
export const DEFAULT_MANIFEST = ".build/events/last-send.json";

/**
 * An error meant for the operator: its message is one line naming the thing and what was expected.
 * `exitCode` 2 is a usage error (wrong arguments), 1 anything else.
 */
export class CliError extends Error {
    constructor(
        message: string,
        readonly exitCode: number = 1,
    ) {
        super(message);
        this.name = "CliError";
    }
}

/** Where and as whom the AWS clients talk; everything optional falls back to the SDK's defaults. */
export interface AwsTarget {
    region: string;
    /** Base URL of an emulator or VPC endpoint; default: the public AWS endpoint for `region`. */
    endpoint?: string;
    /** Default: the SDK's default credential chain (env, profile, SSO, container, IMDS). */
    credentials?: KinesisClientConfig["credentials"];
}

/** Retry and timeout settings of one client. */
export interface ClientTuning {
    /** Attempts per request, the SDK's own retries included. */
    maxAttempts: number;
    /** Abandon a TCP connect after this long. */
    connectTimeoutMs: number;
    /** Abandon a request whose response has not completed after this long. */
    requestTimeoutMs: number;
}

/** For the first call of a run: an unreachable endpoint or a missing resource should be reported within seconds. */
export const PROBE_TUNING: ClientTuning = { maxAttempts: 2, connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 };
/** For the calls that carry the data: more patience with throttling and transient 5xx. */
export const DATA_TUNING: ClientTuning = { maxAttempts: 5, connectTimeoutMs: 3_000, requestTimeoutMs: 30_000 };

/** Client constructor settings shared by the Kinesis and DynamoDB clients. */
export function clientConfig(target: AwsTarget, tuning: ClientTuning) {
    return {
        region: target.region,
        ...(target.endpoint ? { endpoint: target.endpoint } : {}),
        ...(target.credentials ? { credentials: target.credentials } : {}),
        maxAttempts: tuning.maxAttempts,
        // HTTP/1.1 for every service: the SDK's default HTTP/2 handler for Kinesis does not work against
        // kinesis-local, and this handler is the one that honours the timeouts below.
        requestHandler: new NodeHttpHandler({
            connectionTimeout: tuning.connectTimeoutMs,
            requestTimeout: tuning.requestTimeoutMs,
            throwOnRequestTimeout: true,
        }),
    };
}

/** `--region`, else AWS_REGION, else us-east-1. */
export function resolveRegion(flag: string | undefined, env: NodeJS.ProcessEnv): string {
    const region = flag ?? (env.AWS_REGION || DEFAULT_REGION);
    if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(region)) {
        throw new CliError(`--region: expected an AWS region such as us-east-1, got '${region}'`, 2);
    }
    return region;
}

/** `--endpoint` must be an absolute http(s) URL. */
export function checkEndpoint(value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        throw new CliError(`--endpoint: expected an http(s) URL such as http://localhost:4567, got '${value}'`, 2);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new CliError(`--endpoint: expected an http(s) URL such as http://localhost:4567, got '${value}'`, 2);
    }
    return value;
}

/** A whole number >= min, from a flag's text; `1e3`, `1.5`, `0x10` and the like are refused. */
export function parseInteger(flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
        const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
        throw new CliError(`${flag}: expected a whole number ${range}, got '${value}'`, 2);
    }
    return n;
}

/** A decimal number > 0 (e.g. a rate of 0.5 per second). */
export function parsePositiveNumber(flag: string, value: string): number {
    const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value.trim()) : NaN;
    if (!Number.isFinite(n) || n <= 0) throw new CliError(`${flag}: expected a number > 0, got '${value}'`, 2);
    return n;
}

/**
 * An ISO-8601 date or date-time (`2024-05-01`, `2024-05-01T10:00:00Z`, `...+02:00`), returned in the
 * canonical `toISOString()` form so that it compares as a string with the tables' ISO timestamps.
 */
export function parseIsoTime(flag: string, value: string): string {
    const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
    const ms = iso.test(value.trim()) ? Date.parse(value.trim()) : NaN;
    if (Number.isNaN(ms)) {
        throw new CliError(`${flag}: expected an ISO-8601 time such as 2024-05-01T10:00:00Z, got '${value}'`, 2);
    }
    return new Date(ms).toISOString();
}

/**
 * `node:util` parseArgs in strict mode with its errors reworded to one line that names the flag and
 * lists the accepted ones. `-h`/`--help` is always accepted (returned as `help: true`).
 */
export function parseFlags<O extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: O, usage: string) {
    // `--rate -1` would otherwise read as a flag with no value; join it so the number check reports it.
    const args: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const name = argv[i].startsWith("--") ? argv[i].slice(2) : "";
        if (options[name]?.type === "string" && /^-\d/.test(argv[i + 1] ?? "")) args.push(`${argv[i]}=${argv[++i]}`);
        else args.push(argv[i]);
    }
    try {
        return parseArgs({ args, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }).values;
    } catch (err) {
        const e = err as { code?: string; message?: string };
        const quoted = /'([^']+)'/.exec(e.message ?? "")?.[1] ?? "";
        // parseArgs quotes "--stream <value>" or "-h, --help": keep the long form.
        const flag = quoted.split(/[ ,]+/).find((t) => t.startsWith("--")) ?? quoted.split(" ")[0];
        switch (e.code) {
            case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
                throw new CliError(`unknown option ${flag} (${usage})`, 2);
            case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
                throw new CliError(
                    /does not take an argument/.test(e.message ?? "") ? `${flag} takes no value (${usage})` : `${flag} expects a value (${usage})`,
                    2,
                );
            case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
                throw new CliError(`unexpected argument '${quoted}' (${usage})`, 2);
            default:
                throw new CliError(`${firstLine(e.message)} (${usage})`, 2);
        }
    }
}

/** What was being done when an AWS call failed, for the error line. */
export interface AwsCallContext {
    service: "Kinesis" | "DynamoDB";
    /** e.g. "stream EventStream", "table EventLogs". */
    resource: string;
    region: string;
    endpoint?: string;
}

const NETWORK_CODES = new Set([
    "ECONNREFUSED",
    "ECONNRESET",
    "ENOTFOUND",
    "EAI_AGAIN",
    "ETIMEDOUT",
    "EHOSTUNREACH",
    "ENETUNREACH",
    "EPIPE",
    "ECONNABORTED",
]);

/** Turns an SDK or network error into one operator-readable line; CliErrors pass through unchanged. */
export function describeAwsError(err: unknown, ctx: AwsCallContext): CliError {
    if (err instanceof CliError) return err;
    const e = (err ?? {}) as { name?: string; code?: string; message?: string; errors?: { code?: string; message?: string }[] };
    const where = ctx.endpoint ?? `the ${ctx.region} endpoint`;
    const code = e.code ?? e.errors?.find((x) => x.code)?.code;
    const message = firstLine(e.message || e.errors?.find((x) => x.message)?.message || code || String(err));

    if (e.name === "ResourceNotFoundException") {
        return new CliError(`${ctx.resource} not found in ${ctx.region} at ${where} (check the name, --region and --endpoint)`);
    }
    if (/requestTimeout/.test(message)) {
        // Connected, but the response did not come in time (the handler prefixes its own name).
        return new CliError(
            `no answer from ${ctx.service} at ${where} for ${ctx.resource}: ${message.replace(/^@smithy\/node-http-handler - \[ERROR\] /, "")} (expected a responsive endpoint; check --endpoint)`,
        );
    }
    if ((code && NETWORK_CODES.has(code)) || e.name === "TimeoutError" || e.name === "RequestTimeout") {
        return new CliError(`cannot reach ${ctx.service} at ${where}: ${message} (expected a reachable endpoint; check --endpoint and --region)`);
    }
    if (e.name === "CredentialsProviderError" || /could not load credentials/i.test(message)) {
        return new CliError(
            `no AWS credentials found by the default chain (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; any values do for a local emulator)`,
        );
    }
    if (
        e.name &&
        /^(UnrecognizedClient|InvalidSignature|AccessDenied|ExpiredToken|InvalidClientTokenId|IncompleteSignature|MissingAuthenticationToken)/.test(
            e.name,
        )
    ) {
        return new CliError(`${ctx.service} refused the request for ${ctx.resource}: ${e.name}: ${message}`);
    }
    const name = e.name && e.name !== "Error" ? `${e.name}: ` : "";
    return new CliError(`${ctx.service} call for ${ctx.resource} at ${where} failed: ${name}${message}`);
}

export function firstLine(text: string | undefined): string {
    return (text ?? "").split("\n")[0].trim();
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
        const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener("abort", done, { once: true });
    });
}

/** Where a command prints: the summary/report on `out`, progress and errors on `err`. */
export interface CliIo {
    out: { write(text: string): unknown };
    err: { write(text: string): unknown; isTTY?: boolean; columns?: number };
    env: NodeJS.ProcessEnv;
    /** Aborted on Ctrl-C: a send stops after the batch in flight and still writes its manifest. */
    signal?: AbortSignal;
}

/**
 * Runs a command as a process: its return value becomes the exit code; any error becomes one
 * `error: ...` line on stderr (a stack trace only with EVENTS_CLI_DEBUG=1). The first Ctrl-C aborts
 * the signal, a second one exits at once.
 */
export function runCli(command: (argv: string[], io: CliIo) => Promise<number>): void {
    const controller = new AbortController();
    const onSigint = () => {
        if (controller.signal.aborted) process.exit(130);
        process.stderr.write("\ninterrupted: finishing the request in flight (Ctrl-C again to quit now)\n");
        controller.abort();
    };
    process.on("SIGINT", onSigint);
    // The SDK's notice that its 2027 releases will need Node 22 would break the one-line error contract.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    const io: CliIo = { out: process.stdout, err: process.stderr, env: process.env, signal: controller.signal };
    command(process.argv.slice(2), io).then(
        (code) => {
            process.exitCode = code;
        },
        (err: unknown) => {
            const cliError = err instanceof CliError ? err : undefined;
            const message = cliError ? cliError.message : `unexpected failure: ${firstLine(err instanceof Error ? err.message : String(err))}`;
            process.stderr.write(`error: ${firstLine(message)}\n`);
            if (process.env.EVENTS_CLI_DEBUG === "1" && err instanceof Error) process.stderr.write(`${err.stack}\n`);
            process.exitCode = cliError?.exitCode ?? 1;
        },
    ).finally(() => process.removeListener("SIGINT", onSigint));
}
