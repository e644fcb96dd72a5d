import { expect } from "chai";
import {
    ALARM_DEFAULTS,
    EVENT_SOURCE_DEFAULTS,
    KINESIS_DEFAULTS,
    KMS_DEFAULTS,
    LAMBDA_DEFAULTS,
    SQS_DEFAULTS,
    STREAM_EVENT_SOURCE_DEFAULTS,
    API_DEFAULTS,
    PAYMENT_FILE_PIPELINE_DEFAULTS,
    REPORTING_DEFAULTS,
} from "../../components/shared/defaults";
import { PAYMENT_FILE_DEFAULTS } from "../../functions/shared/contract";
import { IMAGE_PROCESSOR_ENV } from "../../functions/image-processor/settings";
import { CONFIG_KEYS, parseStackConfig, StackConfig } from "../../config/stack-config";
import { readProject } from "../../local/stack-files";
import { REPO_ROOT } from "../../local/engine";

const VALID: Record<keyof StackConfig, string> = {
    alertEmails: '["oncall@example.com"]',
    logRetentionDays: "30",
    maxReceiveCount: "5",
    queueRetentionDays: "4",
    dlqRetentionDays: "14",
    oldestMessageAgeAlarmSeconds: "900",
    consumerErrorsAlarmThreshold: "1",
    consumerBatchSize: "10",
    consumerBatchingWindowSeconds: "0",
    consumerMaxConcurrency: "5",
    lambdaRuntime: "nodejs22.x",
    lambdaArchitecture: "arm64",
    lambdaMemoryMb: "256",
    lambdaTimeoutSeconds: "30",
    kmsKeyDeletionWindowDays: "30",
    eventStreamName: "EventStream",
    eventTableName: "EventLogs",
    eventStreamMode: "PROVISIONED",
    eventStreamShardCount: "1",
    eventStreamRetentionHours: "24",
    eventTableTtlDays: "0",
    eventTableLookupIndex: "true",
    streamBatchSize: "100",
    streamBatchingWindowSeconds: "1",
    streamParallelizationFactor: "1",
    streamMaxRetryAttempts: "10",
    streamMaxRecordAgeSeconds: "21600",
    apiRateLimit: "50",
    apiBurstLimit: "100",
    apiQuotaLimit: "100000",
    apiQuotaPeriod: "DAY",
    manageApiGatewayAccount: "true",
    imageMaxBytes: "20971520",
    thumbnailSizePx: "256",
    imageProcessorMemoryMb: "1024",
    uploadsNoncurrentVersionDays: "30",
    abortIncompleteUploadDays: "7",
    paymentThresholdBytes: "33554432",
    paymentChunkBytes: "33554432",
    paymentMaxLineBytes: "1048576",
    paymentGzipMaxBytes: "67108864",
    paymentChunkConcurrency: "10",
    paymentFunctionMemoryMb: "1024",
    reportingGlueWorkerType: "G.1X",
    reportingGlueWorkers: "2",
    reportingRedshiftBaseCapacity: "8",
    reportingSchedule: "cron(0 2 * * ? *)",
    reportingScheduleEnabled: "true",
    reportingFirehoseBufferSeconds: "300",
    reportingAthenaBytesScannedCutoff: "10737418240",
    reportingStateMachineLogLevel: "ERROR",
    protectStatefulResources: "false",
};

const parse = (overrides: Partial<Record<keyof StackConfig, string>>) => parseStackConfig((k) => ({ ...VALID, ...overrides })[k as keyof StackConfig]);

