import { AttributeValue, CreateTableCommand, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";

// Small DynamoDB helpers shared by the specs and the bench that work against dynalite.

/** Creates an on-demand table keyed by one string attribute. */
export async function createHashKeyTable(client: DynamoDBClient, name: string, key: string): Promise<void> {
    await client.send(
        new CreateTableCommand({
            TableName: name,
            KeySchema: [{ AttributeName: key, KeyType: "HASH" }],
            AttributeDefinitions: [{ AttributeName: key, AttributeType: "S" }],
            BillingMode: "PAY_PER_REQUEST",
        }),
    );
}

/** Items in a table, by a paginated Scan with Select COUNT (`pageSize` small to exercise pagination). */
export async function countItems(client: DynamoDBClient, table: string, pageSize?: number): Promise<number> {
    let count = 0;
    let start: Record<string, AttributeValue> | undefined;
    do {
        const page = await client.send(new ScanCommand({ TableName: table, Select: "COUNT", Limit: pageSize, ExclusiveStartKey: start }));
        count += page.Count ?? 0;
        start = page.LastEvaluatedKey;
    } while (start);
    return count;
}
