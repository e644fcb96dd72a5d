// The reporting state machine of seed 002 (ResilientReportingPipeline), as a pure builder: args in,
// ASL (JSONPath) out. The component deploys it; the tests run it with aws-local-stepfunctions.
//
// Input `{"date":"YYYY-MM-DD"}` (a replay, an operator), or the Scheduler's
// `{"scheduledTime":"<ISO 8601>"}`, from which the day before the scheduled day is worked out with
// intrinsic functions (JSONPath ASL has no date arithmetic): the daily run reports yesterday. Flow:
//   check the date → Glue job (raw → curated, rejects) → Athena validation (raw = curated + rejected)
//   → Redshift load (batch + poll) → Redshift report (batch + poll) → Succeed.
// Any failure → a record `{failedState, error, cause, date}` at $.failure → SNS alert → the
// contingency report (Athena, from raw; not for a refused date) → Fail.
//
// Why the failing state's name is written by hand: after a Catch, `$$.State.Name` names the state
// being entered (the handler), not the one that failed. So each Task's Catch puts `{Error, Cause}` at
// $.caught and leads to a Pass of its own (`<Task>Caught`) that writes the record with the Task's
// name as a constant. Failures a Choice detects (a refused date, counts that do not reconcile, a
// Redshift statement that FAILED or was ABORTED, too many polls) get a Pass that writes the record
// with the detecting Choice's name.

import { REPORTING_DEFAULTS } from "../shared/defaults";
import { InvalidArgument } from "../shared/validation";
import { GLUE_JOB_ARGUMENTS, REPORT_PARTITION_KEY, REPORTING_PREFIXES, VALIDATION_COLUMNS } from "../../functions/shared/contract";
import {
    and,
    catchAll,
    choice,
    ChoiceCondition,
    compare,
    fail,
    formatIntrinsic,
    isPresent,
    not,
    or,
    pass,
    PayloadTemplate,
    retrier,
    RetryOptions,
    State,
    StateMachineDefinition,
    stateMachine,
    sqlFormatIntrinsic,
    stringEquals,
    succeed,
    task,
    waitSeconds,
    when,
} from "./asl";

/** The service integrations the machine calls. */
export const REPORTING_RESOURCES = {
    glueStartJobRunSync: "arn:aws:states:::glue:startJobRun.sync",
    athenaStartQueryExecutionSync: "arn:aws:states:::athena:startQueryExecution.sync",
    athenaGetQueryResults: "arn:aws:states:::athena:getQueryResults",
    redshiftBatchExecuteStatement: "arn:aws:states:::aws-sdk:redshiftdata:batchExecuteStatement",
    redshiftDescribeStatement: "arn:aws:states:::aws-sdk:redshiftdata:describeStatement",
    snsPublish: "arn:aws:states:::sns:publish",
} as const;

/** The Redshift stages: each a batchExecuteStatement and a poll loop on describeStatement. */
function redshiftStateNames<P extends string>(prefix: P) {
    return {
        submit: `Submit${prefix}`,
        wait: `WaitFor${prefix}`,
        countPoll: `Count${prefix}Poll`,
        describe: `Describe${prefix}`,
        status: `${prefix}Status`,
        statementFailed: `${prefix}StatementFailed`,
        statementAborted: `${prefix}StatementAborted`,
        statementEnded: `${prefix}StatementEnded`,
        pollLimit: `${prefix}PollLimitReached`,
    } as const;
}

/** Every state's name, for tests and the component (alarms, docs). */
export const REPORTING_STATES = {
    resolveDate: "ResolveDate",
    checkScheduledTime: "CheckScheduledTime",
    readScheduledDay: "ReadScheduledDay",
    previousDay: "PreviousDay",
    whichDayBefore: "WhichDayBefore",
    dayBefore: "DayBefore",
    previousMonth: "PreviousMonth",
    previousMonthEnd: "PreviousMonthEnd",
    endOfLeapFebruary: "EndOfLeapFebruary",
    endOfMonth: "EndOfMonth",
    endOfPreviousYear: "EndOfPreviousYear",
    checkDateInput: "CheckDateInput",
    checkDateText: "CheckDateText",
    splitDate: "SplitDate",
    checkDateParts: "CheckDateParts",
    dateMissing: "DateMissing",
    dateRefused: "DateRefused",
    runGlueJob: "RunGlueJob",
    startValidation: "StartValidation",
    getValidationResult: "GetValidationResult",
    checkValidationShape: "CheckValidationShape",
    checkReconciled: "CheckReconciled",
    validationUnreadable: "ValidationUnreadable",
    countsNotReconciled: "CountsNotReconciled",
    load: redshiftStateNames("Load"),
    report: redshiftStateNames("Report"),
    succeeded: "ReportingSucceeded",
    notifyFailure: "NotifyFailure",
    shouldRunFallback: "ShouldRunFallback",
    runFallbackReport: "RunFallbackReport",
    fallbackWritten: "FallbackWritten",
    fallbackFailed: "FallbackFailed",
    fallbackSkipped: "FallbackSkipped",
    failed: "ReportingFailed",
} as const;

