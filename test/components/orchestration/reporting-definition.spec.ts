import { expect } from "chai";
import { GLUE_JOB_ARGUMENTS } from "../../../functions/shared/contract";
import { REPORTING_DEFAULTS } from "../../../components/shared/defaults";
import { caughtStateName, REPORTING_ERRORS, REPORTING_RESOURCES as R, REPORTING_STATES as S, reportingDefinition, ReportingDefinitionArgs } from "../../../components/orchestration/reporting-definition";
import type { JsonValue } from "../../../components/orchestration/asl";
import { runStateMachine, StateMachineRun, TaskHandler, taskError } from "../../../local/runtime/step-functions";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const aslValidator = require("asl-validator") as (d: unknown) => { isValid: boolean; errorsText: (s?: string) => string };

const DATE = "2026-11-20";
const EXECUTION = "exec-test";
const ARGS: ReportingDefinitionArgs = {
    glueJobName: "reporting-etl",
    glueArguments: { rawPath: "s3://raw-bkt/raw/", curatedPath: "s3://lake-bkt/curated/transactions/", rejectsPath: "s3://lake-bkt/curated/rejects/", sqlPath: "s3://lake-bkt/scripts/abc123/sql/" },
    glueRetry: { maxAttempts: 3, intervalSeconds: 30, backoffRate: 2, maxDelaySeconds: 300 },
    athenaWorkGroup: "reporting-wg",
    athenaDatabase: "reporting_db",
    validateSql: "SELECT count(*) AS raw_rows FROM raw WHERE dt = '{{date}}'",
    fallbackSql: "UNLOAD (SELECT * FROM raw WHERE dt = '{{date}}') TO 's3://lake-bkt/reports/fallback/dt={{date}}/run={{run}}/'",
    redshiftWorkgroup: "reporting-rs",
    redshiftDatabase: "dev",
    loadSqls: ["COPY stage FROM 's3://lake-bkt/curated/transactions/dt={{date}}/' FORMAT PARQUET", "MERGE INTO fact USING stage ON fact.event_id = stage.event_id WHEN MATCHED THEN UPDATE SET amount = stage.amount WHEN NOT MATCHED THEN INSERT VALUES (stage.event_id, stage.amount)"],
    reportSqls: ["UNLOAD ('SELECT * FROM daily WHERE dt = ''{{date}}''') TO 's3://lake-bkt/reports/dt={{date}}/'"],
    pollIntervalSeconds: 10,
    maxPolls: 4,
    alertTopicArn: "arn:aws:sns:eu-west-1:123456789012:reporting-alerts",
};
const definition = reportingDefinition(ARGS);

interface Call {
    resource: string;
    state: string;
    input: Record<string, JsonValue>;
}
type Fakes = Partial<Record<string, TaskHandler>>;

const row = (...values: string[]) => ({ Data: values.map((v) => ({ VarCharValue: v })) });
const HEADER = row("raw_rows", "curated_rows", "rejected_rows", "reconciled");

