import { expect } from "chai";
import Ajv from "ajv-draft-04";
import * as fs from "fs";
import { VALIDATOR_FILE, validatorSource } from "../../../functions/api-consumer/generate-validator";
import { API_MESSAGE_SCHEMA } from "../../../functions/shared/contract";
import { INVALID, VALID } from "./message-schema.spec";

// The consumer runs a validator precompiled from the schema. It must be the schema's, as it is now.
describe("api-consumer: the precompiled message validator", () => {
    it("is what ajv generates from API_MESSAGE_SCHEMA today (else: npm run generate)", () => {
        expect(fs.readFileSync(VALIDATOR_FILE, "utf8") === validatorSource(), "message-validator.generated.js is stale: run `npm run generate`").to.equal(true);
    });

    it("agrees with ajv compiling the schema, body by body, errors included", () => {
        const precompiled = require(VALIDATOR_FILE);
        const compiled = new Ajv({ strict: true, allErrors: true }).compile(API_MESSAGE_SCHEMA);
        for (const [name, body] of [...VALID, ...INVALID.map(([n, b]) => [n, b] as [string, string])]) {
            let json: unknown;
            try {
                json = JSON.parse(body);
            } catch {
                continue; // not JSON: refused before any validator
            }
            expect(precompiled(json), name).to.equal(compiled(json));
            expect(precompiled.errors ?? null, name).to.deep.equal(compiled.errors ?? null);
        }
    });

    it("needs no ajv at run time but its small runtime helpers", () => {
        const requires = fs.readFileSync(VALIDATOR_FILE, "utf8").match(/require\("([^"]+)"\)/g) ?? [];
        expect(requires.every((r) => r.startsWith('require("ajv/dist/runtime/'))).to.equal(true);
    });
});
