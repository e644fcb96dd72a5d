import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../local/engine";
import { buildFlowGraph, toMermaid } from "../local/flow-graph";
import { END, START, replaceDiagram } from "../local/readme-diagram";
import { stackPlan } from "./support/stack-plans";

const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");

describe("README", () => {
    it("shows the diagram generated from the dev plan (run `npm run diagram` after changing the program)", async () => {
        const current = toMermaid(buildFlowGraph(await stackPlan("dev")));
        expect(readme).to.contain(START).and.contain(END);
        expect(replaceDiagram(readme, current)).to.equal(readme);
    });

    it("gives the quickstart, and every npm script it names exists", () => {
        for (const cmd of ["npm ci", "npm start", "npm test"]) expect(readme).to.contain(cmd);
        const scripts = Object.keys(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).scripts);
        const named = [...readme.matchAll(/npm run ([a-z:-]+)/g)].map((m) => m[1]);
        expect(named).to.not.be.empty;
        for (const script of named) expect(scripts, `npm run ${script}`).to.include(script);
    });

    it("runs exactly the README's commands in CI", () => {
        const ci = fs.readFileSync(path.join(REPO_ROOT, ".ci/run"), "utf8");
        expect(ci).to.match(/^npm ci$/m).and.match(/^npm test$/m);
    });
});
