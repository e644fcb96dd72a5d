import { expect } from "chai";
import { ProjectFile, resolveConfig } from "../../local/stack-files";

const project: ProjectFile = {
    name: "proj",
    main: "index.ts",
    config: {
        count: { type: "integer", default: 5 },
        name: { type: "string" },
        flag: { type: "boolean", default: false },
        emails: { type: "array", items: { type: "string" }, default: [] },
        other: { type: "string" },
    },
};

const refusal = (values: Record<string, unknown>): string => {
    try {
        resolveConfig(project, "dev", values);
    } catch (e) {
        return (e as Error).message;
    }
    return "accepted";
};

describe("stack files (Pulumi engine semantics)", () => {
    it("applies project defaults and passes values as Pulumi does: scalars as text, lists as JSON", () => {
        const { values } = resolveConfig(project, "dev", { "proj:name": "a", "proj:other": "b", "aws:region": "eu-west-1", "proj:count": 7 });
        expect(values).to.deep.equal({
            "proj:name": "a",
            "proj:other": "b",
            "aws:region": "eu-west-1",
            "proj:count": "7",
            "proj:flag": "false",
            "proj:emails": "[]",
        });
    });

    it("names every missing required key, as the engine does", () => {
        expect(refusal({ "proj:name": "a" })).to.equal("Stack 'dev' is missing configuration value 'other'");
        expect(refusal({})).to.equal("Stack 'dev' is missing configuration values 'name' and 'other'");
    });

    it("refuses a value of the wrong type with the engine's message", () => {
        const base = { "proj:name": "a", "proj:other": "b" };
        expect(refusal({ ...base, "proj:count": "abc" })).to.equal("Stack 'dev' with configuration key 'count' must be of type 'integer'");
        expect(refusal({ ...base, "proj:flag": "yes" })).to.equal("Stack 'dev' with configuration key 'flag' must be of type 'boolean'");
        expect(refusal({ ...base, "proj:emails": "a@b.c" })).to.equal("Stack 'dev' with configuration key 'emails' must be of type 'array<string>'");
        expect(refusal({ ...base, "proj:emails": [1] })).to.equal("Stack 'dev' with configuration key 'emails' must be of type 'array<string>'");
        expect(refusal({ ...base, "proj:count": "12" })).to.equal("accepted");
    });

    it("reports stack keys the project does not declare", () => {
        const { undeclared } = resolveConfig(project, "dev", { "proj:name": "a", "proj:other": "b", "proj:cuont": 3, "aws:region": "x" });
        expect(undeclared).to.deep.equal(["proj:cuont"]);
    });
});
