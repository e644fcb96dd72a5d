// Object keys the image processor reads and writes. Kept free of the AWS SDK and sharp so the
// infrastructure (EventBridge rule, SNS filter policy, IAM grants) can import it cheaply.
import { createHash } from "crypto";

import { DEFAULT_DERIVED_PREFIX, IMAGE_KEY_SUFFIXES } from "../shared/contract";
export { DEFAULT_DERIVED_PREFIX, IMAGE_KEY_SUFFIXES } from "../shared/contract";

/** S3's limit on a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** Thumbnail encoding: WebP is small and every current browser shows it. */
export const THUMBNAIL_FORMAT = "webp" as const;
export const THUMBNAIL_CONTENT_TYPE = "image/webp";
export const METADATA_CONTENT_TYPE = "application/json";

export interface DerivedKeys {
    thumbnail: string;
    metadata: string;
}

/**
 * The keys written for a source key: the whole source key (extension included, so `a.jpg` and
 * `a.png` do not collide) under the derived prefix, e.g. `photos/cat.jpg` →
 * `thumbnails/photos/cat.jpg.thumb.webp` and `thumbnails/photos/cat.jpg.json`. A source key too
 * long for that (S3 keys stop at 1024 bytes) gets `thumbnails/_long/<sha256 of the key>...`
 * instead; its metadata JSON names the source key.
 */
export function derivedKeys(sourceKey: string, derivedPrefix: string = DEFAULT_DERIVED_PREFIX): DerivedKeys {
    const named = { thumbnail: `${derivedPrefix}${sourceKey}.thumb.${THUMBNAIL_FORMAT}`, metadata: `${derivedPrefix}${sourceKey}.json` };
    if (fitsS3KeyLimit(named.thumbnail) && fitsS3KeyLimit(named.metadata)) return named;
    const hashed = `${derivedPrefix}_long/${createHash("sha256").update(sourceKey, "utf8").digest("hex")}`;
    return { thumbnail: `${hashed}.thumb.${THUMBNAIL_FORMAT}`, metadata: `${hashed}.json` };
}

/** True for a key this function writes: processing it again would start an S3 → Lambda loop. */
export function isDerivedKey(key: string, derivedPrefix: string = DEFAULT_DERIVED_PREFIX): boolean {
    return key.startsWith(derivedPrefix);
}

/** True when the key ends with one of IMAGE_KEY_SUFFIXES, in any letter case (as the SNS filter matches). */
export function hasImageSuffix(key: string): boolean {
    const lower = key.toLowerCase();
    return IMAGE_KEY_SUFFIXES.some((s) => lower.endsWith(s));
}

/** True when S3 accepts the key's length. */
export function fitsS3KeyLimit(key: string): boolean {
    return Buffer.byteLength(key, "utf8") <= MAX_KEY_BYTES;
}
