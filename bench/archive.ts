import * as fs from "fs";
import * as path from "path";
import { inflateRawSync } from "zlib";
import { ZipFile } from "yazl";

export interface Tree {
    files: number;
    bytes: number;
    /** Paths of the files, relative to the cwd (as archive entries). */
    paths: string[];
}

/** Every file under a folder (or the file itself), following symlinks as an archive would. */
export function walk(root: string): Tree {
    const tree: Tree = { files: 0, bytes: 0, paths: [] };
    const visit = (p: string) => {
        const st = fs.statSync(p);
        if (st.isDirectory()) {
            for (const name of fs.readdirSync(p).sort()) visit(path.join(p, name));
        } else if (st.isFile()) {
            tree.files++;
            tree.bytes += st.size;
            tree.paths.push(p);
        }
    };
    visit(root);
    return tree;
}

/**
 * Bytes of a deflated zip of the given buffers and files, counted as it streams (never
 * written): the same compression bundleFunction uses, so the two zips compare fairly.
 */
export function zippedBytes(buffers: Map<string, Buffer>, files: string[]): Promise<number> {
    return new Promise((resolve, reject) => {
        const zip = new ZipFile();
        for (const [name, contents] of buffers) zip.addBuffer(contents, name, { compress: true });
        for (const f of files) zip.addFile(f, f.split(path.sep).join("/"), { compress: true });
        zip.end();
        let bytes = 0;
        zip.outputStream.on("data", (c: Buffer) => (bytes += c.length));
        zip.outputStream.on("error", reject);
        zip.outputStream.on("end", () => resolve(bytes));
    });
}

/**
 * Entries of a zip as bundleFunction writes it (stored or deflated, no zip64): enough to run
 * the exact artifact that would be deployed rather than a second esbuild build.
 */
export function readZip(zip: Buffer): Map<string, Buffer> {
    const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (eocd < 0) throw new Error("readZip: no end of central directory");
    const entries = new Map<string, Buffer>();
    let p = zip.readUInt32LE(eocd + 16);
    for (let i = zip.readUInt16LE(eocd + 10); i > 0; i--) {
        if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error("readZip: bad central directory entry");
        const method = zip.readUInt16LE(p + 10);
        const size = zip.readUInt32LE(p + 20);
        const nameLength = zip.readUInt16LE(p + 28);
        const local = zip.readUInt32LE(p + 42);
        const name = zip.toString("utf8", p + 46, p + 46 + nameLength);
        // Data starts after the local header, whose name/extra lengths may differ from the central ones.
        const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
        const data = zip.subarray(start, start + size);
        if (method !== 0 && method !== 8) throw new Error(`readZip: ${name} uses compression method ${method}`);
        entries.set(name, method === 8 ? inflateRawSync(data) : Buffer.from(data));
        p += 46 + nameLength + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
    }
    return entries;
}
