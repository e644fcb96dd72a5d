// What AWS does that the local stand-ins do not, done around the SDK call so a handler runs one
// code path locally and on AWS. Each gap is listed in the runtime's fidelity table.
//   - DynamoDB: ReturnValuesOnConditionCheckFailure "ALL_OLD" (dynalite predates it): after a
//     failed condition, the item is read (consistently) and set on the error as DynamoDB would.
//   - S3: GetObject's IfMatch (s3rver ignores it): a different ETag fails as 412 PreconditionFailed.
// Plain JavaScript: loaded by lambda/worker.js, and by specs that drive the emulators directly.
"use strict";

/**
 * Adds the gap middleware to `client`. `mod` is the client's module (its command classes);
 * `rawClient()` builds a client of the same service that bypasses the runtime's authorization,
 * for the reads the gaps need (they are not the handler's requests).
 */
function fillStandInGaps(client, clientName, mod, rawClient) {
    let raw;
    const rawOnce = () => (raw ??= rawClient());
    if (clientName === "DynamoDBClient") client.middlewareStack.add(dynamoGaps(mod, rawOnce), { step: "initialize", name: "localStandInGaps", priority: "low" });
    if (clientName === "S3Client") client.middlewareStack.add(s3Gaps(), { step: "initialize", name: "localStandInGaps", priority: "low" });
}

const KEYED = new Set(["PutItemCommand", "UpdateItemCommand", "DeleteItemCommand"]);

function dynamoGaps(mod, raw) {
    const keys = new Map();
    const keyOf = async (table, item) => {
        if (!keys.has(table)) {
            const out = await raw().send(new mod.DescribeTableCommand({ TableName: table }));
            keys.set(table, out.Table.KeySchema.map((k) => k.AttributeName));
        }
        return Object.fromEntries(keys.get(table).map((name) => [name, item[name]]));
    };
    return (next, context) => async (args) => {
        try {
            return await next(args);
        } catch (err) {
            const input = args.input;
            if (err?.name !== "ConditionalCheckFailedException" || err.Item || input?.ReturnValuesOnConditionCheckFailure !== "ALL_OLD" || !KEYED.has(context.commandName)) throw err;
            const key = input.Key ?? (await keyOf(input.TableName, input.Item));
            const out = await raw().send(new mod.GetItemCommand({ TableName: input.TableName, Key: key, ConsistentRead: true }));
            if (out.Item) err.Item = out.Item;
            throw err;
        }
    };
}

function s3Gaps() {
    return (next, context) => async (args) => {
        const result = await next(args);
        const expected = args.input?.IfMatch;
        const bare = (etag) => String(etag ?? "").replace(/^"|"$/g, "");
        if (context.commandName === "GetObjectCommand" && expected && bare(result.output?.ETag) !== bare(expected)) {
            result.output.Body?.destroy?.();
            const err = new Error("At least one of the pre-conditions you specified did not hold");
            err.name = "PreconditionFailed";
            err.Code = "PreconditionFailed";
            err.$fault = "client";
            err.$metadata = { httpStatusCode: 412, attempts: 1, totalRetryDelay: 0 };
            throw err;
        }
        return result;
    };
}

module.exports = { fillStandInGaps };
