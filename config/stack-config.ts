import * as pulumi from "@pulumi/pulumi";
import {
    API_LIMITS,
    API_QUOTA_PERIODS,
    ApiQuotaPeriod,
    KINESIS_LIMITS,
    KMS_LIMITS,
    LAMBDA_ARCHITECTURES,
    LAMBDA_LIMITS,
    LAMBDA_RUNTIMES,
    GLUE_WORKER_TYPES,
    LOG_RETENTION_DAYS,
    REPORTING_LIMITS,
    S3_LIMITS,
    SQS_LIMITS,
    STREAM_TO_TABLE_DEFAULTS,
} from "../components/shared/defaults";
import { NAME_RULES } from "../components/shared/naming";
import { InvalidArgument } from "../components/shared/validation";
import { IMAGE_PROCESSOR_LIMITS, PAYMENT_FILE_LIMITS } from "../functions/shared/contract";

/** The project namespace of every key below (the `name` in Pulumi.yaml). */
export const PROJECT = "event-pipelines";

/** The whole stack configuration, typed and range-checked. Pulumi.yaml declares each key with its default. */
export interface StackConfig {
    alertEmails: string[];
    logRetentionDays: number;
    maxReceiveCount: number;
    queueRetentionDays: number;
    dlqRetentionDays: number;
    oldestMessageAgeAlarmSeconds: number;
    consumerErrorsAlarmThreshold: number;
    consumerBatchSize: number;
    consumerBatchingWindowSeconds: number;
    consumerMaxConcurrency: number;
    lambdaRuntime: (typeof LAMBDA_RUNTIMES)[number];
    lambdaArchitecture: (typeof LAMBDA_ARCHITECTURES)[number];
    lambdaMemoryMb: number;
    lambdaTimeoutSeconds: number;
    kmsKeyDeletionWindowDays: number;
    /** Undefined: Pulumi generates a unique name. */
    eventStreamName: string | undefined;
    /** Undefined: Pulumi generates a unique name (and the rejects table's). */
    eventTableName: string | undefined;
    eventStreamMode: "ON_DEMAND" | "PROVISIONED";
    eventStreamShardCount: number;
    eventStreamRetentionHours: number;
    eventTableTtlDays: number;
    eventTableLookupIndex: boolean;
    streamBatchSize: number;
    streamBatchingWindowSeconds: number;
    streamParallelizationFactor: number;
    streamMaxRetryAttempts: number;
    streamMaxRecordAgeSeconds: number;
    apiRateLimit: number;
    apiBurstLimit: number;
    apiQuotaLimit: number;
    apiQuotaPeriod: ApiQuotaPeriod;
    manageApiGatewayAccount: boolean;
    imageMaxBytes: number;
    thumbnailSizePx: number;
    imageProcessorMemoryMb: number;
    uploadsNoncurrentVersionDays: number;
    abortIncompleteUploadDays: number;
    paymentThresholdBytes: number;
    paymentChunkBytes: number;
    paymentMaxLineBytes: number;
    paymentGzipMaxBytes: number;
    paymentChunkConcurrency: number;
    paymentFunctionMemoryMb: number;
    reportingGlueWorkerType: (typeof GLUE_WORKER_TYPES)[number];
    reportingGlueWorkers: number;
    reportingRedshiftBaseCapacity: number;
    reportingSchedule: string;
    reportingScheduleEnabled: boolean;
    reportingFirehoseBufferSeconds: number;
    reportingAthenaBytesScannedCutoff: number;
    reportingStateMachineLogLevel: "ALL" | "ERROR" | "FATAL" | "OFF";
    protectStatefulResources: boolean;
}

/** A config value outside its range: the message is one line naming the key, the value and what was expected. */
export class ConfigError extends InvalidArgument {
    constructor(key: string, value: unknown, expected: string) {
        super(`Invalid stack config ${PROJECT}:${key} = ${JSON.stringify(value)}: expected ${expected}`);
        this.name = "ConfigError";
    }
}

type Raw = (key: string) => string | undefined;
type Reader<T> = (key: string, raw: string) => T;

function integer([min, max]: readonly [number, number]): Reader<number> {
    return (key, raw) => {
        const n = Number(raw);
        if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) {
            throw new ConfigError(key, raw, `an integer from ${min} to ${max}`);
        }
        return n;
    };
}

function oneOf<T extends string | number>(allowed: readonly T[]): Reader<T> {
    return (key, raw) => {
        const hit = allowed.find((a) => String(a) === raw.trim());
        if (hit === undefined) throw new ConfigError(key, raw, `one of ${allowed.join(", ")}`);
        return hit;
    };
}

