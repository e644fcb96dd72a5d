// Pure builders for SNS subscription filter policies, and a pure matcher implementing Amazon SNS's
// documented filter-policy semantics, so a subscription's routing is tested without AWS.
//
// Semantics, from the Amazon SNS Developer Guide ("Amazon SNS message filtering" and its pages
// "Amazon SNS subscription filter policies", "Filter policy constraints in Amazon SNS",
// "AND/OR logic", "Key matching", "Numeric value matching", "String value matching",
// https://docs.aws.amazon.com/sns/latest/dg/message-filtering.html):
// - a subscription without a filter policy receives every message;
// - each property name in the policy must match (AND); at least one of its values must match (OR);
//   properties the policy does not name are ignored;
// - scope MessageAttributes: policy names are message attribute names (no nesting); String,
//   String.Array (each element on its own) and Number attributes are compared, Binary ones ignored;
// - scope MessageBody: the body must be a well-formed JSON object, and nested policy keys address
//   nested properties of it; an array in the body matches when one of its elements does;
// - string matching is case-sensitive; `equals-ignore-case` is the only case-insensitive operator
//   (SNS, unlike EventBridge, has no case-insensitive prefix or suffix, and no `wildcard`);
// - `prefix`, `suffix`; `anything-but` with values (strings or numbers) or with `{ "prefix": p }`
//   (the only operator the docs let it wrap); a message without the property does not match
//   `anything-but` ("anything-but can be combined with "exists": false" to accept that too);
// - `numeric` with `=`, `<`, `<=`, `>`, `>=` or a range, numbers from -1e9 to 1e9, five decimals;
// - `exists: true` / `exists: false`; `cidr` (IP address matching); `$or` across properties.
// The operator logic is the one shared with EventBridge patterns (event-patterns.ts); SNS's
// documented differences are the SNS_DIALECT below. Unknown operators are refused, not guessed.

import { ContentFilter, ContentFilterDialect, checkContentFilter, isPlainObject, matchesContentFilter } from "./event-patterns";
import { InvalidArgument } from "../shared/validation";

/** SNS compares strings case-sensitively and caps a policy at 150 value combinations (AWS quota). */
export const SNS_FILTER_MAX_COMBINATIONS = 150;
/** "A filter policy can have a maximum of five keys" (top-level keys, for MessageBody scope). */
export const SNS_FILTER_MAX_KEYS = 5;
/** "The maximum size of a filter policy is 256 KB." */
export const SNS_FILTER_MAX_BYTES = 256 * 1024;

/** Every upper/lower-case spelling of `text` (".Jpg", ".JPG", ...). */
export function caseVariants(text: string): string[] {
    let variants = [""];
    for (const ch of text) {
        const forms = ch.toLowerCase() === ch.toUpperCase() ? [ch] : [ch.toLowerCase(), ch.toUpperCase()];
        variants = variants.flatMap((v) => forms.map((f) => v + f));
    }
    return variants;
}

/**
 * Suffix conditions matching any of `suffixes` in any letter case. SNS has `suffix` and
 * `equals-ignore-case` but no case-insensitive suffix, so each spelling is listed.
 */
export function anyCaseSuffixes(suffixes: string[]): { suffix: string }[] {
    const all = [...new Set(suffixes.flatMap(caseVariants))].sort();
    if (all.length > SNS_FILTER_MAX_COMBINATIONS) {
        throw new InvalidArgument(`anyCaseSuffixes: ${all.length} spellings exceed the ${SNS_FILTER_MAX_COMBINATIONS} values an SNS filter policy may combine; use fewer or shorter suffixes`);
    }
    return all.map((suffix) => ({ suffix }));
}

export type FilterPolicyScope = "MessageAttributes" | "MessageBody";
/** A filter policy: property names to arrays of conditions, nested objects (MessageBody), `$or`. */
export type FilterPolicy = ContentFilter;

/** A message attribute as the SNS API (DataType/StringValue) or a delivered notification (Type/Value) spells it. */
export interface SnsMessageAttribute {
    DataType?: string;
    StringValue?: string;
    Type?: string;
    Value?: string | number;
}

const SNS_OPERATORS = ["prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr"];

