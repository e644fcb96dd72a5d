import { expect } from "chai";
import { oneLineError } from "../../support/errors";
import type { Plan, PlannedResource } from "../../../local/plan";
import { Counters } from "../../../local/runtime/counters";
import { BusRule, BusTarget, DeliveryError, EventBus, busRulesOf, targetInput } from "../../../local/runtime/event-bus";
import { timeScale } from "../../../local/runtime/types";
import { stackPlan } from "../../support/stack-plans";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";


/** The plan with the resource named `name` given other inputs. */
function withInputs(plan: Plan, name: string, change: (inputs: Record<string, unknown>) => Record<string, unknown>): Plan {
    return { ...plan, resources: plan.resources.map((r): PlannedResource => (r.name === name ? { ...r, inputs: change({ ...r.inputs }) } : r)) };
}

/** An S3 Object Created event, as the bus sees it after PutEvents. */
function objectCreated(bucket: string, key: string): Record<string, unknown> {
    return {
        version: "0",
        id: "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Object Created",
        source: "aws.s3",
        account: ACCOUNT,
        time: "2024-05-01T12:00:00Z",
        region: REGION,
        resources: [`arn:aws:s3:::${bucket}`],
        detail: { version: "0", bucket: { name: bucket }, object: { key, size: 5, etag: "abc" }, reason: "PutObject" },
    };
}

function target(overrides: Partial<BusTarget> = {}): BusTarget {
    return {
        ruleName: "rule-1",
        ruleArn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/rule-1`,
        name: "target-1",
        arn: `arn:aws:sns:${REGION}:${ACCOUNT}:topic-1`,
        maximumRetryAttempts: 3,
        maximumEventAgeInSeconds: 3600,
        deadLetterArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:dlq-1`,
        ...overrides,
    };
}

/** A rule matching every aws.s3 event, with the given targets. */
const s3Rule = (...targets: BusTarget[]): BusRule => ({ name: "rule-1", arn: targets[0]?.ruleArn ?? "arn:rule", pattern: { source: ["aws.s3"] }, targets });

interface DeadLetter {
    target: string;
    event: Record<string, unknown>;
    attributes: Record<string, string>;
}

/** A bus whose deliveries `deliver` decides; every attempt and dead letter is recorded. */
function busWith(rules: BusRule[], deliver: (target: BusTarget, payload: string, attempt: number) => void | Promise<void>, factor = 0.001) {
    const attempts: { target: string; payload: string; at: number }[] = [];
    const deadLetters: DeadLetter[] = [];
    const counters = new Counters();
    const bus = new EventBus({
        rules,
        time: timeScale(factor),
        counter: counters.of("bus"),
        deliver: async (t, payload) => {
            const n = attempts.push({ target: t.name, payload, at: Date.now() }) - 1;
            await deliver(t, payload, n);
        },
        sendToDeadLetterQueue: async (t, event, attributes) => {
            deadLetters.push({ target: t.name, event: JSON.parse(event), attributes });
        },
    });
    return { bus, attempts, deadLetters, counters };
}

const throttled = () => {
    throw new DeliveryError("ThrottlingException", "Rate exceeded", true);
};

