/**
 * Seed 001 end to end, on the local runtime: the dev stack's plan deployed (EventStream on
 * kinesis-local, EventLogs and its rejects table on dynalite, the function from its deployed
 * archive, the planned mapping), then scenario 001 (the CLI's send, a redelivered batch, a poison
 * record) run as `npm start` runs it. The specs read what landed straight from the stand-ins.
 */
import { QueryCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { eventKey } from "../../functions/shared/contract";
import type { Plan } from "../../local/plan";
import { startRuntime, type LocalRuntime } from "../../local/runtime";
import type { FlowReport } from "../../local/scenarios";
import { STREAM_TO_TABLE_EVENTS, itemsOf, runStreamToTable } from "../../local/scenarios/stream-to-table";
import { stackPlan } from "../support/stack-plans";

describe("e2e: EventStream → stream-to-table (deployed archive) → EventLogs, on the local runtime", function () {
    this.timeout(120_000);
    let plan: Plan;
    let runtime: LocalRuntime;
    let report: FlowReport;

    before(async () => {
        plan = await stackPlan("dev");
        runtime = await startRuntime({ plan, timeScale: 0.01 });
        report = await runStreamToTable(runtime);
    });
    after(async () => {
        await runtime?.stop();
    });

    const scan = (table: string) => itemsOf(runtime, table) as Promise<Record<string, any>[]>;

    it("passes every check of scenario 001", () => {
        const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
        expect(failed).to.deep.equal([]);
        expect(report.checks.length).to.be.at.least(8);
    });

    it(`stores the ${STREAM_TO_TABLE_EVENTS} events once each, keyed <source>#<eventId>, with the producer's payload`, async () => {
        const items = await scan(String(plan.outputs.eventTableName));
        expect(items).to.have.length(STREAM_TO_TABLE_EVENTS);
        for (const item of items) {
            expect(item.eventId).to.equal(eventKey("scenario-001", item.payload.eventId));
            expect(item.payload).to.have.all.keys("eventId", "source", "sensor", "value", "timestamp");
            expect(item).to.include({ source: "scenario-001", partitionKey: item.payload.eventId, shardId: "shardId-000000000000" });
        }
        expect(new Set(items.map((i) => i.sequenceNumber)).size).to.equal(STREAM_TO_TABLE_EVENTS);
    });

    it("serves the planned lookup index over what landed", async () => {
        const index = (plan.resources.find((r) => r.name === "events-table")!.inputs.globalSecondaryIndexes as { name: string }[])[0].name;
        let indexed = 0;
        let start: Record<string, AttributeValue> | undefined;
        do {
            const page = await runtime.clients.dynamodb.send(
                new QueryCommand({ TableName: String(plan.outputs.eventTableName), IndexName: index, KeyConditionExpression: "#s = :s", ExpressionAttributeNames: { "#s": "source" }, ExpressionAttributeValues: { ":s": { S: "scenario-001" } }, Select: "COUNT", ExclusiveStartKey: start }),
            );
            indexed += page.Count ?? 0;
            start = page.LastEvaluatedKey;
        } while (start);
        expect(indexed).to.equal(STREAM_TO_TABLE_EVENTS);
    });

    it("files the poison record in the rejects table with its reason and raw data", async () => {
        const rejects = await scan(String(plan.outputs.eventRejectsTableName));
        expect(rejects).to.have.length(1);
        expect(rejects[0].recordId).to.match(/^shardId-000000000000:\d+$/);
        expect(rejects[0].reason).to.match(/not JSON/);
        expect(Buffer.from(String(rejects[0].rawData), "base64").toString("utf8")).to.equal("this is not JSON {");
    });

    it("ran the function from the archive the plan deploys, in child processes, its SDK calls all authorized", () => {
        const fn = runtime.functions.get("events-consumer-function")!;
        expect(fn.stats.coldStarts).to.be.within(1, fn.concurrency);
        expect(fn.stats.errors).to.equal(0);
        expect(runtime.counters.get("lambda:events-consumer-function", "calls")).to.be.greaterThan(0);
        expect(runtime.counters.total("denied").count).to.equal(0);
    });
});
