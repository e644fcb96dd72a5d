import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import {
    AwsTarget,
    CliError,
    CliIo,
    DATA_TUNING,
    checkEndpoint,
    clientConfig,
    firstLine,
    parseFlags,
    parseInteger,
    resolveRegion,
    runCli,
    sleep as realSleep,
} from "./common";
import { reportDate } from "../functions/shared/contract";

// `npm run report:replay -- --date 2026-11-20 [--to 2026-11-22] --state-machine-arn ARN`: re-runs the
// daily reporting state machine from raw, one execution per day, waits for each and reports the
// days that did not succeed with Step Functions' own error and cause.

/** A year, leap day included: a longer replay is better split (and is most likely a typo). */
export const MAX_DAYS = 366;
/** Days in flight at once; the Glue job and the Redshift load are the bottleneck, not Step Functions. */
export const MAX_CONCURRENCY = 10;
export const DEFAULT_POLL_MS = 5_000;
/** A day that is still RUNNING gets a line this often, so that a CI log shows the run is alive. */
export const DEFAULT_HEARTBEAT_MS = 60_000;
/** DescribeExecution failures in a row (after the SDK's own retries) before a day is given up as UNKNOWN. */
export const DEFAULT_MAX_POLL_FAILURES = 5;
/** Step Functions' limit on an execution name. */
export const MAX_EXECUTION_NAME = 80;
/** Longest cause shown in the summary (Glue and Redshift causes can be whole JSON documents). */
const CAUSE_CHARS = 500;

export const REPLAY_USAGE =
    "usage: npm run report:replay -- --date YYYY-MM-DD [--to YYYY-MM-DD] --state-machine-arn ARN " +
    `[--concurrency 1] [--poll-ms ${DEFAULT_POLL_MS}] [--endpoint URL] [--region R]`;
const REPLAY_FLAGS = "expected --date, --to, --state-machine-arn, --concurrency, --poll-ms, --endpoint, --region";

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:([a-z0-9-]+):\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}(:[A-Za-z0-9_-]{1,80})?$/;
const EXAMPLE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:ReportPipeline";

export interface ReplayOptions extends AwsTarget {
    /** First day, YYYY-MM-DD. */
    from: string;
    /** Last day (inclusive), YYYY-MM-DD, >= from. */
    to: string;
    stateMachineArn: string;
    /** Days in flight at once (1 to MAX_CONCURRENCY). */
    concurrency: number;
    /** Wait between two DescribeExecution calls of one execution. */
    pollMs: number;
    /** Default DEFAULT_HEARTBEAT_MS; 0: no heartbeat lines. */
    heartbeatMs?: number;
    /** Default DEFAULT_MAX_POLL_FAILURES. */
    maxPollFailures?: number;
}

/** What replayDays needs from outside; everything defaults to the real thing. */
export interface ReplayDeps {
    /** Default: a client built from the options (region, endpoint, credentials). */
    sfn?: SFNClient;
    /** Epoch ms; drives the execution names and the elapsed times. */
    now?: () => number;
    /** Waits between polls; resolves early (never throws) when `signal` aborts. */
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
    /** Where the progress lines go (stderr in the CLI). */
    progress?: { write(text: string): unknown };
    /** Aborted on Ctrl-C: no further day starts and waiting stops; started executions keep running in AWS. */
    signal?: AbortSignal;
}

/** The execution statuses, plus NOT_STARTED (StartExecution failed or was never tried) and UNKNOWN (DescribeExecution kept failing). */
export type DayStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PENDING_REDRIVE" | "NOT_STARTED" | "UNKNOWN";

export interface DayResult {
    date: string;
    executionName: string;
    executionArn?: string;
    /** The last status seen; RUNNING at the end means the run was interrupted while it ran. */
    status: DayStatus;
    /** Step Functions' `error` (e.g. States.TaskFailed), or the exception's name when a call failed. */
    error?: string;
    /** Step Functions' `cause`, or the exception's message. */
    cause?: string;
    /** From StartExecution to the status that ended the wait, by the injected clock. */
    elapsedMs: number;
}

