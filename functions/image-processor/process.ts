// Acting on one validated upload: download, check, decode, write the thumbnail and its metadata.
// Every permanent problem with the object itself becomes a Skip (reported, never retried); any
// other error is thrown, so the message is retried and ends in the DLQ if it keeps failing.
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import {
    METADATA_CONTENT_TYPE,
    THUMBNAIL_CONTENT_TYPE,
    THUMBNAIL_FORMAT,
    derivedKeys,
    hasImageSuffix,
    isDerivedKey,
} from "./keys";
import type { Settings } from "./settings";
import type { ObjectCreated } from "../shared/object-created";

/** One S3 upload to process, as read from its Object Created event. */
export type ImageUpload = Pick<ObjectCreated, "bucket" | "key" | "eventKey" | "size" | "etag" | "versionId" | "eventTime">;

/** Why an upload was left alone; each is permanent, so retrying could not help. */
export type SkipReason =
    | "derived-key"
    | "not-image-key"
    | "too-large"
    | "not-found"
    | "not-image-content"
    | "too-many-pixels"
    | "undecodable";

export type Outcome =
    | { status: "skipped"; reason: SkipReason; detail: string }
    | { status: "processed"; thumbnailKey: string; metadataKey: string; metadata: ImageMetadata };

/** The JSON document written next to each thumbnail. */
export interface ImageMetadata {
    schemaVersion: 1;
    source: { bucket: string; key: string; versionId: string | null; etag: string | null; sizeBytes: number; eventTime: string };
    image: { format: string; width: number; height: number; orientation: number | null; pages: number; hasAlpha: boolean };
    thumbnail: { key: string; format: typeof THUMBNAIL_FORMAT; contentType: string; width: number; height: number; sizeBytes: number };
}

class Skip extends Error {
    constructor(readonly reason: SkipReason, detail: string) {
        super(detail);
    }
}

/** Formats accepted on input; the content is sniffed, not trusted from the key's extension. */
type InputFormat = "jpeg" | "png" | "gif" | "webp";

// Magic numbers of the accepted formats. Checking them before sharp sees the bytes keeps every
// other format libvips could parse (SVG, TIFF, HEIF, PDF…) out of the decoder.
function sniffFormat(b: Buffer): InputFormat | undefined {
    if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
    if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return "png";
    if (b.length >= 6 && /^GIF8[79]a$/.test(b.toString("latin1", 0, 6))) return "gif";
    if (b.length >= 12 && b.toString("latin1", 0, 4) === "RIFF" && b.toString("latin1", 8, 12) === "WEBP") return "webp";
    return undefined;
}

/** True for S3's answer to a GetObject of a key that no longer exists (or whose current version is a delete marker). */
function isGone(err: unknown): boolean {
    const e = err as { name?: string; Code?: string };
    return e?.name === "NoSuchKey" || e?.Code === "NoSuchKey";
}

/** Reads a body of at most `limit` bytes; undefined when it is longer (the stream is then dropped). */
async function readCapped(body: AsyncIterable<Uint8Array> & { destroy?: () => void }, limit: number): Promise<Buffer | undefined> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of body) {
        total += chunk.length;
        if (total > limit) {
            body.destroy?.();
            return undefined;
        }
        chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks, total);
}


export interface ProcessContext {
    s3: S3Client;
    settings: Settings;
}

/**
 * Renders of one message: when a newer version of the key arrived while a render was being
 * written, the current one is rendered again, up to this many times in all; past that the message
 * fails and SQS retries it (someone keeps overwriting the key).
 */
export const MAX_RENDER_ROUNDS = 5;

/** What tells two versions of a key apart: the version id, or (without versioning) the ETag. */
function versionOf(answer: { VersionId?: string; ETag?: string }): string | undefined {
    return answer.VersionId ?? answer.ETag;
}

/** Processes one upload: returns what was written, or why it was skipped; throws on transient failures. */
export async function processUpload(upload: ImageUpload, ctx: ProcessContext): Promise<Outcome> {
    const outcome = await outcomeOf(upload, ctx);
    // The decoded key is right for S3's encoded event keys; should an event ever carry a key as it
    // is (a literal "+" or "%" in it), the key as spelled is tried before calling the object gone.
    if (outcome.status === "skipped" && outcome.reason === "not-found" && upload.eventKey) {
        return outcomeOf({ ...upload, key: upload.eventKey, eventKey: undefined }, ctx);
    }
    return outcome;
}

async function outcomeOf(upload: ImageUpload, ctx: ProcessContext): Promise<Outcome> {
    try {
        return await processOrSkip(upload, ctx);
    } catch (err) {
        if (err instanceof Skip) return { status: "skipped", reason: err.reason, detail: err.message };
        throw err;
    }
}

async function processOrSkip(upload: ImageUpload, ctx: ProcessContext): Promise<Outcome> {
    const { key } = upload;
    const { settings } = ctx;
    // Defence in depth: the EventBridge rule already excludes the prefix; if it ever stops doing
    // so, the function's own output must still not be processed again (an endless S3 → Lambda loop).
    if (isDerivedKey(key, settings.derivedPrefix)) {
        throw new Skip("derived-key", `key is under the derived prefix "${settings.derivedPrefix}" this function writes to`);
    }
    if (!hasImageSuffix(key)) throw new Skip("not-image-key", "key does not end with an image extension (.jpg .jpeg .png .gif .webp)");
    // The event's size costs nothing to check: an oversized object is not even downloaded.
    if (upload.size !== undefined && upload.size > settings.maxImageBytes) {
        throw new Skip("too-large", `object is ${upload.size} bytes, over MAX_IMAGE_BYTES (${settings.maxImageBytes})`);
    }
    // The derived keys name no version: they show the key's current version, whichever event
    // (SQS keeps no order, and redelivers) led here. So render the current version, then look
    // again: if a newer one arrived meanwhile, another run may have written it before this one
    // wrote an older one, so render again. The last write is always followed by such a look.
    for (let round = 1; ; round++) {
        const rendered = await renderCurrent(upload, ctx);
        const now = await currentVersion(upload, ctx);
        if (now === undefined || now === rendered.version) return rendered.outcome;
        if (round >= MAX_RENDER_ROUNDS) {
            throw new Error(`s3://${upload.bucket}/${key} changed ${round} times while its thumbnail was written; the message will be retried`);
        }
    }
}

