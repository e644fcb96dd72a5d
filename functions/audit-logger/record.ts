// The audit record, apart from the handler: names and key rules the Pulumi program shares (table
// key, environment variable) without loading the handler's SDK client and Powertools.

import type { ObjectCreated } from "../shared/object-created";

import { AUDIT_TABLE_KEY } from "../shared/contract";
export { AUDIT_TABLE_ENV, AUDIT_TABLE_KEY } from "../shared/contract";

/** The upload an audit record describes (the shared parser's view of the event). */
export type UploadAudit = ObjectCreated;

/** One audit table item: the upload, its key, and when it was first recorded. */
export type AuditItem = UploadAudit & { [AUDIT_TABLE_KEY]: string; recordedAt: string };

/**
 * The audit record's key: the object version, `s3://<bucket>/<key>#<versionId>`. Without a real
 * version id (unversioned bucket, or "null" while versioning is suspended, where every overwrite
 * shares it) S3's sequencer tells writes to one key apart: `s3://<bucket>/<key>#seq:<sequencer>`.
 * Both come from the event itself, so every delivery of one event gives the same key.
 */
export function auditKey(upload: Pick<UploadAudit, "bucket" | "key" | "versionId" | "sequencer">): string {
    const object = `s3://${upload.bucket}/${upload.key}`;
    if (upload.versionId && upload.versionId !== "null") return `${object}#${upload.versionId}`;
    if (upload.sequencer) return `${object}#seq:${upload.sequencer}`;
    throw new Error(`event for ${object} has neither a version id nor a sequencer: no key tells its deliveries apart from other writes`);
}
