/**
 * Seed 002 end to end, on the local runtime, from the dev stack's plan: the ingest stream on
 * kinesis-local, the Firehose stand-in writing raw/ on s3rver, the planned state machine run by
 * aws-local-stepfunctions with Glue, Athena and Redshift as DuckDB local stand-ins, the alert topic
 * on fauxqs. Then what Firehose writes, a state machine role that lacks a grant, and the operator's
 * report:replay against the runtime's Step Functions endpoint.
 */
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { expect } from "chai";
import { gunzipSync } from "zlib";
import type { CliIo } from "../../cli/common";
import { runReplay } from "../../cli/report-replay";
import type { Plan } from "../../local/plan";
import { startRuntime, type LocalRuntime } from "../../local/runtime";
import { PARTITIONING_FAILED } from "../../local/runtime/firehose";
import { TASK_RESOURCES } from "../../local/runtime/reporting/state-machines";
import { taskError } from "../../local/runtime/step-functions";
import type { FlowReport } from "../../local/scenarios";
import { runReporting } from "../../local/scenarios/reporting";
import { stackPlan } from "../support/stack-plans";

describe("e2e: resilient reporting (seed 002), on the local runtime", function () {
    this.timeout(120_000);
    let plan: Plan;
    let runtime: LocalRuntime;
    let report: FlowReport;
    let outputs: Record<string, string>;

    const put = async (lines: string[]) => {
        const res = await runtime.clients.kinesis.send(new PutRecordsCommand({ StreamName: outputs.reportIngestStreamName, Records: lines.map((l, n) => ({ Data: Buffer.from(l), PartitionKey: `k${n}` })) }));
        expect(res.FailedRecordCount ?? 0).to.equal(0);
    };
    const objects = async (prefix: string) => {
        const { Contents = [] } = await runtime.clients.s3.send(new ListObjectsV2Command({ Bucket: outputs.reportRawBucketName, Prefix: prefix }));
        return Promise.all(
            Contents.map(async (c) => ({ key: c.Key!, body: Buffer.from(await (await runtime.clients.s3.send(new GetObjectCommand({ Bucket: outputs.reportRawBucketName, Key: c.Key! }))).Body!.transformToByteArray()) })),
        );
    };
    const firehose = () => [...runtime.firehose.values()][0];

    before(async () => {
        plan = await stackPlan("dev");
        outputs = plan.outputs as Record<string, string>;
        runtime = await startRuntime({ plan, timeScale: 0.01 });
        report = await runReporting(runtime);
    });
    after(async () => {
        await runtime?.stop();
    });

    it("passes every check of scenario 002 (the day, the rerun, the forced Glue failure)", () => {
        const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
        expect(failed).to.deep.equal([]);
        expect(report.checks.map((c) => c.name)).to.include("raw = curated + rejects").and.include("run again, the fact table is unchanged (rows and total)").and.include("the alert names the failing state and its error");
    });

    it("Firehose writes only what the plan says: the prefix, GZIP, a newline per record, the error prefix for a record without event_time", async () => {
        const settings = firehose().settings;
        expect(settings.prefix).to.equal("raw/dt=!{partitionKeyFromQuery:dt}/");
        const good = ['{"event_id":"fh-1","event_time":"2026-12-09T01:00:00Z"}', '{"event_id":"fh-2","event_time":"2026-12-09T23:59:59Z"}'];
        const bad = '{"event_id":"fh-3"}';
        await put([...good, bad]);
        const flushed = await firehose().flush();
        expect(flushed.records).to.equal(3);
        const data = await objects("raw/dt=2026-12-09/");
        expect(data.map((o) => o.key)).to.have.length(1);
        expect(data[0].key).to.match(new RegExp(`^raw/dt=2026-12-09/${settings.name}-1-\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-[0-9a-f-]{36}\\.gz$`));
        expect(data[0].body.subarray(0, 2).toString("hex")).to.equal("1f8b");
        // Records of two shards: in shard order, each followed by the planned newline.
        const text = gunzipSync(data[0].body).toString("utf8");
        expect(text.endsWith("\n")).to.equal(true);
        expect(text.split("\n").slice(0, -1).sort()).to.deep.equal(good);
        const today = new Date().toISOString().slice(0, 10);
        const errors = (await objects(`raw/_errors/${PARTITIONING_FAILED}/`)).filter((o) => gunzipSync(o.body).toString("utf8").includes(Buffer.from(bad).toString("base64")));
        expect(errors).to.have.length(1);
        expect(errors[0].key.startsWith(`raw/_errors/${PARTITIONING_FAILED}/${today}/`), errors[0].key).to.equal(true);
        const doc = JSON.parse(gunzipSync(errors[0].body).toString("utf8").trim().split("\n").pop()!);
        expect(doc).to.include({ errorCode: "DynamicPartitioning.MetadataExtractionFailed", rawData: Buffer.from(bad).toString("base64") });
        // Nothing else went anywhere: the flush wrote exactly these two objects.
        expect(flushed.keys.sort()).to.deep.equal([data[0].key, errors[0].key].sort());
    });

    it("a state machine role without glue:StartJobRun fails the Glue task as AWS does (States.TaskFailed, AccessDeniedException), then alerts", async () => {
        // The dev plan's reporting system and its alert topic alone: a runtime of it starts and stops in seconds.
        const denied: Plan = JSON.parse(JSON.stringify({ ...plan, resources: plan.resources.filter((r) => /^(reporting|alerts)-/.test(r.name)) }));
        const policy = denied.resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === "reporting-states-policy")!;
        const doc = JSON.parse(String(policy.inputs.policy)) as { Statement: { Action: string[] }[] };
        for (const s of doc.Statement) s.Action = s.Action.filter((a) => a !== "glue:StartJobRun");
        policy.inputs.policy = JSON.stringify(doc);
        const other = await startRuntime({ plan: denied, timeScale: 0.01 });
        try {
            const run = await other.stepFunctions.wait(await other.stepFunctions.start(outputs.reportStateMachineArn, { date: "2026-11-20" }, "denied-1"));
            expect(run.status).to.equal("FAILED");
            expect(run.error).to.equal("States.TaskFailed");
            expect(run.cause).to.contain("RunGlueJob failed for 2026-11-20").and.contain("is not authorized to perform: glue:StartJobRun").and.contain("AccessDeniedException");
            expect(run.states).to.include.members(["RunGlueJob", "RunGlueJobCaught", "NotifyFailure"]);
            expect(run.states).to.not.include("StartValidation");
            expect(other.counters.get("stepFunctions", "denied")).to.equal(1);
        } finally {
            await other.stop();
        }
    });

    it("report:replay --endpoint drives the runtime over 3 days, a forced Glue failure in the middle", async () => {
        const lines = ["2026-12-01", "2026-12-02", "2026-12-03"].flatMap((day) =>
            [0, 1, 2].map((n) => JSON.stringify({ event_id: `rp-${day}-${n}`, event_time: `${day}T0${n}:00:00Z`, account_id: "a", amount: "1.50", currency: "EUR", type: "credit", source: "pos" })),
        );
        await put(lines);
        await firehose().flush();
        const previous = runtime.faults.task;
        runtime.faults.task = (resource, input) => (resource === TASK_RESOURCES.glueStartJobRunSync && (input as { Arguments?: Record<string, string> }).Arguments?.["--date"] === "2026-12-02" ? taskError("States.TaskFailed", "forced for the replay") : undefined);
        let out = "";
        let err = "";
        const io: CliIo = { out: { write: (t: string) => (out += t) }, err: { write: (t: string) => (err += t) }, env: process.env };
        // The SDK's credential chain reads the process's environment; any values do for a local endpoint.
        const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
        process.env.AWS_ACCESS_KEY_ID ??= "local";
        process.env.AWS_SECRET_ACCESS_KEY ??= "local";
        try {
            const code = await runReplay(["--date", "2026-12-01", "--to", "2026-12-03", "--state-machine-arn", outputs.reportStateMachineArn, "--endpoint", runtime.endpoints.sfn, "--poll-ms", "20"], io);
            expect(code, `${out}\n${err}`).to.equal(1);
        } finally {
            runtime.faults.task = previous;
            if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
            if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
        }
        expect(out).to.match(/succeeded\s+\d of 3 days/);
        expect(out).to.contain("2026-12-02  FAILED  States.TaskFailed: RunGlueJob failed for 2026-12-02");
        expect(out).to.not.match(/2026-12-01 {2}FAILED/);
        expect(out).to.match(/succeeded\s+2 of 3 days/);
        expect(err).to.match(/\[3\/3\] 2026-12-03 {2}SUCCEEDED/);
        if (process.env.REPLAY_DEBUG) console.log(out, err);
        expect(err).to.contain("2026-12-02");
    });
});
