// The one place that loads aws-local-stepfunctions, and a runner for ASL definitions with local task
// handlers keyed by resource ARN (the library keys them by state name).
//
// aws-local-stepfunctions 3.0.0 declares Node >= 22 but loads on 20; its Task and Retry code calls
// `Promise.withResolvers` (Node 22), so that is polyfilled before the module is required.
// Known differences from the cloud, seen in its dist (3.0.0):
// - every string an intrinsic function returns loses all its backslashes (an escaped `\\` gives
//   nothing, not `\`), and its argument splitter counts parentheses inside string literals, so a
//   literal with unbalanced parentheses breaks the call;
// - `IsPresent: false` is always false (write `Not: { IsPresent: true }`);
// - a Task with no TimeoutSeconds times out after 60 s (the cloud has no default limit).

import type { JsonValue, StateMachineDefinition } from "../../components/orchestration/asl";

type WithResolvers = <T>() => { promise: Promise<T>; resolve: (value: T | PromiseLike<T>) => void; reject: (reason?: unknown) => void };

function polyfillWithResolvers(): void {
    const P = Promise as unknown as { withResolvers?: WithResolvers };
    if (typeof P.withResolvers === "function") return;
    P.withResolvers = <T>() => {
        let resolve!: (value: T | PromiseLike<T>) => void;
        let reject!: (reason?: unknown) => void;
        const promise = new Promise<T>((res, rej) => {
            resolve = res;
            reject = rej;
        });
        return { promise, resolve, reject };
    };
}

type Library = typeof import("aws-local-stepfunctions");
let library: Library | undefined;

/** The aws-local-stepfunctions module, loaded once, after the polyfill. */
export function localStepFunctions(): Library {
    if (!library) {
        polyfillWithResolvers();
        // require, not import: the polyfill must run before the module body does.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        library = require("aws-local-stepfunctions") as Library;
    }
    return library;
}

/** What a Task's local handler is told besides its input. */
export interface TaskCall {
    stateName: string;
    resource: string;
}

/**
 * A local stand-in for a Task resource: gets the state's effective input (after InputPath and
 * Parameters) and returns the service's answer. To fail the state, throw an error whose `name` is
 * the ASL error name (e.g. `Glue.ConcurrentRunsExceededException`, `States.TaskFailed`); its
 * `message` becomes the Cause. `taskError` builds one.
 */
export type TaskHandler = (input: JsonValue, call: TaskCall) => Promise<JsonValue> | JsonValue;

/** An error a TaskHandler throws to fail its state with `name` and `cause`. */
export function taskError(name: string, cause: string | object): Error {
    const error = new Error(typeof cause === "string" ? cause : JSON.stringify(cause));
    error.name = name;
    return error;
}

export type ExecutionStatus = "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export interface RunStateMachineOptions {
    definition: StateMachineDefinition;
    input: JsonValue;
    /** Resource ARN → handler. Every Task resource of the definition must have one (nothing is called in AWS). */
    handlers: Record<string, TaskHandler>;
    /**
     * Scales waiting: each Wait with `Seconds` waits `Seconds × waitScale` seconds and each retrier
     * pauses `IntervalSeconds × waitScale` seconds before every retry (no backoff, no jitter: the
     * library takes one fixed pause per retrier). 0 waits not at all. Wait states given by a path or
     * a timestamp keep their real duration at 1 and do not wait at all otherwise. Default 1: real
     * durations, the definition's own backoff and jitter.
     */
    waitScale?: number;
    /** Milliseconds per Wait state name; wins over waitScale. */
    waitOverrides?: Record<string, number>;
    /** Milliseconds per state name (one number, or one per retrier); wins over waitScale. */
    retryOverrides?: Record<string, number | number[]>;
    /**
     * The Context Object's fields besides Execution.Input and StartTime. Default: an Execution with
     * a Name and an Id, as AWS always gives (`$$.Execution.Name` is read by definitions); given
     * fields win, Execution's merged field by field.
     */
    context?: Record<string, unknown>;
    /** Aborting ends the run with status ABORTED. */
    signal?: AbortSignal;
}

let runs = 0;

/** The context with an Execution Name and Id where none were given (a local run's own). */
function contextOf(given: Record<string, unknown> = {}): Record<string, unknown> {
    const execution = (given.Execution ?? {}) as Record<string, unknown>;
    const name = (execution.Name as string | undefined) ?? `local-${process.pid}-${++runs}`;
    return { ...given, Execution: { Id: `arn:aws:states:us-east-1:123456789012:execution:local:${name}`, Name: name, ...execution } };
}

export interface StateMachineRun {
    status: ExecutionStatus;
    /** The execution's output, when SUCCEEDED. */
    output?: JsonValue;
    /** The execution's error and cause, when FAILED (TIMED_OUT: States.Timeout). */
    error?: string;
    cause?: string;
    /** The names of the states entered, in order (a retried state is entered once per entry, not per attempt). */
    states: string[];
    /** The library's event history, as it emitted it. */
    events: unknown[];
}

type AnyState = { Type: string; Resource?: string; Seconds?: number; Retry?: { IntervalSeconds?: number }[]; Branches?: Definitionish[]; Iterator?: Definitionish; ItemProcessor?: Definitionish };
type Definitionish = { States: Record<string, AnyState> };

