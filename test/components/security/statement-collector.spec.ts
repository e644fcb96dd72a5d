import { expect } from "chai";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { StatementCollector } from "../../../components/security/statement-collector";
import { record } from "../../support/pulumi-harness";

// The collector is read through the stack outputs: `record()` resolves them like `pulumi preview`.

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
            { Sid: "FromOutput", Resource: "arn:aws:sqs:us-east-1:123456789012:orders-queue" },
            { Sid: "Output" },
            { Sid: "Promise" },
        ]);
    });

    it("resolves to an empty list when nothing was added", async () => {
        const plan = await record(() => ({ items: new StatementCollector<string>(OWNER).items }));
        expect(plan.outputs.items).to.deep.equal([]);
    });

    it("refuses an add after the synchronous step, naming the owner and saying where to grant, and keeps what came in time", async () => {
        let late: unknown;
        const plan = await record(async () => {
            const statements = new StatementCollector<string>(OWNER);
            statements.add("in time");
            await new Promise<void>((resolve) =>
                setImmediate(() => {
                    try {
                        statements.add("too late");
                    } catch (err) {
                        late = err;
                    }
                    resolve();
                }),
            );
            return { items: statements.items };
        });
        expect(late, "the late add must throw").to.be.an.instanceOf(Error);
        const message = (late as Error).message;
        expect(message).to.match(/^QueueWithDlq "orders" queue: its policy was already built/);
        expect(message).to.contain("grant access in the same synchronous step that creates it");
        expect(message).to.contain("not inside an apply or after an await");
        expect(plan.outputs.items).to.deep.equal(["in time"]);
    });

    it("fails the whole program when a grant is added inside an apply that resolves after the step", async () => {
        // Under the mock engine a resource's outputs resolve before the seal, so the late value is
        // one that arrives on a later turn of the event loop, as a real provider's answer does.
        let failure: Error | undefined;
        await record(() => {
            const statements = new StatementCollector<string>(OWNER);
            const arrivesLater = pulumi.output(new Promise<string>((resolve) => setTimeout(() => resolve("arn:aws:sns:us-east-1:123456789012:uploads"), 5)));
            arrivesLater.apply((arn) => statements.add(arn));
            return { items: statements.items };
        }).catch((err: Error) => (failure = err));
        expect(failure?.message).to.match(/^QueueWithDlq "orders" queue: its policy was already built; grant access in the same synchronous step/);
    });
});
