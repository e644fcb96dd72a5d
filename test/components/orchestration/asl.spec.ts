import { expect } from "chai";
import fc from "fast-check";
import {
    and,
    catchAll,
    choice,
    compare,
    escapeIntrinsicString,
    fail,
    formatIntrinsic,
    isPresent,
    not,
    pass,
    retrier,
    sqlFormatIntrinsic,
    State,
    stateMachine,
    stringEquals,
    succeed,
    task,
    waitSeconds,
    when,
} from "../../../components/orchestration/asl";
import { runStateMachine, taskError } from "../../../local/runtime/step-functions";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const aslValidator = require("asl-validator") as (d: unknown) => { isValid: boolean; errorsText: (s?: string) => string };

const T = "arn:aws:states:::sns:publish";

describe("asl builders", () => {
    it("build the states with their Type and one transition", () => {
        expect(task(T, { Parameters: { "Message.$": "$.m" }, next: "B" })).to.deep.equal({ Type: "Task", Resource: T, Parameters: { "Message.$": "$.m" }, Next: "B" });
        expect(task(T, { end: true })).to.deep.equal({ Type: "Task", Resource: T, End: true });
        expect(pass({ Result: 1, ResultPath: "$.x", next: "B" })).to.deep.equal({ Type: "Pass", Result: 1, ResultPath: "$.x", Next: "B" });
        expect(waitSeconds(5, "C")).to.deep.equal({ Type: "Wait", Seconds: 5, Next: "C" });
        expect(succeed()).to.deep.equal({ Type: "Succeed" });
        expect(fail({ Error: "E", CausePath: "$.c" })).to.deep.equal({ Type: "Fail", Error: "E", CausePath: "$.c" });
        expect(choice([when(stringEquals("$.a", "x"), "A")], "B")).to.deep.equal({ Type: "Choice", Choices: [{ Variable: "$.a", StringEquals: "x", Next: "A" }], Default: "B" });
    });

    it("build typed conditions", () => {
        expect(when(and(isPresent("$.a"), not(compare("$.a", "StringMatches", "*'*"))), "N")).to.deep.equal({
            And: [{ Variable: "$.a", IsPresent: true }, { Not: { Variable: "$.a", StringMatches: "*'*" } }],
            Next: "N",
        });
        expect(compare("$.n", "NumericGreaterThanEquals", 3)).to.deep.equal({ Variable: "$.n", NumericGreaterThanEquals: 3 });
    });

    it("build a retrier with full jitter and refuse impossible numbers", () => {
        expect(retrier(["Glue.ConcurrentRunsExceededException"], { maxAttempts: 3, intervalSeconds: 10, backoffRate: 2, maxDelaySeconds: 60 })).to.deep.equal({
            ErrorEquals: ["Glue.ConcurrentRunsExceededException"],
            IntervalSeconds: 10,
            MaxAttempts: 3,
            BackoffRate: 2,
            MaxDelaySeconds: 60,
            JitterStrategy: "FULL",
        });
        const ok = { maxAttempts: 3, intervalSeconds: 10, backoffRate: 2, maxDelaySeconds: 60 };
        expect(() => retrier([], ok)).to.throw(/at least one error/);
        expect(() => retrier(["E"], { ...ok, maxAttempts: 1.5 })).to.throw(/maxAttempts 1.5/);
        expect(() => retrier(["E"], { ...ok, intervalSeconds: 0 })).to.throw(/intervalSeconds 0/);
        expect(() => retrier(["E"], { ...ok, backoffRate: 0.5 })).to.throw(/backoffRate 0.5/);
        expect(() => retrier(["E"], { ...ok, maxDelaySeconds: 5 })).to.throw(/maxDelaySeconds 5/);
    });

    it("refuse States.ALL anywhere but alone in the last entry, and exclusive Fail fields", () => {
        expect(() => task(T, { Catch: [catchAll("X", "$.e"), { ErrorEquals: ["E"], Next: "Y" }], next: "B" })).to.throw(/Catch\[0\]: States.ALL must be the only error of the last Catch entry/);
        expect(() => task(T, { Retry: [{ ErrorEquals: ["States.ALL", "E"] }], next: "B" })).to.throw(/Retry\[0\]/);
        expect(() => fail({ Error: "E", ErrorPath: "$.e" })).to.throw(/exclusive/);
        expect(() => waitSeconds(1.5, "B")).to.throw(/whole number/);
        expect(() => choice([])).to.throw(/at least one rule/);
    });
});