export interface ReplayResult {
    stateMachineArn: string;
    region: string;
    endpoint?: string;
    from: string;
    to: string;
    /** In date order. */
    days: DayResult[];
    succeeded: number;
    /** Every day that did not end SUCCEEDED. */
    failed: number;
    interrupted: boolean;
    elapsedMs: number;
}

/** Reads the `report:replay` flags; throws a CliError (exit code 2) naming the bad flag, before any call. */
export function parseReplayArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ReplayOptions {
    const flags = parseFlags(
        argv,
        {
            date: { type: "string" },
            to: { type: "string" },
            "state-machine-arn": { type: "string" },
            concurrency: { type: "string" },
            "poll-ms": { type: "string" },
            endpoint: { type: "string" },
            region: { type: "string" },
        },
        REPLAY_FLAGS,
    );
    if (flags.date === undefined) throw new CliError(`--date is required (the first day to replay, YYYY-MM-DD, e.g. --date 2026-11-20)`, 2);
    const from = checkDate("--date", flags.date);
    const to = flags.to === undefined ? from : checkDate("--to", flags.to);
    const days = daysBetween(from, to) + 1;
    if (days < 1) throw new CliError(`--to: expected a day on or after --date ${from}, got '${to}'`, 2);
    if (days > MAX_DAYS) {
        throw new CliError(`--to: expected at most ${MAX_DAYS} days from --date ${from} (up to ${addDays(from, MAX_DAYS - 1)}), got '${to}' (${days} days)`, 2);
    }

    const arn = flags["state-machine-arn"];
    // The stack has no readable outputs offline (cli/events-send.ts takes its stream by flag too): the
    // operator passes the reporting pipeline's output.
    if (arn === undefined) {
        throw new CliError(`--state-machine-arn is required (the reporting state machine: pulumi stack output reportStateMachineArn)`, 2);
    }
    const arnMatch = STATE_MACHINE_ARN.exec(arn);
    if (!arnMatch) throw new CliError(`--state-machine-arn: expected a state machine ARN such as ${EXAMPLE_ARN}, got '${arn}'`, 2);

    const endpoint = checkEndpoint(flags.endpoint);
    // A state machine is only reachable in its own region: take it from the ARN unless told otherwise.
    const region = resolveRegion(flags.region ?? arnMatch[1], env);
    if (flags.region !== undefined && !endpoint && region !== arnMatch[1]) {
        throw new CliError(`--region: expected the state machine's region ${arnMatch[1]} (from --state-machine-arn), got '${region}'`, 2);
    }
    return {
        from,
        to,
        stateMachineArn: arn,
        concurrency: flags.concurrency === undefined ? 1 : parseInteger("--concurrency", flags.concurrency, 1, MAX_CONCURRENCY),
        pollMs: flags["poll-ms"] === undefined ? DEFAULT_POLL_MS : parseInteger("--poll-ms", flags["poll-ms"], 10, 600_000),
        endpoint,
        region,
    };
}

function checkDate(flag: string, value: string): string {
    const date = reportDate(value);
    if (!date) throw new CliError(`${flag}: expected a real day as YYYY-MM-DD such as 2026-11-20, got '${value}'`, 2);
    return date;
}

const DAY_MS = 86_400_000;

