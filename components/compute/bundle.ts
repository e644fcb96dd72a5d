import { createHash } from "crypto";
import * as esbuild from "esbuild";
import * as fs from "fs";
import * as path from "path";
import { ZipFile } from "yazl";
import { LAMBDA_DEFAULTS } from "../shared/defaults";

export interface BundleOptions {
    /** Packages left out of the bundle, in addition to the AWS SDK v3 the runtime ships (e.g. a native module shipped in a layer). */
    external?: string[];
    /** Folder the archive is written to. Default `.build/lambda` under the working directory. */
    outDir?: string;
    /**
     * Installed npm packages with native code (e.g. `sharp`), which esbuild cannot bundle: left
     * external and shipped in the zip under `node_modules/`, with their installed runtime
     * dependencies (dependencies and optionalDependencies), keeping only the packages whose
     * package.json `os`/`cpu`/`libc` fit Lambda (linux, the architecture's CPU, glibc). A platform
     * package the target needs but this machine lacks fails the build with the npm command that
     * installs it. Default none.
     */
    nativePackages?: string[];
    /** Lambda instruction set the native packages are picked for. Default LAMBDA_DEFAULTS.architecture. */
    architecture?: "x86_64" | "arm64";
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
    /** `name@version` of each package shipped under node_modules/, sorted. Empty without nativePackages. */
    packages: string[];
    /**
     * What index.js is made of, from esbuild's metafile: bytes of output per package (or per source
     * folder of this project), largest first. What to cut when a bundle grows.
     */
    inputs: { from: string; bytes: number }[];
}

// A fixed timestamp and mode make the zip a pure function of the code; yazl writes DOS times in
// local time, so a date built from local fields encodes the same bytes in every time zone.
// The same mode for native binaries (.node, .so): dlopen needs read permission, not execute.
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);
const FILE_MODE = 0o100644;

/**
 * Bundles a handler with esbuild (minified, linked source map, AWS SDK v3 external, target node20),
 * plus any `nativePackages` as installed, into a deterministic zip: the same input gives the same
 * bytes and hash, so `pulumi preview` shows no diff until the code changes.
 */
export async function bundleFunction(entry: string, options: BundleOptions = {}): Promise<Bundle> {
    const nativePackages = options.nativePackages ?? [];
    // Resolved before building, so a missing platform package fails fast, in one line.
    const native = nativeFilesFor(nativePackages, path.dirname(path.resolve(entry)), options.architecture ?? LAMBDA_DEFAULTS.architecture);
    const buildOptions: esbuild.BuildOptions & { write: false; metafile: true } = {
        entryPoints: [entry],
        bundle: true,
        platform: "node",
        format: "cjs",
        target: LAMBDA_DEFAULTS.bundleTarget,
        minify: true,
        sourcemap: "linked",
        sourcesContent: false,
        legalComments: "none",
        external: [...LAMBDA_DEFAULTS.runtimeProvided, ...(options.external ?? []), ...nativePackages],
        // Relative source paths in the map: the same on every machine and checkout.
        absWorkingDir: process.cwd(),
        outfile: path.join(process.cwd(), ".build", "bundle", "index.js"),
        write: false,
        metafile: true,
        logLevel: "silent",
    };
    let result: esbuild.BuildResult<typeof buildOptions>;
    try {
        result = await esbuild.build(buildOptions);
    } catch (err) {
        throw buildError(entry, err);
    }
    // Sorted by code unit, not locale: the entry order is part of the bytes, on every machine.
    const files = [...result.outputFiles.map((f) => ({ name: path.basename(f.path), contents: Buffer.from(f.contents) })), ...native.files].sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    const zip = await zipFiles(files);
    const sha256 = createHash("sha256").update(zip).digest("base64");
    const outDir = options.outDir ?? path.join(".build", "lambda");
    fs.mkdirSync(outDir, { recursive: true });
    const stem = path.basename(path.dirname(entry)) || "handler";
    const hex = createHash("sha256").update(zip).digest("hex").slice(0, 16);
    const zipPath = path.join(outDir, `${stem}-${hex}.zip`);
    if (!fs.existsSync(zipPath)) fs.writeFileSync(zipPath, zip);
    const code = files.find((f) => f.name === "index.js");
    return { zipPath, sha256, zipBytes: zip.length, codeBytes: code?.contents.length ?? 0, packages: native.packages, inputs: bundleInputs(result.metafile) };
}

/** Bytes each package (or folder of this project) contributes to the bundle's index.js, largest first. */
function bundleInputs(metafile: esbuild.Metafile): { from: string; bytes: number }[] {
    const output = Object.entries(metafile.outputs).find(([file]) => file.endsWith(".js"))?.[1];
    const bytes = new Map<string, number>();
    for (const [file, input] of Object.entries(output?.inputs ?? {})) {
        const pkg = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1];
        const from = pkg ?? path.dirname(file);
        bytes.set(from, (bytes.get(from) ?? 0) + input.bytesInOutput);
    }
    return [...bytes].map(([from, n]) => ({ from, bytes: n })).sort((a, b) => b.bytes - a.bytes || (a.from < b.from ? -1 : 1));
}