describe("stateMachine assembler", () => {
    const ok = (): Record<string, State> => ({
        A: task(T, { Catch: [catchAll("Oops", "$.e")], next: "B" }),
        B: choice([when(stringEquals("$.x", "y"), "Done")], "Oops"),
        Done: succeed(),
        Oops: fail({ Error: "E" }),
    });

    it("returns a valid definition unchanged", () => {
        const def = { StartAt: "A", States: ok() };
        expect(stateMachine(def)).to.equal(def);
        expect(aslValidator(JSON.parse(JSON.stringify(def))).isValid).to.equal(true);
    });

    it("refuses a missing StartAt, Next, Default or Catch target, naming the state", () => {
        expect(() => stateMachine({ StartAt: "Z", States: ok() })).to.throw(/^state machine: StartAt "Z" is not a state$/);
        expect(() => stateMachine({ StartAt: "A", States: { ...ok(), A: task(T, { next: "Nope" }) } })).to.throw('state "A": Next "Nope" is not a state');
        expect(() => stateMachine({ StartAt: "A", States: { ...ok(), B: choice([when(stringEquals("$.x", "y"), "Done")], "Nope") } })).to.throw('state "B": Default "Nope" is not a state');
        expect(() => stateMachine({ StartAt: "A", States: { ...ok(), B: choice([when(stringEquals("$.x", "y"), "Nope")], "Oops") } })).to.throw('state "B": Choices[0].Next "Nope" is not a state');
        expect(() => stateMachine({ StartAt: "A", States: { ...ok(), A: task(T, { Catch: [catchAll("Nope", "$.e")], next: "B" }) } }, "reporting")).to.throw(/^reporting: state "A": Catch\[0\].Next "Nope" is not a state$/);
    });

    it("refuses an unreachable state, naming it", () => {
        expect(() => stateMachine({ StartAt: "A", States: { ...ok(), Orphan: succeed() } })).to.throw(/^state machine: state "Orphan" is not reachable from StartAt "A"$/);
    });

    it("refuses a state with both or neither of Next and End, and a name over 80 characters", () => {
        const both = { Type: "Pass", Next: "B", End: true } as unknown as State;
        const neither = { Type: "Pass" } as unknown as State;
        expect(() => stateMachine({ StartAt: "A", States: { ...ok(), A: both } })).to.throw('state "A": expected exactly one of Next and End');
        expect(() => stateMachine({ StartAt: "A", States: { ...ok(), A: neither } })).to.throw('state "A": expected exactly one of Next and End');
        const long = "L".repeat(81);
        expect(() => stateMachine({ StartAt: long, States: { [long]: succeed() } })).to.throw(/1 to 80 characters/);
    });
});

