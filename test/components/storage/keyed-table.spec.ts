import { expect } from "chai";
import { KeyedTable, KeyedTableArgs, tableBasics } from "../../../components/storage/keyed-table";
import { Plan } from "../../../local/plan";
import { ALERT_TOPIC_ARN, ofType, one, record } from "../../support/pulumi-harness";

const TABLE = "aws:dynamodb/table:Table";
const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";

function build(args: Partial<KeyedTableArgs> = {}): Promise<Plan> {
    return record(() => {
        new KeyedTable("audit", { hashKey: "auditId", alertTopicArn: ALERT_TOPIC_ARN, ...args });
    });
}

describe("KeyedTable", () => {
    let plan: Plan;
    before(async () => {
        plan = await build();
    });

    it("creates an on-demand table keyed by one string attribute, with PITR and KMS encryption", () => {
        const table = one(plan, TABLE, "audit-table");
        expect(table.inputs).to.deep.include({
            billingMode: "PAY_PER_REQUEST",
            hashKey: "auditId",
            attributes: [{ name: "auditId", type: "S" }],
            pointInTimeRecovery: { enabled: true },
            serverSideEncryption: { enabled: true },
            deletionProtectionEnabled: false,
        });
        expect(table.inputs.ttl).to.equal(undefined);
        expect(one(plan, "event-pipelines:index:KeyedTable", "audit").custom).to.equal(false);
    });

    it("alarms on write throttling, to the alert topic", () => {
        const alarm = one(plan, ALARM, "audit-write-throttles-alarm");
        expect(alarm.inputs).to.deep.include({ namespace: "AWS/DynamoDB", metricName: "WriteThrottleEvents", threshold: 1, alarmActions: [ALERT_TOPIC_ARN] });
        expect(alarm.inputs.dimensions).to.deep.equal({ TableName: one(plan, TABLE, "audit-table").outputs.name });
    });

    it("has no alarm without an alert topic", async () => {
        const quiet = await build({ alertTopicArn: undefined });
        expect(ofType(quiet, ALARM)).to.have.length(0);
    });

    it("protects the table twice when asked: Pulumi protect and DynamoDB deletion protection", async () => {
        const kept = await build({ protect: true, tableName: "AuditRecords", ttlAttribute: "expiresAt" });
        const table = one(kept, TABLE, "audit-table");
        expect(table.inputs).to.deep.include({ name: "AuditRecords", deletionProtectionEnabled: true, ttl: { attributeName: "expiresAt", enabled: true } });
        expect(table.protect).to.equal(true);
    });

    it("refuses a key name DynamoDB would not take, in one line", async () => {
        for (const hashKey of ["", "audit id", "x".repeat(256)]) {
            let message = "";
            await build({ hashKey }).catch((e: Error) => (message = e.message));
            expect(message, JSON.stringify(hashKey)).to.match(/^KeyedTable "audit": hashKey ".*": expected 1 to 255 letters, digits, _ \. or -$/);
        }
    });

    it("shares its basics with every other table of the project", () => {
        expect(tableBasics(true)).to.deep.equal({
            billingMode: "PAY_PER_REQUEST",
            pointInTimeRecovery: { enabled: true },
            serverSideEncryption: { enabled: true },
            deletionProtectionEnabled: true,
        });
    });
});