/** Services that all succeed (a statement FINISHED on its second poll), with `fakes` replacing some. */
async function run(input: JsonValue, fakes: Fakes = {}, args?: Partial<ReportingDefinitionArgs>): Promise<StateMachineRun & { calls: Call[]; of: (state: string) => Call[]; alert: () => Record<string, unknown> }> {
    const calls: Call[] = [];
    const polls = new Map<string, number>();
    const defaults: Record<string, TaskHandler> = {
        [R.glueStartJobRunSync]: () => ({ Id: "jr_1", JobRunState: "SUCCEEDED" }),
        [R.athenaStartQueryExecutionSync]: () => ({ QueryExecution: { QueryExecutionId: "qe-1", Status: { State: "SUCCEEDED" } } }),
        [R.athenaGetQueryResults]: () => ({ ResultSet: { Rows: [HEADER, row("10", "9", "1", "true")] } }),
        [R.redshiftBatchExecuteStatement]: (i) => ({ Id: `st-${(i as { Sqls: string[] }).Sqls.length}-${calls.length}` }),
        [R.redshiftDescribeStatement]: (i) => {
            const id = (i as { Id: string }).Id;
            polls.set(id, (polls.get(id) ?? 0) + 1);
            return { Id: id, Status: polls.get(id)! >= 2 ? "FINISHED" : "STARTED" };
        },
        [R.snsPublish]: () => ({ MessageId: "m-1" }),
    };
    const handlers: Record<string, TaskHandler> = {};
    for (const resource of Object.values(R)) {
        handlers[resource] = (input, call) => {
            calls.push({ resource, state: call.stateName, input: input as Record<string, JsonValue> });
            return (fakes[resource] ?? defaults[resource])(input, call);
        };
    }
    const result = await runStateMachine({ definition: args ? reportingDefinition({ ...ARGS, ...args }) : definition, input, handlers, waitScale: 0, context: { Execution: { Name: EXECUTION } } });
    const of = (state: string) => calls.filter((c) => c.state === state);
    const alert = () => {
        const published = of(S.notifyFailure);
        expect(published, "one alert").to.have.length(1);
        expect(published[0].input.TopicArn).to.equal(ARGS.alertTopicArn);
        // The integration sends an object Message as its JSON text.
        const message = published[0].input.Message;
        expect(message, "Message").to.be.an("object");
        // Every alert names the execution (its fallback report is under run=<name>/).
        const { execution, ...rest } = JSON.parse(JSON.stringify(message));
        expect(execution, "the alert's execution").to.equal(EXECUTION);
        const fallback = of(S.runFallbackReport);
        if (fallback.length > 0) expect(String(fallback[0].input.QueryString)).to.include(`/run=${EXECUTION}/`);
        return rest;
    };
    return { ...result, calls, of, alert };
}

const DATE_CHECKS = [S.resolveDate, S.checkDateInput, S.checkDateText, S.splitDate, S.checkDateParts];
const VALIDATION = [S.startValidation, S.getValidationResult, S.checkValidationShape, S.checkReconciled];
const stage = (n: typeof S.load | typeof S.report, polls: number) => [n.submit, ...Array.from({ length: polls }, () => [n.wait, n.countPoll, n.describe, n.status]).flat()];
const FALLBACK = [S.notifyFailure, S.shouldRunFallback, S.runFallbackReport, S.fallbackWritten, S.failed];
const HAPPY = [...DATE_CHECKS, S.runGlueJob, ...VALIDATION, ...stage(S.load, 2), ...stage(S.report, 2), S.succeeded];

describe("reporting state machine definition", () => {
    it("passes asl-validator 4 and is accepted by aws-local-stepfunctions", async () => {
        const checked = aslValidator(JSON.parse(JSON.stringify(definition)));
        expect(checked.isValid, checked.isValid ? "" : checked.errorsText("\n")).to.equal(true);
        expect(definition.TimeoutSeconds).to.equal(REPORTING_DEFAULTS.executionTimeoutSeconds);
        expect(reportingDefinition({ ...ARGS, timeoutSeconds: 3600 }).TimeoutSeconds).to.equal(3600);
    });

    it("retries only the transient Glue errors, with the given backoff and full jitter", () => {
        const glue = definition.States[S.runGlueJob] as { Retry: unknown[] };
        expect(glue.Retry).to.deep.equal([
            {
                ErrorEquals: ["Glue.ConcurrentRunsExceededException", "Glue.InternalServiceException", "Glue.OperationTimeoutException", "Glue.ThrottlingException"],
                IntervalSeconds: 30,
                MaxAttempts: 3,
                BackoffRate: 2,
                MaxDelaySeconds: 300,
                JitterStrategy: "FULL",
            },
        ]);
    });

    it("refuses args the services would not take", () => {
        expect(() => reportingDefinition({ ...ARGS, loadSqls: [] })).to.throw(/loadSqls must hold 1 to 40 statements/);
        expect(() => reportingDefinition({ ...ARGS, maxPolls: 0 })).to.throw(/maxPolls = 0/);
        expect(() => reportingDefinition({ ...ARGS, alertTopicArn: "" })).to.throw(/alertTopicArn is required/);
        expect(() => reportingDefinition({ ...ARGS, validateSql: "SELECT '{{raw_location}}' WHERE dt = '{{date}}'" })).to.throw(/validateSql: placeholder \{\{raw_location\}\} is left unfilled/);
    });
});

