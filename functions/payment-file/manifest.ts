import { curatedKey, quarantineKey } from "../shared/contract";
import { partName, type ChunkSummary, type FileItem, type LineCounts } from "./ledger";

// A file's manifest, from the chunk summaries in its manifest item: the counts and the applied
// amounts (minor units, per currency and type), checked to add up. Pure: the function that
// completes the file writes it to manifests/<key>.json.

export const COUNTS = ["applied", "duplicates", "conflicts", "quarantined", "blank"] as const;
export type Count = (typeof COUNTS)[number];

export interface ManifestPart extends Omit<ChunkSummary, "amounts"> {
    /** Number (from 1) of the chunk's first line within the file. */
    first_line: number;
    /** The chunk's objects, where it wrote them: applied payments, and quarantined lines (numbered within the chunk). */
    curatedKey?: string;
    quarantineKey?: string;
}

export interface Manifest extends LineCounts {
    file: string;
    bucket: string;
    key: string;
    version_id?: string;
    etag?: string;
    file_id: string;
    size: number;
    chunk_bytes: number;
    chunks: number;
    /** Applied amounts in minor units (decimal strings), currency → type → amount. */
    amounts: Record<string, Record<string, string>>;
    /**
     * Where the quarantined lines and conflicts are: each chunk's `quarantineKey`, its entries
     * numbered within the chunk (`line_in_chunk`); the file's line is `first_line + line_in_chunk - 1`.
     */
    parts: ManifestPart[];
    /** Why the file was not read (a gzip file too big for one invocation); its counts are then all 0. */
    refused?: string;
    /** What an operator should know, e.g. that the file was empty. */
    notes?: string[];
}

/** The chunk summaries of a complete file, in file order; throws when one is missing. */
export function summariesOf(file: FileItem): ChunkSummary[] {
    const parts: ChunkSummary[] = [];
    for (let i = 0; i < file.chunks; i++) {
        const part = file.parts?.[partName(i)];
        if (!part) throw new Error(`manifest of ${file.file_id}: chunk ${i} of ${file.chunks} has no summary`);
        parts.push(part);
    }
    return parts;
}

/** Throws one line naming the first count that does not add up. */
export function checkCounts(label: string, c: LineCounts): void {
    const sum = COUNTS.reduce((s, k) => s + c[k], 0);
    if (sum !== c.lines) throw new Error(`${label}: lines ${c.lines} != ${COUNTS.map((k) => `${k} ${c[k]}`).join(" + ")} = ${sum}`);
}

export function buildManifest(file: FileItem, refused?: string): Manifest {
    const summaries = summariesOf(file);
    const totals: LineCounts = { lines: 0, applied: 0, duplicates: 0, conflicts: 0, quarantined: 0, blank: 0 };
    const amounts = new Map<string, bigint>();
    const parts: ManifestPart[] = [];
    let nextLine = 1;
    for (const s of summaries) {
        checkCounts(`manifest of ${file.file_id}, chunk ${s.index}`, s);
        totals.lines += s.lines;
        for (const k of COUNTS) totals[k] += s[k];
        for (const [k, v] of Object.entries(s.amounts ?? {})) amounts.set(k, (amounts.get(k) ?? 0n) + BigInt(v));
        const { amounts: _a, ...rest } = s;
        parts.push({
            ...rest,
            first_line: nextLine,
            // Derived, not stored: a chunk's keys would take a file's manifest item past DynamoDB's 400 KB.
            ...(s.applied > 0 ? { curatedKey: curatedKey(file.key, file.version_tag, s.index) } : {}),
            ...(s.quarantined + s.conflicts > 0 ? { quarantineKey: quarantineKey(file.key, file.version_tag, s.index) } : {}),
        });
        nextLine += s.lines;
    }
    checkCounts(`manifest of ${file.file_id}`, totals);
    const byCurrency: Record<string, Record<string, string>> = {};
    for (const [k, v] of [...amounts].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const [currency, type] = k.split(":");
        (byCurrency[currency] ??= {})[type] = v.toString();
    }
    return {
        file: `s3://${file.bucket}/${file.key}`,
        bucket: file.bucket,
        key: file.key,
        ...(file.version_id ? { version_id: file.version_id } : {}),
        ...(file.etag ? { etag: file.etag } : {}),
        file_id: file.file_id,
        size: file.size,
        chunk_bytes: file.chunk_bytes,
        chunks: file.chunks,
        ...totals,
        amounts: byCurrency,
        parts,
        ...(refused ? { refused } : {}),
        ...(file.size === 0 ? { notes: ["empty file: 0 bytes, no lines"] } : {}),
    };
}