/** Amazon SNS's documented filter grammar, as it differs from EventBridge's. */
export const SNS_DIALECT: ContentFilterDialect = {
    label: "filter policy",
    refusedBy: "Amazon SNS",
    operators: new Set(SNS_OPERATORS),
    // "String matching ... the comparison is case-sensitive": prefix/suffix take a plain string.
    caseInsensitiveAffixes: false,
    // "String matching using a prefix with the anything-but operator" is the only wrapped form documented.
    anythingBut: new Set(["prefix"]),
    // String value matching, anything-but: "For String.Array type attributes, it matches if none of
    // the array elements are listed in the policy property." (Earlier revisions of the page said the
    // opposite; the current wording is implemented.)
    anythingButOnArrays: "none",
    orOperator: true,
    keywords: new Set([...SNS_OPERATORS, "wildcard"]),
    // Filter policy constraints: "the value can range from -10^9 to 10^9".
    numericBounds: [-1e9, 1e9],
};

/**
 * True when SNS would deliver `message` to a subscription with `policy` and `scope`
 * (default MessageAttributes, as in SNS).
 * - MessageBody: `message` is the published body, as text (SNS parses it; text that is not a JSON
 *   object matches no policy) or already parsed;
 * - MessageAttributes: `message` maps attribute names to `{ DataType, StringValue }` (or
 *   `{ Type, Value }`).
 * No policy (undefined, "" or {}) delivers everything. A policy using an operator or a shape SNS does
 * not document is refused with a one-line InvalidArgument. Quotas (keys, combinations, size) are
 * checked by `checkFilterPolicy`, as SNS checks them when the policy is set, not per message.
 */
export function matchesFilterPolicy(policy: FilterPolicy | string | undefined, message: unknown, scope: FilterPolicyScope = "MessageAttributes"): boolean {
    const rule = parsePolicy(policy);
    if (!rule || Object.keys(rule).length === 0) return true;
    checkContentFilter(rule, SNS_DIALECT); // refused whatever the message, as SNS refuses it when set
    if (scope === "MessageBody") {
        // "Filter policies for the message body assume that the message payload is a well-formed JSON object."
        const body = typeof message === "string" ? parseJsonObject(message) : message;
        return isPlainObject(body) && matchesContentFilter(rule, body, SNS_DIALECT);
    }
    return matchesContentFilter(rule, attributeValues(message), SNS_DIALECT);
}

/**
 * Throws a one-line InvalidArgument for a policy SNS refuses when it is set, per "Filter policy
 * constraints in Amazon SNS": operators and shapes; no nesting and at most five keys for
 * MessageAttributes; at most five top-level keys for MessageBody; no empty arrays; at most 150
 * value combinations (`filterPolicyCombinations`); at most 256 KB.
 */
export function checkFilterPolicy(policy: FilterPolicy | string, scope: FilterPolicyScope = "MessageAttributes", name = "filter policy"): void {
    const rule = parsePolicy(policy);
    if (!rule) return;
    const label = `${name} (${scope})`;
    checkContentFilter(rule, SNS_DIALECT);
    walk(rule, 1, (path, value, depth) => {
        if (Array.isArray(value) && value.length === 0) throw new InvalidArgument(`${label}: "${path}" is an empty array, which SNS refuses`);
        if (scope === "MessageAttributes" && depth > 1) throw new InvalidArgument(`${label}: "${path}" is nested; attribute-based filtering accepts no nested policy`);
    });
    const keys = topLevelKeys(rule);
    if (keys.length > SNS_FILTER_MAX_KEYS) throw new InvalidArgument(`${label}: ${keys.length} keys (${keys.join(", ")}) exceed the ${SNS_FILTER_MAX_KEYS} SNS allows`);
    const combinations = filterPolicyCombinations(rule, scope);
    if (combinations > SNS_FILTER_MAX_COMBINATIONS) {
        throw new InvalidArgument(`${label}: ${combinations} value combinations exceed the ${SNS_FILTER_MAX_COMBINATIONS} SNS allows (a nested key counts its values times its depth)`);
    }
    const bytes = Buffer.byteLength(JSON.stringify(rule), "utf8");
    if (bytes > SNS_FILTER_MAX_BYTES) throw new InvalidArgument(`${label}: ${bytes} bytes exceed the ${SNS_FILTER_MAX_BYTES} SNS allows`);
}

