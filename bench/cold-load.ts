import { spawnSync } from "child_process";
import * as path from "path";
import type { SQSEvent } from "aws-lambda";

const CHILD = path.join(__dirname, "cold-load-child.js");

/** One SQS record whose body is an S3 "Object Created" event from EventBridge (raw SNS delivery). */
export function sampleEvent(): SQSEvent {
    const body = {
        version: "0",
        id: "f5f1e65c-dc3a-93ca-6c1e-b1647eac7963",
        "detail-type": "Object Created",
        source: "aws.s3",
        account: "123456789012",
        time: "2024-03-08T17:50:14Z",
        region: "eu-west-1",
        resources: ["arn:aws:s3:::uploads-bucket"],
        detail: {
            version: "0",
            bucket: { name: "uploads-bucket" },
            object: { key: "incoming/report.csv", size: 184662, etag: "4e68adba0abe2dc8653dc3354e14c01d", sequencer: "006408CAD69598B05E" },
            "request-id": "57H08PA84AB1JZW0",
            requester: "123456789012",
            "source-ip-address": "34.252.34.74",
            reason: "PutObject",
        },
    };
    return {
        Records: [
            {
                messageId: "059f36b4-87a3-44ab-83d2-661975830a7d",
                receiptHandle: "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                body: JSON.stringify(body),
                attributes: {
                    ApproximateReceiveCount: "1",
                    SentTimestamp: "1709920214000",
                    SenderId: "AIDAIENQZJOLO23YVJ4VO",
                    ApproximateFirstReceiveTimestamp: "1709920214001",
                },
                messageAttributes: {},
                md5OfBody: "e4e68fb7bd0e697a0ae8f1bb342846b3",
                eventSource: "aws:sqs",
                eventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:audit",
                awsRegion: "eu-west-1",
            },
        ],
    };
}

export interface Variant {
    label: string;
    /** Absolute path of the module exporting `handler`. */
    module: string;
    /** Node flags the deployed function runs with (the bundled one sets NODE_OPTIONS=--enable-source-maps). */
    nodeFlags: string[];
}

export interface Sample {
    requireMs: number;
    callMs: number;
    totalMs: number;
}

/**
 * Loads and calls the handler once in a fresh node process. Throws unless the call succeeded:
 * no batch item failures and the audit line logged, so every number is a working handler's.
 */
export function coldLoad(variant: Variant, event: SQSEvent): Sample {
    const child = spawnSync(process.execPath, [...variant.nodeFlags, CHILD, variant.module, JSON.stringify(event)], {
        encoding: "utf8",
        timeout: 30_000,
        // No inherited NODE_OPTIONS: only the flags above shape the child.
        env: { ...process.env, NODE_OPTIONS: "" },
    });
    const fail = (why: string) =>
        new Error(`${variant.label}: ${why}\n--- stdout\n${child.stdout}\n--- stderr\n${child.stderr}`);
    if (child.error) throw fail(String(child.error));
    if (child.status !== 0) throw fail(`exit status ${child.status}`);
    const line = child.stdout.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
    if (!line) throw fail("no BENCH_RESULT line");
    const { result, ...sample } = JSON.parse(line.slice("BENCH_RESULT ".length));
    if (!Array.isArray(result?.batchItemFailures) || result.batchItemFailures.length !== 0) {
        throw fail(`first call failed: ${JSON.stringify(result)}`);
    }
    if (!child.stdout.includes('"object uploaded"')) throw fail("the handler did not log its audit line");
    return sample as Sample;
}
