import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as contract from "../../../functions/shared/contract";
import { REPO_ROOT } from "../../../local/engine";

// The contract is loaded by the Pulumi program and by every handler: it must stay plain values.
describe("functions/shared/contract", () => {
    it("imports nothing, so the program and every handler load it without the SDK, Powertools or ajv", () => {
        const source = fs.readFileSync(path.join(REPO_ROOT, "functions/shared/contract.ts"), "utf8");
        expect(source).not.to.match(/^\s*import\s|\brequire\(/m);
    });

    it("is exported from the package, next to the components that set these names", () => {
        const lib = require("../../../components");
        for (const [name, value] of Object.entries(contract)) expect(lib[name], name).to.equal(value);
        expect(Object.keys(contract)).to.include.members(["CONSUMER_ENV", "AUDIT_TABLE_KEY", "API_MESSAGE_SCHEMA", "IMAGE_KEY_SUFFIXES", "DEFAULT_DERIVED_PREFIX", "STREAM_TO_TABLE_ENV", "EVENT_TABLE"]);
    });

    describe("eventKey", () => {
        it("is the source and the producer's id, `<source>#<id>`, the empty source when there is none", () => {
            expect(contract.eventKey("orders", "42")).to.equal("orders#42");
            expect(contract.eventKey(undefined, "42")).to.equal("#42");
            expect(contract.eventKey("", "42")).to.equal("#42");
        });

        it("escapes the source so the first # always ends it, whatever the source and id hold", () => {
            expect(contract.eventKey("a#b", "c")).to.equal("a%23b#c");
            expect(contract.eventKey("a", "b#c")).to.equal("a#b#c");
            expect(contract.eventKey("100%", "x")).to.equal("100%25#x");
            expect(contract.eventKey("a#b#c", "x")).to.equal("a%23b%23c#x");
            // Distinct pairs, distinct keys: the cases a plain join would confuse.
            const pairs: [string, string][] = [["a#b", "c"], ["a", "b#c"], ["a%23b", "c"], ["", "a#b#c"], ["a%", "23b#c"]];
            expect(new Set(pairs.map(([s, id]) => contract.eventKey(s, id))).size).to.equal(pairs.length);
            // A shard:sequence key (records without an id) has no "#", so never equals one of these.
            expect(contract.eventKey("", "x")).to.contain("#");
        });
    });

    it("is what the handlers re-export, not a copy of it", () => {
        expect(require("../../../functions/audit-logger/record").AUDIT_TABLE_KEY).to.equal(contract.AUDIT_TABLE_KEY);
        expect(require("../../../functions/api-consumer/message-schema").API_MESSAGE_SCHEMA).to.equal(contract.API_MESSAGE_SCHEMA);
        expect(require("../../../functions/image-processor/settings").IMAGE_PROCESSOR_ENV).to.equal(contract.IMAGE_PROCESSOR_ENV);
        expect(require("../../../functions/image-processor/keys").IMAGE_KEY_SUFFIXES).to.equal(contract.IMAGE_KEY_SUFFIXES);
    });
});
