import { expect } from "chai";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { execFile } from "child_process";
import { promisify } from "util";
import { StatementCollector, sealGrants } from "../../../components/security/statement-collector";
import { REPO_ROOT, evaluate } from "../../../local/engine";
import { WAITS, grantAfterWaiting, grantedPolicies } from "../../fixtures/grant-timing";
import { record, generated } from "../../support/pulumi-harness";

const run = promisify(execFile);
const OWNER = 'QueueWithDlq "orders" queue';

describe("StatementCollector", () => {
    it("resolves everything added, in the order it was added, with Outputs resolved", async () => {
        const plan = await record(() => {
            const statements = new StatementCollector<{ Sid: string; Resource?: string }>(OWNER);
            const queue = new aws.sqs.Queue("orders-queue", {});
            statements.add({ Sid: "Plain" });
            // Resolves only once the mock provider has answered: later than the items after it.
            statements.add(queue.arn.apply((arn) => ({ Sid: "FromOutput", Resource: arn })));
            statements.add(pulumi.output({ Sid: "Output" }));
            statements.add(Promise.resolve({ Sid: "Promise" }));
            return { items: statements.items };
        });
        expect(plan.outputs.items).to.deep.equal([
            { Sid: "Plain" },
            { Sid: "FromOutput", Resource: `arn:aws:sqs:us-east-1:123456789012:${generated("aws:sqs/queue:Queue", "orders-queue")}` },
            { Sid: "Output" },
            { Sid: "Promise" },
        ]);
    });

    it("resolves to an empty list when nothing was added", async () => {
        const plan = await record(() => ({ items: new StatementCollector<string>(OWNER).items }));
        expect(plan.outputs.items).to.deep.equal([]);
    });

    it("seals on sealGrants(), once, and refuses an add afterwards in one line naming the resource and the reason", () => {
        const statements = new StatementCollector<string>(OWNER);
        statements.add("in time");
        expect(statements.sealed).to.equal(false);
        sealGrants("the spec sealed it");
        sealGrants("a second call changes nothing");
        expect(statements.sealed).to.equal(true);
        expect(() => statements.add("too late")).to.throw(
            'QueueWithDlq "orders" queue: grant refused, its policy was already built (the spec sealed it); grant while the program runs, not from an apply callback or a timer the program does not await',
        );
    });

    it("keeps the first reason it was sealed for", () => {
        const statements = new StatementCollector<string>(OWNER);
        statements.seal("the first reason");
        statements.seal("a second one");
        expect(() => statements.add("late")).to.throw(/\(the first reason\)/);
    });

    it("builds the policy when the program fails too, so no registration waits for good", async () => {
        let statements!: StatementCollector<string>;
        const failure = await evaluate({
            project: "event-pipelines",
            stack: "test",
            config: { "aws:region": "us-east-1" },
            sealGrantsOnReturn: false,
            program: async () => {
                statements = new StatementCollector<string>(OWNER);
                await Promise.resolve();
                throw new Error("the program failed");
            },
        }).then(
            () => undefined,
            (err: Error) => err,
        );
        expect(failure?.message).to.equal("the program failed");
        expect(statements.sealed).to.equal(true);
    });

    describe("the deployed policies do not depend on how the program awaits before granting", () => {
        // new QueueWithDlq(...), then a wait, then new FanOutTopic(...) subscribing it: SNS gets send
        // rights on the queue and its DLQ, and use of the queue's key, whatever the wait was.
        const evaluateWith = (wait: string, sealGrantsOnReturn = true) =>
            evaluate({ project: "event-pipelines", stack: "test", config: { "aws:region": "us-east-1" }, program: grantAfterWaiting(wait), sealGrantsOnReturn });

        let baseline: Record<string, unknown>;
        before(async () => {
            baseline = grantedPolicies(await evaluateWith("none"));
        });

        it("grants SNS on the queue, the DLQ and the key in the baseline (a synchronous program)", () => {
            const sns = (doc: unknown) =>
                (doc as { Statement: { Principal?: { Service?: string } }[] }).Statement.filter((s) => s.Principal?.Service === "sns.amazonaws.com");
            expect(sns(baseline.queue)).to.have.length(1);
            expect(sns(baseline.dlq)).to.have.length(1);
            expect(sns(baseline.key)).to.have.length(1);
        });

        for (const wait of Object.keys(WAITS).filter((w) => w !== "none")) {
            it(`after awaiting ${wait}`, async () => {
                expect(grantedPolicies(await evaluateWith(wait))).to.deep.equal(baseline);
            });
        }

        it("also when nothing seals on return, as under the Pulumi CLI: the stack outputs settling seal them", async () => {
            for (const wait of Object.keys(WAITS)) expect(grantedPolicies(await evaluateWith(wait, false)), wait).to.deep.equal(baseline);
        });

        it("in a process of its own, as the Pulumi CLI runs a program, even when the exports wait on those policies", async function () {
            // Mocha's own timers keep this process's event loop busy; a child's empties as the CLI's does.
            this.timeout(120_000);
            const child = (mode: string) =>
                run(process.execPath, ["-r", "ts-node/register/transpile-only", "test/support/grant-timing-child.ts", mode], { cwd: REPO_ROOT, timeout: 100_000 });
            const [plain, waiting] = await Promise.all([child("plain"), child("export-waits-on-policy")]);
            for (const [mode, out] of [["plain", plain.stdout], ["export-waits-on-policy", waiting.stdout]] as const) {
                const byWait = JSON.parse(out) as Record<string, unknown>;
                expect(Object.keys(byWait), mode).to.deep.equal(Object.keys(WAITS));
                for (const [wait, policies] of Object.entries(byWait)) expect(policies, `${mode}, ${wait}`).to.deep.equal(baseline);
            }
        });
    });

    describe("a grant made after the program returned", () => {
        it("fails the program in one line naming the resource, when it comes from an apply that resolves later", async () => {
            let failure: Error | undefined;
            await record(() => {
                const statements = new StatementCollector<string>(OWNER);
                const arrivesLater = pulumi.output(new Promise<string>((resolve) => setTimeout(() => resolve("arn:aws:sns:us-east-1:123456789012:uploads"), 5)));
                arrivesLater.apply((arn) => statements.add(arn));
                return {};
            }).catch((err: Error) => (failure = err));
            expect(failure?.message).to.match(/^QueueWithDlq "orders" queue: grant refused, its policy was already built \(the program returned\); grant while the program runs/);
        });

        it("is refused from a timer the program did not await, and is in no policy", async () => {
            let late: unknown;
            let detached!: Promise<void>;
            const plan = await record(() => {
                const statements = new StatementCollector<string>(OWNER);
                statements.add("in time");
                detached = new Promise<void>((resolve) =>
                    setTimeout(() => {
                        try {
                            statements.add("too late");
                        } catch (err) {
                            late = err;
                        }
                        resolve();
                    }, 20),
                );
                return { items: statements.items };
            });
            await detached;
            expect((late as Error | undefined)?.message).to.match(/^QueueWithDlq "orders" queue: grant refused/);
            expect(plan.outputs.items).to.deep.equal(["in time"]);
        });
    });
});