/**
 * A physical name AWS accepts for `type` (NAME_RULES), `reserved` characters shorter where a
 * component derives a longer name from it; or "" for one Pulumi generates (unique per stack, so
 * stacks sharing an account never collide).
 */
function resourceName(type: string, reserved?: { characters: number; why: string }): Reader<string | undefined> {
    const rule = NAME_RULES[type];
    const maxLength = rule.maxLength - (reserved?.characters ?? 0);
    const expected = `${rule.minLength} to ${maxLength} ${rule.characters}${reserved ? ` (${reserved.why})` : ""}, or "" for a generated name`;
    return (key, raw) => {
        if (raw === "") return undefined;
        if (raw.length < rule.minLength || raw.length > maxLength || !rule.pattern.test(raw)) throw new ConfigError(key, raw, expected);
        return raw;
    };
}

const boolean: Reader<boolean> = (key, raw) => {
    if (raw !== "true" && raw !== "false") throw new ConfigError(key, raw, "true or false");
    return raw === "true";
};

// Deliberately loose: SNS sends a confirmation mail, which is the real check.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const emails: Reader<string[]> = (key, raw) => {
    let list: unknown;
    try {
        list = JSON.parse(raw);
    } catch {
        throw new ConfigError(key, raw, "a list of e-mail addresses");
    }
    if (!Array.isArray(list)) throw new ConfigError(key, raw, "a list of e-mail addresses");
    for (const item of list) {
        if (typeof item !== "string" || !EMAIL.test(item)) throw new ConfigError(key, item, "an e-mail address");
    }
    return list as string[];
};

// Ranges are AWS's (shared with the components) except where this program is stricter, as noted.
const readers: { [K in keyof StackConfig]: Reader<StackConfig[K]> } = {
    alertEmails: emails,
    logRetentionDays: oneOf(LOG_RETENTION_DAYS) as Reader<number>,
    // Every queue here has a Lambda consumer: AWS advises at least 5 receives.
    maxReceiveCount: integer([5, SQS_LIMITS.maxReceiveCount[1]]),
    // Below the DLQ's 14 days, so dead letters outlive their source.
    queueRetentionDays: integer([1, 13]),
    dlqRetentionDays: integer([2, SQS_LIMITS.retentionDays[1]]),
    oldestMessageAgeAlarmSeconds: integer([60, 1_209_600]),
    consumerErrorsAlarmThreshold: integer([1, 10_000]),
    consumerBatchSize: integer(SQS_LIMITS.batchSize),
    consumerBatchingWindowSeconds: integer(SQS_LIMITS.maximumBatchingWindowSeconds),
    consumerMaxConcurrency: integer(SQS_LIMITS.maximumConcurrency),
    lambdaRuntime: oneOf(LAMBDA_RUNTIMES),
    lambdaArchitecture: oneOf(LAMBDA_ARCHITECTURES),
    lambdaMemoryMb: integer(LAMBDA_LIMITS.memorySizeMb),
    lambdaTimeoutSeconds: integer(LAMBDA_LIMITS.timeoutSeconds),
    kmsKeyDeletionWindowDays: integer(KMS_LIMITS.deletionWindowInDays),
    eventStreamName: resourceName("aws:kinesis/stream:Stream"),
    eventTableName: resourceName("aws:dynamodb/table:Table", {
        characters: STREAM_TO_TABLE_DEFAULTS.rejectsTableSuffix.length,
        why: `the rejects table adds "${STREAM_TO_TABLE_DEFAULTS.rejectsTableSuffix}"`,
    }),
    eventStreamMode: oneOf(["ON_DEMAND", "PROVISIONED"] as const),
    eventStreamShardCount: integer(KINESIS_LIMITS.shardCount),
    eventStreamRetentionHours: integer(KINESIS_LIMITS.retentionHours),
    eventTableTtlDays: integer([0, 36_500]),
    eventTableLookupIndex: boolean,
    streamBatchSize: integer(KINESIS_LIMITS.batchSize),
    streamBatchingWindowSeconds: integer(KINESIS_LIMITS.maximumBatchingWindowSeconds),
    streamParallelizationFactor: integer(KINESIS_LIMITS.parallelizationFactor),
    streamMaxRetryAttempts: integer(KINESIS_LIMITS.maximumRetryAttempts),
    streamMaxRecordAgeSeconds: integer(KINESIS_LIMITS.maximumRecordAgeSeconds),
    apiRateLimit: integer(API_LIMITS.rateLimit),
    apiBurstLimit: integer(API_LIMITS.burstLimit),
    apiQuotaLimit: integer(API_LIMITS.quotaLimit),
    apiQuotaPeriod: oneOf(API_QUOTA_PERIODS),
    manageApiGatewayAccount: boolean,
    // Stricter than the handler's own bounds: a bigger image needs more memory than config offers here.
    imageMaxBytes: integer([1024, 200 * 1024 * 1024]),
    thumbnailSizePx: integer(IMAGE_PROCESSOR_LIMITS.THUMBNAIL_SIZE),
    imageProcessorMemoryMb: integer(LAMBDA_LIMITS.memorySizeMb),
    uploadsNoncurrentVersionDays: integer(S3_LIMITS.lifecycleDays),
    abortIncompleteUploadDays: integer(S3_LIMITS.lifecycleDays),
    paymentThresholdBytes: integer(PAYMENT_FILE_LIMITS.thresholdBytes),
    paymentChunkBytes: integer(PAYMENT_FILE_LIMITS.chunkBytes),
    paymentMaxLineBytes: integer(PAYMENT_FILE_LIMITS.maxLineBytes),
    paymentGzipMaxBytes: integer(PAYMENT_FILE_LIMITS.gzipMaxBytes),
    paymentChunkConcurrency: integer(SQS_LIMITS.maximumConcurrency),
    paymentFunctionMemoryMb: integer(LAMBDA_LIMITS.memorySizeMb),
    reportingGlueWorkerType: oneOf(GLUE_WORKER_TYPES),
    reportingGlueWorkers: integer(REPORTING_LIMITS.glueWorkers),
    reportingRedshiftBaseCapacity: (key, raw) => {
        const n = integer(REPORTING_LIMITS.redshiftBaseCapacity)(key, raw);
        if (n % 8 !== 0) throw new ConfigError(key, raw, "a multiple of 8 RPUs from 8 to 512");
        return n;
    },
    reportingSchedule: (key, raw) => {
        // EventBridge Scheduler's forms; the service checks the fields themselves.
        if (!/^(cron\([^()]+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)|at\([0-9T:-]+\))$/.test(raw.trim())) throw new ConfigError(key, raw, "cron(...), rate(...) or at(...), e.g. cron(0 2 * * ? *)");
        return raw.trim();
    },
    reportingScheduleEnabled: boolean,
    reportingFirehoseBufferSeconds: integer(REPORTING_LIMITS.firehoseBufferSeconds),
    reportingAthenaBytesScannedCutoff: integer(REPORTING_LIMITS.athenaBytesScannedCutoff),
    reportingStateMachineLogLevel: oneOf(["ALL", "ERROR", "FATAL", "OFF"] as const),
    protectStatefulResources: boolean,
};

