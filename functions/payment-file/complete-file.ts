import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { manifestKey } from "../shared/contract";
import { markFile, type FileItem } from "./ledger";
import { buildManifest, type Manifest } from "./manifest";

// What the chunk that completes a file does, once: manifests/<key>.json, then the manifest item
// marked written. The key is fixed by the file, so a retry after a crash writes the same object.

export interface CompleteDeps {
    s3: S3Client;
    dynamodb: DynamoDBClient;
    filesTable: string;
}

/** Writes the file's manifest; returns it. Throws when the counts do not add up. */
export async function completeFile(file: FileItem, deps: CompleteDeps, refused?: string): Promise<Manifest> {
    const manifest = buildManifest(file, refused);
    const key = manifestKey(file.key);
    await deps.s3.send(new PutObjectCommand({ Bucket: file.bucket, Key: key, Body: JSON.stringify(manifest, null, 2) + "\n", ContentType: "application/json" }));
    await markFile(deps.dynamodb, deps.filesTable, file.file_id, "manifest_key", key);
    return manifest;
}
