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
// - `exists`: true when the field is present (as a leaf), false when it is absent (also when the
//   object holding it is absent: patterns address flattened paths such as detail.object.key).
// There is no AND of several conditions on one field: two conditions in one array are ORed.
// The matcher's core (the bottom of this file) is shared with the SNS filter-policy matcher in
// filter-policies.ts: same grammar, with the documented differences held in a dialect.

import { BlockList, isIP } from "net";
import { InvalidArgument } from "../shared/validation";
import { UPLOAD_ENVELOPE } from "../../functions/shared/contract";

export type EventPattern = { [field: string]: EventPattern | PatternValue[] };
export type PatternValue = string | number | boolean | null | Record<string, unknown>;

export interface ObjectCreatedPatternArgs {
    /** The bucket whose "Object Created" events match. Required. */
    bucketName: string;
    /**
     * Only keys beginning with this (case-sensitive, as S3 keys are). Letters, digits and / . _ -
     * only: S3 URL-encodes other characters in its events' keys, which the pattern is compared with.
     * The same holds for `suffixes` and `excludePrefixes`. Default: any key.
     */
    prefix?: string;
    /** Only keys ending with one of these, in any letter case (e.g. ".jpg" matches "A.JPG"). Default: any key. */
    suffixes?: string[];
    /** Keys beginning with this are left out (e.g. the prefix a consumer writes to). At most one. Default: none. */
    excludePrefixes?: string[];
    /**
     * Only keys matching one of these EventBridge wildcards, case-sensitive: `*` stands for any
     * characters, "/" included (`payments/*.ndjson` is a prefix and a suffix at once). Default: any key.
     */
    wildcards?: string[];
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
    if (args.wildcards !== undefined) asked.push(`wildcards ${JSON.stringify(args.wildcards)}`);
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
    if (args.wildcards !== undefined) {
        if (args.wildcards.length === 0 || args.wildcards.some((w) => !w.includes("*") || w.includes("**"))) {
            throw new InvalidArgument(`${label}: wildcards ${JSON.stringify(args.wildcards)} must each hold a "*", never two in a row (use prefix or suffixes for a plain key condition)`);
        }
        key = [...new Set(args.wildcards)].map((w) => ({ wildcard: w }));
    }
    for (const text of [args.prefix, ...(args.suffixes ?? []), ...(args.excludePrefixes ?? []), ...(args.wildcards ?? []).map((w) => w.replace(/\*/g, ""))]) {
        const encoded = text === undefined ? undefined : /[^A-Za-z0-9/._-]/.exec(text)?.[0];
        if (encoded !== undefined) {
            throw new InvalidArgument(
                `${label}: ${JSON.stringify(text)} contains ${JSON.stringify(encoded)}, which S3 URL-encodes in the keys of its events; the pattern would be compared with the encoded key and miss. Use letters, digits and / . _ - only`,
            );
        }
    }
    if (key) (pattern.detail as EventPattern).object = { key };
    return pattern;
}

/** True when `event` matches `pattern`, by EventBridge's documented operators (see the top of this file). */
export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
    return matchesContentFilter(pattern, event, EVENTBRIDGE_DIALECT);
}

// ---------------------------------------------------------------------------------------------
// The content-filter core shared by EventBridge event patterns and SNS filter policies.
//
// Both services document the same grammar (SNS message filtering and EventBridge patterns come from
// the same rule language): fields ANDed, an array's values ORed, exact case-sensitive values,
// `prefix`, `suffix`, `equals-ignore-case`, `anything-but`, `exists`, and an array in the message
// matching when one of its elements does. Where the two services' documentation differs, a
// dialect says which behaviour applies; the SNS dialect lives in filter-policies.ts.
// ---------------------------------------------------------------------------------------------

/** A rule: a pattern or a filter policy. Leaves are arrays of conditions, inner objects nest. */
export type ContentFilter = { [field: string]: unknown };