/**
 * One line, naming the handler and the first thing esbuild could not do (an import it cannot
 * resolve, say), instead of esbuild's report over several lines.
 */
function buildError(entry: string, err: unknown): Error {
    const errors = (err as { errors?: esbuild.Message[] }).errors;
    const first = errors?.[0];
    if (!first) return err as Error;
    const where = first.location ? ` (${first.location.file}:${first.location.line})` : "";
    const more = errors.length > 1 ? `, and ${errors.length - 1} more error(s)` : "";
    return new Error(`bundleFunction: ${entry}: ${first.text}${where}${more}`);
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

// ---- native packages: shipped as installed, filtered to the Lambda platform ----

/** What a package.json (or a package-lock.json entry) says about a package's platform and dependencies. */
interface Manifest {
    name?: string;
    version?: string;
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    os?: string[];
    cpu?: string[];
    libc?: string[];
}

/** The platform a Lambda function runs on: Amazon Linux (glibc) on the architecture's CPU. */
interface Target {
    os: "linux";
    cpu: "x64" | "arm64";
    libc: "glibc";
    architecture: "x86_64" | "arm64";
}

function lambdaTarget(architecture: "x86_64" | "arm64"): Target {
    return { os: "linux", cpu: architecture === "x86_64" ? "x64" : "arm64", libc: "glibc", architecture };
}

/** npm's rule for `os`/`cpu`/`libc`: absent or empty allows all; `!x` excludes x; otherwise x must be listed. */
function allows(list: string[] | undefined, value: string): boolean {
    if (!list || list.length === 0) return true;
    if (list.includes(`!${value}`)) return false;
    const positive = list.filter((v) => !v.startsWith("!"));
    return positive.length === 0 || positive.includes(value);
}

function fitsTarget(m: Manifest, t: Target): boolean {
    return allows(m.os, t.os) && allows(m.cpu, t.cpu) && allows(m.libc, t.libc);
}

function isPlatformSpecific(m: Manifest): boolean {
    return (m.os?.length ?? 0) > 0 || (m.cpu?.length ?? 0) > 0 || (m.libc?.length ?? 0) > 0;
}

/**
 * The platform a package is built for, read from its name when nothing better is known (no
 * lockfile entry): the convention of prebuilt-binary packages, e.g. `@img/sharp-linux-arm64`,
 * `@img/sharp-linuxmusl-x64`, `@swc/core-linux-x64-gnu`.
 */
function platformFromName(name: string): Manifest | undefined {
    const tokens = name.replace(/^@[^/]+\//, "").split(/[-_.]/);
    const cpu = ["x64", "arm64", "arm", "ia32", "ppc64", "s390x", "riscv64", "wasm32"].find((c) => tokens.includes(c));
    const os = tokens.includes("linuxmusl") ? "linux" : ["linux", "darwin", "win32", "freebsd"].find((o) => tokens.includes(o));
    if (!os && !cpu) return undefined;
    const libc = tokens.includes("linuxmusl") || tokens.includes("musl") ? ["musl"] : os === "linux" ? ["glibc"] : undefined;
    return { os: os ? [os] : undefined, cpu: cpu ? [cpu] : undefined, libc };
}

function readManifest(dir: string): Manifest {
    return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Manifest;
}

/** Node's lookup: `<dir>/node_modules/<name>`, from `fromDir` up to the root. */
function findPackage(name: string, fromDir: string): string | undefined {
    for (let dir = fromDir; ; dir = path.dirname(dir)) {
        if (path.basename(dir) !== "node_modules") {
            const candidate = path.join(dir, "node_modules", name);
            if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
        }
        if (path.dirname(dir) === dir) return undefined;
    }
}

/** The `packages` of the nearest package-lock.json above `fromDir`, if any. */
function readLockfile(fromDir: string): Record<string, Manifest> {
    for (let dir = fromDir; ; dir = path.dirname(dir)) {
        const lockfile = path.join(dir, "package-lock.json");
        if (fs.existsSync(lockfile)) return (JSON.parse(fs.readFileSync(lockfile, "utf8")) as { packages?: Record<string, Manifest> }).packages ?? {};
        if (path.dirname(dir) === dir) return {};
    }
}

/** The platform fields of a package npm did not install, from the lockfile (npm records them for every optional package). */
function lockfilePlatform(name: string, lockfile: Record<string, Manifest>): Manifest | undefined {
    return lockfile[`node_modules/${name}`] ?? Object.entries(lockfile).find(([key]) => key.endsWith(`/node_modules/${name}`))?.[1];
}

/**
 * collectNativePackages, whose one-line error also says when the other instruction set's build
 * is installed here: setting the function's `architecture` to it is then the quicker way out.
 */
function nativeFilesFor(roots: string[], entryDir: string, architecture: "x86_64" | "arm64"): ReturnType<typeof collectNativePackages> {
    try {
        return collectNativePackages(roots, entryDir, architecture);
    } catch (err) {
        const other = architecture === "arm64" ? "x86_64" : "arm64";
        try {
            collectNativePackages(roots, entryDir, other);
        } catch {
            throw err;
        }
        throw new Error(`${(err as Error).message}; or set the function's architecture to "${other}", whose build is installed here`);
    }
}

/** Every file below `dir` except nested node_modules (those are packages of their own), sorted. */
function packageFiles(dir: string, prefix = ""): string[] {
    const out: string[] = [];
    for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
        const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
        const stat = fs.statSync(path.join(dir, rel)); // follows symlinks: the zip holds their targets
        if (stat.isDirectory()) {
            if (entry.name !== "node_modules") out.push(...packageFiles(dir, rel));
        } else if (stat.isFile()) {
            out.push(rel);
        }
    }
    return out;
}

interface Wanted {
    name: string;
    fromDir: string;
    optional: boolean;
    /** The native package this one is shipped for, to name in an error. */
    root: string;
    parent?: string;
}

/**
 * The files of `roots` and their installed runtime dependencies, as zip entries under
 * node_modules/, keeping the installed nesting (a package nested under another stays nested, so
 * two versions of one package both resolve as they do here). Packages built for another platform
 * are left out; one built for the target that is not installed fails the build.
 */
function collectNativePackages(roots: string[], entryDir: string, architecture: "x86_64" | "arm64"): { files: { name: string; contents: Buffer }[]; packages: string[] } {
    if (roots.length === 0) return { files: [], packages: [] };
    const target = lambdaTarget(architecture);
    const where = `Lambda ${architecture} (${target.os}-${target.cpu}, ${target.libc})`;
    const installHint = (root: string) => `npm install --os=${target.os} --cpu=${target.cpu} --libc=${target.libc} ${root}`;
    const zipDirOf = new Map<string, string>(); // installed folder → folder in the zip
    const owner = new Map<string, string>(); // folder in the zip → installed folder
    const shipped: { dir: string; zipDir: string; id: string }[] = [];
    const queue: Wanted[] = roots.map((name) => ({ name, fromDir: entryDir, optional: false, root: name }));
    const missing: Wanted[] = [];
    let lockfile: Record<string, Manifest> | undefined; // read once, on the first package npm skipped
    while (queue.length > 0) {
        const want = queue.shift()!;
        const dir = findPackage(want.name, want.fromDir);
        if (!dir) {
            if (!want.optional) {
                const what = want.parent ? `${want.name} (a dependency of ${want.parent})` : `native package ${want.name}`;
                throw new Error(`bundleFunction: ${what} is not installed; run: npm install ${want.root}`);
            }
            // npm skips an optional package built for another platform: fine, unless it is built for this target.
            lockfile ??= readLockfile(entryDir);
            const platform = lockfilePlatform(want.name, lockfile) ?? platformFromName(want.name);
            if (platform && isPlatformSpecific(platform) && fitsTarget(platform, target)) missing.push(want);
            continue;
        }
        const manifest = readManifest(dir);
        if (!fitsTarget(manifest, target)) {
            if (!want.parent) throw new Error(`bundleFunction: native package ${want.name} is built for ${JSON.stringify({ os: manifest.os, cpu: manifest.cpu, libc: manifest.libc })}, not for ${where}`);
            continue;
        }
        if (zipDirOf.has(dir)) continue;
        // Nested under a shipped package's own node_modules: nested in the zip too; else hoisted to the top.
        const holder = path.dirname(path.dirname(want.name.startsWith("@") ? path.dirname(dir) : dir));
        const zipDir = zipDirOf.has(holder) ? `${zipDirOf.get(holder)}/node_modules/${want.name}` : `node_modules/${want.name}`;
        const taken = owner.get(zipDir);
        if (taken && taken !== dir) throw new Error(`bundleFunction: ${taken} and ${dir} would both ship as ${zipDir}; dedupe them (npm dedupe)`);
        zipDirOf.set(dir, zipDir);
        owner.set(zipDir, dir);
        shipped.push({ dir, zipDir, id: `${manifest.name ?? want.name}@${manifest.version ?? "?"}` });
        const optional = manifest.optionalDependencies ?? {};
        // npm treats a package listed in both as optional.
        for (const name of Object.keys(manifest.dependencies ?? {}).filter((n) => !(n in optional))) {
            queue.push({ name, fromDir: dir, optional: false, root: want.root, parent: want.name });
        }
        for (const name of Object.keys(optional)) queue.push({ name, fromDir: dir, optional: true, root: want.root, parent: want.name });
    }
    if (missing.length > 0) {
        // All of them in one line: installing one at a time would take as many failed builds.
        const names = [...new Set(missing.map((m) => m.name))].sort();
        const needers = [...new Set(missing.map((m) => m.root))];
        throw new Error(
            `bundleFunction: ${needers.join(", ")} on ${where} needs ${names.join(", ")}, not installed on this machine; install with: ${needers.map(installHint).join(" && ")}`,
        );
    }
    const files = shipped.flatMap(({ dir, zipDir }) => packageFiles(dir).map((rel) => ({ name: `${zipDir}/${rel}`, contents: fs.readFileSync(path.join(dir, rel)) })));
    return { files, packages: shipped.map((s) => s.id).sort() };
}