/** The Pass a Task's Catch leads to. */
export function caughtStateName(taskName: string): string {
    return `${taskName}Caught`;
}

/** The error names the machine itself raises (the rest come from the services). */
export const REPORTING_ERRORS = {
    invalidDate: "Reporting.InvalidDate",
    unexpectedValidationResult: "Reporting.UnexpectedValidationResult",
    countsNotReconciled: "Reporting.CountsNotReconciled",
    statementFailed: "Reporting.RedshiftStatementFailed",
    statementAborted: "Reporting.RedshiftStatementAborted",
    pollLimitExceeded: "Reporting.RedshiftPollLimitExceeded",
} as const;

export interface GlueRetryArgs {
    /** Retries after the first attempt. Default REPORTING_DEFAULTS.glueRetry (components/shared/defaults.ts): 3. */
    maxAttempts?: number;
    /** Seconds before the first retry. Default 60 (a concurrent run of the job usually takes minutes). */
    intervalSeconds?: number;
    /** Growth of the pause per retry. Default 2. */
    backoffRate?: number;
    /** Longest pause. Default 600. */
    maxDelaySeconds?: number;
}

export interface ReportingDefinitionArgs {
    /** The Glue ETL job (raw → curated and rejects). Required. */
    glueJobName: string;
    /**
     * The job's static arguments (the date is passed per run as `--date`): the s3:// locations of
     * raw, curated and rejects, and the prefix holding the job's SQL files. Required.
     */
    glueArguments: { rawPath: string; curatedPath: string; rejectsPath: string; sqlPath: string };
    /**
     * Retry of the Glue job start when Glue refuses or hiccups (ConcurrentRunsExceeded, internal
     * error, timeout of the API call, throttling), with full jitter. A run that started and then
     * ended FAILED, TIMEOUT or ERROR (States.TaskFailed) is not retried here: the cause is usually the
     * data or the script, a rerun costs a full job run, and the job's own MaxRetries is the place to
     * ask Glue for it. Defaults: see GlueRetryArgs.
     */
    glueRetry?: GlueRetryArgs;
    /** The Athena workgroup (its result location and limits apply). Required. */
    athenaWorkGroup: string;
    /** The Glue Data Catalog database the Athena queries name tables in. Required. */
    athenaDatabase: string;
    /**
     * The validation query: one row, columns VALIDATION_COLUMNS in that order. Plan-rendered: the
     * only placeholder left is `{{date}}`, inside string literals. Required.
     */
    validateSql: string;
    /** The contingency report query (writes reports/fallback/dt=…), rendered as validateSql is. Required. */
    fallbackSql: string;
    /** The Redshift Serverless workgroup. Required. */
    redshiftWorkgroup: string;
    /** The Redshift database. Required. */
    redshiftDatabase: string;
    /** The load statements, run in order in one batch (one transaction); `{{date}}` only. 1 to 40. Required. */
    loadSqls: string[];
    /** The report statements (tables and UNLOAD), run as loadSqls are. 1 to 40. Required. */
    reportSqls: string[];
    /** Seconds between two describeStatement polls. Default REPORTING_DEFAULTS.pollIntervalSeconds: 10. */
    pollIntervalSeconds?: number;
    /** describeStatement polls per batch before giving up (the statements keep running). Default REPORTING_DEFAULTS.maxPolls: 90 (15 min at 10 s). */
    maxPolls?: number;
    /** The SNS topic the failure alert goes to. Required. */
    alertTopicArn: string;
    /**
     * The whole execution's limit (TimeoutSeconds). When it is hit the execution ends TIMED_OUT
     * without the alert: the state machine's timed-out alarm covers it. Default
     * REPORTING_DEFAULTS.executionTimeoutSeconds: 14400 (4 h).
     */
    timeoutSeconds?: number;
    /** First and last year a date may have. Default REPORTING_DATE_YEARS: 1970 to 2199. */
    years?: { first: number; last: number };
}