/** Where one service's documented filter grammar differs from the other's. */
export interface ContentFilterDialect {
    /** Names the rule in errors: "event pattern", "filter policy". */
    readonly label: string;
    /** Ends the refusal of an operator: "this matcher", "Amazon SNS". */
    readonly refusedBy: string;
    /** The operators a condition object may use; any other is refused with a one-line error. */
    readonly operators: ReadonlySet<string>;
    /** Whether `prefix` / `suffix` also take `{ "equals-ignore-case": s }` (EventBridge does, SNS does not). */
    readonly caseInsensitiveAffixes: boolean;
    /** The operators `anything-but` may wrap, as in `{ "anything-but": { "prefix": "x" } }`. */
    readonly anythingBut: ReadonlySet<string>;
    /**
     * `anything-but` against an array in the message: "some" matches when some element is not
     * excluded; "none" only when no element is excluded.
     */
    readonly anythingButOnArrays: "some" | "none";
    /** Whether a `"$or": [{...}, {...}]` key ORs its alternatives (else "$or" is an ordinary field name). */
    readonly orOperator: boolean;
    /** Operators reserved as keywords (an `$or` alternative using one is not an alternative). */
    readonly keywords: ReadonlySet<string>;
    /** Bounds of the numbers a `numeric` condition may name, when the service documents them. */
    readonly numericBounds?: readonly [number, number];
}

/** EventBridge, restricted to the operators this matcher implements (numeric, cidr and $or are refused). */
export const EVENTBRIDGE_DIALECT: ContentFilterDialect = {
    label: "event pattern",
    refusedBy: "this matcher",
    operators: new Set(["prefix", "suffix", "equals-ignore-case", "anything-but", "exists", "wildcard"]),
    caseInsensitiveAffixes: true,
    anythingBut: new Set(["prefix", "suffix", "equals-ignore-case"]),
    anythingButOnArrays: "some",
    orOperator: false,
    keywords: new Set(["prefix", "suffix", "equals-ignore-case", "anything-but", "exists", "numeric", "cidr", "wildcard"]),
};

/**
 * True when `message` matches `rule` in `dialect`. The rule is checked first, whatever the message:
 * an operator the dialect does not know is refused rather than guessed.
 */
export function matchesContentFilter(rule: ContentFilter, message: unknown, dialect: ContentFilterDialect): boolean {
    checkContentFilter(rule, dialect);
    return matchObject(rule, message, dialect);
}

