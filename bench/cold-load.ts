import { spawnSync } from "child_process";
import * as path from "path";
import type { SQSEvent } from "aws-lambda";
import { objectCreatedEvent, sqsEvent, sqsRecord } from "../test/support/lambda-events";

const CHILD = path.join(__dirname, "cold-load-child.js");

/**
 * One SQS record whose body is an S3 "Object Created" event from EventBridge (raw SNS delivery):
 * the same inputs the audit-logger specs use, so the bench measures a call the tests prove valid.
 * Version `n` of the object: a distinct audit key per call, so each call writes its record rather
 * than taking the cheaper duplicate path.
 */
export function sampleEvent(n: number): SQSEvent {
    const upload = objectCreatedEvent({ key: "incoming/report.csv", versionId: `bench-version-${n}` });
    return sqsEvent(sqsRecord(`059f36b4-87a3-44ab-83d2-${String(n).padStart(12, "0")}`, JSON.stringify(upload)));
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
 * Loads and calls the handler once in a fresh node process, with `env` added to its environment
 * (the function's: table name, DynamoDB endpoint). Throws unless the call succeeded: no batch
 * item failures and the audit line logged, so every number is a working handler's.
 */
export function coldLoad(variant: Variant, event: SQSEvent, env: Record<string, string> = {}): Sample {
    const child = spawnSync(process.execPath, [...variant.nodeFlags, CHILD, variant.module, JSON.stringify(event)], {
        encoding: "utf8",
        timeout: 30_000,
        // No inherited NODE_OPTIONS: only the flags above shape the child.
        env: { ...process.env, ...env, NODE_OPTIONS: "" },
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