/** The years a date may have unless `years` says otherwise. */
export const REPORTING_DATE_YEARS = { first: 1970, last: 2199 } as const;

/** Retry of a service API call refused for load or a passing fault; a few quick tries. */
const API_RETRY: RetryOptions = { maxAttempts: 3, intervalSeconds: 2, backoffRate: 2, maxDelaySeconds: 30 };

const GLUE_TRANSIENT_ERRORS = ["Glue.ConcurrentRunsExceededException", "Glue.InternalServiceException", "Glue.OperationTimeoutException", "Glue.ThrottlingException"];
const ATHENA_TRANSIENT_ERRORS = ["Athena.TooManyRequestsException", "Athena.InternalServerException"];
const REDSHIFT_TRANSIENT_ERRORS = ["RedshiftData.ActiveStatementsExceededException", "RedshiftData.ThrottlingException", "RedshiftData.InternalServerException"];

const CAUGHT = "$.caught";
const FAILURE = "$.failure";

/** The execution's name, in the alert and in the fallback report's folder (one folder per run). */
const EXECUTION = { "execution.$": "$$.Execution.Name" } as const;

/** The failure record `{failedState, error, cause, date, execution}` at $.failure, then the alert. */
function failureRecord(failedState: string, error: string, cause: PayloadTemplate, date: PayloadTemplate = { "date.$": "$.date" }, comment?: string): State {
    return pass({ ...(comment ? { Comment: comment } : {}), Parameters: { failedState, error, ...cause, ...date, ...EXECUTION }, ResultPath: FAILURE, next: REPORTING_STATES.notifyFailure });
}

/** The Pass a Task's Catch leads to: the record, naming the Task. */
function caughtRecord(taskName: string): State {
    return pass({
        Comment: `Records that ${taskName} failed ($$.State.Name would name this state, not ${taskName})`,
        Parameters: { failedState: taskName, "error.$": `${CAUGHT}.Error`, "cause.$": `${CAUGHT}.Cause`, "date.$": "$.date", ...EXECUTION },
        ResultPath: FAILURE,
        next: REPORTING_STATES.notifyFailure,
    });
}

function checkWhole(label: string, value: number, min: number, max: number): void {
    if (!Number.isInteger(value) || value < min || value > max) throw new InvalidArgument(`${label} = ${value}: expected an integer from ${min} to ${max}`);
}