/** Throws a one-line InvalidArgument when `rule` uses a shape or operator `dialect` does not accept. */
export function checkContentFilter(rule: ContentFilter, dialect: ContentFilterDialect): void {
    for (const [field, expected] of Object.entries(rule)) {
        if (isOrAlternatives(field, expected, dialect)) {
            for (const alternative of expected) checkContentFilter(alternative, dialect);
        } else if (Array.isArray(expected)) {
            for (const condition of expected) checkCondition(condition, dialect);
        } else if (isPlainObject(expected)) {
            checkContentFilter(expected, dialect);
        } else {
            throw new InvalidArgument(`${dialect.label} field "${field}" must be an array or an object, got ${JSON.stringify(expected)}`);
        }
    }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * SNS ("AND/OR logic", OR operator): "$or" is an OR only when it holds an array of at least two
 * objects, none of which uses a reserved keyword as a field name; otherwise it is a normal field.
 */
function isOrAlternatives(field: string, value: unknown, dialect: ContentFilterDialect): value is ContentFilter[] {
    return (
        dialect.orOperator &&
        field === "$or" &&
        Array.isArray(value) &&
        value.length >= 2 &&
        value.every((alt) => isPlainObject(alt) && Object.keys(alt).every((k) => !dialect.keywords.has(k)))
    );
}

function checkCondition(condition: unknown, dialect: ContentFilterDialect): void {
    const { label, refusedBy } = dialect;
    if (condition === null || ["string", "number", "boolean"].includes(typeof condition)) return; // exact value
    if (!isPlainObject(condition)) throw new InvalidArgument(`${label} condition ${JSON.stringify(condition)} must be a string, number, true, false, null or an operator object`);
    const operators = Object.keys(condition);
    if (operators.length !== 1) throw new InvalidArgument(`${label} condition ${JSON.stringify(condition)} must have exactly one operator`);
    const [op] = operators;
    const arg = condition[op];
    if (!dialect.operators.has(op)) throw new InvalidArgument(`${label} operator "${op}" is not supported by ${refusedBy}`);
    const bad = (what: string) => new InvalidArgument(`${label} ${op} ${JSON.stringify(arg)}: ${what}`);
    switch (op) {
        case "exists":
            if (typeof arg !== "boolean") throw bad("expected true or false");
            return;
        case "equals-ignore-case":
            if (typeof arg !== "string") throw bad("expected a string");
            return;
        case "wildcard":
            // EventBridge refuses consecutive wildcards; a backslash escapes "*" and itself.
            if (typeof arg !== "string" || /(?<!\\)\*\*/.test(arg)) throw bad('expected a string without two "*" in a row');
            return;
        case "prefix":
        case "suffix":
            if (typeof arg === "string") return;
            if (dialect.caseInsensitiveAffixes && isPlainObject(arg) && Object.keys(arg).length === 1 && typeof arg["equals-ignore-case"] === "string") return;
            throw bad(dialect.caseInsensitiveAffixes ? 'expected a string or { "equals-ignore-case": string }' : `expected a string (${refusedBy} has no case-insensitive ${op})`);
        case "anything-but":
            if (typeof arg === "string" || typeof arg === "number") return;
            if (Array.isArray(arg)) {
                if (arg.length === 0 || !arg.every((v) => typeof v === "string" || typeof v === "number")) throw bad("expected a non-empty list of strings or numbers");
                return;
            }
            if (isPlainObject(arg) && Object.keys(arg).length === 1) {
                const [inner] = Object.keys(arg);
                if (!dialect.anythingBut.has(inner)) throw new InvalidArgument(`${label} operator "anything-but" with "${inner}" is not supported by ${refusedBy}`);
                if (typeof arg[inner] !== "string") throw bad(`expected a string for ${inner}`);
                return;
            }
            throw bad("expected a string, a number, a list of them, or one wrapped operator");
        case "numeric":
            checkNumeric(arg, dialect, bad);
            return;
        case "cidr":
            if (typeof arg !== "string" || !parseCidr(arg)) throw bad("expected an IPv4 or IPv6 network in CIDR notation, e.g. 10.0.0.0/24");
            return;
        default:
            // A dialect listing an operator this core does not implement is a programming error.
            throw new InvalidArgument(`${label} operator "${op}" is not implemented by this matcher`);
    }
}

const LOWER_BOUNDS = new Set([">", ">="]);
const UPPER_BOUNDS = new Set(["<", "<="]);

/** `["=", n]`, `[op, n]`, or a range `[">" | ">=", low, "<" | "<=", high]` with low < high. */
function checkNumeric(arg: unknown, dialect: ContentFilterDialect, bad: (what: string) => Error): void {
    const shape = "expected [op, number] or [\">\"|\">=\", low, \"<\"|\"<=\", high]";
    if (!Array.isArray(arg) || (arg.length !== 2 && arg.length !== 4)) throw bad(shape);
    for (let i = 0; i < arg.length; i += 2) {
        const [op, n] = [arg[i], arg[i + 1]];
        const allowed = arg.length === 2 ? ["=", "<", "<=", ">", ">="].includes(op) : i === 0 ? LOWER_BOUNDS.has(op) : UPPER_BOUNDS.has(op);
        if (!allowed || typeof n !== "number" || !Number.isFinite(n)) throw bad(shape);
        const bounds = dialect.numericBounds;
        if (bounds && (n < bounds[0] || n > bounds[1])) throw bad(`${n} is outside the documented range ${bounds[0]} to ${bounds[1]}`);
    }
    if (arg.length === 4 && !(arg[1] < arg[3])) throw bad("the lower bound must be below the upper bound");
}

function matchObject(rule: ContentFilter, message: unknown, dialect: ContentFilterDialect): boolean {
    // Fields are ANDed.
    return Object.entries(rule).every(([field, expected]) => {
        if (isOrAlternatives(field, expected, dialect)) return expected.some((alternative) => matchObject(alternative, message, dialect));
        const value = isPlainObject(message) ? message[field] : undefined;
        if (Array.isArray(expected)) return matchField(expected, value, dialect);
        // A nested rule: an array of objects matches when one of its objects matches the whole
        // nested rule; a missing (or non-object) value leaves every nested field absent, so only
        // conditions that accept an absent field (`"exists": false`) can match.
        if (Array.isArray(value) && value.some(isPlainObject)) return value.some((v) => isPlainObject(v) && matchObject(expected as ContentFilter, v, dialect));
        return matchObject(expected as ContentFilter, isPlainObject(value) ? value : undefined, dialect);
    });
}

/** Values in one array are ORed; an array in the message matches if any element does. */
function matchField(conditions: unknown[], value: unknown, dialect: ContentFilterDialect): boolean {
    // `exists` tests a leaf: an object value is not a leaf. Every other condition needs the field.
    const present = value !== undefined && !isPlainObject(value);
    const values = Array.isArray(value) ? value : [value];
    return conditions.some((condition) => {
        if (isPlainObject(condition) && "exists" in condition) return condition.exists === present;
        if (!present) return false;
        if (isPlainObject(condition) && "anything-but" in condition) {
            const notExcluded = (v: unknown) => !excludedBy(condition["anything-but"], v);
            return dialect.anythingButOnArrays === "none" ? values.length > 0 && values.every(notExcluded) : values.some(notExcluded);
        }
        return values.some((v) => matchCondition(condition, v));
    });
}

/** An EventBridge wildcard as a regular expression: "*" any characters, "\\*" and "\\\\" themselves. */
export function wildcardRegExp(wildcard: string): RegExp {
    let source = "";
    for (let i = 0; i < wildcard.length; i++) {
        const c = wildcard[i];
        if (c === "\\" && (wildcard[i + 1] === "*" || wildcard[i + 1] === "\\")) source += `\\${wildcard[++i]}`;
        else if (c === "*") source += "[\\s\\S]*";
        else source += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    }
    return new RegExp(`^${source}$`);
}

function matchCondition(condition: unknown, value: unknown): boolean {
    if (!isPlainObject(condition)) return condition === value; // exact, case-sensitive
    const [op] = Object.keys(condition);
    const arg = condition[op];
    switch (op) {
        case "wildcard":
            return typeof value === "string" && wildcardRegExp(arg as string).test(value);
        case "prefix":
            return typeof value === "string" && affix(arg, value, (v, a) => v.startsWith(a));
        case "suffix":
            return typeof value === "string" && affix(arg, value, (v, a) => v.endsWith(a));
        case "equals-ignore-case":
            return typeof value === "string" && value.toLowerCase() === (arg as string).toLowerCase();
        case "numeric":
            return typeof value === "number" && matchNumeric(arg as (string | number)[], value);
        case "cidr":
            return typeof value === "string" && inCidr(arg as string, value);
        default:
            return false; // unreachable: checkCondition refused it
    }
}

/** `"x"` is case-sensitive; `{ "equals-ignore-case": "x" }` (EventBridge) ignores case. */
function affix(arg: unknown, value: string, test: (value: string, arg: string) => boolean): boolean {
    if (typeof arg === "string") return test(value, arg);
    const text = (arg as Record<string, string>)["equals-ignore-case"];
    return test(value.toLowerCase(), text.toLowerCase());
}

/** True when `value` is one `anything-but` excludes. A wrapped prefix/suffix only excludes strings. */
function excludedBy(arg: unknown, value: unknown): boolean {
    if (Array.isArray(arg)) return arg.includes(value);
    if (!isPlainObject(arg)) return arg === value;
    const [op] = Object.keys(arg);
    const text = arg[op] as string;
    if (typeof value !== "string") return true; // a non-string neither begins nor ends with text: EventBridge's matcher never matched it
    if (op === "prefix") return value.startsWith(text);
    if (op === "suffix") return value.endsWith(text);
    return value.toLowerCase() === text.toLowerCase(); // equals-ignore-case
}

/** Compared at five decimal places, the accuracy SNS documents for numeric matching. */
function matchNumeric(terms: (string | number)[], value: number): boolean {
    const q = (n: number) => Math.round(n * 1e5);
    for (let i = 0; i < terms.length; i += 2) {
        const [op, n] = [terms[i] as string, q(terms[i + 1] as number)];
        const v = q(value);
        const ok = op === "=" ? v === n : op === "<" ? v < n : op === "<=" ? v <= n : op === ">" ? v > n : v >= n;
        if (!ok) return false;
    }
    return true;
}

function parseCidr(cidr: string): { address: string; bits: number; family: "ipv4" | "ipv6" } | undefined {
    const [address, bitsText, ...rest] = cidr.split("/");
    const version = isIP(address ?? "");
    const bits = Number(bitsText);
    if (rest.length || !version || !/^\d+$/.test(bitsText ?? "") || bits > (version === 4 ? 32 : 128)) return undefined;
    return { address, bits, family: version === 4 ? "ipv4" : "ipv6" };
}

function inCidr(cidr: string, value: string): boolean {
    const net = parseCidr(cidr)!;
    if (isIP(value) !== (net.family === "ipv4" ? 4 : 6)) return false;
    const list = new BlockList();
    list.addSubnet(net.address, net.bits, net.family);
    return list.check(value, net.family);
}

/** An EventBridge target's input transformer: JSON paths into the event, and a template using them. */
export interface InputTransformer {
    inputPaths: Record<string, string>;
    inputTemplate: string;
}

/**
 * The uploads envelope: `{"object": <the event's detail.object>, "event": <the whole event>}`.
 * It lifts the object (key, size, version...) to depth 1, so an SNS subscription filters on
 * `object.key` at depth 2: SNS counts each value of a nested MessageBody key once per level of
 * depth toward its 150 combinations, and the 56 spellings of five image suffixes in any case count
 * 112 there, against 168 at `detail.object.key` (depth 3). The placeholder selects a JSON object,
 * which EventBridge inserts as JSON, like `<aws.events.event.json>`: no string value is pasted into
 * the template, so no key can break the message's JSON. Consumers read the event from `event`.
 */
export const OBJECT_ENVELOPE: InputTransformer = {
    inputPaths: { object: "$.detail.object" },
    inputTemplate: `{"${UPLOAD_ENVELOPE.object}": <object>, "${UPLOAD_ENVELOPE.event}": <aws.events.event.json>}`,
};

const SIMPLE_PATH = /^\$(\.[A-Za-z0-9_-]+)+$/;

/** What a dotted path (`$`, `$.a.b`) selects in an event; undefined where the event has nothing. */
export function valueAtPath(event: unknown, path: string): unknown {
    if (path !== "$" && !SIMPLE_PATH.test(path)) throw new Error(`valueAtPath: ${path} is not a dotted path ($ or $.a.b), which is all this model reads`);
    let value: unknown = event;
    for (const step of path.slice(2).split(".").filter(Boolean)) value = isPlainObject(value) ? value[step] : undefined;
    return value;
}

/**
 * What EventBridge delivers for `event` through an input template, as its documentation for input
 * transformation describes: each `<name>` of `inputPaths` becomes the value its path selects,
 * `<aws.events.event.json>` the whole event. Outside quotes a value goes in as JSON (strings quoted);
 * inside a JSON string (`"Job <job> ended"`) as text, a string without its quotes. There the text
 * is also escaped, so the result is always JSON (EventBridge would paste a quote in as it is). Only
 * dotted paths (`$.a.b`) are modelled; anything else, or a path the event lacks, is refused rather
 * than guessed.
 */
export function applyInputTransformer(transformer: InputTransformer, event: Record<string, unknown>): string {
    const values: Record<string, unknown> = { "aws.events.event.json": event };
    for (const [name, path] of Object.entries(transformer.inputPaths)) {
        if (!SIMPLE_PATH.test(path)) throw new Error(`applyInputTransformer: path ${path} of <${name}> is not a dotted path ($.a.b), which is all this model reads`);
        const value = valueAtPath(event, path);
        if (value === undefined) throw new Error(`applyInputTransformer: the event has nothing at ${path} for <${name}>`);
        values[name] = value;
    }
    const template = transformer.inputTemplate;
    let text = "";
    let inString = false;
    for (let i = 0; i < template.length; ) {
        const ch = template[i];
        if (inString && ch === "\\") {
            text += template.slice(i, i + 2);
            i += 2;
            continue;
        }
        const placeholder = ch === "<" ? /^<([A-Za-z0-9_.-]+)>/.exec(template.slice(i)) : null;
        if (placeholder) {
            const name = placeholder[1];
            if (!(name in values)) throw new Error(`applyInputTransformer: ${placeholder[0]} is neither an input path nor a modelled reserved variable`);
            const value = values[name];
            text += inString ? JSON.stringify(typeof value === "string" ? value : JSON.stringify(value)).slice(1, -1) : JSON.stringify(value);
            i += placeholder[0].length;
            continue;
        }
        if (ch === '"') inString = !inString;
        text += ch;
        i++;
    }
    JSON.parse(text); // the template must give JSON, as SNS MessageBody filtering needs
    return text;
}