/** Every state of the definition, nested Parallel branches and Map processors included. */
function allStates(definition: Definitionish): [string, AnyState][] {
    const out: [string, AnyState][] = [];
    for (const [name, state] of Object.entries(definition.States)) {
        out.push([name, state]);
        for (const nested of [...(state.Branches ?? []), state.Iterator, state.ItemProcessor]) if (nested) out.push(...allStates(nested));
    }
    return out;
}

function message(error: unknown): string {
    if (error instanceof Error) return error.message;
    return typeof error === "string" ? error : JSON.stringify(error);
}

type Machine = InstanceType<Library["StateMachine"]>;
const machines = new WeakMap<object, Machine>();

/**
 * The library's StateMachine for a definition, built (and validated, which takes a few hundred ms)
 * once per definition object: definitions are treated as immutable. It gets a copy, so nothing the
 * library does to it shows in ours.
 */
function machineFor(definition: StateMachineDefinition): Machine {
    let machine = machines.get(definition);
    if (!machine) {
        const { StateMachine } = localStepFunctions();
        machine = new StateMachine(JSON.parse(JSON.stringify(definition)));
        machines.set(definition, machine);
    }
    return machine;
}

/**
 * Runs `definition` once with aws-local-stepfunctions, every Task served by `handlers[Resource]`.
 * Throws before running when a Task resource has no handler (the library would call AWS Lambda) or
 * the library refuses the definition. Resolves with the outcome, failed executions included.
 */
export async function runStateMachine(options: RunStateMachineOptions): Promise<StateMachineRun> {
    const { ExecutionAbortedError, ExecutionTimeoutError } = localStepFunctions();
    const scale = options.waitScale ?? 1;
    if (!(scale >= 0)) throw new Error(`runStateMachine: waitScale ${scale} must be ≥ 0`);

    const taskResourceLocalHandlers: Record<string, (input: JsonValue) => Promise<JsonValue>> = {};
    const waitTimeOverrides: Record<string, number> = {};
    const retryIntervalOverrides: Record<string, number | number[]> = {};
    for (const [name, state] of allStates(options.definition as unknown as Definitionish)) {
        if (state.Type === "Task") {
            const resource = state.Resource!;
            const handler = options.handlers[resource];
            if (!handler) throw new Error(`runStateMachine: Task "${name}" calls ${resource}, which has no local handler`);
            taskResourceLocalHandlers[name] = async (input: JsonValue) => {
                try {
                    // A JSON round trip: the handler's answer is data, as a service's would be.
                    const output = await handler(input, { stateName: name, resource });
                    return JSON.parse(JSON.stringify(output ?? null));
                } catch (error) {
                    // The library matches Retry/Catch on `name`; a throw that is not an Error has none.
                    if (error instanceof Error) throw error;
                    throw taskError("States.TaskFailed", message(error));
                }
            };
        }
        if (scale !== 1) {
            if (state.Type === "Wait") waitTimeOverrides[name] = typeof state.Seconds === "number" ? state.Seconds * 1000 * scale : 0;
            if (state.Retry) retryIntervalOverrides[name] = state.Retry.map((r) => (r.IntervalSeconds ?? 1) * 1000 * scale);
        }
    }
    Object.assign(waitTimeOverrides, options.waitOverrides);
    Object.assign(retryIntervalOverrides, options.retryOverrides);

    const machine = machineFor(options.definition);
    const execution = machine.run(options.input as never, {
        overrides: { taskResourceLocalHandlers: taskResourceLocalHandlers as never, waitTimeOverrides, retryIntervalOverrides },
        context: contextOf(options.context),
    });
    const onAbort = () => execution.abort();
    options.signal?.addEventListener("abort", onAbort);
    if (options.signal?.aborted) execution.abort();

    let outcome: Omit<StateMachineRun, "states" | "events">;
    try {
        outcome = { status: "SUCCEEDED", output: (await execution.result) as JsonValue };
    } catch (error) {
        if (error instanceof ExecutionAbortedError) outcome = { status: "ABORTED" };
        else if (error instanceof ExecutionTimeoutError) outcome = { status: "TIMED_OUT", error: "States.Timeout", cause: "The execution ran longer than the state machine's TimeoutSeconds" };
        else {
            // ExecutionError wraps the state's error: its name is the ASL error, its message the Cause.
            const cause = (error as { cause?: unknown }).cause;
            outcome = cause instanceof Error ? { status: "FAILED", error: cause.name, cause: cause.message } : { status: "FAILED", error: (error as Error).name, cause: message(error) };
        }
    } finally {
        options.signal?.removeEventListener("abort", onAbort);
    }

    // The logger queues every event and closes when the execution ends, so draining now is complete.
    const events: unknown[] = [];
    for await (const event of execution.eventLogs) events.push(event);
    const states = events.flatMap((e) => {
        const ev = e as { type?: string; state?: { name?: string } };
        return ev.type === "StateEntered" && ev.state?.name ? [ev.state.name] : [];
    });
    return { ...outcome, states, events };
}
