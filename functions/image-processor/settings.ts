// The function's environment: names and defaults exported for the infrastructure, read and
// checked once at cold start so a bad value fails the init with one line, not every message.
import { IMAGE_PROCESSOR_ENV, IMAGE_PROCESSOR_LIMITS } from "../shared/contract";

export { IMAGE_PROCESSOR_ENV, IMAGE_PROCESSOR_LIMITS } from "../shared/contract";
export type { ImageProcessorEnvName } from "../shared/contract";

export interface Settings {
    derivedPrefix: string;
    thumbnailSize: number;
    maxImageBytes: number;
    maxInputPixels: number;
}

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
