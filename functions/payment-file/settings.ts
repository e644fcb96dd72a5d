// Both payment functions' environment, read and checked once at cold start: a bad value fails the
// init with one line naming it, not every message.
import { PAYMENT_FILE_DEFAULTS, PAYMENT_FILE_ENV, PAYMENT_FILE_LIMITS } from "../shared/contract";

export interface PaymentSettings {
    paymentsTable: string;
    filesTable: string;
    /** Set for the file function only. */
    chunksQueueUrl?: string;
    thresholdBytes: number;
    chunkBytes: number;
    maxLineBytes: number;
    gzipMaxBytes: number;
}

type Size = keyof typeof PAYMENT_FILE_DEFAULTS;

function size(fn: string, env: Record<string, string | undefined>, name: Size): number {
    const variable = PAYMENT_FILE_ENV[name];
    const raw = env[variable];
    if (raw === undefined || raw === "") return PAYMENT_FILE_DEFAULTS[name];
    const [min, max] = PAYMENT_FILE_LIMITS[name];
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || value < min || value > max) throw new Error(`${fn}: ${variable}=${JSON.stringify(raw)} must be a whole number of bytes from ${min} to ${max}`);
    return value;
}

function required(fn: string, env: Record<string, string | undefined>, variable: string): string {
    const value = env[variable]?.trim();
    if (!value) throw new Error(`${fn}: environment variable ${variable} is not set`);
    return value;
}

/** The settings of `fn` ("payment-file" also needs the chunks queue) from `env` (default process.env). */
export function readPaymentSettings(fn: "payment-file" | "payment-chunk", env: Record<string, string | undefined> = process.env): PaymentSettings {
    return {
        paymentsTable: required(fn, env, PAYMENT_FILE_ENV.paymentsTable),
        filesTable: required(fn, env, PAYMENT_FILE_ENV.filesTable),
        ...(fn === "payment-file" ? { chunksQueueUrl: required(fn, env, PAYMENT_FILE_ENV.chunksQueueUrl) } : {}),
        thresholdBytes: size(fn, env, "thresholdBytes"),
        chunkBytes: size(fn, env, "chunkBytes"),
        maxLineBytes: size(fn, env, "maxLineBytes"),
        gzipMaxBytes: size(fn, env, "gzipMaxBytes"),
    };
}
