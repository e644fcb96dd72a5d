// The function's environment: names and defaults exported for the infrastructure, read and
// checked once at cold start so a bad value fails the init with one line, not every message.
import { DEFAULT_DERIVED_PREFIX } from "./keys";

/** Environment variables the deployed function reads, with the defaults it uses when one is unset. */
export const IMAGE_PROCESSOR_ENV = {
    /** Prefix of every derived key; the EventBridge rule must exclude it and IAM PutObject is scoped to it. */
    DERIVED_PREFIX: DEFAULT_DERIVED_PREFIX,
    /** Longest side of a thumbnail, in pixels (smaller images are not enlarged). */
    THUMBNAIL_SIZE: "256",
    /** Largest object downloaded, in bytes (20 MiB): bounds memory and time per message. */
    MAX_IMAGE_BYTES: String(20 * 1024 * 1024),
    /** Largest image decoded, in pixels (width × height): a decompression bomb stays small on disk. */
    MAX_INPUT_PIXELS: String(40_000_000),
} as const;

export type ImageProcessorEnvName = keyof typeof IMAGE_PROCESSOR_ENV;

export interface Settings {
    derivedPrefix: string;
    thumbnailSize: number;
    maxImageBytes: number;
    maxInputPixels: number;
}

/** Ranges each numeric setting must fall in; the stack config checks THUMBNAIL_SIZE against the same. */
export const IMAGE_PROCESSOR_LIMITS = {
    THUMBNAIL_SIZE: [16, 4096],
    MAX_IMAGE_BYTES: [1, 1024 * 1024 * 1024],
    MAX_INPUT_PIXELS: [1, 268_402_689], // sharp's own default limit (0x3FFF × 0x3FFF)
} as const;

function integer(env: Record<string, string | undefined>, name: keyof typeof IMAGE_PROCESSOR_LIMITS): number {
    const raw = env[name] ?? IMAGE_PROCESSOR_ENV[name];
    const [min, max] = IMAGE_PROCESSOR_LIMITS[name];
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
        throw new Error(`image-processor: ${name}=${JSON.stringify(raw)} must be an integer from ${min} to ${max}`);
    }
    return value;
}

/** Reads the settings from `env` (default process.env), each unset one from IMAGE_PROCESSOR_ENV. */
export function readSettings(env: Record<string, string | undefined> = process.env): Settings {
    const derivedPrefix = env.DERIVED_PREFIX ?? IMAGE_PROCESSOR_ENV.DERIVED_PREFIX;
    // An empty prefix would make every key "derived" (nothing processed) and the loop guard meaningless.
    if (derivedPrefix === "" || derivedPrefix.startsWith("/") || /[*?]/.test(derivedPrefix)) {
        throw new Error(`image-processor: DERIVED_PREFIX=${JSON.stringify(derivedPrefix)} must be a non-empty key prefix without a leading "/" or wildcards, e.g. "thumbnails/"`);
    }
    return {
        derivedPrefix,
        thumbnailSize: integer(env, "THUMBNAIL_SIZE"),
        maxImageBytes: integer(env, "MAX_IMAGE_BYTES"),
        maxInputPixels: integer(env, "MAX_INPUT_PIXELS"),
    };
}
