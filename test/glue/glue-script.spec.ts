import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The Glue script is Python: compile it and run its unittest suite (stub pyspark/awsglue modules;
// there is no Spark or PyPI here). Bytecode goes to a temporary prefix, never into the tree.

const REPO = join(__dirname, "..", "..");
/** The suite's size when written; fewer means tests were lost or not discovered. */
const MIN_TESTS = 9;

describe("glue/report_etl.py", () => {
    let cache: string;
    before(() => {
        cache = mkdtempSync(join(tmpdir(), "pycache-"));
    });
    after(() => rmSync(cache, { recursive: true, force: true }));

    const python = (args: string[]) =>
        spawnSync("python3", args, { cwd: REPO, encoding: "utf8", env: { ...process.env, PYTHONPYCACHEPREFIX: cache, PYTHONDONTWRITEBYTECODE: "1" }, timeout: 60_000 });

    it("compiles (python3 -m py_compile)", () => {
        const run = python(["-m", "py_compile", "glue/report_etl.py"]);
        expect(run.error, String(run.error)).to.equal(undefined);
        expect(run.status, run.stderr).to.equal(0);
    });

    it(`passes its unittest suite (at least ${MIN_TESTS} tests)`, () => {
        const run = python(["-W", "error::ResourceWarning", "-m", "unittest", "discover", "-s", "glue/tests", "-v"]);
        expect(run.status, run.stderr).to.equal(0);
        const ran = /^Ran (\d+) tests? in /m.exec(run.stderr);
        expect(ran, run.stderr).to.not.equal(null);
        expect(Number(ran![1])).to.be.at.least(MIN_TESTS);
        expect(run.stderr).to.match(/^OK$/m);
    });
});