/** Every key the program reads; the spec checks Pulumi.yaml declares exactly these. */
export const CONFIG_KEYS = Object.keys(readers) as (keyof StackConfig)[];

/**
 * Parses and validates raw config strings (as Pulumi hands them to a program: scalars as text,
 * lists as JSON). Pure, so it is tested without an engine.
 */
export function parseStackConfig(raw: Raw): StackConfig {
    const out: Record<string, unknown> = {};
    for (const key of CONFIG_KEYS) {
        const value = raw(key);
        if (value === undefined) {
            throw new ConfigError(key, null, "a value (declare a default in Pulumi.yaml or set it in the stack file)");
        }
        out[key] = readers[key](key, value);
    }
    const cfg = out as unknown as StackConfig;
    if (cfg.dlqRetentionDays <= cfg.queueRetentionDays) {
        throw new ConfigError(
            "dlqRetentionDays",
            cfg.dlqRetentionDays,
            `more days than queueRetentionDays (${cfg.queueRetentionDays}), so a message outlives its source in the DLQ`,
        );
    }
    if (cfg.consumerBatchSize > SQS_LIMITS.batchSizeWithoutWindow && cfg.consumerBatchingWindowSeconds === 0) {
        throw new ConfigError(
            "consumerBatchingWindowSeconds",
            0,
            `at least 1 when consumerBatchSize (${cfg.consumerBatchSize}) is above 10, as SQS event sources require`,
        );
    }
    return cfg;
}

/** Reads the current stack's config through Pulumi (which has applied Pulumi.yaml defaults and types). */
export function loadStackConfig(): StackConfig {
    const config = new pulumi.Config(PROJECT);
    return parseStackConfig((key) => config.get(key));
}