describe("reporting state machine, run locally", () => {
    it("happy path: Glue, validation, load and report, each task given the right parameters", async () => {
        const r = await run({ date: DATE });
        expect(r.status, r.cause).to.equal("SUCCEEDED");
        expect(r.states).to.deep.equal(HAPPY);
        expect(r.of(S.notifyFailure)).to.have.length(0);

        const [glue] = r.of(S.runGlueJob);
        expect(glue.input).to.deep.equal({
            JobName: "reporting-etl",
            Arguments: {
                [GLUE_JOB_ARGUMENTS.date]: DATE,
                [GLUE_JOB_ARGUMENTS.rawPath]: ARGS.glueArguments.rawPath,
                [GLUE_JOB_ARGUMENTS.curatedPath]: ARGS.glueArguments.curatedPath,
                [GLUE_JOB_ARGUMENTS.rejectsPath]: ARGS.glueArguments.rejectsPath,
                [GLUE_JOB_ARGUMENTS.sqlPath]: ARGS.glueArguments.sqlPath,
            },
        });
        const [validation] = r.of(S.startValidation);
        expect(validation.input).to.deep.equal({
            QueryString: `SELECT count(*) AS raw_rows FROM raw WHERE dt = '${DATE}'`,
            WorkGroup: "reporting-wg",
            QueryExecutionContext: { Database: "reporting_db" },
        });
        expect(r.of(S.getValidationResult)[0].input).to.deep.equal({ QueryExecutionId: "qe-1", MaxResults: 3 });

        const [load] = r.of(S.load.submit);
        expect(load.input.WorkgroupName).to.equal("reporting-rs");
        expect(load.input.Database).to.equal("dev");
        expect(load.input.Sqls).to.deep.equal(ARGS.loadSqls.map((s) => s.replaceAll("{{date}}", DATE)));
        const [report] = r.of(S.report.submit);
        expect(report.input.Sqls).to.deep.equal([`UNLOAD ('SELECT * FROM daily WHERE dt = ''${DATE}''') TO 's3://lake-bkt/reports/dt=${DATE}/'`]);
        expect(r.of(S.load.describe).map((c) => c.input)).to.deep.equal([{ Id: "st-2-4" }, { Id: "st-2-4" }]);
    });

    it("Glue refuses twice (ConcurrentRunsExceeded), then the run goes through", async () => {
        let attempts = 0;
        const r = await run(
            { date: DATE },
            {
                [R.glueStartJobRunSync]: () => {
                    if (++attempts <= 2) throw taskError("Glue.ConcurrentRunsExceededException", "Concurrent runs exceeded for reporting-etl");
                    return { Id: "jr_3", JobRunState: "SUCCEEDED" };
                },
            },
        );
        expect(r.status, r.cause).to.equal("SUCCEEDED");
        expect(r.states).to.deep.equal(HAPPY);
        expect(r.of(S.runGlueJob)).to.have.length(3);
        expect(r.events.filter((e) => (e as { type: string }).type === "StateRetried")).to.have.length(2);
    });

    it("Glue job fails permanently: no retry of the failed run, alert, contingency report, Fail", async () => {
        const cause = JSON.stringify({ JobName: "reporting-etl", JobRunState: "FAILED", ErrorMessage: "AnalysisException: column amount not found" });
        const r = await run({ date: DATE }, { [R.glueStartJobRunSync]: () => { throw taskError("States.TaskFailed", cause); } });
        expect(r.states).to.deep.equal([...DATE_CHECKS, S.runGlueJob, caughtStateName(S.runGlueJob), ...FALLBACK]);
        expect(r.of(S.runGlueJob)).to.have.length(1);
        expect(r.alert()).to.deep.equal({ failedState: S.runGlueJob, error: "States.TaskFailed", cause, date: DATE });
        const [fallback] = r.of(S.runFallbackReport);
        expect(fallback.input).to.deep.equal({
            QueryString: `UNLOAD (SELECT * FROM raw WHERE dt = '${DATE}') TO 's3://lake-bkt/reports/fallback/dt=${DATE}/run=${EXECUTION}/'`,
            WorkGroup: "reporting-wg",
            QueryExecutionContext: { Database: "reporting_db" },
        });
        expect(r.status).to.equal("FAILED");
        expect(r.error).to.equal("States.TaskFailed");
        expect(r.cause).to.equal(`RunGlueJob failed for ${DATE}: ${cause} Contingency report written under reports/fallback/dt=${DATE}/run=${EXECUTION}/.`);
        expect(r.of(S.load.submit)).to.have.length(0);
    });

    it("Glue keeps refusing: after maxAttempts retries, the alert", async () => {
        const r = await run({ date: DATE }, { [R.glueStartJobRunSync]: () => { throw taskError("Glue.ConcurrentRunsExceededException", "busy"); } });
        expect(r.of(S.runGlueJob)).to.have.length(1 + 3);
        expect(r.alert()).to.include({ failedState: S.runGlueJob, error: "Glue.ConcurrentRunsExceededException" });
        expect(r.states.slice(-FALLBACK.length)).to.deep.equal(FALLBACK);
    });

    it("validation mismatch: no Redshift call at all, the alert names the counts, contingency report", async () => {
        const r = await run({ date: DATE }, { [R.athenaGetQueryResults]: () => ({ ResultSet: { Rows: [HEADER, row("10", "8", "1", "false")] } }) });
        expect(r.states).to.deep.equal([...DATE_CHECKS, S.runGlueJob, ...VALIDATION, S.countsNotReconciled, ...FALLBACK]);
        expect(r.calls.filter((c) => c.resource.includes("redshiftdata"))).to.have.length(0);
        expect(r.alert()).to.deep.equal({
            failedState: S.checkReconciled,
            error: REPORTING_ERRORS.countsNotReconciled,
            cause: "Counts do not reconcile: raw_rows 10 != curated_rows 8 + rejected_rows 1",
            date: DATE,
        });
        expect(r.error).to.equal(REPORTING_ERRORS.countsNotReconciled);
        expect(r.of(S.runFallbackReport)).to.have.length(1);
    });

    it("a validation result of another shape (columns moved, a NULL, two rows) is refused", async () => {
        const shapes: JsonValue[][] = [
            [row("curated_rows", "raw_rows", "rejected_rows", "reconciled"), row("9", "10", "1", "true")],
            [HEADER, { Data: [{ VarCharValue: "10" }, {}, { VarCharValue: "1" }, { VarCharValue: "true" }] }],
            [HEADER, row("10", "9", "1", "true"), row("1", "1", "0", "true")],
            [HEADER],
        ];
        for (const rows of shapes) {
            const r = await run({ date: DATE }, { [R.athenaGetQueryResults]: () => ({ ResultSet: { Rows: rows } }) });
            expect(r.states, JSON.stringify(rows)).to.include(S.validationUnreadable);
            expect(r.alert()).to.include({ failedState: S.checkValidationShape, error: REPORTING_ERRORS.unexpectedValidationResult });
            expect(r.of(S.load.submit)).to.have.length(0);
        }
    });

    it("Redshift load statement FAILED: the alert carries the statement's Error", async () => {
        const r = await run({ date: DATE }, { [R.redshiftDescribeStatement]: (i) => ({ Id: (i as { Id: string }).Id, Status: "FAILED", Error: "ERROR: Spectrum Scan Error" }) });
        expect(r.states).to.deep.equal([...DATE_CHECKS, S.runGlueJob, ...VALIDATION, ...stage(S.load, 1), S.load.statementFailed, ...FALLBACK]);
        expect(r.alert()).to.deep.equal({ failedState: S.load.status, error: REPORTING_ERRORS.statementFailed, cause: "Redshift statement st-2-4 FAILED: ERROR: Spectrum Scan Error", date: DATE });
        expect(r.of(S.report.submit)).to.have.length(0);
    });

    it("Redshift load statement ABORTED: the alert carries the statement's Error", async () => {
        const r = await run({ date: DATE }, { [R.redshiftDescribeStatement]: (i) => ({ Id: (i as { Id: string }).Id, Status: "ABORTED", Error: "Query cancelled by user" }) });
        expect(r.states).to.deep.equal([...DATE_CHECKS, S.runGlueJob, ...VALIDATION, ...stage(S.load, 1), S.load.statementAborted, ...FALLBACK]);
        expect(r.alert()).to.deep.equal({ failedState: S.load.status, error: REPORTING_ERRORS.statementAborted, cause: "Redshift statement st-2-4 was ABORTED: Query cancelled by user", date: DATE });
    });

    it("Redshift report statement ABORTED without an Error: still the alert, not a crash", async () => {
        const r = await run(
            { date: DATE },
            { [R.redshiftDescribeStatement]: (i) => { const id = (i as { Id: string }).Id; return { Id: id, Status: id.startsWith("st-1-") ? "ABORTED" : "FINISHED" }; } },
        );
        expect(r.states).to.deep.equal([...DATE_CHECKS, S.runGlueJob, ...VALIDATION, ...stage(S.load, 1), ...stage(S.report, 1), S.report.statementEnded, ...FALLBACK]);
        expect(r.alert()).to.include({ failedState: S.report.status, error: REPORTING_ERRORS.statementFailed, cause: "Redshift statement st-1-6 ended ABORTED without an error message" });
    });

    it("poll limit: after maxPolls describes the run gives up with a named error", async () => {
        const r = await run({ date: DATE }, { [R.redshiftDescribeStatement]: (i) => ({ Id: (i as { Id: string }).Id, Status: "STARTED" }) });
        expect(r.states).to.deep.equal([...DATE_CHECKS, S.runGlueJob, ...VALIDATION, ...stage(S.load, 4), S.load.pollLimit, ...FALLBACK]);
        expect(r.of(S.load.describe)).to.have.length(4);
        expect(r.alert()).to.include({ failedState: S.load.status, error: REPORTING_ERRORS.pollLimitExceeded });
        expect(r.alert().cause).to.match(/^Redshift statement st-2-4 still STARTED after 4 polls every 10 s/);
    });

    it("a Redshift API error is caught at the task that raised it", async () => {
        const r = await run({ date: DATE }, { [R.redshiftBatchExecuteStatement]: () => { throw taskError("RedshiftData.ValidationException", "Workgroup reporting-rs not found"); } });
        expect(r.states).to.deep.equal([...DATE_CHECKS, S.runGlueJob, ...VALIDATION, S.load.submit, caughtStateName(S.load.submit), ...FALLBACK]);
        expect(r.alert()).to.deep.equal({ failedState: S.load.submit, error: "RedshiftData.ValidationException", cause: "Workgroup reporting-rs not found", date: DATE });
    });

    it("bad date input is refused before Glue: alert, no fallback SQL, Fail", async () => {
        const inputs: JsonValue[] = [
            { date: "2026-11-20' OR '1'='1" },
            { date: "2026-11-20\\" },
            { date: "2026-1-20" },
            { date: "2026-13-01" },
            { date: "20261-11-20" },
            { date: "2026-11-20x" },
            { date: "2026-11-20-01" },
            { date: "1969-12-31" },
            { date: "" },
            { date: 20261120 },
            { day: DATE },
        ];
        for (const input of inputs) {
            const r = await run(input);
            const refusedAt = r.states.includes(S.dateMissing) ? S.dateMissing : S.dateRefused;
            expect(r.states.slice(-4), JSON.stringify(input)).to.deep.equal([S.notifyFailure, S.shouldRunFallback, S.fallbackSkipped, S.failed]);
            expect(r.states).to.include(refusedAt);
            expect(r.calls.map((c) => c.state), JSON.stringify(input)).to.deep.equal([S.notifyFailure]);
            const alert = r.alert();
            expect(alert.error).to.equal(REPORTING_ERRORS.invalidDate);
            expect(alert.date).to.equal(refusedAt === S.dateMissing ? null : (input as { date: string }).date);
            expect(r.status).to.equal("FAILED");
            expect(r.error).to.equal(REPORTING_ERRORS.invalidDate);
        }
        // A quote or a backslash is refused before any intrinsic function reads the date.
        for (const date of ["2026-11-20' OR '1'='1", "2026-11-20\\"]) {
            expect((await run({ date })).states.slice(0, 4), date).to.deep.equal([S.resolveDate, S.checkDateInput, S.checkDateText, S.dateRefused]);
        }
        // Missing and non-string dates stop at the first check.
        expect((await run({ date: 20261120 })).states.slice(0, 3)).to.deep.equal([S.resolveDate, S.checkDateInput, S.dateMissing]);
    });

    it("a scheduled run reports the day before the Scheduler's: month ends, leap years, New Year", async () => {
        const cases: [string, string, string[]][] = [
            ["2026-11-21T02:00:00Z", "2026-11-20", [S.dayBefore]],
            ["2026-11-10T02:00:00Z", "2026-11-09", [S.dayBefore]],
            ["2026-03-01T02:00:00Z", "2026-02-28", [S.previousMonth, S.previousMonthEnd, S.endOfMonth]],
            ["2024-03-01T02:00:00Z", "2024-02-29", [S.previousMonth, S.previousMonthEnd, S.endOfLeapFebruary]],
            ["2000-03-01T00:00:00Z", "2000-02-29", [S.previousMonth, S.previousMonthEnd, S.endOfLeapFebruary]],
            ["2100-03-01T00:00:00Z", "2100-02-28", [S.previousMonth, S.previousMonthEnd, S.endOfMonth]],
            ["2026-05-01T02:00:00Z", "2026-04-30", [S.previousMonth, S.previousMonthEnd, S.endOfMonth]],
            ["2026-10-01T02:00:00Z", "2026-09-30", [S.previousMonth, S.previousMonthEnd, S.endOfMonth]],
            ["2027-01-01T02:00:00Z", "2026-12-31", [S.endOfPreviousYear]],
        ];
        for (const [scheduledTime, date, path] of cases) {
            const r = await run({ scheduledTime });
            expect(r.status, `${scheduledTime}: ${r.cause}`).to.equal("SUCCEEDED");
            expect(r.states.slice(0, 5 + path.length), scheduledTime).to.deep.equal([S.resolveDate, S.checkScheduledTime, S.readScheduledDay, S.previousDay, S.whichDayBefore, ...path]);
            expect(r.of(S.runGlueJob)[0].input.Arguments, scheduledTime).to.deep.include({ [GLUE_JOB_ARGUMENTS.date]: date });
        }
        // A date given wins over the scheduled time; a malformed scheduled time is a missing date.
        const both = await run({ date: DATE, scheduledTime: "2027-01-01T02:00:00Z" });
        expect(both.of(S.runGlueJob)[0].input.Arguments).to.deep.include({ [GLUE_JOB_ARGUMENTS.date]: DATE });
        for (const scheduledTime of ["yesterday", "2026-11-21", "2026-11-21' OR 1=1 T", "1969-12-31T00:00:00Z"]) {
            const r = await run({ scheduledTime });
            expect(r.states.slice(0, 4), scheduledTime).to.deep.equal([S.resolveDate, S.checkScheduledTime, S.checkDateInput, S.dateMissing]);
            expect(r.status).to.equal("FAILED");
        }
    });

    it("the fallback itself fails: still Fail, the cause says so", async () => {
        let n = 0;
        const r = await run(
            { date: DATE },
            {
                [R.glueStartJobRunSync]: () => { throw taskError("States.TaskFailed", "job failed"); },
                [R.athenaStartQueryExecutionSync]: () => { n++; throw taskError("States.TaskFailed", "HIVE_CANNOT_OPEN_SPLIT"); },
            },
        );
        expect(n).to.equal(1);
        expect(r.states).to.deep.equal([...DATE_CHECKS, S.runGlueJob, caughtStateName(S.runGlueJob), S.notifyFailure, S.shouldRunFallback, S.runFallbackReport, S.fallbackFailed, S.failed]);
        expect(r.status).to.equal("FAILED");
        expect(r.error).to.equal("States.TaskFailed");
        expect(r.cause).to.equal(`RunGlueJob failed for ${DATE}: job failed The contingency report failed too: States.TaskFailed: HIVE_CANNOT_OPEN_SPLIT`);
    });

    it("the alert cannot be sent: the contingency report still runs", async () => {
        const r = await run({ date: DATE }, { [R.glueStartJobRunSync]: () => { throw taskError("States.TaskFailed", "job failed"); }, [R.snsPublish]: () => { throw taskError("SNS.AuthorizationErrorException", "denied"); } });
        expect(r.states.slice(-FALLBACK.length)).to.deep.equal(FALLBACK);
        expect(r.of(S.notifyFailure)).to.have.length(1 + 3);
        expect(r.of(S.runFallbackReport)).to.have.length(1);
    });
});
