// Runs in a fresh `node` per measurement (plain JavaScript, so no ts-node hook skews the load):
// requires a Lambda module, calls its handler once, and prints one line
// `BENCH_RESULT {...}` after whatever the handler itself logged.
// Usage: node cold-load-child.js <module> <event-json>
"use strict";
const [modulePath, eventJson] = process.argv.slice(2);
const event = JSON.parse(eventJson);
// The fields of a Lambda context the handler (Powertools batch) may read.
const context = {
    functionName: "bench",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:bench",
    memoryLimitInMB: "256",
    awsRequestId: "00000000-0000-4000-8000-000000000000",
    logGroupName: "/aws/lambda/bench",
    logStreamName: "bench",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 30000,
    done() {},
    fail() {},
    succeed() {},
};

const start = process.hrtime.bigint();
const { handler } = require(modulePath);
const loaded = process.hrtime.bigint();
Promise.resolve(handler(event, context)).then(
    (result) => {
        const end = process.hrtime.bigint();
        const ms = (a, b) => Number(b - a) / 1e6;
        process.stdout.write(
            `\nBENCH_RESULT ${JSON.stringify({ requireMs: ms(start, loaded), callMs: ms(loaded, end), totalMs: ms(start, end), result })}\n`,
        );
    },
    (err) => {
        console.error(err);
        process.exit(1);
    },
);
