// Typed builders for the Amazon States Language (JSONPath flavour) and an assembler that refuses a
// broken graph before Step Functions or a local run would. Pure: plain objects in, plain objects out.
//
// Only what our state machines use is typed (Task, Pass, Choice, Wait, Succeed, Fail; Retry, Catch).
// JSONPath, not JSONata: the local interpreter (aws-local-stepfunctions 3.0.0) has no JSONata, no
// `Assign` and no Distributed Map, and the same definition must run in the cloud and locally.

import { InvalidArgument } from "../shared/validation";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A payload template: keys ending in `.$` take a path or an intrinsic function, as a string. */
export type PayloadTemplate = { [key: string]: JsonValue };

/** `Next: name` or `End: true`, exactly one. */
export type Transition = { Next: string; End?: never } | { End: true; Next?: never };

export interface Retrier {
    ErrorEquals: string[];
    IntervalSeconds?: number;
    MaxAttempts?: number;
    BackoffRate?: number;
    MaxDelaySeconds?: number;
    JitterStrategy?: "FULL" | "NONE";
}

export interface Catcher {
    ErrorEquals: string[];
    Next: string;
    /** Where the error output `{Error, Cause}` goes in the state's input; null discards it. */
    ResultPath?: string | null;
}

interface Common {
    Comment?: string;
    InputPath?: string | null;
    OutputPath?: string | null;
}

export type TaskState = Common &
    Transition & {
        Type: "Task";
        Resource: string;
        Parameters?: PayloadTemplate;
        ResultSelector?: PayloadTemplate;
        ResultPath?: string | null;
        TimeoutSeconds?: number;
        HeartbeatSeconds?: number;
        Retry?: Retrier[];
        Catch?: Catcher[];
    };

export type PassState = Common &
    Transition & {
        Type: "Pass";
        Parameters?: PayloadTemplate;
        Result?: JsonValue;
        ResultPath?: string | null;
    };

/** Exactly one of Seconds, SecondsPath, Timestamp, TimestampPath. */
export type WaitState = Common &
    Transition & { Type: "Wait" } & (
        | { Seconds: number; SecondsPath?: never; Timestamp?: never; TimestampPath?: never }
        | { SecondsPath: string; Seconds?: never; Timestamp?: never; TimestampPath?: never }
        | { Timestamp: string; Seconds?: never; SecondsPath?: never; TimestampPath?: never }
        | { TimestampPath: string; Seconds?: never; SecondsPath?: never; Timestamp?: never }
    );

export interface SucceedState extends Common {
    Type: "Succeed";
}

export interface FailState {
    Type: "Fail";
    Comment?: string;
    Error?: string;
    ErrorPath?: string;
    Cause?: string;
    CausePath?: string;
}

/** The comparison operators of a Choice rule and the type each compares with. */
interface ComparisonOperands {
    StringEquals: string;
    StringEqualsPath: string;
    StringLessThan: string;
    StringLessThanPath: string;
    StringGreaterThan: string;
    StringGreaterThanPath: string;
    StringLessThanEquals: string;
    StringLessThanEqualsPath: string;
    StringGreaterThanEquals: string;
    StringGreaterThanEqualsPath: string;
    /** `*` is the only wildcard; `\\*` and `\\\\` match a literal `*` and `\`. */
    StringMatches: string;
    NumericEquals: number;
    NumericEqualsPath: string;
    NumericLessThan: number;
    NumericLessThanPath: string;
    NumericGreaterThan: number;
    NumericGreaterThanPath: string;
    NumericLessThanEquals: number;
    NumericLessThanEqualsPath: string;
    NumericGreaterThanEquals: number;
    NumericGreaterThanEqualsPath: string;
    BooleanEquals: boolean;
    BooleanEqualsPath: string;
    TimestampEquals: string;
    TimestampLessThan: string;
    TimestampGreaterThan: string;
    TimestampLessThanEquals: string;
    TimestampGreaterThanEquals: string;
    /**
     * Only `true` here: aws-local-stepfunctions 3.0.0 evaluates `IsPresent: false` as always false,
     * so write `Not: { IsPresent: true }` (same meaning in the cloud).
     */
    IsPresent: true;
    IsNull: boolean;
    IsString: boolean;
    IsNumeric: boolean;
    IsBoolean: boolean;
    IsTimestamp: boolean;
}
export type ComparisonOperator = keyof ComparisonOperands;

