import { createHash } from "crypto";
import * as esbuild from "esbuild";
import * as fs from "fs";
import * as path from "path";
import { ZipFile } from "yazl";
import { LAMBDA_DEFAULTS } from "./defaults";

export interface BundleOptions {
    /** Packages left out of the bundle, in addition to the AWS SDK v3 the runtime ships (e.g. a native module shipped in a layer). */
    external?: string[];
    /** Folder the archive is written to. Default `.build/lambda` under the working directory. */
    outDir?: string;
}

export interface Bundle {
    /** Path of the zip archive, relative to the working directory when it lies below it. */
    zipPath: string;
    /** Base64 SHA-256 of the zip: what Lambda reports as CodeSha256, and what changes only when the code does. */
    sha256: string;
    /** Size of the zip, in bytes. */
    zipBytes: number;
    /** Size of index.js, in bytes. */
    codeBytes: number;
}

// A fixed timestamp and mode make the zip a pure function of the code; yazl writes DOS times in
// local time, so a date built from local fields encodes the same bytes in every time zone.
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);
const FILE_MODE = 0o100644;

/**
 * Bundles a handler with esbuild (minified, linked source map, AWS SDK v3 external, target node20)
 * into a deterministic zip: the same source gives the same bytes and hash, so `pulumi preview`
 * shows no diff until the code changes.
 */
export async function bundleFunction(entry: string, options: BundleOptions = {}): Promise<Bundle> {
    const result = await esbuild.build({
        entryPoints: [entry],
        bundle: true,
        platform: "node",
        format: "cjs",
        target: LAMBDA_DEFAULTS.bundleTarget,
        minify: true,
        sourcemap: "linked",
        sourcesContent: false,
        legalComments: "none",
        external: [...LAMBDA_DEFAULTS.runtimeProvided, ...(options.external ?? [])],
        // Relative source paths in the map: the same on every machine and checkout.
        absWorkingDir: process.cwd(),
        outfile: path.join(process.cwd(), ".build", "bundle", "index.js"),
        write: false,
        logLevel: "silent",
    });
    const files = result.outputFiles
        .map((f) => ({ name: path.basename(f.path), contents: Buffer.from(f.contents) }))
        .sort((a, b) => a.name.localeCompare(b.name));
    const zip = await zipFiles(files);
    const sha256 = createHash("sha256").update(zip).digest("base64");
    const outDir = options.outDir ?? path.join(".build", "lambda");
    fs.mkdirSync(outDir, { recursive: true });
    const stem = path.basename(path.dirname(entry)) || "handler";
    const hex = createHash("sha256").update(zip).digest("hex").slice(0, 16);
    const zipPath = path.join(outDir, `${stem}-${hex}.zip`);
    if (!fs.existsSync(zipPath)) fs.writeFileSync(zipPath, zip);
    const code = files.find((f) => f.name === "index.js");
    return { zipPath, sha256, zipBytes: zip.length, codeBytes: code?.contents.length ?? 0 };
}

function zipFiles(files: { name: string; contents: Buffer }[]): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const zip = new ZipFile();
        for (const f of files) {
            zip.addBuffer(f.contents, f.name, { mtime: FIXED_MTIME, mode: FILE_MODE, forceDosTimestamp: true, compress: true });
        }
        zip.end();
        const chunks: Buffer[] = [];
        zip.outputStream.on("data", (c: Buffer) => chunks.push(c));
        zip.outputStream.on("error", reject);
        zip.outputStream.on("end", () => resolve(Buffer.concat(chunks)));
    });
}
