import { expect } from "chai";
import {
    FilterPolicy,
    FilterPolicyScope,
    anyCaseSuffixes,
    caseVariants,
    checkFilterPolicy,
    filterPolicyCombinations,
    matchesFilterPolicy,
} from "../../../components/messaging/filter-policies";

// Expectations follow Amazon SNS's documented filter-policy semantics (SNS Developer Guide:
// "Amazon SNS subscription filter policies", "AND/OR logic", "Key matching", "String value
// matching", "Numeric value matching", "Filter policy constraints in Amazon SNS"), most of them the
// guide's own examples, not the matcher's code.

describe("filter policies", () => {
    it("spells a suffix in every letter case", () => {
        expect(caseVariants(".gif").sort()).to.deep.equal([".GIF", ".GIf", ".GiF", ".Gif", ".gIF", ".gIf", ".giF", ".gif"]);
        expect(caseVariants("a1-")).to.deep.equal(["a1-", "A1-"]);
    });

    it("matches image suffixes in any case within the SNS 150-value limit", () => {
        const conditions = anyCaseSuffixes([".jpg", ".jpeg", ".png", ".gif", ".webp"]);
        expect(conditions).to.have.length(8 + 16 + 8 + 8 + 16);
        expect(conditions).to.deep.include({ suffix: ".JPEG" });
        expect(conditions).to.deep.include({ suffix: ".WebP" });
        expect(conditions).to.not.deep.include({ suffix: ".txt" });
    });

    it("refuses suffixes that would exceed the SNS limit", () => {
        expect(() => anyCaseSuffixes([".parquet", ".jsonl"])).to.throw(/160 spellings exceed the 150 values/);
    });

    describe("matchesFilterPolicy, MessageBody scope, by documented operator", () => {
        // The guide's sample body, plus a nested object, an array of objects and an IP address.
        const body = {
            customer_interests: ["soccer", "rugby", "hockey"],
            store: "example_corp",
            event: "order_placed",
            price_usd: 210.75,
            encrypted: false,
            coupon: null,
            source_ip: "10.0.0.17",
            detail: { object: { key: "photos/Cat.JPG" }, items: [{ sku: "a-1", qty: 2 }, { sku: "b-2", qty: 5 }] },
        };
        const cases: [string, FilterPolicy, boolean][] = [
            ["exact string", { store: ["example_corp"] }, true],
            ["exact string, not matching", { store: ["other_corp"] }, false],
            ["exact match is case-sensitive", { store: ["Example_Corp"] }, false],
            ["values in one array are ORed", { event: ["order_cancelled", "order_placed"] }, true],
            ["properties are ANDed", { store: ["example_corp"], event: ["order_cancelled"] }, false],
            ["properties are ANDed, all matching", { store: ["example_corp"], event: ["order_placed"] }, true],
            ["an array in the body matches if one element does", { customer_interests: ["rugby"] }, true],
            ["an array in the body, no element matching", { customer_interests: ["baseball"] }, false],
            ["exact number", { price_usd: [210.75] }, true],
            ["exact number, not matching", { price_usd: [210] }, false],
            ["exact false", { encrypted: [false] }, true],
            ["exact null", { coupon: [null] }, true],
            ["exact null does not match a missing property", { missing: [null] }, false],
            ["prefix", { event: [{ prefix: "order_" }] }, true],
            ["prefix, not matching", { event: [{ prefix: "shipment_" }] }, false],
            ["prefix is case-sensitive", { event: [{ prefix: "Order_" }] }, false],
            ["suffix", { event: [{ suffix: "_placed" }] }, true],
            ["suffix, not matching", { event: [{ suffix: "_cancelled" }] }, false],
            ["suffix is case-sensitive (SNS has no case-insensitive suffix)", { detail: { object: { key: [{ suffix: ".jpg" }] } } }, false],
            ["equals-ignore-case", { store: [{ "equals-ignore-case": "EXAMPLE_CORP" }] }, true],
            ["equals-ignore-case, not matching", { store: [{ "equals-ignore-case": "EXAMPLE" }] }, false],
            ["anything-but a value", { store: [{ "anything-but": "example_corp" }] }, false],
            ["anything-but another value", { store: [{ "anything-but": "other_corp" }] }, true],
            ["anything-but a list", { event: [{ "anything-but": ["order_cancelled", "order_refunded"] }] }, true],
            ["anything-but a list holding the value", { event: [{ "anything-but": ["order_placed", "order_refunded"] }] }, false],
            ["anything-but numbers", { price_usd: [{ "anything-but": [100, 500] }] }, true],
            ["anything-but numbers holding the value", { price_usd: [{ "anything-but": [210.75] }] }, false],
            ["anything-but a prefix", { event: [{ "anything-but": { prefix: "order-" } }] }, true],
            ["anything-but a prefix the value has", { event: [{ "anything-but": { prefix: "order_" } }] }, false],
            ["anything-but on an array: no element may be listed", { customer_interests: [{ "anything-but": ["rugby", "tennis"] }] }, false],
            ["anything-but on an array with no element listed", { customer_interests: [{ "anything-but": ["tennis", "golf"] }] }, true],
            ["anything-but needs the property", { missing: [{ "anything-but": "x" }] }, false],
            ["anything-but combined with exists false accepts a missing property", { missing: [{ "anything-but": "x" }, { exists: false }] }, true],
            ["numeric =", { price_usd: [{ numeric: ["=", 210.75] }] }, true],
            ["numeric = compares at five decimals", { price_usd: [{ numeric: ["=", 210.750001] }] }, true],
            ["numeric =, not matching", { price_usd: [{ numeric: ["=", 301.5] }] }, false],
            ["numeric <", { price_usd: [{ numeric: ["<", 0] }] }, false],
            ["numeric < excludes its bound", { price_usd: [{ numeric: ["<", 210.75] }] }, false],
            ["numeric <= includes its bound", { price_usd: [{ numeric: ["<=", 210.75] }] }, true],
            ["numeric > excludes its bound", { price_usd: [{ numeric: [">", 210.75] }] }, false],
            ["numeric >= includes its bound", { price_usd: [{ numeric: [">=", 210.75] }] }, true],
            ["numeric range", { price_usd: [{ numeric: [">", 0, "<=", 300] }] }, true],
            ["numeric range, outside", { price_usd: [{ numeric: [">", 0, "<=", 150] }] }, false],
            ["numeric does not match a string", { store: [{ numeric: [">", 0] }] }, false],
            ["exists true", { store: [{ exists: true }] }, true],
            ["exists true on a missing property", { missing: [{ exists: true }] }, false],
            ["exists false on a missing property", { missing: [{ exists: false }] }, true],
            ["exists false on a present property", { store: [{ exists: false }] }, false],
            ["exists false under a missing parent", { nothing: { here: [{ exists: false }] } }, true],
            ["cidr", { source_ip: [{ cidr: "10.0.0.0/24" }] }, true],
            ["cidr, outside the network", { source_ip: [{ cidr: "10.1.1.0/24" }] }, false],
            ["cidr does not match a non-address", { store: [{ cidr: "10.0.0.0/8" }] }, false],
            ["nested keys address nested properties", { detail: { object: { key: [{ prefix: "photos/" }] } } }, true],
            ["nested keys, not matching", { detail: { object: { key: [{ prefix: "thumbnails/" }] } } }, false],
            ["a nested key the body lacks", { detail: { bucket: { name: [{ prefix: "x" }] } } }, false],
            ["an array of objects matches if one object does", { detail: { items: { sku: ["b-2"], qty: [5] } } }, true],
            ["an array of objects: one object must match the whole nested policy (our reading; the guide is silent)", { detail: { items: { sku: ["b-2"], qty: [2] } } }, false],
            ["$or: one alternative matching", { store: ["example_corp"], $or: [{ event: ["order_cancelled"] }, { price_usd: [{ numeric: [">", 200] }] }] }, true],
            ["$or: no alternative matching", { store: ["example_corp"], $or: [{ event: ["order_cancelled"] }, { price_usd: [{ numeric: ["<", 200] }] }] }, false],
            ["$or is ANDed with its siblings", { store: ["other_corp"], $or: [{ event: ["order_placed"] }, { price_usd: [210.75] }] }, false],
            ["$or nested in a property", { detail: { $or: [{ object: { key: [{ suffix: ".JPG" }] } }, { missing: ["x"] }] } }, true],
        ];
        for (const [what, policy, expected] of cases) {
            it(`${what}: ${expected}`, () => {
                expect(matchesFilterPolicy(policy, JSON.stringify(body), "MessageBody")).to.equal(expected);
            });
        }

        it("delivers everything without a policy", () => {
            expect(matchesFilterPolicy(undefined, "not even JSON", "MessageBody")).to.equal(true);
            expect(matchesFilterPolicy({}, JSON.stringify(body), "MessageBody")).to.equal(true);
        });

        it("matches nothing when the body is not a JSON object", () => {
            for (const text of ["plain text", "[1, 2]", '"store"', "{broken"]) {
                expect(matchesFilterPolicy({ store: [{ exists: false }] }, text, "MessageBody"), text).to.equal(false);
            }
        });

        it("reads the policy as the JSON text a subscription holds", () => {
            expect(matchesFilterPolicy(JSON.stringify({ store: ["example_corp"] }), body, "MessageBody")).to.equal(true);
        });
    });

    describe("matchesFilterPolicy, MessageAttributes scope", () => {
        const attributes = {
            customer_interests: { DataType: "String.Array", StringValue: '["soccer", "rugby", "hockey"]' },
            store: { DataType: "String", StringValue: "example_corp" },
            price_usd: { Type: "Number", Value: "210.75" },
            blob: { DataType: "Binary", StringValue: "c3RvcmU=" },
        };
        const cases: [string, FilterPolicy, boolean][] = [
            ["a String attribute", { store: ["example_corp"] }, true],
            ["a String attribute, not matching", { store: ["other"] }, false],
            ["each String.Array element on its own", { customer_interests: ["rugby"] }, true],
            ["a String.Array with no element matching", { customer_interests: ["baseball"] }, false],
            ["a Number attribute compared as a number", { price_usd: [{ numeric: [">=", 210.75] }] }, true],
            ["a Number attribute out of range", { price_usd: [{ numeric: ["<", 100] }] }, false],
            ["Binary attributes are ignored", { blob: [{ exists: true }] }, false],
            ["the message body is not looked at", { event: [{ exists: true }] }, false],
        ];
        for (const [what, policy, expected] of cases) {
            it(`${what}: ${expected}`, () => {
                expect(matchesFilterPolicy(policy, attributes)).to.equal(expected);
            });
        }
    });

    describe("refusals, one line naming what SNS does not accept", () => {
        const refusals: [string, FilterPolicy, RegExp][] = [
            ["an unknown operator", { a: [{ contains: "x" }] }, /^filter policy operator "contains" is not supported by Amazon SNS$/],
            ["EventBridge's wildcard", { a: [{ wildcard: "*.jpg" }] }, /operator "wildcard" is not supported by Amazon SNS/],
            ["a case-insensitive suffix (EventBridge only)", { a: [{ suffix: { "equals-ignore-case": ".jpg" } }] }, /suffix .*expected a string \(Amazon SNS has no case-insensitive suffix\)/],
            ["anything-but wrapping suffix", { a: [{ "anything-but": { suffix: ".tmp" } }] }, /operator "anything-but" with "suffix" is not supported by Amazon SNS/],
            ["exists with a non-boolean", { a: [{ exists: "yes" }] }, /exists "yes": expected true or false/],
            ["a malformed numeric range", { a: [{ numeric: ["<", 5, ">", 1] }] }, /numeric .*expected \[op, number\]/],
            ["a numeric range upside down", { a: [{ numeric: [">", 5, "<", 1] }] }, /lower bound must be below the upper bound/],
            ["a number beyond 10^9", { a: [{ numeric: [">", 2e9] }] }, /outside the documented range/],
            ["a malformed cidr", { a: [{ cidr: "10.0.0.0" }] }, /cidr "10.0.0.0": expected an IPv4 or IPv6 network/],
            ["two operators in one condition", { a: [{ prefix: "a", suffix: "b" }] }, /must have exactly one operator/],
            ["a bare string instead of an array", { a: "x" } as FilterPolicy, /field "a" must be an array or an object/],
        ];
        for (const [what, policy, message] of refusals) {
            it(`refuses ${what}, whatever the message`, () => {
                expect(() => matchesFilterPolicy(policy, { a: "x" }, "MessageBody")).to.throw(message);
                expect(() => matchesFilterPolicy(policy, "not JSON", "MessageBody")).to.throw(message);
            });
        }

        it("takes $or with fewer than two alternatives, or with keyword fields, as an ordinary property", () => {
            // "$or" is then a property name whose array holds conditions, and these are refused.
            expect(() => matchesFilterPolicy({ $or: [{ a: ["x"] }] }, { a: "x" }, "MessageBody")).to.throw(/operator "a" is not supported by Amazon SNS/);
            expect(() => matchesFilterPolicy({ $or: [{ numeric: 123 }, { prefix: "abc" }] }, { a: "x" }, "MessageBody")).to.throw(/numeric 123: expected/);
        });
    });

    describe("checkFilterPolicy and the documented constraints", () => {
        it("computes the guide's combination examples", () => {
            const flat = { key_a: ["value_one", "value_two", "value_three"], key_b: ["value_one"], key_c: ["value_one", "value_two"] };
            expect(filterPolicyCombinations(flat)).to.equal(6); // 3 x 1 x 2
            const nested = {
                key_a: { key_b: { key_c: ["value_one", "value_two", "value_three", "value_four"] } },
                key_d: { key_e: ["value_one", "value_two", "value_three"] },
            };
            expect(filterPolicyCombinations(nested, "MessageBody")).to.equal(72); // 3 x 4 x 2 x 3
            expect(filterPolicyCombinations({ ...nested, key_f: ["a", "b", "c"] }, "MessageBody")).to.equal(216);
            expect(filterPolicyCombinations({ s: ["x"], $or: [{ a: ["1", "2"] }, { b: ["3"] }] }, "MessageBody")).to.equal(3);
        });

        it("accepts a policy within every constraint", () => {
            expect(() => checkFilterPolicy({ detail: { object: { key: [{ suffix: ".jpg" }, { suffix: ".png" }] } } }, "MessageBody")).to.not.throw();
        });

        const violations: [string, FilterPolicy, FilterPolicyScope, RegExp][] = [
            ["more than 150 combinations", { a: { b: { c: anyCaseSuffixes([".jpg", ".jpeg", ".png", ".gif", ".webp"]) } } }, "MessageBody", /168 value combinations exceed the 150/],
            ["more than five keys", { a: ["1"], b: ["1"], c: ["1"], d: ["1"], e: ["1"], f: ["1"] }, "MessageBody", /6 keys \(a, b, c, d, e, f\) exceed the 5/],
            ["nesting with MessageAttributes", { a: { b: ["1"] } }, "MessageAttributes", /"a\.b" is nested; attribute-based filtering accepts no nested policy/],
            ["an empty array", { a: { b: [] } }, "MessageBody", /"a\.b" is an empty array/],
            ["an unknown operator", { a: [{ wildcard: "*" }] }, "MessageBody", /operator "wildcard" is not supported by Amazon SNS/],
        ];
        for (const [what, policy, scope, message] of violations) {
            it(`refuses ${what}`, () => {
                expect(() => checkFilterPolicy(policy, scope)).to.throw(message);
            });
        }
    });
});