/** One `Variable` and exactly one comparison operator. */
export type Comparison = {
    [K in ComparisonOperator]: { Variable: string } & { [P in K]: ComparisonOperands[K] } & { [P in Exclude<ComparisonOperator, K>]?: never };
}[ComparisonOperator];

export type ChoiceCondition = Comparison | { And: ChoiceCondition[] } | { Or: ChoiceCondition[] } | { Not: ChoiceCondition };

/** A top-level Choice rule: a condition and where it leads. */
export type ChoiceRule = ChoiceCondition & { Next: string };

export interface ChoiceState extends Common {
    Type: "Choice";
    Choices: ChoiceRule[];
    Default?: string;
}

export type State = TaskState | PassState | ChoiceState | WaitState | SucceedState | FailState;

export interface StateMachineDefinition {
    Comment?: string;
    StartAt: string;
    States: Record<string, State>;
    /** The whole execution's limit; absent means the service maximum (one year for standard). */
    TimeoutSeconds?: number;
}

// ---- conditions --------------------------------------------------------------------------------

/** `{ Variable, <operator>: value }`, typed by operator. */
export function compare<K extends ComparisonOperator>(variable: string, operator: K, value: ComparisonOperands[K]): Comparison {
    return { Variable: variable, [operator]: value } as unknown as Comparison;
}
export const and = (...conditions: ChoiceCondition[]): ChoiceCondition => ({ And: conditions });
export const or = (...conditions: ChoiceCondition[]): ChoiceCondition => ({ Or: conditions });
export const not = (condition: ChoiceCondition): ChoiceCondition => ({ Not: condition });
export const isPresent = (variable: string): Comparison => compare(variable, "IsPresent", true);
export const stringEquals = (variable: string, value: string): Comparison => compare(variable, "StringEquals", value);
/** A top-level rule: the condition, then `next`. */
export function when(condition: ChoiceCondition, next: string): ChoiceRule {
    return { ...condition, Next: next } as ChoiceRule;
}

// ---- states ------------------------------------------------------------------------------------

type Flow = { next: string } | { end: true };
function transition(flow: Flow): Transition {
    return "next" in flow ? { Next: flow.next } : { End: true };
}

export type TaskFields = Omit<TaskState, "Type" | "Resource" | "Next" | "End"> & Flow;
/** A Task state calling `resource` (a service integration ARN or a Lambda ARN). */
export function task(resource: string, fields: TaskFields): TaskState {
    const { next: _n, end: _e, ...rest } = fields as TaskFields & { next?: string; end?: true };
    if (rest.Retry) checkErrorList(rest.Retry, "Retry");
    if (rest.Catch) checkErrorList(rest.Catch, "Catch");
    return { Type: "Task", Resource: resource, ...rest, ...transition(fields) } as TaskState;
}

export type PassFields = Omit<PassState, "Type" | "Next" | "End"> & Flow;
export function pass(fields: PassFields): PassState {
    const { next: _n, end: _e, ...rest } = fields as PassFields & { next?: string; end?: true };
    return { Type: "Pass", ...rest, ...transition(fields) } as PassState;
}

export function choice(choices: ChoiceRule[], defaultNext?: string, comment?: string): ChoiceState {
    if (choices.length === 0) throw new InvalidArgument("choice: expected at least one rule");
    return { Type: "Choice", ...(comment ? { Comment: comment } : {}), Choices: choices, ...(defaultNext ? { Default: defaultNext } : {}) };
}

/** A Wait of a fixed number of seconds (integer, ≥ 0), then `next`. */
export function waitSeconds(seconds: number, next: string, comment?: string): WaitState {
    if (!Number.isInteger(seconds) || seconds < 0) throw new InvalidArgument(`waitSeconds: ${seconds} is not a whole number of seconds ≥ 0`);
    return { Type: "Wait", ...(comment ? { Comment: comment } : {}), Seconds: seconds, Next: next };
}

export function succeed(comment?: string): SucceedState {
    return { Type: "Succeed", ...(comment ? { Comment: comment } : {}) };
}

