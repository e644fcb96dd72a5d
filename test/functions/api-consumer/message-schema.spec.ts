import Ajv, { type ValidateFunction } from "ajv-draft-04";
import { expect } from "chai";
import { checkApiArgs, type ApiToQueueArgs } from "../../../components/api/api-to-queue";
import {
    API_MESSAGE_LIMITS as L,
    API_MESSAGE_SCHEMA,
    MAX_REASON_LENGTH,
    oneLine,
    validateMessage,
    type ApiMessage,
} from "../../../functions/api-consumer/message-schema";

// The schema is checked twice: compiled here by a separate draft-04 ajv (what the schema itself
// accepts), and through validateMessage (what the consumer does with it, and the reason it gives).

const DRAFT_04 = "http://json-schema.org/draft-04/schema#";
const SQS_CLASSIC_MAX_BYTES = 256 * 1024;

/** Keywords of draft 4 that API Gateway's model validator implements and this schema may use. */
const ALLOWED_KEYWORDS = new Set([
    "$schema",
    "title",
    "description",
    "type",
    "required",
    "properties",
    "patternProperties",
    "additionalProperties",
    "minLength",
    "maxLength",
    "pattern",
    "minProperties",
    "maxProperties",
    "enum",
]);

const x = (n: number, c = "x") => c.repeat(n);
const attributes = (count: number, value = "v") => Object.fromEntries(Array.from({ length: count }, (_, i) => [`attr${i}`, value]));

/** A valid body with every field at its maximum length or count. */
function maximal(): ApiMessage {
    return {
        message: x(L.messageMaxLength),
        type: "T" + x(L.typeMaxLength - 1, "a"),
        correlationId: x(L.correlationIdMaxLength, "7"),
        attributes: Object.fromEntries(
            Array.from({ length: L.attributesMaxProperties }, (_, i) => [`a${String(i).padStart(L.attributeNameMaxLength - 1, "0")}`, x(L.attributeValueMaxLength, "v")]),
        ),
    };
}

export const VALID: [string, string][] = [
    ["the seed's body", '{"message": "test event from API"}'],
    [
        "every optional field",
        JSON.stringify({ message: "order 42 shipped", type: "order.shipped", correlationId: "3f2b9c1e-8d4a-4e2b-9a77-0c6f1d2e5b10", attributes: { source: "web", priority: "high" } }),
    ],
    ["every field at its maximum length or count", JSON.stringify(maximal())],
    ["pretty-printed, with unicode text", '{\n  "message": "héllo wörld ✓ 🎉",\n  "type": "greeting_v2"\n}'],
    ["an empty attribute map", '{"message": "m", "attributes": {}}'],
    ["an empty attribute value and one-character type and id", '{"message": "m", "type": "a", "correlationId": "x", "attributes": {"note": ""}}'],
    ["a message of one non-blank character", '{"message":"."}'],
];