/**
 * The "total combination of values" SNS limits to 150 ("Filter policy constraints in Amazon SNS"):
 * the product, over the policy's arrays, of each array's number of values. For MessageBody scope
 * AWS's worked example counts a nested key's values times its depth ("four values in a three-level
 * nested key, and ... three values in a two-level nested key ... 3 x 4 x 2 x 3 = 72"). An `$or`
 * counts as the sum of its alternatives (each alternative is one more policy SNS has to match).
 */
export function filterPolicyCombinations(policy: FilterPolicy | string, scope: FilterPolicyScope = "MessageAttributes"): number {
    const rule = parsePolicy(policy);
    if (!rule) return 0;
    const count = (node: ContentFilter, depth: number): number => {
        let total = 1;
        for (const [key, value] of Object.entries(node)) {
            if (key === "$or" && Array.isArray(value) && value.length >= 2 && value.every(isPlainObject)) {
                total *= value.reduce((sum: number, alternative) => sum + count(alternative as ContentFilter, depth), 0);
            } else if (Array.isArray(value)) {
                total *= value.length * (scope === "MessageBody" ? depth : 1);
            } else if (isPlainObject(value)) {
                total *= count(value, depth + 1);
            }
        }
        return total;
    };
    return count(rule, 1);
}

function parsePolicy(policy: FilterPolicy | string | undefined): FilterPolicy | undefined {
    if (policy === undefined || policy === "") return undefined;
    if (typeof policy !== "string") return policy;
    const parsed = parseJsonObject(policy);
    if (!parsed) throw new InvalidArgument(`filter policy ${policy.slice(0, 80)}: not a JSON object`);
    return parsed;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
    try {
        const parsed: unknown = JSON.parse(text);
        return isPlainObject(parsed) ? parsed : undefined;
    } catch {
        return undefined;
    }
}

/** Top-level keys, counting those inside a top-level `$or`'s alternatives. */
function topLevelKeys(rule: FilterPolicy): string[] {
    const keys = new Set<string>();
    for (const [key, value] of Object.entries(rule)) {
        if (key === "$or" && Array.isArray(value) && value.every(isPlainObject)) value.forEach((alt) => Object.keys(alt).forEach((k) => keys.add(k)));
        else keys.add(key);
    }
    return [...keys];
}

/** Visits every property of a policy, with its dotted path and depth (1 = top level). */
function walk(node: ContentFilter, depth: number, visit: (path: string, value: unknown, depth: number) => void, prefix = ""): void {
    for (const [key, value] of Object.entries(node)) {
        if (key === "$or" && Array.isArray(value) && value.every(isPlainObject)) {
            value.forEach((alt) => walk(alt as ContentFilter, depth, visit, prefix));
            continue;
        }
        const path = prefix + key;
        visit(path, value, depth);
        if (isPlainObject(value)) walk(value, depth + 1, visit, `${path}.`);
    }
}

/**
 * Message attributes as the values the policy compares: String as text, String.Array as its
 * elements, Number as a number; Binary attributes are ignored (they are never compared).
 */
function attributeValues(message: unknown): Record<string, unknown> {
    const values: Record<string, unknown> = {};
    if (!isPlainObject(message)) return values;
    for (const [name, attribute] of Object.entries(message)) {
        if (!isPlainObject(attribute)) continue;
        const a = attribute as SnsMessageAttribute;
        const type = a.DataType ?? a.Type ?? "String";
        const raw = a.StringValue ?? a.Value;
        if (type.startsWith("Binary") || raw === undefined) continue;
        if (type.startsWith("Number")) {
            values[name] = Number(raw);
        } else if (type === "String.Array") {
            try {
                const parsed: unknown = JSON.parse(String(raw));
                if (Array.isArray(parsed)) values[name] = parsed;
            } catch {
                // An unparsable array matches nothing, as an absent attribute.
            }
        } else {
            values[name] = String(raw);
        }
    }
    return values;
}
