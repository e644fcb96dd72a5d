import type { ErrorObject } from "ajv-draft-04";
import { ATTRIBUTE_NAME_PATTERN, type ApiMessage } from "../shared/contract";
// The schema's validator, precompiled by ajv (strict, every error listed; generate-validator.ts):
// nothing to compile at cold start, and no ajv in the bundle.
import validate = require("./message-validator.generated");

// The one contract of the API flow: API Gateway validates `POST /messages` bodies against this
// schema (the ApiToQueue `requestSchema`), and the api-consumer Lambda validates every queued
// message against the very same object, because the queue also accepts messages that never went
// through the API (any principal allowed to SendMessage, a redrive, a schema change in flight).
//
// Draft 4 and only the keywords API Gateway's model validator implements: no `format`, no `$ref`,
// no `propertyNames` (draft 6). Patterns are anchored (JSON schema patterns match anywhere) and
// every string and map is bounded, so a valid body's content stays far below SQS's message size.

export { API_MESSAGE_LIMITS, API_MESSAGE_SCHEMA, ATTRIBUTE_NAME_PATTERN } from "../shared/contract";
export type { ApiMessage } from "../shared/contract";

/** Longest reason validateMessage returns: it travels as an SQS message attribute and a log field. */
export const MAX_REASON_LENGTH = 512;

/** Schema errors listed in a reason before "(+N more)". */
const MAX_LISTED_ERRORS = 5;

export type MessageCheck = { ok: true; message: ApiMessage } | { ok: false; reason: string };

/**
 * `text` on one line of at most `max` characters: control characters, line separators and lone
 * surrogates become "?" (SQS refuses some of them in an attribute value, and a log reader must not
 * see a forged second line); longer text is cut on a code point boundary and ends with "…".
 */
export function oneLine(text: string, max: number = MAX_REASON_LENGTH): string {
    const clean = text.replace(/[\p{Cc}\p{Cs}\u2028\u2029\uFFFE\uFFFF]/gu, "?");
    const chars = Array.from(clean);
    return chars.length <= max ? clean : chars.slice(0, Math.max(0, max - 1)).join("") + "…";
}

/** JSON Pointer of a property under `parent` (RFC 6901 escapes). */
const child = (parent: string, key: string) => `${parent}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;

/** One schema error as "<path>: <what is wrong>", the path naming the offending field ("(root)" for the body). */
function describeError(e: ErrorObject): string {
    let path = e.instancePath;
    let text = e.message ?? e.keyword;
    if (e.keyword === "required") {
        path = child(path, String(e.params.missingProperty));
        text = "is required";
    } else if (e.keyword === "additionalProperties") {
        path = child(path, String(e.params.additionalProperty));
        text = path.startsWith("/attributes/")
            ? `is not an allowed attribute name (expected ${ATTRIBUTE_NAME_PATTERN})`
            : "is not an allowed property";
    }
    return `${path || "(root)"}: ${text}`;
}

/**
 * Parses and validates one body against API_MESSAGE_SCHEMA. Pure: the parsed message, or a
 * one-line reason of at most MAX_REASON_LENGTH characters ("body is not JSON: ..." or the schema
 * errors, each with the path of the offending field).
 */
export function validateMessage(body: string): MessageCheck {
    let json: unknown;
    try {
        json = JSON.parse(body);
    } catch (err) {
        return { ok: false, reason: oneLine(`body is not JSON: ${(err as Error).message}`) };
    }
    if (validate(json)) return { ok: true, message: json };
    const errors = validate.errors ?? [];
    const listed = errors.slice(0, MAX_LISTED_ERRORS).map(describeError);
    const more = errors.length > MAX_LISTED_ERRORS ? ` (+${errors.length - MAX_LISTED_ERRORS} more)` : "";
    return { ok: false, reason: oneLine(`body does not match the message schema: ${listed.join("; ")}${more}`) };
}
