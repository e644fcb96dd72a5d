import * as fs from "fs";
import * as path from "path";
import { ZipFile } from "yazl";
import { readZip } from "../local/runtime/zip-reader";

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
 * Contents of a zip as bundleFunction writes it, by entry name: enough to run the exact
 * artifact that would be deployed rather than a second esbuild build.
 */
export function unzip(zip: Buffer): Map<string, Buffer> {
    return new Map(readZip(zip).map((e) => [e.name, e.contents]));
}
