// Pure builders for EventBridge event patterns, and a pure matcher for the subset of EventBridge's
// content-filtering operators these patterns use, so routing is tested without AWS.
//
// Semantics, from AWS's documentation ("Creating event patterns" and "Comparison operators for use
// in event patterns in Amazon EventBridge",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html):
// - the fields of a pattern are ANDed; the values in one field's array are ORed;
// - a field the pattern names must be present in the event (except with `"exists": false`); when
//   the event's value is an array, the field matches if any element matches;
// - matching is exact and case-sensitive, unless `equals-ignore-case` is used (alone, or inside
//   `prefix` / `suffix`);
// - `prefix` / `suffix`: begins / ends with the string;
// - `anything-but`: a value other than the one (or any of the list) given; with `{ "prefix": p }`
//   or `{ "suffix": s }`, a value that does not begin / end with it;
// - `exists`: true when the field is present (as a leaf), false when it is absent.
// There is no AND of several conditions on one field: two conditions in one array are ORed.

import { InvalidArgument } from "./validation";

export type EventPattern = { [field: string]: EventPattern | PatternValue[] };
export type PatternValue = string | number | boolean | null | Record<string, unknown>;

export interface ObjectCreatedPatternArgs {
    /** The bucket whose "Object Created" events match. */
    bucketName: string;
    /** Only keys beginning with this (case-sensitive, as S3 keys are). Default: any key. */
    prefix?: string;
    /** Only keys ending with one of these, in any letter case (e.g. ".jpg" matches "A.JPG"). Default: any key. */
    suffixes?: string[];
    /** Keys beginning with this are left out (e.g. the prefix a consumer writes to). At most one. Default: none. */
    excludePrefixes?: string[];
}

/**
 * The pattern matching S3 "Object Created" events (sent with the bucket's EventBridge
 * notifications on) for one bucket, optionally narrowed on the object key.
 *
 * EventBridge cannot AND two conditions on the same field (values in one array are ORed), and all
 * three options filter `detail.object.key`; so at most one kind of key condition is accepted, and
 * `excludePrefixes` holds at most one prefix (the documented `anything-but` takes one prefix).
 * Anything else is refused: filter the rest downstream (an SNS filter policy) or use two rules.
 * `label` starts each refusal's one-line message.
 */
export function objectCreatedPattern(args: ObjectCreatedPatternArgs, label = `objectCreatedPattern for bucket "${args.bucketName}"`): EventPattern {
    if (!args.bucketName) throw new InvalidArgument(`${label}: bucketName is required`);
    const asked: string[] = [];
    if (args.prefix !== undefined) asked.push(`prefix ${JSON.stringify(args.prefix)}`);
    if (args.suffixes !== undefined) asked.push(`suffixes ${JSON.stringify(args.suffixes)}`);
    if (args.excludePrefixes !== undefined) asked.push(`excludePrefixes ${JSON.stringify(args.excludePrefixes)}`);
    if (asked.length > 1) {
        throw new InvalidArgument(
            `${label}: ${asked.join(" and ")} cannot be expressed in one EventBridge pattern (conditions on detail.object.key are ORed, not ANDed); keep one and filter the other downstream, e.g. with an SNS filter policy`,
        );
    }
    const pattern: EventPattern = {
        source: ["aws.s3"],
        "detail-type": ["Object Created"],
        detail: { bucket: { name: [args.bucketName] } },
    };
    let key: PatternValue[] | undefined;
    if (args.prefix !== undefined) {
        if (args.prefix === "") throw new InvalidArgument(`${label}: prefix must not be empty (leave it out to match every key)`);
        key = [{ prefix: args.prefix }];
    }
    if (args.suffixes !== undefined) {
        if (args.suffixes.length === 0 || args.suffixes.some((s) => s === "")) {
            throw new InvalidArgument(`${label}: suffixes ${JSON.stringify(args.suffixes)} must be non-empty strings (leave suffixes out to match every key)`);
        }
        const unique = [...new Set(args.suffixes.map((s) => s.toLowerCase()))];
        key = unique.map((s) => ({ suffix: { "equals-ignore-case": s } }));
    }
    if (args.excludePrefixes !== undefined) {
        if (args.excludePrefixes.length !== 1 || args.excludePrefixes[0] === "") {
            throw new InvalidArgument(
                `${label}: excludePrefixes ${JSON.stringify(args.excludePrefixes)} must hold exactly one non-empty prefix (EventBridge ORs several anything-but conditions, which would exclude nothing)`,
            );
        }
        key = [{ "anything-but": { prefix: args.excludePrefixes[0] } }];
    }
    if (key) (pattern.detail as EventPattern).object = { key };
    return pattern;
}

