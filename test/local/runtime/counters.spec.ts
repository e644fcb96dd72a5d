import { expect } from "chai";
import { Counters } from "../../../local/runtime/counters";

describe("Counters", () => {
    it("counts by part and name, one by default or `by`, and 0 for what was never counted", () => {
        const counters = new Counters();
        counters.add("bus", "events");
        counters.add("bus", "events", 3);
        counters.add("bus", "matched", 0);
        expect(counters.get("bus", "events")).to.equal(4);
        expect(counters.get("bus", "matched")).to.equal(0);
        expect(counters.get("bus", "delivered")).to.equal(0);
        expect(counters.get("api", "events")).to.equal(0);
    });

    it("hands out a Counter per part that adds into the same counts", () => {
        const counters = new Counters();
        const bus = counters.of("bus");
        const api = counters.of("api");
        bus.add("dropped");
        bus.add("dropped", 2, "target-1: ThrottlingException");
        api.add("dropped", 5);
        expect(counters.get("bus", "dropped")).to.equal(3);
        expect(counters.get("api", "dropped")).to.equal(5);
        // A second Counter of the same part is the same part.
        counters.of("bus").add("dropped");
        expect(counters.get("bus", "dropped")).to.equal(4);
    });

    it("totals a name over every part, merging the reasons and their counts", () => {
        const counters = new Counters();
        counters.add("lambda:a", "denied", 1, "dynamodb:PutItem on table/t");
        counters.add("lambda:b", "denied", 2, "dynamodb:PutItem on table/t");
        counters.add("lambda:b", "denied", 1, "sqs:SendMessage on queue/q");
        counters.add("lambda:b", "denied", 2, "sqs:SendMessage on queue/q");
        counters.add("bus", "denied", 4);
        counters.add("bus", "delivered", 9);
        const total = counters.total("denied");
        expect(total.count).to.equal(10);
        expect(total.reasons).to.deep.equal(
            new Map([
                ["dynamodb:PutItem on table/t", 3],
                ["sqs:SendMessage on queue/q", 3],
            ]),
        );
        expect(counters.total("never")).to.deep.equal({ count: 0, reasons: new Map() });
    });

    it("returns totals that are copies: changing one does not change the counts", () => {
        const counters = new Counters();
        counters.add("bus", "dropped", 1, "why");
        const total = counters.total("dropped");
        total.count = 100;
        total.reasons.set("why", 100);
        expect(counters.total("dropped")).to.deep.equal({ count: 1, reasons: new Map([["why", 1]]) });
    });

    it("snapshots every count as part/name, unaffected by what is counted afterwards", () => {
        const counters = new Counters();
        counters.add("bus", "events", 2);
        counters.add("lambda:f", "invocations");
        const before = counters.snapshot();
        counters.add("bus", "events");
        counters.add("api", "requests");
        const after = counters.snapshot();
        expect(before).to.deep.equal(
            new Map([
                ["bus/events", 2],
                ["lambda:f/invocations", 1],
            ]),
        );
        expect(after.get("bus/events")).to.equal(3);
        expect(after.get("api/requests")).to.equal(1);
    });
});
