import { expect } from "chai";
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { promisify } from "util";
import { REPO_ROOT } from "../local/engine";
import { ALERT_TOPIC_ARN, ofType, record } from "./support/pulumi-harness";

const run = promisify(execFile);

// What another team gets from `npm install event-pipelines`: the built library, imported by name.
describe("the package, as another program imports it", () => {
    before(async function () {
        this.timeout(120_000);
        await run(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: REPO_ROOT });
    });

    it("exposes the components and their typings through package.json exports", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
        expect(fs.existsSync(path.join(REPO_ROOT, pkg.exports["."].default))).to.equal(true);
        const types = fs.readFileSync(path.join(REPO_ROOT, pkg.exports["."].types), "utf8");
        expect(types).to.contain(`export * from "./messaging/queue-with-dlq"`);
        expect(fs.readFileSync(path.join(REPO_ROOT, "dist/components/messaging/queue-with-dlq.d.ts"), "utf8")).to.contain("export interface QueueWithDlqArgs");
        expect(pkg.files).to.include.members(["dist", "functions"]);
    });

    it('builds a queue with `import { QueueWithDlq } from "event-pipelines"`, handlers found from dist', async () => {
        // The package resolves itself by name through its exports, as a dependant would.
        const lib = require("event-pipelines");
        expect(lib.QueueWithDlq).to.be.a("function");
        const plan = await record(() => {
            new lib.QueueWithDlq("orders", {
                alertTopicArn: ALERT_TOPIC_ARN,
                consumer: { function: { entry: lib.functionEntry("audit-logger") } },
            });
        });
        expect(ofType(plan, "aws:sqs/queue:Queue").map((q) => q.name).sort()).to.deep.equal(["orders-dlq", "orders-queue"]);
        expect(ofType(plan, "aws:lambda/function:Function")[0].inputs.codeSha256).to.be.a("string");
    });
});