describe("stack config", () => {
    it("parses every key into its type", () => {
        const cfg = parse({});
        expect(cfg.alertEmails).to.deep.equal(["oncall@example.com"]);
        expect(cfg.maxReceiveCount).to.equal(5);
        expect(cfg.protectStatefulResources).to.equal(false);
        expect(cfg.lambdaArchitecture).to.equal("arm64");
    });

    it("reads exactly the keys Pulumi.yaml declares, each with a type, a default and a description", () => {
        const declared = readProject(REPO_ROOT).config;
        expect(Object.keys(declared).sort()).to.deep.equal([...CONFIG_KEYS].sort());
        for (const [key, decl] of Object.entries(declared)) {
            expect(decl.type, key).to.be.a("string");
            expect(decl.default, key).to.not.equal(undefined);
            expect(decl.description, key).to.be.a("string").and.have.length.above(20);
        }
    });

    it("accepts an events-table name whose rejects table, <name>Rejected, is DynamoDB's longest (255)", () => {
        expect(parse({ eventTableName: "t".repeat(247) }).eventTableName).to.have.length(247);
    });

    it("accepts the Pulumi.yaml defaults", () => {
        const declared = readProject(REPO_ROOT).config;
        const text = (v: unknown) => (typeof v === "object" ? JSON.stringify(v) : String(v));
        expect(() => parseStackConfig((k) => text(declared[k]?.default))).to.not.throw();
    });

    it("declares the same defaults as the components, so the program and an importing team agree", () => {
        const declared = readProject(REPO_ROOT).config;
        const componentDefaults: Partial<Record<keyof StackConfig, unknown>> = {
            logRetentionDays: LAMBDA_DEFAULTS.logRetentionDays,
            maxReceiveCount: SQS_DEFAULTS.maxReceiveCount,
            queueRetentionDays: SQS_DEFAULTS.retentionDays,
            dlqRetentionDays: SQS_DEFAULTS.dlqRetentionDays,
            oldestMessageAgeAlarmSeconds: ALARM_DEFAULTS.oldestMessageAgeSeconds,
            consumerErrorsAlarmThreshold: ALARM_DEFAULTS.errorsThreshold,
            consumerBatchSize: EVENT_SOURCE_DEFAULTS.batchSize,
            consumerBatchingWindowSeconds: EVENT_SOURCE_DEFAULTS.maximumBatchingWindowSeconds,
            consumerMaxConcurrency: EVENT_SOURCE_DEFAULTS.maximumConcurrency,
            lambdaRuntime: LAMBDA_DEFAULTS.runtime,
            lambdaArchitecture: LAMBDA_DEFAULTS.architecture,
            lambdaMemoryMb: LAMBDA_DEFAULTS.memorySizeMb,
            lambdaTimeoutSeconds: LAMBDA_DEFAULTS.timeoutSeconds,
            kmsKeyDeletionWindowDays: KMS_DEFAULTS.deletionWindowInDays,
            eventStreamMode: KINESIS_DEFAULTS.streamMode,
            eventStreamShardCount: KINESIS_DEFAULTS.shardCount,
            eventStreamRetentionHours: KINESIS_DEFAULTS.retentionHours,
            streamBatchSize: STREAM_EVENT_SOURCE_DEFAULTS.batchSize,
            streamBatchingWindowSeconds: STREAM_EVENT_SOURCE_DEFAULTS.maximumBatchingWindowSeconds,
            streamParallelizationFactor: STREAM_EVENT_SOURCE_DEFAULTS.parallelizationFactor,
            streamMaxRetryAttempts: STREAM_EVENT_SOURCE_DEFAULTS.maximumRetryAttempts,
            streamMaxRecordAgeSeconds: STREAM_EVENT_SOURCE_DEFAULTS.maximumRecordAgeSeconds,
            apiRateLimit: API_DEFAULTS.rateLimit,
            apiBurstLimit: API_DEFAULTS.burstLimit,
            apiQuotaLimit: API_DEFAULTS.quotaLimit,
            apiQuotaPeriod: API_DEFAULTS.quotaPeriod,
            imageMaxBytes: Number(IMAGE_PROCESSOR_ENV.MAX_IMAGE_BYTES),
            thumbnailSizePx: Number(IMAGE_PROCESSOR_ENV.THUMBNAIL_SIZE),
            paymentThresholdBytes: PAYMENT_FILE_DEFAULTS.thresholdBytes,
            paymentChunkBytes: PAYMENT_FILE_DEFAULTS.chunkBytes,
            paymentMaxLineBytes: PAYMENT_FILE_DEFAULTS.maxLineBytes,
            paymentGzipMaxBytes: PAYMENT_FILE_DEFAULTS.gzipMaxBytes,
            paymentChunkConcurrency: PAYMENT_FILE_PIPELINE_DEFAULTS.chunkConcurrency,
            paymentFunctionMemoryMb: PAYMENT_FILE_PIPELINE_DEFAULTS.memorySizeMb,
            reportingGlueWorkerType: REPORTING_DEFAULTS.glueWorkerType,
            reportingGlueWorkers: REPORTING_DEFAULTS.glueWorkers,
            reportingRedshiftBaseCapacity: REPORTING_DEFAULTS.redshiftBaseCapacity,
            reportingSchedule: REPORTING_DEFAULTS.schedule,
            reportingFirehoseBufferSeconds: REPORTING_DEFAULTS.firehoseBufferSeconds,
            reportingAthenaBytesScannedCutoff: REPORTING_DEFAULTS.athenaBytesScannedCutoff,
            reportingStateMachineLogLevel: REPORTING_DEFAULTS.stateMachineLogLevel,
        };
        for (const [key, value] of Object.entries(componentDefaults)) {
            expect(declared[key]?.default, key).to.equal(value);
        }
    });

    const refusals: [Partial<Record<keyof StackConfig, string>>, string][] = [
        [{ maxReceiveCount: "abc" }, 'Invalid stack config event-pipelines:maxReceiveCount = "abc": expected an integer from 5 to 1000'],
        [{ maxReceiveCount: "3" }, 'Invalid stack config event-pipelines:maxReceiveCount = "3": expected an integer from 5 to 1000'],
        [{ maxReceiveCount: "5.5" }, 'Invalid stack config event-pipelines:maxReceiveCount = "5.5": expected an integer from 5 to 1000'],
        [{ logRetentionDays: "10" }, 'Invalid stack config event-pipelines:logRetentionDays = "10": expected one of 1, 3, 5, 7, 14, 30,'],
        [{ lambdaRuntime: "nodejs20.x" }, 'Invalid stack config event-pipelines:lambdaRuntime = "nodejs20.x": expected one of nodejs22.x, nodejs24.x'],
        [{ alertEmails: '["not-an-address"]' }, 'Invalid stack config event-pipelines:alertEmails = "not-an-address": expected an e-mail address'],
        [{ protectStatefulResources: "yes" }, 'Invalid stack config event-pipelines:protectStatefulResources = "yes": expected true or false'],
        [{ dlqRetentionDays: "4" }, "Invalid stack config event-pipelines:dlqRetentionDays = 4: expected more days than queueRetentionDays (4)"],
        [{ eventStreamMode: "provisioned" }, 'Invalid stack config event-pipelines:eventStreamMode = "provisioned": expected one of ON_DEMAND, PROVISIONED'],
        [{ apiRateLimit: "0" }, 'Invalid stack config event-pipelines:apiRateLimit = "0": expected an integer from 1 to 10000'],
        [{ apiQuotaPeriod: "YEAR" }, 'Invalid stack config event-pipelines:apiQuotaPeriod = "YEAR": expected one of DAY, WEEK, MONTH'],
        [{ manageApiGatewayAccount: "yes" }, 'Invalid stack config event-pipelines:manageApiGatewayAccount = "yes": expected true or false'],
        [{ imageMaxBytes: "10" }, 'Invalid stack config event-pipelines:imageMaxBytes = "10": expected an integer from 1024 to 209715200'],
        [{ eventTableName: "x" }, 'Invalid stack config event-pipelines:eventTableName = "x": expected 3 to 247 letters'],
        [{ eventTableName: "t".repeat(248) }, `Invalid stack config event-pipelines:eventTableName = "${"t".repeat(248)}": expected 3 to 247 letters, digits, _ . and - (the rejects table adds "Rejected"), or "" for a generated name`],
        [{ eventStreamName: "Event Stream" }, 'Invalid stack config event-pipelines:eventStreamName = "Event Stream": expected 1 to 128 letters, digits, _ . and -, or "" for a generated name'],
        [{ paymentChunkBytes: "100" }, 'Invalid stack config event-pipelines:paymentChunkBytes = "100": expected an integer from 1024 to 1073741824'],
        [{ reportingRedshiftBaseCapacity: "12" }, 'Invalid stack config event-pipelines:reportingRedshiftBaseCapacity = "12": expected a multiple of 8 RPUs from 8 to 512'],
        [{ reportingSchedule: "every day" }, 'Invalid stack config event-pipelines:reportingSchedule = "every day": expected cron(...), rate(...) or at(...), e.g. cron(0 2 * * ? *)'],
        [{ reportingGlueWorkerType: "G.025X" }, 'Invalid stack config event-pipelines:reportingGlueWorkerType = "G.025X": expected one of G.1X, G.2X, G.4X, G.8X'],
        [{ paymentChunkConcurrency: "1" }, 'Invalid stack config event-pipelines:paymentChunkConcurrency = "1": expected an integer from 2 to 1000'],
        [{ consumerBatchSize: "100" }, "Invalid stack config event-pipelines:consumerBatchingWindowSeconds = 0: expected at least 1 when consumerBatchSize (100) is above 10"],
    ];
    for (const [overrides, message] of refusals) {
        it(`refuses ${JSON.stringify(overrides)} with one line naming the key`, () => {
            let error: Error | undefined;
            try {
                parse(overrides);
            } catch (e) {
                error = e as Error;
            }
            expect(error?.message).to.contain(message);
            expect(error?.message).to.not.contain("\n");
        });
    }
});