/** The batch + poll states of one Redshift stage. */
function redshiftStage(
    prefix: "Load" | "Report",
    sqls: string[],
    next: string,
    args: { workgroup: string; database: string; pollIntervalSeconds: number; maxPolls: number; label: string },
): Record<string, State> {
    const n = redshiftStateNames(prefix);
    const path = `$.${prefix.toLowerCase()}`;
    const retry = [retrier(REDSHIFT_TRANSIENT_ERRORS, API_RETRY)];
    const formatted = sqls.map((sql, i) => sqlFormatIntrinsic(sql, "$.date", `${args.label}: ${prefix.toLowerCase()}Sqls[${i}]`));
    const statement = `${path}.statement`;
    const statusIs = (s: string) => stringEquals(`${statement}.Status`, s);
    const statementRecord = (state: string, error: string, ended: string) =>
        failureRecord(state, error, { "cause.$": `States.Format('Redshift statement {} ${ended}: {}', ${path}.id, ${statement}.Error)` });
    return {
        [n.submit]: task(REPORTING_RESOURCES.redshiftBatchExecuteStatement, {
            Comment: `Runs the ${prefix.toLowerCase()} SQL in one batch (a single transaction), then polls it`,
            Parameters: { WorkgroupName: args.workgroup, Database: args.database, "Sqls.$": `States.Array(${formatted.join(", ")})` },
            ResultSelector: { "id.$": "$.Id", polls: 0 },
            ResultPath: path,
            Retry: retry,
            Catch: [catchAll(caughtStateName(n.submit), CAUGHT)],
            next: n.wait,
        }),
        [n.wait]: waitSeconds(args.pollIntervalSeconds, n.countPoll),
        [n.countPoll]: pass({
            Comment: "Counts the polls: the loop ends after maxPolls",
            Parameters: { "id.$": `${path}.id`, "polls.$": `States.MathAdd(${path}.polls, 1)` },
            ResultPath: path,
            next: n.describe,
        }),
        [n.describe]: task(REPORTING_RESOURCES.redshiftDescribeStatement, {
            Parameters: { "Id.$": `${path}.id` },
            ResultPath: statement,
            Retry: retry,
            Catch: [catchAll(caughtStateName(n.describe), CAUGHT)],
            next: n.status,
        }),
        [n.status]: choice(
            [
                when(statusIs("FINISHED"), next),
                // Error is read only where it is present: a missing path would end the run (States.Runtime) without the alert.
                when(and(statusIs("FAILED"), isPresent(`${statement}.Error`)), n.statementFailed),
                when(and(statusIs("ABORTED"), isPresent(`${statement}.Error`)), n.statementAborted),
                when(or(statusIs("FAILED"), statusIs("ABORTED")), n.statementEnded),
                when(compare(`${path}.polls`, "NumericGreaterThanEquals", args.maxPolls), n.pollLimit),
            ],
            n.wait,
        ),
        [n.statementFailed]: statementRecord(n.status, REPORTING_ERRORS.statementFailed, "FAILED"),
        [n.statementAborted]: statementRecord(n.status, REPORTING_ERRORS.statementAborted, "was ABORTED"),
        [n.statementEnded]: failureRecord(n.status, REPORTING_ERRORS.statementFailed, {
            "cause.$": `States.Format('Redshift statement {} ended {} without an error message', ${path}.id, ${statement}.Status)`,
        }),
        [n.pollLimit]: failureRecord(n.status, REPORTING_ERRORS.pollLimitExceeded, {
            "cause.$": `States.Format('Redshift statement {} still {} after {} polls every ${args.pollIntervalSeconds} s (it keeps running; check it before a rerun)', ${path}.id, ${statement}.Status, ${path}.polls)`,
        }),
        [caughtStateName(n.submit)]: caughtRecord(n.submit),
        [caughtStateName(n.describe)]: caughtRecord(n.describe),
    };
}

/** The leap years from `first` to `last` (Gregorian rule), as an intrinsic array of numbers. */
function leapYears(first: number, last: number): string {
    const out: number[] = [];
    for (let y = first; y <= last; y++) if ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0) out.push(y);
    return `States.Array(${out.join(", ")})`;
}

/** `'01'`, `'02'`, … as intrinsic string literals, for States.ArrayContains. */
function literals(from: number, to: number, width: number): string {
    const out: string[] = [];
    for (let i = from; i <= to; i++) out.push(`'${String(i).padStart(width, "0")}'`);
    return `States.Array(${out.join(", ")})`;
}

/**
 * The reporting state machine's definition (ASL, JSONPath), checked by the assembler. Throws an
 * InvalidArgument naming the field for args outside what the services take.
 */