function daysBetween(from: string, to: string): number {
    return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

function addDays(date: string, n: number): string {
    return new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

/** Every day from `from` to `to`, both included. */
export function dayRange(from: string, to: string): string[] {
    return Array.from({ length: daysBetween(from, to) + 1 }, (_, i) => addDays(from, i));
}

/**
 * `replay-<date>-<run start, UTC, to the ms>`: the same for every day of a run (so a run's executions
 * sort and group together in the console), different across runs, and only letters, digits and '-'
 * (what Step Functions' CloudWatch logging accepts), 37 characters.
 */
export function executionName(date: string, runStartMs: number): string {
    const stamp = new Date(runStartMs).toISOString().replace(/[-:]/g, "").replace(".", "");
    return `replay-${date}-${stamp}`.slice(0, MAX_EXECUTION_NAME);
}

const TERMINAL = new Set<DayStatus>(["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]);

/**
 * Errors of StartExecution that every later day would get too (the state machine or the endpoint is
 * wrong, no permission): starting the rest would only repeat them.
 */
const RUN_WIDE = /^(StateMachineDoesNotExist|StateMachineDeleting|InvalidArn|AccessDenied|UnrecognizedClient|InvalidSignature|ExpiredToken|InvalidClientTokenId|MissingAuthenticationToken|CredentialsProviderError|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)/;

/** An SDK or network failure as Step Functions' error/cause pair. */
function errorParts(err: unknown): { error: string; cause: string } {
    const e = (err ?? {}) as { name?: string; code?: string; message?: string; errors?: { code?: string; message?: string }[] };
    // A refused connection surfaces as an AggregateError (one per address family) with the code inside.
    const code = e.code ?? e.errors?.find((x) => x.code)?.code;
    const name = e.name && e.name !== "Error" && e.name !== "AggregateError" ? e.name : code ?? "Error";
    return { error: name, cause: firstLine(e.message || e.errors?.find((x) => x.message)?.message || code || String(err)) };
}

/** The one line for a run that could not start its first day. */
function runWideError(o: ReplayOptions, parts: { error: string; cause: string }): CliError {
    const where = o.endpoint ?? `the ${o.region} endpoint`;
    if (/Credentials/.test(parts.error)) {
        return new CliError(
            `no AWS credentials found by the default chain (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; any values do for a local endpoint)`,
        );
    }
    if (/^E[A-Z]+$/.test(parts.error)) {
        return new CliError(`cannot reach Step Functions at ${where}: ${parts.error}: ${parts.cause} (expected a reachable endpoint; check --endpoint and --region)`);
    }
    return new CliError(`cannot start ${o.stateMachineArn} at ${where}: ${parts.error}: ${parts.cause} (check --state-machine-arn, --region and --endpoint)`);
}

/** `12.3 s` under a minute, then `4m 05s`, then `1h 02m`. */
export function formatElapsed(ms: number): string {
    const s = Math.max(0, ms) / 1000;
    if (s < 60) return `${s.toFixed(1)} s`;
    const whole = Math.floor(s);
    if (whole < 3600) return `${Math.floor(whole / 60)}m ${String(whole % 60).padStart(2, "0")}s`;
    return `${Math.floor(whole / 3600)}h ${String(Math.floor((whole % 3600) / 60)).padStart(2, "0")}m`;
}

function oneLine(text: string, max: number): string {
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

/**
 * Starts one execution of the state machine per day (input `{"date":"YYYY-MM-DD"}`), at most
 * `concurrency` at a time in date order, and polls each with DescribeExecution until it ends. A day
 * that fails does not stop the others. Prints a progress line per day whenever its status changes
 * (and a heartbeat while it runs). When StartExecution fails in a way every day would (see RUN_WIDE),
 * no further day starts: before anything started that is a CliError, later the remaining days are
 * NOT_STARTED and the running ones are still waited for.
 */
export async function replayDays(options: ReplayOptions, deps: ReplayDeps = {}): Promise<ReplayResult> {
    const now = deps.now ?? Date.now;
    const pause = deps.sleep ?? realSleep;
    const out = deps.progress;
    const signal = deps.signal;
    const sfn = deps.sfn ?? new SFNClient(clientConfig(options, DATA_TUNING));
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const maxPollFailures = options.maxPollFailures ?? DEFAULT_MAX_POLL_FAILURES;

    const runStart = now();
    const dates = dayRange(options.from, options.to);
    const width = String(dates.length).length;
    const days: DayResult[] = dates.map((date) => ({ date, executionName: executionName(date, runStart), status: "NOT_STARTED", elapsedMs: 0 }));
    let started = 0;
    let stopStarting: { date: string; error: string; cause: string } | undefined;

    const line = (i: number, day: DayResult, detail = "") => {
        const head = `[${String(i + 1).padStart(width)}/${dates.length}] ${day.date}  ${day.status.padEnd(9)}  ${formatElapsed(day.elapsedMs).padStart(7)}`;
        out?.write(`${head}${detail ? `  ${detail}` : ""}\n`);
    };

    const runDay = async (i: number) => {
        const day = days[i];
        const t0 = now();
        try {
            const res = await sfn.send(
                new StartExecutionCommand({ stateMachineArn: options.stateMachineArn, name: day.executionName, input: JSON.stringify({ date: day.date }) }),
            );
            day.executionArn = res.executionArn;
        } catch (err) {
            const parts = errorParts(err);
            if (RUN_WIDE.test(parts.error)) {
                stopStarting ??= { date: day.date, ...parts };
                if (started === 0) {
                    throw runWideError(options, parts);
                }
            }
            Object.assign(day, { status: "NOT_STARTED", ...parts, elapsedMs: now() - t0 });
            line(i, day, `${parts.error}: ${oneLine(parts.cause, 200)}`);
            return;
        }
        started++;
        day.status = "RUNNING";
        line(i, day, day.executionName);

        let failures = 0;
        let lastLine = now();
        while (!TERMINAL.has(day.status)) {
            await pause(options.pollMs, signal);
            if (signal?.aborted) return;
            try {
                const d = await sfn.send(new DescribeExecutionCommand({ executionArn: day.executionArn }));
                failures = 0;
                const status = (d.status ?? "UNKNOWN") as DayStatus;
                day.elapsedMs = now() - t0;
                if (d.error !== undefined) day.error = d.error;
                if (d.cause !== undefined) day.cause = d.cause;
                if (status !== day.status) {
                    day.status = status;
                    const why = [day.error, day.cause && oneLine(day.cause, 200)].filter(Boolean).join(": ");
                    line(i, day, status === "SUCCEEDED" ? "" : why);
                    lastLine = now();
                } else if (heartbeatMs > 0 && now() - lastLine >= heartbeatMs) {
                    line(i, day, "still running");
                    lastLine = now();
                }
            } catch (err) {
                // The SDK has already retried throttling and 5xx; a few more rounds ride out a longer blip.
                if (++failures < maxPollFailures) continue;
                Object.assign(day, { status: "UNKNOWN", ...errorParts(err), elapsedMs: now() - t0 });
                line(i, day, `DescribeExecution failed ${failures} times: ${day.error}: ${oneLine(day.cause ?? "", 200)}`);
                return;
            }
        }
    };

    let next = 0;
    const worker = async () => {
        while (next < dates.length && !signal?.aborted && !stopStarting) await runDay(next++);
    };
    try {
        // A CliError from the first start must not leave the other workers starting days.
        const workers = Array.from({ length: Math.min(options.concurrency, dates.length) }, worker);
        const settled = await Promise.allSettled(workers);
        const rejected = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
        if (rejected) throw rejected.reason;
    } finally {
        if (!deps.sfn) sfn.destroy();
    }

    if (stopStarting) {
        for (const day of days) {
            if (day.status === "NOT_STARTED" && day.error === undefined) {
                Object.assign(day, { error: "NotStarted", cause: `not tried after ${stopStarting.error} on ${stopStarting.date}: ${stopStarting.cause}` });
            }
        }
    }
    if (signal?.aborted) {
        for (const day of days) {
            if (day.status === "NOT_STARTED" && day.error === undefined) Object.assign(day, { error: "Interrupted", cause: "not started: interrupted" });
            if (day.status === "RUNNING") Object.assign(day, { error: "Interrupted", cause: "stopped waiting: interrupted (the execution goes on)" });
        }
    }
    const succeeded = days.filter((d) => d.status === "SUCCEEDED").length;
    return {
        stateMachineArn: options.stateMachineArn,
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        from: options.from,
        to: options.to,
        days,
        succeeded,
        failed: days.length - succeeded,
        interrupted: !!signal?.aborted,
        elapsedMs: now() - runStart,
    };
}

/** The first line printed: what is about to happen. */
export function formatReplayPlan(o: ReplayOptions): string {
    const n = daysBetween(o.from, o.to) + 1;
    const where = [o.region, o.endpoint].filter(Boolean).join(", ");
    return `replaying ${n} day${n === 1 ? "" : "s"} ${o.from} to ${o.to} on ${o.stateMachineArn} (${where}), ${o.concurrency} at a time, polling every ${o.pollMs < 1000 ? `${o.pollMs} ms` : formatElapsed(o.pollMs)}`;
}

/**
 * The summary after a replay, one line per fact; the days that did not succeed are listed under
 * `failed`, consecutive days with the same outcome (e.g. NOT_STARTED) on one line.
 */
export function formatReplaySummary(r: ReplayResult): string[] {
    const n = r.days.length;
    const plural = (k: number) => `${k} day${k === 1 ? "" : "s"}`;
    const where = [r.region, r.endpoint].filter(Boolean).join(", ");
    const lines = [
        `replayed   ${plural(n)} ${r.from} to ${r.to} on ${r.stateMachineArn} (${where})`,
        `succeeded  ${r.succeeded} of ${plural(n)}`,
        `failed     ${r.failed} of ${plural(n)}`,
    ];
    const bad = r.days.filter((d) => d.status !== "SUCCEEDED");
    for (let i = 0; i < bad.length; ) {
        let j = i;
        const same = (a: DayResult, b: DayResult) =>
            a.status === b.status && a.error === b.error && a.cause === b.cause && !a.executionArn && !b.executionArn && addDays(a.date, 1) === b.date;
        while (j + 1 < bad.length && same(bad[j], bad[j + 1])) j++;
        const d = bad[i];
        const dates = j > i ? `${d.date}..${bad[j].date} (${j - i + 1} days)` : d.date;
        const why = [d.error, d.cause && oneLine(d.cause, CAUSE_CHARS)].filter(Boolean).join(": ");
        lines.push(`  ${dates}  ${d.status}  ${why || "no error reported"}${d.executionArn ? `  (execution ${d.executionArn})` : ""}`);
        i = j + 1;
    }
    if (r.interrupted) lines.push(`stopped    interrupted: started executions go on in Step Functions`);
    lines.push(`elapsed    ${formatElapsed(r.elapsedMs)}`);
    return lines;
}

/** `report:replay` as a command: returns the exit code (0 every day succeeded, 1 otherwise, 2 bad arguments). */
export async function runReplay(argv: string[], io: CliIo, deps: Omit<ReplayDeps, "progress" | "signal"> = {}): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        io.out.write(`${REPLAY_USAGE}\n`);
        return 0;
    }
    const options = parseReplayArgs(argv, io.env);
    io.err.write(`${formatReplayPlan(options)}\n`);
    const result = await replayDays(options, { ...deps, progress: io.err, signal: io.signal });
    for (const line of formatReplaySummary(result)) io.out.write(`${line}\n`);
    if (result.failed > 0) {
        const failed = result.days.filter((d) => d.status !== "SUCCEEDED").map((d) => d.date);
        const list = failed.length > 5 ? `${failed.slice(0, 5).join(", ")} and ${failed.length - 5} more` : failed.join(", ");
        io.err.write(`error: ${result.failed} of ${result.days.length} days did not succeed: ${list} (see the summary)\n`);
        return 1;
    }
    return 0;
}

// Importable (tests, scripts) without running; `npm run report:replay` runs it.
if (require.main === module) runCli(runReplay);