/** A Fail state; Error and ErrorPath (Cause and CausePath) are exclusive. */
export function fail(fields: Omit<FailState, "Type">): FailState {
    if (fields.Error !== undefined && fields.ErrorPath !== undefined) throw new InvalidArgument("fail: Error and ErrorPath are exclusive");
    if (fields.Cause !== undefined && fields.CausePath !== undefined) throw new InvalidArgument("fail: Cause and CausePath are exclusive");
    return { Type: "Fail", ...fields };
}

export interface RetryOptions {
    maxAttempts: number;
    intervalSeconds: number;
    backoffRate: number;
    maxDelaySeconds: number;
    /** Default "FULL": retries of many executions spread out instead of hitting the service in step. */
    jitter?: "FULL" | "NONE";
}
export function retrier(errors: string[], options: RetryOptions): Retrier {
    const { maxAttempts, intervalSeconds, backoffRate, maxDelaySeconds } = options;
    if (errors.length === 0) throw new InvalidArgument("retrier: expected at least one error name");
    if (!Number.isInteger(maxAttempts) || maxAttempts < 0 || maxAttempts > 99999999) throw new InvalidArgument(`retrier ${errors.join(", ")}: maxAttempts ${maxAttempts} is not an integer from 0 to 99999999`);
    if (!Number.isInteger(intervalSeconds) || intervalSeconds < 1 || intervalSeconds > 99999999) throw new InvalidArgument(`retrier ${errors.join(", ")}: intervalSeconds ${intervalSeconds} is not an integer from 1 to 99999999`);
    if (!(backoffRate >= 1)) throw new InvalidArgument(`retrier ${errors.join(", ")}: backoffRate ${backoffRate} must be ≥ 1`);
    if (!Number.isInteger(maxDelaySeconds) || maxDelaySeconds < intervalSeconds || maxDelaySeconds > 31622400) throw new InvalidArgument(`retrier ${errors.join(", ")}: maxDelaySeconds ${maxDelaySeconds} is not an integer from intervalSeconds (${intervalSeconds}) to 31622400`);
    return { ErrorEquals: errors, IntervalSeconds: intervalSeconds, MaxAttempts: maxAttempts, BackoffRate: backoffRate, MaxDelaySeconds: maxDelaySeconds, JitterStrategy: options.jitter ?? "FULL" };
}

/** Catch every error (States.ALL), put `{Error, Cause}` at `resultPath`, go to `next`. */
export function catchAll(next: string, resultPath: string | null): Catcher {
    return { ErrorEquals: ["States.ALL"], Next: next, ResultPath: resultPath };
}

/** States.ALL must stand alone and come last (the States Language says so). */
function checkErrorList(entries: { ErrorEquals: string[] }[], field: string, label = field): void {
    entries.forEach((entry, i) => {
        if (entry.ErrorEquals.length === 0) throw new InvalidArgument(`${label}[${i}]: ErrorEquals is empty`);
        if (entry.ErrorEquals.includes("States.ALL") && (entry.ErrorEquals.length > 1 || i !== entries.length - 1)) {
            throw new InvalidArgument(`${label}[${i}]: States.ALL must be the only error of the last ${field} entry`);
        }
    });
}

// ---- assembler ---------------------------------------------------------------------------------

/** Where a state may go next, each with what points there (for messages). */
function targetsOf(state: State): { via: string; target: string }[] {
    const out: { via: string; target: string }[] = [];
    if ("Next" in state && typeof state.Next === "string") out.push({ via: "Next", target: state.Next });
    if (state.Type === "Choice") {
        state.Choices.forEach((rule, i) => out.push({ via: `Choices[${i}].Next`, target: rule.Next }));
        if (state.Default !== undefined) out.push({ via: "Default", target: state.Default });
    }
    if (state.Type === "Task") (state.Catch ?? []).forEach((c, i) => out.push({ via: `Catch[${i}].Next`, target: c.Next }));
    return out;
}

/**
 * The definition, once checked: StartAt and every Next / Default / Catch target exist, every state
 * is reachable from StartAt, each state that is not a Choice, Succeed or Fail has exactly one of
 * Next and End, names have at most 80 characters, States.ALL stands alone and last. Throws one line naming the
 * state otherwise, starting with `label`.
 */