/** Body, then a fragment the reason must contain: the offending field's path, or the JSON failure. */
export const INVALID: [string, string, string][] = [
    // wrong types
    ["message is a number", '{"message": 42}', "/message: must be string"],
    ["message is an array", '{"message": ["a"]}', "/message: must be string"],
    ["message is null", '{"message": null}', "/message: must be string"],
    ["message is an object", '{"message": {"text": "a"}}', "/message: must be string"],
    ["message is a boolean", '{"message": true}', "/message: must be string"],
    ["type is a number", '{"message": "m", "type": 7}', "/type: must be string"],
    ["correlationId is a number", '{"message": "m", "correlationId": 123}', "/correlationId: must be string"],
    ["attributes is an array", '{"message": "m", "attributes": ["a", "b"]}', "/attributes: must be object"],
    ["attributes is a string", '{"message": "m", "attributes": "a=b"}', "/attributes: must be object"],
    ["an attribute value is a number", '{"message": "m", "attributes": {"priority": 1}}', "/attributes/priority: must be string"],
    ["an attribute value is null", '{"message": "m", "attributes": {"priority": null}}', "/attributes/priority: must be string"],
    // missing fields
    ["an empty object", "{}", "/message: is required"],
    ["optional fields without message", '{"type": "order.created", "correlationId": "c-1"}', "/message: is required"],
    // empty or blank
    ["message is empty", '{"message": ""}', "/message: must NOT have fewer than 1 characters"],
    ["message is blank", '{"message": "  \\n\\t "}', '/message: must match pattern "\\S"'],
    ["type is empty", '{"message": "m", "type": ""}', "/type: must NOT have fewer than 1 characters"],
    ["correlationId is empty", '{"message": "m", "correlationId": ""}', "/correlationId: must NOT have fewer than 1 characters"],
    // patterns
    ["type starts with a digit", '{"message": "m", "type": "1order"}', "/type: must match pattern"],
    ["type has a space", '{"message": "m", "type": "order created"}', "/type: must match pattern"],
    ["type ends with a newline", '{"message": "m", "type": "order.created\\n"}', "/type: must match pattern"],
    ["correlationId has a space", '{"message": "m", "correlationId": "a b"}', "/correlationId: must match pattern"],
    ["an attribute name has a space", '{"message": "m", "attributes": {"bad name": "v"}}', "/attributes/bad name: is not an allowed attribute name"],
    // oversized
    ["message one character too long", JSON.stringify({ message: x(L.messageMaxLength + 1) }), `/message: must NOT have more than ${L.messageMaxLength} characters`],
    ["type one character too long", JSON.stringify({ message: "m", type: x(L.typeMaxLength + 1, "a") }), `/type: must NOT have more than ${L.typeMaxLength} characters`],
    [
        "correlationId one character too long",
        JSON.stringify({ message: "m", correlationId: x(L.correlationIdMaxLength + 1, "c") }),
        `/correlationId: must NOT have more than ${L.correlationIdMaxLength} characters`,
    ],
    ["one attribute too many", JSON.stringify({ message: "m", attributes: attributes(L.attributesMaxProperties + 1) }), `/attributes: must NOT have more than ${L.attributesMaxProperties} properties`],
    [
        "an attribute value one character too long",
        JSON.stringify({ message: "m", attributes: { long: x(L.attributeValueMaxLength + 1) } }),
        `/attributes/long: must NOT have more than ${L.attributeValueMaxLength} characters`,
    ],
    [
        "an attribute name one character too long",
        JSON.stringify({ message: "m", attributes: { [x(L.attributeNameMaxLength + 1, "n")]: "v" } }),
        `/attributes/${x(L.attributeNameMaxLength + 1, "n")}: is not an allowed attribute name`,
    ],
    // extra properties
    ["an unknown property", '{"message": "m", "priority": "high"}', "/priority: is not an allowed property"],
    ["message with the wrong case", '{"Message": "m"}', "/Message: is not an allowed property"],
    ["a __proto__ property", '{"message": "m", "__proto__": {"admin": true}}', "/__proto__: is not an allowed property"],
    // not JSON
    ["truncated JSON", '{"message": "test event', "body is not JSON: "],
    ["plain text", "test event from API", "body is not JSON: "],
    ["an empty body", "", "body is not JSON: "],
    ["single quotes", "{'single': 'quotes'}", "body is not JSON: "],
    ["a trailing comma", '{"message": "m",}', "body is not JSON: "],
    ["an unquoted key", '{message: "m"}', "body is not JSON: "],
    ["a form-encoded body", "message=test+event", "body is not JSON: "],
    // JSON, but not an object
    ["a top-level array", '[{"message": "m"}]', "(root): must be object"],
    ["a top-level null", "null", "(root): must be object"],
    ["a top-level number", "42", "(root): must be object"],
    ["a top-level string", '"test event from API"', "(root): must be object"],
    ["a top-level boolean", "true", "(root): must be object"],
];

