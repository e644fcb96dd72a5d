import { expect } from "chai";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import * as fc from "fast-check";
import * as fs from "fs";
import * as path from "path";
import { Readable } from "stream";
import sharp from "sharp";
import { derivedKeys } from "../../../functions/image-processor/keys";
import { ImageUpload, processUpload } from "../../../functions/image-processor/process";
import { readSettings } from "../../../functions/image-processor/settings";

// Consumers run concurrently, and SQS keeps no order: the events of two versions of one key can be
// processed at the same time, the older one finishing last. Whatever the interleaving, the
// thumbnail and its metadata must end up describing the key's current version. An in-memory
// versioned bucket stands behind aws-sdk-client-mock; every S3 call can be held back, by hand or by
// fast-check's scheduler, which tries many orders.

const BUCKET = "uploads";
const KEY = "photos/cat.png";
const FIXTURES = path.join(__dirname, "..", "..", "fixtures", "images");
const IMAGES = {
    landscape: { bytes: fs.readFileSync(path.join(FIXTURES, "landscape.png")), thumb: [32, 20] },
    portrait: { bytes: fs.readFileSync(path.join(FIXTURES, "portrait.jpg")), thumb: [24, 32] },
    square: { bytes: fs.readFileSync(path.join(FIXTURES, "square.webp")), thumb: [32, 32] },
} as const;
type Image = keyof typeof IMAGES;
const settings = readSettings({ THUMBNAIL_SIZE: "32" });
const out = derivedKeys(KEY);

/** A versioned bucket: uploads add versions (the last is current), derived writes overwrite. */
class VersionedBucket {
    readonly versions: { versionId: string; image: Image }[] = [];
    readonly derived = new Map<string, Buffer>();

    upload(image: Image): ImageUpload {
        const versionId = `v${this.versions.length + 1}`;
        this.versions.push({ versionId, image });
        return { bucket: BUCKET, key: KEY, versionId, size: IMAGES[image].bytes.length, eventTime: new Date().toISOString() };
    }

    get current() {
        return this.versions[this.versions.length - 1];
    }

    /** The metadata JSON's source version and the thumbnail's size, as they stand. */
    async result(): Promise<{ metadataVersion: string; thumb: number[] }> {
        const metadata = JSON.parse(this.derived.get(out.metadata)!.toString("utf8"));
        const thumb = await sharp(this.derived.get(out.thumbnail)!).metadata();
        return { metadataVersion: metadata.source.versionId, thumb: [thumb.width!, thumb.height!] };
    }
}

/**
 * Puts the bucket behind a mocked S3 client; `hold(kind, key)` runs before each call answers
 * (resolve it to let the call through).
 */
function s3Over(bucket: VersionedBucket, hold: (kind: string, key: string) => Promise<unknown> = async () => undefined) {
    const s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    const mock = mockClient(s3);
    const current = () => {
        const v = bucket.current;
        if (!v) throw new S3ServiceException({ name: "NoSuchKey", $fault: "client", $metadata: { httpStatusCode: 404 }, message: "gone" });
        return v;
    };
    mock.on(GetObjectCommand).callsFake(async (input) => {
        await hold("get", input.Key);
        const v = current();
        const bytes = IMAGES[v.image].bytes;
        return { Body: Readable.from([bytes]) as any, ContentLength: bytes.length, VersionId: v.versionId, ETag: `"${v.versionId}"` };
    });
    mock.on(HeadObjectCommand).callsFake(async (input) => {
        await hold("head", input.Key);
        const v = current();
        return { VersionId: v.versionId, ETag: `"${v.versionId}"`, ContentLength: IMAGES[v.image].bytes.length };
    });
    mock.on(PutObjectCommand).callsFake(async (input) => {
        await hold("put", input.Key);
        bucket.derived.set(input.Key, Buffer.from(input.Body as Buffer | string));
        return {};
    });
    return { s3, mock };
}

describe("image-processor: concurrent events of one key", () => {
    it("ends with the current version's thumbnail when an older version finishes last", async () => {
        const bucket = new VersionedBucket();
        let releaseOld!: () => void;
        const oldMayWrite = new Promise<void>((resolve) => (releaseOld = resolve));
        let heldOnce = false;
        // The first thumbnail write (the older event's) waits until the newer event is done.
        const { s3, mock } = s3Over(bucket, async (kind, key) => {
            if (kind === "put" && key === out.thumbnail && !heldOnce) {
                heldOnce = true;
                await oldMayWrite;
            }
        });
        try {
            const older = processUpload(bucket.upload("landscape"), { s3, settings });
            await new Promise((resolve) => setTimeout(resolve, 50)); // the older one has read v1 and is about to write
            const newer = await processUpload(bucket.upload("portrait"), { s3, settings });
            expect(newer.status).to.equal("processed");
            releaseOld();
            await older;
            expect(await bucket.result()).to.deep.equal({ metadataVersion: "v2", thumb: [...IMAGES.portrait.thumb] });
        } finally {
            mock.restore();
        }
    });

    it("ends with the current version's thumbnail and metadata, in every order fast-check tries", async () => {
        await fc.assert(
            fc.asyncProperty(fc.scheduler(), fc.constantFrom<Image[]>(["landscape", "portrait"], ["landscape", "portrait", "square"]), async (s, images) => {
                const bucket = new VersionedBucket();
                const { s3, mock } = s3Over(bucket, (kind, key) => s.schedule(Promise.resolve(`${kind} ${key}`)));
                try {
                    // The first version exists; each later upload is a scheduled step, and its event is processed from then on.
                    const runs: Promise<unknown>[] = [processUpload(bucket.upload(images[0]), { s3, settings })];
                    const uploads = images.slice(1).map((image) =>
                        s.schedule(Promise.resolve(`upload ${image}`)).then(() => {
                            runs.push(processUpload(bucket.upload(image), { s3, settings }));
                        }),
                    );
                    await s.waitFor(Promise.all(uploads));
                    await s.waitFor(Promise.all(runs));
                    const want = IMAGES[bucket.current.image].thumb;
                    expect(await bucket.result()).to.deep.equal({ metadataVersion: bucket.current.versionId, thumb: [...want] });
                } finally {
                    mock.restore();
                }
            }),
            { numRuns: 60 },
        );
    });
});
