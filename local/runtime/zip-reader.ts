/**
 * A small zip reader for archives as bundleFunction writes them (stored or deflated, no zip64):
 * names, DOS times, modes and contents, from the central directory. The local runtime unpacks
 * deployed archives with it; specs and the bench read them; so it throws plain Errors.
 */
import { inflateRawSync } from "zlib";

export interface ZipEntry {
    name: string;
    /** Compression method: 0 stored, 8 deflated. */
    method: number;
    dosTime: number;
    dosDate: number;
    /** Unix mode, from the high half of the external attributes. */
    mode: number;
    contents: Buffer;
}

export function readZip(zip: Buffer): ZipEntry[] {
    // The end of central directory record is the last 22 bytes, unless a comment follows it.
    let eocd = zip.length - 22;
    while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
    if (eocd < 0) throw new Error("readZip: not a zip, no end of central directory");
    const count = zip.readUInt16LE(eocd + 10);
    let at = zip.readUInt32LE(eocd + 16);
    const entries: ZipEntry[] = [];
    for (let i = 0; i < count; i++) {
        if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`readZip: bad central directory header at ${at}`);
        const method = zip.readUInt16LE(at + 10);
        const dosTime = zip.readUInt16LE(at + 12);
        const dosDate = zip.readUInt16LE(at + 14);
        const compressedSize = zip.readUInt32LE(at + 20);
        const nameLength = zip.readUInt16LE(at + 28);
        const extraLength = zip.readUInt16LE(at + 30);
        const commentLength = zip.readUInt16LE(at + 32);
        const external = zip.readUInt32LE(at + 38);
        const local = zip.readUInt32LE(at + 42);
        const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
        if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`readZip: bad local header for ${name}`);
        if (method !== 0 && method !== 8) throw new Error(`readZip: ${name} uses compression method ${method}`);
        // Data starts after the local header, whose name/extra lengths may differ from the central ones.
        const dataStart = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
        const raw = zip.subarray(dataStart, dataStart + compressedSize);
        const contents = method === 8 ? inflateRawSync(raw) : Buffer.from(raw);
        entries.push({ name, method, dosTime, dosDate, mode: external >>> 16, contents });
        at += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
}
