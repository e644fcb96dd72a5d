import { expect } from "chai";
import type { Plan, PlannedResource } from "../../../local/plan";
import { FIDELITY, SETTINGS_NOT_RUN, fidelityOf, formatFidelity, type Fidelity } from "../../../local/runtime/fidelity";
import { STACKS, stackPlan } from "../../support/stack-plans";

const customCount = (plan: Plan) => plan.resources.filter((r) => r.custom).length;

/** The lines of formatFidelity that give a level (other lines, e.g. settings not run, may follow). */
const levelLines = (lines: string[]) => lines.filter((l) => /^  (emulated|simplified|not run) +\d/.test(l));

/** The resource count on a formatted line, e.g. "  not run     40 resources: ..." → 40. */
function lineCount(lines: string[], level: Fidelity): number {
    const line = lines.find((l) => l.trimStart().startsWith(`${level} `));
    if (!line) return 0;
    const count = new RegExp(`^  ${level} +(\\d+) resources: `).exec(line);
    if (!count) expect.fail(`malformed line: ${line}`);
    return Number(count[1]);
}

function lineOf(lines: string[], level: Fidelity): string {
    const line = lines.find((l) => l.trimStart().startsWith(`${level} `));
    if (!line) expect.fail(`no ${level} line in:\n${lines.join("\n")}`);
    return line;
}

describe("local runtime fidelity", () => {
    const plans = new Map<string, Plan>();

    before(async function () {
        this.timeout(60_000);
        for (const stack of STACKS) plans.set(stack, await stackPlan(stack));
    });

    for (const stack of STACKS) {
        describe(`the ${stack} plan`, () => {
            it("holds only resource types the table knows (fidelityOf does not throw), each counted once", () => {
                const plan = plans.get(stack)!;
                const rows = fidelityOf(plan);
                const types = new Set(plan.resources.filter((r) => r.custom).map((r) => r.type));
                expect(rows.map((r) => r.type)).to.have.members([...types]);
                for (const row of rows) expect(row.fidelity, row.type).to.equal(FIDELITY[row.type]);
                expect(rows.reduce((n, r) => n + r.count, 0)).to.equal(customCount(plan));
            });

            it("is formatted as emulated, simplified and not run, with counts adding up to its cloud resources", () => {
                const plan = plans.get(stack)!;
                const lines = formatFidelity(fidelityOf(plan));
                expect(lines[0]).to.equal("Local runtime fidelity:");
                expect(levelLines(lines).map((l) => l.trim().split(/ +\d/)[0])).to.deep.equal(["emulated", "simplified", "not run"]);
                const counts = (["emulated", "simplified", "not run"] as Fidelity[]).map((level) => lineCount(lines, level));
                counts.forEach((n) => expect(n).to.be.above(0));
                expect(counts.reduce((a, b) => a + b, 0)).to.equal(customCount(plan));
            });

            it("lists alarms as not run and KMS keys as simplified, with why", () => {
                const lines = formatFidelity(fidelityOf(plans.get(stack)!));
                expect(lineOf(lines, "not run")).to.include("cloudwatch/metricAlarm (no metrics)");
                expect(lineOf(lines, "simplified")).to.include("kms/key (no encryption at rest; its policy decides deliveries to encrypted topics, queues and streams)");
                expect(lineOf(lines, "emulated")).to.not.match(/kms\/key |metricAlarm/);
                expect(lines[lines.length - 1]).to.match(/^  also not run: X-Ray tracing/);
            });
        });
    }

    it("counts each type's resources and orders rows emulated, simplified, not run, then by type", () => {
        const rows = fidelityOf(plans.get("dev")!);
        const order: Fidelity[] = ["emulated", "simplified", "not run"];
        const keys = rows.map((r) => `${order.indexOf(r.fidelity.fidelity)} ${r.type}`);
        expect(keys).to.deep.equal([...keys].sort((a, b) => a.localeCompare(b)));
        expect(rows.find((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm")?.count).to.equal(
            plans.get("dev")!.resources.filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm").length,
        );
    });

    it("leaves out components: only custom resources are counted", () => {
        const dev = plans.get("dev")!;
        expect(dev.resources.some((r) => !r.custom)).to.equal(true);
        expect(fidelityOf(dev).map((r) => r.type)).to.not.include.members(dev.resources.filter((r) => !r.custom).map((r) => r.type));
    });

    it("refuses a plan with a type it does not know, in one line naming it", () => {
        const dev = plans.get("dev")!;
        const stray: PlannedResource = { urn: "urn:pulumi:dev::event-pipelines::aws:dms/replicationTask:ReplicationTask::flow", type: "aws:dms/replicationTask:ReplicationTask", name: "flow", custom: true, dependencies: [], inputs: {}, outputs: {}, protect: false };
        let message = "";
        try {
            fidelityOf({ ...dev, resources: [...dev.resources, stray] });
        } catch (err) {
            message = (err as Error).message;
        }
        expect(message).to.include("aws:dms/replicationTask:ReplicationTask");
        expect(message).to.include("local/runtime/fidelity.ts");
        expect(message).to.not.include("\n");
    });

    it("writes each type's note, whatever its level, and the settings no level covers last", () => {
        const lines = formatFidelity([
            { type: "aws:s3/bucket:Bucket", count: 2, fidelity: { fidelity: "emulated", by: "s3rver", note: "a note" } },
            { type: "aws:kms/alias:Alias", count: 1, fidelity: { fidelity: "not run", by: "-" } },
        ]);
        expect(lines[0]).to.equal("Local runtime fidelity:");
        expect(levelLines(lines)).to.deep.equal(["  emulated     2 resources: s3/bucket (a note)", "  not run      1 resources: kms/alias"]);
        expect(lines[lines.length - 1]).to.equal(`  also not run: ${SETTINGS_NOT_RUN.join(", ")}`);
    });
});