describe("busRulesOf", () => {
    let dev: Plan;

    before(async function () {
        this.timeout(60_000);
        dev = await stackPlan("dev");
    });

    /** The uploads rule of a plan (the dev plan also has the payment files' rule). */
    const uploadsRule = (plan: Plan) => busRulesOf(plan).filter((r) => r.name.startsWith("uploads-"));

    it("reads the dev plan's rules, and the uploads rule's name, ARN and event pattern", () => {
        const rules = busRulesOf(dev);
        expect(rules.map((r) => r.name).sort()).to.deep.equal(["payments-created-rule-eda40bc", "reporting-glue-failed-416e2c1", "uploads-created-rule-e50077c"]);
        const [rule] = uploadsRule(dev);
        expect(rule.arn).to.equal(`arn:aws:events:${REGION}:${ACCOUNT}:rule/uploads-created-rule-e50077c`);
        expect(rule.pattern).to.deep.equal({
            source: ["aws.s3"],
            "detail-type": ["Object Created"],
            detail: { bucket: { name: ["uploads-bucket-6cba64a"] }, object: { key: [{ "anything-but": { prefix: "thumbnails/" } }] } },
        });
    });

    it("reads its one target: the topic, the input transformer, the retry policy and the DLQ", () => {
        const [rule] = uploadsRule(dev);
        expect(rule.targets).to.deep.equal([
            {
                ruleName: "uploads-created-rule-e50077c",
                ruleArn: rule.arn,
                name: "uploads-created-target",
                arn: `arn:aws:sns:${REGION}:${ACCOUNT}:uploads-topic-sns-a20ee6a`,
                roleArn: undefined,
                transformer: { inputPaths: { object: "$.detail.object" }, inputTemplate: '{"object": <object>, "event": <aws.events.event.json>}' },
                input: undefined,
                inputPath: undefined,
                maximumRetryAttempts: 24,
                maximumEventAgeInSeconds: 3600,
                deadLetterArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:uploads-created-undelivered-queue-3bab09b`,
            },
        ]);
    });

    it("gives a target without a retry policy EventBridge's defaults (185 retries, 24 hours)", () => {
        const [rule] = uploadsRule(withInputs(dev, "uploads-created-target", ({ retryPolicy, ...rest }) => rest));
        expect(rule.targets[0]).to.include({ maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86_400 });
    });

    it("leaves out a disabled rule", () => {
        expect(uploadsRule(withInputs(dev, "uploads-created-rule", (i) => ({ ...i, state: "DISABLED" })))).to.deep.equal([]);
    });

    it("refuses, in one line, a rule on another bus, a schedule rule and a target input it does not model", () => {
        expect(oneLineError(() => busRulesOf(withInputs(dev, "uploads-created-rule", (i) => ({ ...i, eventBusName: "orders" }))))).to.equal(
            "event bus: rule uploads-created-rule is on bus orders; the runtime runs the default bus only",
        );
        expect(oneLineError(() => busRulesOf(withInputs(dev, "uploads-created-rule", (i) => ({ ...i, scheduleExpression: "rate(5 minutes)" }))))).to.equal(
            "event bus: rule uploads-created-rule is a schedule (rate(5 minutes)); scheduled rules are not run yet",
        );
        expect(oneLineError(() => busRulesOf(withInputs(dev, "uploads-created-target", (i) => ({ ...i, sqsTarget: { messageGroupId: "g" } }))))).to.equal(
            "event bus: target uploads-created-target sets sqsTarget, which the runtime does not model",
        );
    });
});

describe("targetInput", () => {
    it("pastes values into a template that is one JSON string as text, escaped, as EventBridge does", () => {
        const t = { inputPaths: { job: "$.detail.jobName", message: "$.detail.message" }, inputTemplate: '"Glue job <job> ended: <message>"' };
        const payload = targetInput(target({ transformer: t }), { detail: { jobName: "etl", message: 'bad "quote"' } });
        expect(JSON.parse(payload)).to.equal('Glue job etl ended: bad "quote"');
    });

    const event = objectCreated("bucket-1", "photos/a.png");

    it("applies the input transformer", () => {
        const payload = targetInput(target({ transformer: { inputPaths: { key: "$.detail.object.key" }, inputTemplate: '{"key": <key>, "event": <aws.events.event.json>}' } }), event);
        expect(JSON.parse(payload)).to.deep.equal({ key: "photos/a.png", event });
    });

    it("sends a constant input as it is, whatever the event", () => {
        expect(targetInput(target({ input: '{"fixed":true}' }), event)).to.equal('{"fixed":true}');
    });

    it("sends the value at the input path, or null when the event has none", () => {
        expect(JSON.parse(targetInput(target({ inputPath: "$.detail.object" }), event))).to.deep.equal({ key: "photos/a.png", size: 5, etag: "abc" });
        expect(JSON.parse(targetInput(target({ inputPath: "$" }), event))).to.deep.equal(event);
        expect(targetInput(target({ inputPath: "$.detail.missing.deeper" }), event)).to.equal("null");
    });

    it("sends the whole event when the target sets none of them", () => {
        expect(JSON.parse(targetInput(target(), event))).to.deep.equal(event);
    });
});

describe("EventBus", () => {
    it("routes only the events the rule's pattern matches, with the target's transformed input", async () => {
        const dev = await stackPlan("dev");
        const { bus, attempts, counters } = busWith(busRulesOf(dev), () => undefined);
        const matching = objectCreated("uploads-bucket-6cba64a", "photos/a.png");
        bus.route(matching);
        bus.route(objectCreated("uploads-bucket-6cba64a", "thumbnails/a.png"));
        bus.route(objectCreated("another-bucket", "photos/a.png"));
        bus.route({ ...matching, "detail-type": "Object Deleted" });
        await bus.idle();
        expect(attempts.map((a) => a.target)).to.deep.equal(["uploads-created-target"]);
        expect(JSON.parse(attempts[0].payload)).to.deep.equal({ object: (matching.detail as { object: unknown }).object, event: matching });
        expect(counters.get("bus", "events")).to.equal(4);
        expect(counters.get("bus", "matched")).to.equal(1);
        expect(counters.get("bus", "delivered")).to.equal(1);
    });

    it("stamps a put event as EventBridge does: version, id, account, region, a time to the second", async () => {
        const { bus, attempts } = busWith([s3Rule(target())], () => undefined);
        const event = bus.put({ source: "aws.s3", "detail-type": "Object Created", detail: { a: 1 } }, ACCOUNT, REGION);
        await bus.idle();
        expect(event).to.include({ version: "0", account: ACCOUNT, region: REGION, source: "aws.s3", "detail-type": "Object Created" });
        expect(event.id).to.match(/^[0-9a-f-]{36}$/);
        expect(event.time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect(event.resources).to.deep.equal([]);
        expect(JSON.parse(attempts[0].payload)).to.deep.equal(event);
    });

    it("retries a retryable failure up to maximumRetryAttempts, then dead-letters the event with EventBridge's attributes", async () => {
        const t = target({ maximumRetryAttempts: 3 });
        const { bus, attempts, deadLetters, counters } = busWith([s3Rule(t)], throttled);
        const event = objectCreated("bucket-1", "a.txt");
        bus.route(event);
        await bus.idle();
        // The first attempt and three retries.
        expect(attempts).to.have.length(4);
        expect(deadLetters).to.deep.equal([
            {
                target: "target-1",
                event,
                attributes: {
                    RULE_ARN: t.ruleArn,
                    TARGET_ARN: t.arn,
                    ERROR_CODE: "ThrottlingException",
                    ERROR_MESSAGE: "Rate exceeded",
                    RETRY_ATTEMPTS: "3",
                    EXHAUSTED_RETRY_CONDITION: "MaximumRetryAttempts",
                },
            },
        ]);
        expect(counters.get("bus", "retries")).to.equal(3);
        expect(counters.get("bus", "deadLettered")).to.equal(1);
        expect(counters.get("bus", "delivered")).to.equal(0);
    });

    it("stops retrying once a retry succeeds", async () => {
        const { bus, attempts, deadLetters, counters } = busWith([s3Rule(target({ maximumRetryAttempts: 5 }))], (_t, _p, n) => (n < 2 ? throttled() : undefined));
        bus.route(objectCreated("bucket-1", "a.txt"));
        await bus.idle();
        expect(attempts).to.have.length(3);
        expect(deadLetters).to.deep.equal([]);
        expect(counters.get("bus", "delivered")).to.equal(1);
    });

    it("backs off exponentially between attempts, on the scaled clock", async () => {
        // At 0.01 the backoffs of 1, 2 and 4 AWS seconds are 10, 20 and 40 ms.
        const { bus, attempts } = busWith([s3Rule(target({ maximumRetryAttempts: 3 }))], throttled, 0.01);
        bus.route(objectCreated("bucket-1", "a.txt"));
        await bus.idle();
        const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i].at);
        // Timers may fire a millisecond early by Date.now()'s rounding, never much earlier.
        gaps.forEach((gap, i) => expect(gap, `gap ${i + 1} of ${gaps.join(", ")} ms`).to.be.at.least(10 * 2 ** i - 1));
        // Seconds unscaled would make these 1, 2 and 4 s.
        expect(gaps[2], `gaps ${gaps.join(", ")} ms`).to.be.below(1000);
    });

    it("dead-letters with MaximumEventAgeInSeconds when the event gets too old before its retries run out", async () => {
        // 20 AWS seconds of age is 20 ms here: backoffs of 1, 2, 4, 8 and 16 s outlast it long before 185 retries.
        const { bus, attempts, deadLetters } = busWith([s3Rule(target({ maximumRetryAttempts: 185, maximumEventAgeInSeconds: 20 }))], throttled);
        bus.route(objectCreated("bucket-1", "a.txt"));
        await bus.idle();
        expect(attempts.length).to.be.within(2, 10);
        expect(deadLetters).to.have.length(1);
        expect(deadLetters[0].attributes.EXHAUSTED_RETRY_CONDITION).to.equal("MaximumEventAgeInSeconds");
        expect(deadLetters[0].attributes.RETRY_ATTEMPTS).to.equal(String(attempts.length - 1));
    });

    it("dead-letters a non-retryable failure at once, without a retry or an exhausted condition", async () => {
        const t = target({ maximumRetryAttempts: 3 });
        const { bus, attempts, deadLetters, counters } = busWith([s3Rule(t)], () => {
            throw new DeliveryError("AccessDenied", "User: events.amazonaws.com is not authorized to perform: sns:Publish", false);
        });
        bus.route(objectCreated("bucket-1", "a.txt"));
        await bus.idle();
        expect(attempts).to.have.length(1);
        expect(deadLetters.map((d) => d.attributes)).to.deep.equal([
            { RULE_ARN: t.ruleArn, TARGET_ARN: t.arn, ERROR_CODE: "AccessDenied", ERROR_MESSAGE: "User: events.amazonaws.com is not authorized to perform: sns:Publish", RETRY_ATTEMPTS: "0" },
        ]);
        expect(counters.get("bus", "retries")).to.equal(0);
        expect(counters.total("denied").reasons).to.deep.equal(new Map([["User: events.amazonaws.com is not authorized to perform: sns:Publish", 1]]));
    });

    it("retries an error that is not a DeliveryError as EventBridge's InternalException", async () => {
        const { bus, attempts, deadLetters } = busWith([s3Rule(target({ maximumRetryAttempts: 1 }))], () => {
            throw new Error("socket hang up");
        });
        bus.route(objectCreated("bucket-1", "a.txt"));
        await bus.idle();
        expect(attempts).to.have.length(2);
        expect(deadLetters[0].attributes).to.include({ ERROR_CODE: "InternalException", ERROR_MESSAGE: "socket hang up", EXHAUSTED_RETRY_CONDITION: "MaximumRetryAttempts" });
    });

    it("counts an undeliverable event as dropped when its target has no DLQ", async () => {
        const { bus, deadLetters, counters } = busWith([s3Rule(target({ deadLetterArn: undefined, maximumRetryAttempts: 1 }))], throttled);
        bus.route(objectCreated("bucket-1", "a.txt"));
        await bus.idle();
        expect(deadLetters).to.deep.equal([]);
        expect(counters.total("dropped").reasons).to.deep.equal(new Map([["target-1: ThrottlingException", 1]]));
        expect(counters.get("bus", "deadLettered")).to.equal(0);
    });

    it("counts the event as dropped when its DLQ refuses the dead letter", async () => {
        const counters = new Counters();
        const bus = new EventBus({
            rules: [s3Rule(target({ maximumRetryAttempts: 0 }))],
            time: timeScale(0.001),
            counter: counters.of("bus"),
            deliver: async () => throttled(),
            sendToDeadLetterQueue: async () => {
                throw new DeliveryError("AccessDenied", "the DLQ's policy refuses events.amazonaws.com", false);
            },
        });
        bus.route(objectCreated("bucket-1", "a.txt"));
        await bus.idle();
        expect([...counters.total("dropped").reasons.keys()]).to.deep.equal(["target-1: ThrottlingException; its DLQ refused: the DLQ's policy refuses events.amazonaws.com"]);
        expect(counters.get("bus", "deadLettered")).to.equal(0);
    });

    it("stop() during a backoff returns promptly and drops the event: no further attempt, no dead letter", async () => {
        let firstAttempt!: () => void;
        const attempted = new Promise<void>((resolve) => (firstAttempt = resolve));
        // At scale 1 the first backoff is a whole second: stop() must not wait it out.
        const { bus, attempts, deadLetters, counters } = busWith(
            [s3Rule(target({ maximumRetryAttempts: 5 }))],
            () => {
                firstAttempt();
                throttled();
            },
            1,
        );
        bus.route(objectCreated("bucket-1", "a.txt"));
        await attempted;
        await new Promise((resolve) => setTimeout(resolve, 20));
        const started = Date.now();
        await bus.stop();
        expect(Date.now() - started, "stop() took").to.be.below(300);
        expect(attempts).to.have.length(1);
        expect(deadLetters).to.deep.equal([]);
        expect(counters.total("dropped").reasons).to.deep.equal(new Map([["target-1: the runtime stopped while retrying ThrottlingException", 1]]));
    });
});