/** The body parsed, or undefined when it is not JSON. */
function parsed(body: string): { json: unknown } | undefined {
    try {
        return { json: JSON.parse(body) };
    } catch {
        return undefined;
    }
}

describe("api-consumer message schema", () => {
    // Compiled on first use, so that a schema ajv refuses fails the tests rather than loading this file.
    let compiled: ValidateFunction | undefined;
    const validate = (json: unknown): boolean => {
        compiled ??= new Ajv({ strict: true, allErrors: true }).compile(API_MESSAGE_SCHEMA);
        return compiled(json);
    };
    const errorsOf = () => JSON.stringify(compiled?.errors);

    describe("the schema", () => {
        it("is JSON schema draft 4, valid against the draft-04 meta-schema", () => {
            expect(API_MESSAGE_SCHEMA.$schema).to.equal(DRAFT_04);
            const meta = new Ajv();
            expect(meta.validateSchema(API_MESSAGE_SCHEMA), JSON.stringify(meta.errors)).to.equal(true);
        });

        it("is accepted by ApiToQueue as its requestSchema", () => {
            const args = { queue: undefined, alertTopicArn: "arn:aws:sns:us-east-1:123456789012:alerts", requestSchema: API_MESSAGE_SCHEMA };
            expect(() => checkApiArgs("api", args as unknown as ApiToQueueArgs)).not.to.throw();
        });

        it("is plain JSON: what API Gateway receives is exactly the object the consumer compiles", () => {
            expect(JSON.parse(JSON.stringify(API_MESSAGE_SCHEMA))).to.deep.equal(API_MESSAGE_SCHEMA);
        });

        it("uses only draft-4 keywords API Gateway implements (no format, no $ref) and anchors its name patterns", () => {
            const used: string[] = [];
            const walk = (schema: Record<string, unknown>, path: string) => {
                for (const [key, value] of Object.entries(schema)) {
                    used.push(`${path}${key}`);
                    expect(ALLOWED_KEYWORDS.has(key), `${path}${key}`).to.equal(true);
                    if (key === "properties" || key === "patternProperties") {
                        for (const [name, sub] of Object.entries(value as Record<string, Record<string, unknown>>)) walk(sub, `${path}${key}.${name}.`);
                    } else if (key === "additionalProperties" && typeof value === "object") {
                        walk(value as Record<string, unknown>, `${path}${key}.`);
                    }
                }
            };
            walk(API_MESSAGE_SCHEMA, "");
            expect(used).to.include.members(["additionalProperties", "properties.attributes.additionalProperties", "properties.attributes.maxProperties"]);
            expect(API_MESSAGE_SCHEMA.properties.type.pattern).to.match(/^\^.*\$$/);
            expect(API_MESSAGE_SCHEMA.properties.correlationId.pattern).to.match(/^\^.*\$$/);
            for (const pattern of Object.keys(API_MESSAGE_SCHEMA.properties.attributes.patternProperties)) expect(pattern).to.match(/^\^.*\$$/);
        });

        it("requires message and nothing else, and bounds every string and map", () => {
            expect(API_MESSAGE_SCHEMA.required).to.deep.equal(["message"]);
            const p = API_MESSAGE_SCHEMA.properties;
            expect([p.message.maxLength, p.type.maxLength, p.correlationId.maxLength, p.attributes.maxProperties]).to.deep.equal([
                L.messageMaxLength,
                L.typeMaxLength,
                L.correlationIdMaxLength,
                L.attributesMaxProperties,
            ]);
            expect(Object.values(p.attributes.patternProperties).map((s) => s.maxLength)).to.deep.equal([L.attributeValueMaxLength]);
        });

        it("keeps the largest valid content, every character an escaped astral one, well within SQS's 256 KiB", () => {
            // 🎉 as JSON escapes, 12 bytes for one character: the most bytes a client can spend per character counted.
            const party = "\\ud83c\\udf89";
            const body = JSON.stringify(maximal())
                .replace(/"message":"x+"/, `"message":"${party.repeat(L.messageMaxLength)}"`)
                .replace(/"v{256}"/g, `"${party.repeat(L.attributeValueMaxLength)}"`);
            expect(body.split(party).length - 1).to.equal(L.messageMaxLength + L.attributesMaxProperties * L.attributeValueMaxLength);
            expect(validateMessage(body).ok).to.equal(true);
            expect(Buffer.byteLength(body)).to.be.lessThan(SQS_CLASSIC_MAX_BYTES / 2);
        });
    });

    describe("valid bodies", () => {
        for (const [name, body] of VALID) {
            it(`accepts ${name}`, () => {
                expect(validate(JSON.parse(body)), errorsOf()).to.equal(true);
                const checked = validateMessage(body);
                expect(checked, JSON.stringify(checked).slice(0, 300)).to.deep.equal({ ok: true, message: JSON.parse(body) });
            });
        }

        it("counts characters, not UTF-16 units: 4096 emoji are a message at its maximum", () => {
            const body = JSON.stringify({ message: "🎉".repeat(L.messageMaxLength) });
            expect(validateMessage(body).ok).to.equal(true);
            expect(validateMessage(JSON.stringify({ message: "🎉".repeat(L.messageMaxLength + 1) })).ok).to.equal(false);
        });
    });

    describe("invalid bodies", () => {
        it(`has at least 20 of them (${INVALID.length})`, () => {
            expect(INVALID.length).to.be.at.least(20);
        });

        for (const [name, body, expected] of INVALID) {
            it(`rejects ${name}, naming ${JSON.stringify(expected)}`, () => {
                const json = parsed(body);
                if (json) expect(validate(json.json), "the schema itself rejects it").to.equal(false);
                const checked = validateMessage(body);
                expect(checked.ok).to.equal(false);
                if (checked.ok) return;
                expect(checked.reason).to.contain(expected);
                expect(checked.reason).to.match(json ? /^body does not match the message schema: / : /^body is not JSON: \S/);
                expect(checked.reason).not.to.match(/[\r\n]/);
                expect(Array.from(checked.reason).length).to.be.at.most(MAX_REASON_LENGTH);
            });
        }

        it("lists every error of a body, up to five, then counts the rest", () => {
            const checked = validateMessage(JSON.stringify({ type: 1, correlationId: "", attributes: [], a: 1, b: 2, c: 3 }));
            expect(checked).to.deep.equal({
                ok: false,
                reason:
                    "body does not match the message schema: /message: is required; /a: is not an allowed property; /b: is not an allowed property; " +
                    "/c: is not an allowed property; /type: must be string (+3 more)",
            });
        });

        it("keeps the reason on one bounded line whatever the body's property names hold", () => {
            const hostile = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}\n\u2028${x(300, "z")}\u0000`, i]));
            const checked = validateMessage(JSON.stringify({ message: "m", ...hostile }));
            expect(checked.ok).to.equal(false);
            if (checked.ok) return;
            expect(checked.reason).not.to.match(/[\u0000-\u001f\u2028\u2029]/);
            expect(Array.from(checked.reason)).to.have.length(MAX_REASON_LENGTH);
            expect(checked.reason.endsWith("…")).to.equal(true);
        });

        it("escapes / and ~ in the path of a property name (JSON Pointer)", () => {
            const checked = validateMessage('{"message": "m", "a/b~c": 1}');
            expect(checked).to.deep.equal({ ok: false, reason: "body does not match the message schema: /a~1b~0c: is not an allowed property" });
        });
    });

    describe("oneLine", () => {
        it("replaces control characters, line separators and lone surrogates, and cuts on a character boundary", () => {
            expect(oneLine("a\nb\r\u0000c\u2028d\ud800e")).to.equal("a?b??c?d?e");
            expect(oneLine("🎉🎉🎉", 2)).to.equal("🎉…");
            expect(oneLine("abc", 3)).to.equal("abc");
        });
    });
});
