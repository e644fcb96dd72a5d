import { expect } from "chai";
import * as path from "path";
import { Application, type DeclarationReflection, ReflectionKind } from "typedoc";
import { REPO_ROOT } from "../../local/engine";

// `npm run docs` builds the API reference with TypeDoc from typedoc.json. Here the same conversion
// (no HTML), to hold the rule importers rely on: every field of every exported *Args interface says
// what it is and what it defaults to (or that it is required).
describe("the API reference (npm run docs, TypeDoc)", function () {
    this.timeout(120_000);
    let args: DeclarationReflection[];

    before(async () => {
        const app = await Application.bootstrapWithPlugins({ options: path.join(REPO_ROOT, "typedoc.json"), logLevel: "Error" });
        const project = await app.convert();
        if (!project) throw new Error("TypeDoc could not convert the package");
        args = project.getReflectionsByKind(ReflectionKind.Interface).filter((r) => r.name.endsWith("Args")) as DeclarationReflection[];
    });

    it("covers the args of every component", () => {
        expect(args.map((a) => a.name)).to.include.members([
            "QueueWithDlqArgs",
            "FanOutTopicArgs",
            "LambdaFunctionArgs",
            "StreamToTableArgs",
            "UploadFanOutArgs",
            "MessagesApiArgs",
            "ApiToQueueArgs",
            "SecureBucketArgs",
            "ObjectCreatedRuleArgs",
            "AlertTopicArgs",
        ]);
    });

    it("documents each field with its default, or says it is required", () => {
        const undocumented: string[] = [];
        for (const iface of args) {
            for (const field of iface.children ?? []) {
                const text = (field.comment?.summary ?? []).map((p) => p.text).join("");
                const optional = field.flags.isOptional;
                if (!text.trim()) undocumented.push(`${iface.name}.${field.name}: no comment`);
                else if (optional && !/\bdefaults?\b/i.test(text)) undocumented.push(`${iface.name}.${field.name}: no default named`);
                else if (!optional && !/\brequired\b|\bdefaults?\b/i.test(text)) undocumented.push(`${iface.name}.${field.name}: required, but not said so`);
            }
        }
        expect(undocumented).to.deep.equal([]);
    });
});
