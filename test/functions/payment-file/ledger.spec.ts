import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import * as DynamoModule from "@aws-sdk/client-dynamodb";
import { expect } from "chai";
import { claimPayment, markFile, openFile, recordChunk, type ChunkSummary, type FilePlan } from "../../../functions/payment-file/ledger";
import { checkPaymentLine, type Payment } from "../../../functions/payment-file/payment-line";
import { FILES_TABLE, PAYMENTS_TABLE } from "../../../functions/shared/contract";
import { dynamoClient, startDynalite, type Emulator } from "../../../local/runtime/emulators";

// The tables' writes on dynalite (with the runtime's stand-in gap for ReturnValuesOnConditionCheckFailure):
// each decision is one request, and a file is complete for exactly one chunk's write.

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { fillStandInGaps } = require("../../../local/runtime/lambda/stand-in-gaps");

const payment = (id: string, amount = "1.00"): Payment => {
    const check = checkPaymentLine(Buffer.from(`{"event_id":"${id}","type":"payment","amount":"${amount}","currency":"EUR","occurred_at":"2026-11-30T10:00:00Z","payer":{"account":"A"},"payee":{"account":"B"}}`));
    if (!check.ok) throw new Error(check.reason);
    return check.payment;
};
const summary = (index: number, applied = 1): ChunkSummary => ({ index, start: index * 10, end: index * 10 + 10, lines: applied, applied, duplicates: 0, conflicts: 0, quarantined: 0, blank: 0, amounts: { "EUR:payment": String(100 * applied) } });

describe("payment-file/ledger (dynalite)", () => {
    let emulator: Emulator;
    let ddb: DynamoDBClient;
    let sent = 0;
    before(async () => {
        emulator = await startDynalite();
        ddb = dynamoClient(emulator);
        fillStandInGaps(ddb, "DynamoDBClient", DynamoModule, () => dynamoClient(emulator));
        ddb.middlewareStack.add((next) => async (args) => (sent++, next(args)), { step: "initialize", name: "countRequests", priority: "high" });
        for (const [table, key] of [["payments", PAYMENTS_TABLE.hashKey], ["files", FILES_TABLE.hashKey]]) {
            await ddb.send(new CreateTableCommand({ TableName: table, KeySchema: [{ AttributeName: key, KeyType: "HASH" }], AttributeDefinitions: [{ AttributeName: key, AttributeType: "S" }], BillingMode: "PAY_PER_REQUEST" }));
        }
    });
    after(async () => {
        ddb?.destroy();
        await emulator?.stop();
    });

    it("claims a new payment, knows its own claim again, and tells a duplicate from a conflict, one request each", async () => {
        const source = { fileId: "f1", offset: 0 };
        const before = sent;
        expect(await claimPayment(ddb, "payments", payment("p1"), source)).to.deep.equal({ kind: "applied" });
        expect(await claimPayment(ddb, "payments", payment("p1"), source)).to.deep.equal({ kind: "applied" });
        const dup = await claimPayment(ddb, "payments", payment("p1", "1.0"), { fileId: "f2", offset: 5 });
        expect(dup.kind).to.equal("duplicate");
        const conflict = await claimPayment(ddb, "payments", payment("p1", "2.00"), { fileId: "f1", offset: 99 });
        expect(conflict.kind).to.equal("conflict");
        expect(conflict.kind !== "applied" && conflict.existing).to.include({ file_id: "f1", offset: 0, amount_minor: "100" });
        // The handler's own requests only: the stand-in's read-back for dynalite is not one of them.
        expect(sent - before).to.equal(4);
    });

    it("counts each chunk once and sees the file complete on exactly one write, however often and concurrently chunks are recorded", async () => {
        const plan: FilePlan = { file_id: "file-a", bucket: "b", key: "payments/a.ndjson", version_tag: "t", etag: "e", size: 50, chunk_bytes: 10, chunks: 5 };
        expect((await openFile(ddb, "files", plan)).created).to.equal(true);
        const again = await openFile(ddb, "files", { ...plan, chunks: 99 });
        expect(again).to.deep.include({ created: false });
        expect(again.file.chunks).to.equal(5);
        const results = await Promise.all([0, 1, 2, 3, 4, 0, 2, 4, 4, 1].map((i) => recordChunk(ddb, "files", "file-a", summary(i))));
        expect(results.filter((r) => r.completed)).to.have.length(1);
        expect(results.filter((r) => r.recorded)).to.have.length(5);
        const last = await recordChunk(ddb, "files", "file-a", summary(3));
        expect(last).to.deep.include({ recorded: false, completed: false });
        expect(last.file.done).to.equal(5);
        expect(Object.keys(last.file.parts).sort()).to.deep.equal(["c0", "c1", "c2", "c3", "c4"]);
    });

    it("marks only a file that has a manifest item (never creating one)", async () => {
        const err = await markFile(ddb, "files", "unmarked", "enqueued", true).then(() => undefined, (e: Error) => e);
        expect(err?.name).to.equal("ConditionalCheckFailedException");
        const again = await openFile(ddb, "files", { file_id: "unmarked", bucket: "b", key: "k", version_tag: "t", etag: "e", size: 1, chunk_bytes: 1, chunks: 1 });
        expect(again.created).to.equal(true);
    });

    it("refuses a chunk of a file never planned, naming it", async () => {
        const err = await recordChunk(ddb, "files", "nobody", summary(0)).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.equal("chunk 0 of nobody: the file has no manifest item (was it planned?)");
    });
});