export function stateMachine(definition: StateMachineDefinition, label = "state machine"): StateMachineDefinition {
    const names = Object.keys(definition.States);
    if (names.length === 0) throw new InvalidArgument(`${label}: no states`);
    if (!(definition.StartAt in definition.States)) throw new InvalidArgument(`${label}: StartAt "${definition.StartAt}" is not a state`);
    if (definition.TimeoutSeconds !== undefined && (!Number.isInteger(definition.TimeoutSeconds) || definition.TimeoutSeconds < 1)) {
        throw new InvalidArgument(`${label}: TimeoutSeconds ${definition.TimeoutSeconds} is not a positive integer`);
    }
    for (const name of names) {
        const state = definition.States[name];
        const where = `${label}: state "${name}"`;
        if ([...name].length > 80 || name.length === 0) throw new InvalidArgument(`${where}: a state name has 1 to 80 characters`);
        const flows = state.Type !== "Choice" && state.Type !== "Succeed" && state.Type !== "Fail";
        if (flows) {
            const hasNext = "Next" in state && state.Next !== undefined;
            const hasEnd = "End" in state && state.End === true;
            if (hasNext === hasEnd) throw new InvalidArgument(`${where}: expected exactly one of Next and End`);
        }
        if (state.Type === "Task") {
            if (state.Retry) checkErrorList(state.Retry, "Retry", `${where} Retry`);
            if (state.Catch) checkErrorList(state.Catch, "Catch", `${where} Catch`);
        }
        for (const { via, target } of targetsOf(state)) {
            if (!(target in definition.States)) throw new InvalidArgument(`${where}: ${via} "${target}" is not a state`);
        }
    }
    const reached = new Set<string>([definition.StartAt]);
    const queue = [definition.StartAt];
    while (queue.length > 0) {
        for (const { target } of targetsOf(definition.States[queue.shift()!])) {
            if (!reached.has(target)) {
                reached.add(target);
                queue.push(target);
            }
        }
    }
    const unreachable = names.find((n) => !reached.has(n));
    if (unreachable !== undefined) throw new InvalidArgument(`${label}: state "${unreachable}" is not reachable from StartAt "${definition.StartAt}"`);
    return definition;
}

// ---- intrinsic strings -------------------------------------------------------------------------

/**
 * `text` as the body of an intrinsic-function string literal: `'`, `{`, `}` and `\` each escaped
 * with `\`, as the States Language requires (an unescaped `{}` would be a States.Format slot).
 */
export function escapeIntrinsicString(text: string): string {
    return text.replace(/['{}\\]/g, (c) => `\\${c}`);
}

const TEMPLATE_PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/**
 * `States.Format('…', <path>, …)` for a text holding `{{name}}` placeholders: each placeholder
 * becomes a `{}` slot filled from `paths[name]` (a JSONPath such as `$.date`), the rest is escaped.
 * Throws when the text holds a placeholder `paths` does not name.
 */
export function formatIntrinsic(text: string, paths: Record<string, string>, label = "formatIntrinsic"): string {
    const args: string[] = [];
    let body = "";
    let last = 0;
    for (const m of text.matchAll(TEMPLATE_PLACEHOLDER)) {
        const name = m[1];
        const path = paths[name];
        if (path === undefined) throw new InvalidArgument(`${label}: placeholder {{${name}}} is left unfilled (only ${Object.keys(paths).map((p) => `{{${p}}}`).join(", ") || "none"} can be filled at run time)`);
        if (!/^\$[.[]/.test(path) && path !== "$") throw new InvalidArgument(`${label}: ${JSON.stringify(path)} for {{${name}}} is not a JSONPath`);
        body += escapeIntrinsicString(text.slice(last, m.index)) + "{}";
        args.push(path);
        last = m.index! + m[0].length;
    }
    body += escapeIntrinsicString(text.slice(last));
    return `States.Format('${body}'${args.map((a) => `, ${a}`).join("")})`;
}

/** A SQL text whose only placeholder left is `{{date}}` (inside string literals) as States.Format of `datePath`. */
export function sqlFormatIntrinsic(sql: string, datePath = "$.date", label = "sqlFormatIntrinsic"): string {
    return formatIntrinsic(sql, { date: datePath }, label);
}