export function reportingDefinition(args: ReportingDefinitionArgs): StateMachineDefinition {
    const label = `reportingDefinition for Glue job "${args.glueJobName}"`;
    for (const field of ["glueJobName", "athenaWorkGroup", "athenaDatabase", "validateSql", "fallbackSql", "redshiftWorkgroup", "redshiftDatabase", "alertTopicArn"] as const) {
        if (typeof args[field] !== "string" || args[field].trim() === "") throw new InvalidArgument(`${label}: ${field} is required`);
    }
    for (const field of ["loadSqls", "reportSqls"] as const) {
        const sqls = args[field];
        // batchExecuteStatement takes 1 to 40 statements.
        if (!Array.isArray(sqls) || sqls.length < 1 || sqls.length > 40) throw new InvalidArgument(`${label}: ${field} must hold 1 to 40 statements`);
        sqls.forEach((s, i) => {
            if (typeof s !== "string" || s.trim() === "") throw new InvalidArgument(`${label}: ${field}[${i}] is empty`);
        });
    }
    // Fields given as undefined keep their default.
    const glue = { ...REPORTING_DEFAULTS.glueRetry, ...Object.fromEntries(Object.entries(args.glueRetry ?? {}).filter(([, v]) => v !== undefined)) };
    const pollIntervalSeconds = args.pollIntervalSeconds ?? REPORTING_DEFAULTS.pollIntervalSeconds;
    const maxPolls = args.maxPolls ?? REPORTING_DEFAULTS.maxPolls;
    const timeoutSeconds = args.timeoutSeconds ?? REPORTING_DEFAULTS.executionTimeoutSeconds;
    const years = args.years ?? REPORTING_DATE_YEARS;
    checkWhole(`${label}: pollIntervalSeconds`, pollIntervalSeconds, 1, 3600);
    checkWhole(`${label}: maxPolls`, maxPolls, 1, 10000);
    checkWhole(`${label}: timeoutSeconds`, timeoutSeconds, 60, 31536000);
    checkWhole(`${label}: years.first`, years.first, 1000, 9999);
    checkWhole(`${label}: years.last`, years.last, years.first, 9999);
    const glueRetry = retrier(GLUE_TRANSIENT_ERRORS, glue);

    const S = REPORTING_STATES;
    const refused = S.dateRefused;
    const validationRows = "$.validation.result.rows";
    const cell = (row: number, col: number) => `${validationRows}[${row}].Data[${col}].VarCharValue`;
    const dateText = (operator: "StringGreaterThanEquals" | "StringLessThanEquals", value: string): ChoiceCondition => compare("$.date", operator, value);
    const fallbackPrefix = `${REPORTING_PREFIXES.fallbackReports}${REPORT_PARTITION_KEY}=`;

    // The scheduled day's parts, as strings ("2026", "03", "01") and as numbers (a leading zero is no
    // JSON number: "1" is put before the part, then 100 taken away).
    const part = (i: number) => `States.ArrayGetItem($.scheduled.parts, ${i})`;
    const asNumber = (i: number) => `States.MathAdd(States.StringToJson(States.Format('1{}', ${part(i)})), -100)`;
    const padded = (expr: string) => `States.ArrayGetItem(${literals(0, 31, 2)}, ${expr})`;
    const monthEnds = "States.Array('00', '31', '28', '31', '30', '31', '30', '31', '31', '30', '31', '30', '31')";
    const resolved = (date: string) => ({ "date.$": date, "scheduledTime.$": "$.scheduledTime" });
    const states: Record<string, State> = {
        // ---- which day: given, or the day before the Scheduler's ----------------------------------
        [S.resolveDate]: choice(
            [when(isPresent("$.date"), S.checkDateInput), when(and(isPresent("$.scheduledTime"), compare("$.scheduledTime", "IsString", true)), S.checkScheduledTime)],
            S.checkDateInput,
            "A date given is used as it is; otherwise the Scheduler's time says which day to report",
        ),
        [S.checkScheduledTime]: choice(
            [
                when(
                    and(
                        compare("$.scheduledTime", "StringMatches", "*-*-*T*"),
                        not(compare("$.scheduledTime", "StringMatches", "*-*-*-*T*")),
                        not(compare("$.scheduledTime", "StringMatches", "*'*")),
                        not(compare("$.scheduledTime", "StringMatches", "*\\\\*")),
                        compare("$.scheduledTime", "StringGreaterThanEquals", `${years.first}-01-02`),
                        compare("$.scheduledTime", "StringLessThan", `${years.last + 1}-01-01`),
                    ),
                    S.readScheduledDay,
                ),
            ],
            S.checkDateInput,
            "YYYY-MM-DDT… within the years; anything else is refused as a missing date",
        ),
        [S.readScheduledDay]: pass({
            Parameters: { "scheduledTime.$": "$.scheduledTime", "parts.$": "States.StringSplit(States.ArrayGetItem(States.StringSplit($.scheduledTime, 'T'), 0), '-')" },
            ResultPath: "$.scheduled",
            next: S.previousDay,
        }),
        [S.previousDay]: pass({
            Parameters: { "parts.$": "$.scheduled.parts", "year.$": `States.StringToJson(${part(0)})`, "month.$": asNumber(1), "day.$": asNumber(2) },
            ResultPath: "$.scheduled",
            next: S.whichDayBefore,
        }),
        [S.whichDayBefore]: choice(
            [when(compare("$.scheduled.day", "NumericGreaterThan", 1), S.dayBefore), when(compare("$.scheduled.month", "NumericGreaterThan", 1), S.previousMonth)],
            S.endOfPreviousYear,
            "The 1st of a month reports the last day of the month before; 1 January the year before's 31 December",
        ),
        [S.dayBefore]: pass({ Parameters: resolved(`States.Format('{}-{}-{}', ${part(0)}, ${part(1)}, ${padded("States.MathAdd($.scheduled.day, -1)")})`), next: S.checkDateInput }),
        [S.previousMonth]: pass({
            Parameters: {
                "parts.$": "$.scheduled.parts",
                "month.$": "States.MathAdd($.scheduled.month, -1)",
                "leap.$": `States.ArrayContains(${leapYears(years.first, years.last)}, $.scheduled.year)`,
            },
            ResultPath: "$.scheduled",
            next: S.previousMonthEnd,
        }),
        [S.previousMonthEnd]: choice(
            [when(and(compare("$.scheduled.month", "NumericEquals", 2), compare("$.scheduled.leap", "BooleanEquals", true)), S.endOfLeapFebruary)],
            S.endOfMonth,
        ),
        [S.endOfLeapFebruary]: pass({ Parameters: resolved(`States.Format('{}-02-29', ${part(0)})`), next: S.checkDateInput }),
        [S.endOfMonth]: pass({
            Parameters: resolved(`States.Format('{}-{}-{}', ${part(0)}, ${padded("$.scheduled.month")}, States.ArrayGetItem(${monthEnds}, $.scheduled.month))`),
            next: S.checkDateInput,
        }),
        [S.endOfPreviousYear]: pass({ Parameters: resolved("States.Format('{}-12-31', States.MathAdd($.scheduled.year, -1))"), next: S.checkDateInput }),

        // ---- the date: it is formatted into SQL text, so it must be a plain YYYY-MM-DD -------------
        [S.checkDateInput]: choice(
            [when(not(isPresent("$.date")), S.dateMissing), when(not(compare("$.date", "IsString", true)), S.dateMissing)],
            S.checkDateText,
            'Input must be {"date":"YYYY-MM-DD"}',
        ),
        [S.checkDateText]: choice(
            [
                when(
                    and(
                        dateText("StringGreaterThanEquals", `${years.first}-01-01`),
                        dateText("StringLessThanEquals", `${years.last}-12-31`),
                        // A quote or a backslash could leave the SQL literal the date is formatted into.
                        not(compare("$.date", "StringMatches", "*'*")),
                        not(compare("$.date", "StringMatches", "*\\\\*")),
                        // Exactly two dashes, none leading, trailing or doubled: three non-empty parts.
                        compare("$.date", "StringMatches", "*-*-*"),
                        not(compare("$.date", "StringMatches", "*-*-*-*")),
                        not(compare("$.date", "StringMatches", "-*")),
                        not(compare("$.date", "StringMatches", "*-")),
                        not(compare("$.date", "StringMatches", "*--*")),
                    ),
                    S.splitDate,
                ),
            ],
            refused,
            "No quote or backslash, two dashes, within the years (before any intrinsic function reads it)",
        ),
        [S.splitDate]: pass({
            Comment: "Each part must be one of a fixed list: only a wildcard exists to match strings with",
            Parameters: {
                "year.$": `States.ArrayContains(${literals(years.first, years.last, 4)}, States.ArrayGetItem(States.StringSplit($.date, '-'), 0))`,
                "month.$": `States.ArrayContains(${literals(1, 12, 2)}, States.ArrayGetItem(States.StringSplit($.date, '-'), 1))`,
                "day.$": `States.ArrayContains(${literals(1, 31, 2)}, States.ArrayGetItem(States.StringSplit($.date, '-'), 2))`,
            },
            ResultPath: "$.dateCheck",
            next: S.checkDateParts,
        }),
        [S.checkDateParts]: choice(
            [
                when(
                    and(compare("$.dateCheck.year", "BooleanEquals", true), compare("$.dateCheck.month", "BooleanEquals", true), compare("$.dateCheck.day", "BooleanEquals", true)),
                    S.runGlueJob,
                ),
            ],
            refused,
            "Calendar validity (e.g. 02-30) is left to the Glue job, which refuses such a day",
        ),
        [S.dateMissing]: failureRecord(
            S.checkDateInput,
            REPORTING_ERRORS.invalidDate,
            { cause: 'The input must be an object {"date": "YYYY-MM-DD"} with the date as a string' },
            { date: null },
        ),
        // Refused by CheckDateText or CheckDateParts: both check the date's text, one name for the alert.
        [refused]: failureRecord(S.checkDateText, REPORTING_ERRORS.invalidDate, {
            cause: `The date must be YYYY-MM-DD, a day from ${years.first}-01-01 to ${years.last}-12-31`,
        }),

        // ---- Glue: raw → curated and rejects -----------------------------------------------------
        [S.runGlueJob]: task(REPORTING_RESOURCES.glueStartJobRunSync, {
            Parameters: {
                JobName: args.glueJobName,
                Arguments: {
                    [`${GLUE_JOB_ARGUMENTS.date}.$`]: "$.date",
                    [GLUE_JOB_ARGUMENTS.rawPath]: args.glueArguments.rawPath,
                    [GLUE_JOB_ARGUMENTS.curatedPath]: args.glueArguments.curatedPath,
                    [GLUE_JOB_ARGUMENTS.rejectsPath]: args.glueArguments.rejectsPath,
                    [GLUE_JOB_ARGUMENTS.sqlPath]: args.glueArguments.sqlPath,
                },
            },
            ResultSelector: { "jobRunId.$": "$.Id", "state.$": "$.JobRunState" },
            ResultPath: "$.glue",
            Retry: [glueRetry],
            Catch: [catchAll(caughtStateName(S.runGlueJob), CAUGHT)],
            next: S.startValidation,
        }),

        // ---- Athena: raw = curated + rejected? ---------------------------------------------------
        [S.startValidation]: task(REPORTING_RESOURCES.athenaStartQueryExecutionSync, {
            Parameters: {
                "QueryString.$": sqlFormatIntrinsic(args.validateSql, "$.date", `${label}: validateSql`),
                WorkGroup: args.athenaWorkGroup,
                QueryExecutionContext: { Database: args.athenaDatabase },
            },
            ResultSelector: { "queryExecutionId.$": "$.QueryExecution.QueryExecutionId" },
            ResultPath: "$.validation",
            Retry: [retrier(ATHENA_TRANSIENT_ERRORS, API_RETRY)],
            Catch: [catchAll(caughtStateName(S.startValidation), CAUGHT)],
            next: S.getValidationResult,
        }),
        [S.getValidationResult]: task(REPORTING_RESOURCES.athenaGetQueryResults, {
            // Header, the row, and a third to notice a query that returns more than one row.
            Parameters: { "QueryExecutionId.$": "$.validation.queryExecutionId", MaxResults: 3 },
            ResultSelector: { "rows.$": "$.ResultSet.Rows" },
            ResultPath: "$.validation.result",
            Retry: [retrier(ATHENA_TRANSIENT_ERRORS, API_RETRY)],
            Catch: [catchAll(caughtStateName(S.getValidationResult), CAUGHT)],
            next: S.checkValidationShape,
        }),
        [S.checkValidationShape]: choice(
            [
                when(
                    and(
                        ...VALIDATION_COLUMNS.flatMap((_, col) => [isPresent(cell(0, col)), isPresent(cell(1, col))]),
                        not(isPresent(`${validationRows}[2]`)),
                    ),
                    S.checkReconciled,
                ),
            ],
            S.validationUnreadable,
            "Header and exactly one row, every cell present (Athena leaves VarCharValue out for NULL)",
        ),
        [S.checkReconciled]: choice(
            [
                when(not(and(...VALIDATION_COLUMNS.map((name, col) => stringEquals(cell(0, col), name)))), S.validationUnreadable),
                when(stringEquals(cell(1, VALIDATION_COLUMNS.indexOf("reconciled")), "true"), S.load.submit),
            ],
            S.countsNotReconciled,
        ),
        [S.validationUnreadable]: failureRecord(S.checkValidationShape, REPORTING_ERRORS.unexpectedValidationResult, {
            cause: `The validation query must return one row with the columns ${VALIDATION_COLUMNS.join(", ")}, none NULL`,
        }),
        [S.countsNotReconciled]: failureRecord(S.checkReconciled, REPORTING_ERRORS.countsNotReconciled, {
            "cause.$": `States.Format('Counts do not reconcile: raw_rows {} != curated_rows {} + rejected_rows {}', ${cell(1, 0)}, ${cell(1, 1)}, ${cell(1, 2)})`,
        }),

        // ---- Redshift: load, then report -----------------------------------------------------------
        ...redshiftStage("Load", args.loadSqls, S.report.submit, { workgroup: args.redshiftWorkgroup, database: args.redshiftDatabase, pollIntervalSeconds, maxPolls, label }),
        ...redshiftStage("Report", args.reportSqls, S.succeeded, { workgroup: args.redshiftWorkgroup, database: args.redshiftDatabase, pollIntervalSeconds, maxPolls, label }),
        [S.succeeded]: succeed(),

        // ---- failure: alert, contingency report, Fail ------------------------------------------------
        [S.notifyFailure]: task(REPORTING_RESOURCES.snsPublish, {
            // An object Message: the SNS integration sends it as JSON text (States.JsonToString would too,
            // but aws-local-stepfunctions strips the backslashes of its result, breaking the JSON).
            Parameters: { TopicArn: args.alertTopicArn, Subject: "Reporting pipeline failed", "Message.$": FAILURE },
            ResultPath: null,
            Retry: [retrier(["States.ALL"], API_RETRY)],
            // An alert that cannot be sent must not stop the contingency report.
            Catch: [catchAll(S.shouldRunFallback, "$.notifyError")],
            next: S.shouldRunFallback,
        }),
        [S.shouldRunFallback]: choice(
            [when(or(stringEquals(`${FAILURE}.failedState`, S.checkDateInput), stringEquals(`${FAILURE}.failedState`, S.checkDateText)), S.fallbackSkipped)],
            S.runFallbackReport,
            "A refused date is never formatted into the fallback SQL",
        ),
        [S.runFallbackReport]: task(REPORTING_RESOURCES.athenaStartQueryExecutionSync, {
            Parameters: {
                "QueryString.$": formatIntrinsic(args.fallbackSql, { date: "$.date", run: `${FAILURE}.execution` }, `${label}: fallbackSql`),
                WorkGroup: args.athenaWorkGroup,
                QueryExecutionContext: { Database: args.athenaDatabase },
            },
            ResultSelector: { "queryExecutionId.$": "$.QueryExecution.QueryExecutionId" },
            ResultPath: "$.fallback",
            Retry: [retrier(ATHENA_TRANSIENT_ERRORS, API_RETRY)],
            Catch: [catchAll(S.fallbackFailed, "$.fallbackError")],
            next: S.fallbackWritten,
        }),
        [S.fallbackWritten]: pass({
            Parameters: {
                "summary.$": `States.Format('{} failed for {}: {} Contingency report written under ${fallbackPrefix}{}/run={}/.', ${FAILURE}.failedState, ${FAILURE}.date, ${FAILURE}.cause, ${FAILURE}.date, ${FAILURE}.execution)`,
            },
            ResultPath: "$.outcome",
            next: S.failed,
        }),
        [S.fallbackFailed]: pass({
            Parameters: {
                "summary.$": `States.Format('{} failed for {}: {} The contingency report failed too: {}: {}', ${FAILURE}.failedState, ${FAILURE}.date, ${FAILURE}.cause, $.fallbackError.Error, $.fallbackError.Cause)`,
            },
            ResultPath: "$.outcome",
            next: S.failed,
        }),
        [S.fallbackSkipped]: pass({
            Parameters: { "summary.$": `States.Format('{} refused the input: {} No contingency report.', ${FAILURE}.failedState, ${FAILURE}.cause)` },
            ResultPath: "$.outcome",
            next: S.failed,
        }),
        [S.failed]: fail({ ErrorPath: `${FAILURE}.error`, CausePath: "$.outcome.summary" }),

        [caughtStateName(S.runGlueJob)]: caughtRecord(S.runGlueJob),
        [caughtStateName(S.startValidation)]: caughtRecord(S.startValidation),
        [caughtStateName(S.getValidationResult)]: caughtRecord(S.getValidationResult),
    };

    return stateMachine(
        {
            Comment: `Daily report for {"date":"YYYY-MM-DD"}: Glue ${args.glueJobName} → Athena validation → Redshift load and report; on failure an alert and the Athena contingency report`,
            StartAt: S.resolveDate,
            TimeoutSeconds: timeoutSeconds,
            States: states,
        },
        label,
    );
}