/** The version current now, or undefined when the key is gone (the thumbnail then stays as written). */
async function currentVersion({ bucket, key }: ImageUpload, { s3 }: ProcessContext): Promise<string | undefined> {
    try {
        return versionOf(await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
    } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (isGone(err) || (err as Error).name === "NotFound" || status === 404) return undefined;
        throw err;
    }
}

/** Reads the key's current version, checks and decodes it, and writes its thumbnail and metadata. */
async function renderCurrent(upload: ImageUpload, { s3, settings }: ProcessContext): Promise<{ version: string | undefined; outcome: Outcome }> {
    const { bucket, key } = upload;
    const out = derivedKeys(key, settings.derivedPrefix);
    let got;
    try {
        got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    } catch (err) {
        // The key is gone, or its current version is a delete marker.
        if (isGone(err)) throw new Skip("not-found", `object no longer exists (${(err as Error).name})`);
        throw err;
    }
    const body = got.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
    if (!body) throw new Error(`GetObject s3://${bucket}/${key} returned no body`);
    // Checked again on the object itself: the event's size is optional and describes that event only.
    if (got.ContentLength !== undefined && got.ContentLength > settings.maxImageBytes) {
        body.destroy?.();
        throw new Skip("too-large", `object is ${got.ContentLength} bytes, over MAX_IMAGE_BYTES (${settings.maxImageBytes})`);
    }
    const bytes = await readCapped(body, settings.maxImageBytes);
    if (!bytes) throw new Skip("too-large", `object body is over MAX_IMAGE_BYTES (${settings.maxImageBytes})`);

    const sniffed = sniffFormat(bytes);
    if (!sniffed) throw new Skip("not-image-content", "content is not a JPEG, PNG, GIF or WebP image");

    // failOn "error": truncated or corrupt pixel data aborts; harmless warnings (odd metadata) do not.
    // limitInputPixels: libvips refuses to decode more pixels than this (a decompression bomb).
    const input = () => sharp(bytes, { failOn: "error", limitInputPixels: settings.maxInputPixels });
    let meta: sharp.Metadata;
    let thumb: { data: Buffer; info: sharp.OutputInfo };
    try {
        meta = await input().metadata();
        const pixels = (meta.width ?? 0) * (meta.height ?? 0);
        if (pixels > settings.maxInputPixels) throw new Error("Input image exceeds pixel limit");
        thumb = await input()
            .rotate() // upright by its EXIF orientation, which the WebP output then drops along with GPS and other EXIF
            .resize({ width: settings.thumbnailSize, height: settings.thumbnailSize, fit: "inside", withoutEnlargement: true })
            .webp({ quality: 80 })
            .toBuffer({ resolveWithObject: true });
    } catch (err) {
        // Every decoder failure counts as the content's fault: the input is a bounded buffer already
        // in memory, and libvips names corrupt data in many ways (a truncated PNG is just "Unknown
        // error"), so matching messages would send corrupt files round the retries. Running out of
        // memory is not caught here: it ends the invocation, and SQS retries the message.
        const message = (err as Error).message.replace(/\s+/g, " ").trim();
        if (/pixel limit/i.test(message)) throw new Skip("too-many-pixels", `image is over MAX_INPUT_PIXELS (${settings.maxInputPixels})`);
        throw new Skip("undecodable", `image cannot be decoded: ${message}`);
    }

    const metadata: ImageMetadata = {
        schemaVersion: 1,
        source: {
            bucket,
            key,
            // The version actually read, which may be newer than the event's; the event omits it for a bucket without versioning.
            versionId: got.VersionId ?? upload.versionId ?? null,
            etag: got.ETag?.replace(/"/g, "") ?? upload.etag ?? null,
            sizeBytes: bytes.length,
            eventTime: upload.eventTime,
        },
        image: {
            format: meta.format ?? sniffed,
            width: meta.width ?? 0,
            height: meta.height ?? 0,
            orientation: meta.orientation ?? null,
            pages: meta.pages ?? 1,
            hasAlpha: meta.hasAlpha ?? false,
        },
        thumbnail: {
            key: out.thumbnail,
            format: THUMBNAIL_FORMAT,
            contentType: THUMBNAIL_CONTENT_TYPE,
            width: thumb.info.width,
            height: thumb.info.height,
            sizeBytes: thumb.data.length,
        },
    };
    // Thumbnail first, metadata last: a metadata document always points at a thumbnail that exists.
    // No SSE headers: the bucket's default encryption (SSE-KMS) applies. A retry overwrites both.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: out.thumbnail, Body: thumb.data, ContentType: THUMBNAIL_CONTENT_TYPE }));
    await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: out.metadata, Body: JSON.stringify(metadata, null, 2), ContentType: METADATA_CONTENT_TYPE }),
    );
    return { version: versionOf(got), outcome: { status: "processed", thumbnailKey: out.thumbnail, metadataKey: out.metadata, metadata } };
}
