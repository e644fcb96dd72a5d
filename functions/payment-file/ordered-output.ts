import type { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { once } from "events";
import { PassThrough } from "stream";

// One NDJSON object a chunk writes (its curated payments, or its quarantine) as the chunk is read:
// each line's slot is settled, with a line or with none, in whatever order its claim returns; lines
// go out in slot order (file order), streamed to S3 (one PutObject, or a multipart upload past the
// first 5 MiB part). What a chunk writes is never held whole: only the slots still waiting for
// their claim, and the parts in flight. The object exists only if some slot had a line.

export class OrderedObject {
    private nextSlot = 0;
    private readonly held = new Map<number, string | undefined>();
    private stream?: PassThrough;
    private upload?: Upload;
    private finished?: Promise<unknown>;
    /** Lines written so far. */
    lines = 0;

    constructor(
        private readonly s3: S3Client,
        private readonly bucket: string,
        private readonly key: string,
    ) {}

    /** Settles one slot: `line` is written once every earlier slot is settled; undefined writes nothing. */
    settle(slot: number, line?: string): void {
        this.held.set(slot, line);
        while (this.held.has(this.nextSlot)) {
            const next = this.held.get(this.nextSlot);
            this.held.delete(this.nextSlot);
            this.nextSlot++;
            if (next !== undefined) this.write(next);
        }
    }

    /** True when the upload has not kept up: the reader should wait for `ready()`. */
    get behind(): boolean {
        return this.stream?.writableNeedDrain ?? false;
    }

    /** Resolves once the upload has taken what was written (or has failed, which close() reports). */
    async ready(): Promise<void> {
        if (this.stream?.writableNeedDrain) await Promise.race([once(this.stream, "drain"), this.finished!.catch(() => undefined)]);
    }

    /** Ends the object; true when it was written. Throws what the upload failed with. */
    async close(): Promise<boolean> {
        if (!this.stream) return false;
        this.stream.end();
        await this.finished;
        return true;
    }

    /** Gives up a half-written object (a multipart upload is aborted; S3 keeps nothing of it). */
    async abort(): Promise<void> {
        if (!this.upload) return;
        await this.upload.abort().catch(() => undefined);
        this.stream!.destroy();
        await this.finished!.catch(() => undefined);
    }

    private write(line: string): void {
        if (!this.stream) {
            this.stream = new PassThrough();
            this.upload = new Upload({ client: this.s3, params: { Bucket: this.bucket, Key: this.key, Body: this.stream, ContentType: "application/x-ndjson" }, queueSize: 2 });
            this.finished = this.upload.done();
            // Observed by ready(), close() and abort(); never left unhandled in between.
            this.finished.catch(() => undefined);
        }
        this.stream.write(line + "\n");
        this.lines++;
    }
}