describe("States.Format from SQL", () => {
    it("escapes ' { } and \\ with a backslash", () => {
        expect(escapeIntrinsicString(`a'b{c}d\\e`)).to.equal(`a\\'b\\{c\\}d\\\\e`);
    });

    it("turns each {{date}} into a {} slot filled from the path", () => {
        expect(sqlFormatIntrinsic("SELECT '{x}' WHERE dt = '{{date}}' OR dt2 = '{{ date }}'")).to.equal("States.Format('SELECT \\'\\{x\\}\\' WHERE dt = \\'{}\\' OR dt2 = \\'{}\\'', $.date, $.date)");
        expect(formatIntrinsic("no placeholder", {})).to.equal("States.Format('no placeholder')");
    });

    it("refuses a placeholder left unfilled, and a path that is not a JSONPath", () => {
        expect(() => sqlFormatIntrinsic("s3://{{lake_bucket}}/x/{{date}}", "$.date", "validateSql")).to.throw(/^validateSql: placeholder \{\{lake_bucket\}\} is left unfilled/);
        expect(() => formatIntrinsic("{{date}}", { date: "date" })).to.throw(/is not a JSONPath/);
    });

    it("round-trips through aws-local-stepfunctions' States.Format (no backslash, no parentheses: see step-functions.ts)", async () => {
        // The local interpreter drops every backslash an intrinsic returns and counts parentheses
        // inside string literals, so those characters are checked by the exact-string test above.
        const char = fc.constantFrom(..."ab Z09'{}\",;.$*-=\n\t".split(""));
        const piece = fc.array(char, { maxLength: 12 }).map((cs) => cs.join(""));
        // Many texts per run: building a StateMachine (it validates the definition) is the slow part.
        const texts = fc
            .array(fc.array(piece, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 40 })
            .map((all) => all.map((pieces) => pieces.join("'{{date}}'")).filter((sql) => ![...sql.replaceAll("{{date}}", "").matchAll(/\{\{[^{}]*\}\}/g)].length));
        await fc.assert(
            fc.asyncProperty(texts, fc.constantFrom("2026-11-20", "1999-01-31"), async (sqls, date) => {
                const Parameters = Object.fromEntries(sqls.map((sql, i) => [`sql${i}.$`, sqlFormatIntrinsic(sql)]));
                const definition = stateMachine({ StartAt: "F", States: { F: pass({ Parameters, end: true }) } });
                const checked = aslValidator(JSON.parse(JSON.stringify(definition)));
                expect(checked.isValid, checked.isValid ? "" : checked.errorsText()).to.equal(true);
                const run = await runStateMachine({ definition, input: { date }, handlers: {} });
                expect(run.status, run.cause).to.equal("SUCCEEDED");
                expect(run.output).to.deep.equal(Object.fromEntries(sqls.map((sql, i) => [`sql${i}`, sql.replaceAll("{{date}}", date)])));
            }),
            { numRuns: 4 },
        );
    });
});

// The runner has no spec file of its own yet; what these state machines rely on is checked here.
describe("runStateMachine (local/runtime/step-functions.ts)", () => {
    const machine = stateMachine({
        StartAt: "Call",
        States: {
            Call: task(T, { Retry: [retrier(["Busy"], { maxAttempts: 2, intervalSeconds: 3600, backoffRate: 2, maxDelaySeconds: 7200 })], Catch: [catchAll("Caught", "$.err")], next: "Pause" }),
            Pause: waitSeconds(3600, "Done"),
            Caught: fail({ ErrorPath: "$.err.Error", CausePath: "$.err.Cause" }),
            Done: succeed(),
        },
    });

    it("refuses a Task resource without a handler before running", async () => {
        let error: unknown;
        await runStateMachine({ definition: machine, input: {}, handlers: {} }).catch((e) => (error = e));
        expect(String(error)).to.match(/Task "Call" calls arn:aws:states:::sns:publish, which has no local handler/);
    });

    it("scales an hour of Wait and of Retry pauses down to nothing, and lists the states entered", async () => {
        let calls = 0;
        const started = Date.now();
        const run = await runStateMachine({
            definition: machine,
            input: { a: 1 },
            waitScale: 0,
            handlers: {
                [T]: (input, call) => {
                    expect(call).to.deep.equal({ stateName: "Call", resource: T });
                    if (++calls < 3) throw taskError("Busy", "try later");
                    return { got: input };
                },
            },
        });
        expect(Date.now() - started).to.be.below(2000);
        expect(run.status, `${run.error}: ${run.cause}`).to.equal("SUCCEEDED");
        expect(run.output).to.deep.equal({ got: { a: 1 } });
        expect(run.states).to.deep.equal(["Call", "Pause", "Done"]);
        expect(run.events.filter((e) => (e as { type: string }).type === "StateRetried")).to.have.length(2);
    });

    it("reports a failure's error and cause; a thrown non-Error becomes States.TaskFailed", async () => {
        const run = await runStateMachine({ definition: machine, input: {}, waitScale: 0, handlers: { [T]: () => { throw "boom"; } } });
        expect(run).to.include({ status: "FAILED", error: "States.TaskFailed", cause: "boom" });
        expect(run.states).to.deep.equal(["Call", "Caught"]);
    });
});