/** True when `event` matches `pattern`, by EventBridge's documented operators (see the top of this file). */
export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
    return matchObject(pattern, event);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function matchObject(pattern: EventPattern, event: unknown): boolean {
    // Fields are ANDed.
    for (const [field, expected] of Object.entries(pattern)) {
        const value = isPlainObject(event) ? event[field] : undefined;
        if (Array.isArray(expected)) {
            if (!matchField(expected, value)) return false;
        } else if (isPlainObject(expected)) {
            if (!isPlainObject(value) || !matchObject(expected, value)) return false;
        } else {
            throw new Error(`event pattern field "${field}" must be an array or an object, got ${JSON.stringify(expected)}`);
        }
    }
    return true;
}

/** Values in one array are ORed; an array in the event matches if any element does. */
function matchField(conditions: PatternValue[], value: unknown): boolean {
    const present = value !== undefined && !isPlainObject(value);
    return conditions.some((condition) => {
        if (isPlainObject(condition) && "exists" in condition) return condition.exists === present;
        if (!present) return false;
        const values = Array.isArray(value) ? value : [value];
        return values.some((v) => matchCondition(condition, v));
    });
}

function matchCondition(condition: PatternValue, value: unknown): boolean {
    if (!isPlainObject(condition)) return condition === value; // exact, case-sensitive
    const operators = Object.keys(condition);
    if (operators.length !== 1) throw new Error(`event pattern condition ${JSON.stringify(condition)} must have exactly one operator`);
    const [op] = operators;
    const arg = condition[op];
    switch (op) {
        case "prefix":
            return typeof value === "string" && textOperator(arg, (a, ignoreCase) => fold(value, ignoreCase).startsWith(fold(a, ignoreCase)));
        case "suffix":
            return typeof value === "string" && textOperator(arg, (a, ignoreCase) => fold(value, ignoreCase).endsWith(fold(a, ignoreCase)));
        case "equals-ignore-case":
            return typeof value === "string" && typeof arg === "string" && value.toLowerCase() === arg.toLowerCase();
        case "anything-but":
            return anythingBut(arg, value);
        default:
            throw new Error(`event pattern operator "${op}" is not supported by this matcher`);
    }
}

function fold(s: string, ignoreCase: boolean): string {
    return ignoreCase ? s.toLowerCase() : s;
}

/** `"x"` is case-sensitive; `{ "equals-ignore-case": "x" }` ignores case. */
function textOperator(arg: unknown, test: (text: string, ignoreCase: boolean) => boolean): boolean {
    if (typeof arg === "string") return test(arg, false);
    if (isPlainObject(arg) && typeof arg["equals-ignore-case"] === "string" && Object.keys(arg).length === 1) return test(arg["equals-ignore-case"], true);
    throw new Error(`event pattern prefix/suffix argument ${JSON.stringify(arg)} is not supported by this matcher`);
}

function anythingBut(arg: unknown, value: unknown): boolean {
    if (Array.isArray(arg)) return !arg.includes(value);
    if (isPlainObject(arg)) {
        const [op, ...rest] = Object.keys(arg);
        if (rest.length === 0 && typeof arg[op] === "string" && typeof value === "string") {
            const text = arg[op] as string;
            if (op === "prefix") return !value.startsWith(text);
            if (op === "suffix") return !value.endsWith(text);
            if (op === "equals-ignore-case") return value.toLowerCase() !== text.toLowerCase();
        }
        if (rest.length === 0 && typeof value !== "string" && ["prefix", "suffix", "equals-ignore-case"].includes(op)) return false;
        throw new Error(`event pattern anything-but argument ${JSON.stringify(arg)} is not supported by this matcher`);
    }
    return arg !== value;
}
