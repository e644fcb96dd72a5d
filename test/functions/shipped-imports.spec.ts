import { expect } from "chai";
import * as esbuild from "esbuild";
import * as fs from "fs";
import { builtinModules } from "module";
import * as path from "path";
import { LAMBDA_DEFAULTS } from "../../components/shared/defaults";
import { REPO_ROOT } from "../../local/engine";

// A team that installs the package bundles our handlers from its node_modules: everything a
// handler's own sources import must be in the tarball (functions/) or installed with it (a
// `dependency`), never a devDependency or a file of components/. esbuild's metafile lists exactly
// what the bundler resolved, the same way LambdaFunction bundles.
const HANDLERS = fs.readdirSync(path.join(REPO_ROOT, "functions")).filter((d) => fs.existsSync(path.join(REPO_ROOT, "functions", d, "index.ts")));
const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
const runtimeProvided = (name: string) => LAMBDA_DEFAULTS.runtimeProvided.some((p) => new RegExp(`^${p.replace("*", ".*")}$`).test(name));
const packageOf = (specifier: string) => (specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]);

describe("what the shipped handlers import", () => {
    it("covers every handler folder", () => {
        expect(HANDLERS).to.include.members(["api-consumer", "audit-logger", "image-processor", "stream-to-table"]);
    });

    for (const handler of HANDLERS) {
        it(`${handler}: only files under functions/ and packages listed in dependencies`, async () => {
            const result = await esbuild.build({
                entryPoints: [path.join(REPO_ROOT, "functions", handler, "index.ts")],
                bundle: true,
                platform: "node",
                format: "cjs",
                target: LAMBDA_DEFAULTS.bundleTarget,
                write: false,
                metafile: true,
                logLevel: "silent",
                absWorkingDir: REPO_ROOT,
                external: [...LAMBDA_DEFAULTS.runtimeProvided, "sharp"],
                outfile: path.join(REPO_ROOT, ".build", "shipped-imports", "index.js"),
            });
            const outside: string[] = [];
            const undeclared = new Set<string>();
            for (const [input, info] of Object.entries(result.metafile.inputs)) {
                if (input.includes("node_modules/")) continue;
                if (!input.startsWith("functions/")) outside.push(input);
                for (const imported of info.imports) {
                    const specifier = imported.original ?? imported.path;
                    if (specifier.startsWith(".") || specifier.startsWith("node:") || builtinModules.includes(specifier)) continue;
                    const name = packageOf(specifier);
                    if (!runtimeProvided(name) && !(name in (manifest.dependencies ?? {}))) undeclared.add(name);
                }
            }
            expect(outside, "sources outside functions/").to.deep.equal([]);
            expect([...undeclared], "packages imported by the handler but not in dependencies").to.deep.equal([]);
        });
    }
});
