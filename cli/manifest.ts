import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { CliError } from "./common";

/** What `events:send` sent, so that `events:verify` can name the events that did not land. */
export interface SendManifest {
    /** Stream name the events were put on. */
    stream: string;
    region: string;
    endpoint?: string;
    /** The events' `source` field. */
    source: string;
    /** When sending started (ISO-8601, whole seconds, rounded down): pass it to verify as `--since`. */
    since: string;
    /** When sending ended (ISO-8601). */
    finishedAt: string;
    /** Events asked for with `--count`. */
    requested: number;
    /** Ids of the events the stream accepted, in sending order. */
    eventIds: string[];
    /** Ids of the events the stream still refused after every retry (normally empty). */
    failedEventIds: string[];
}

/** Writes the manifest as JSON, creating its folder; the file is replaced whole (temp file + rename). */
export async function writeManifest(file: string, manifest: SendManifest): Promise<void> {
    try {
        await mkdir(dirname(file), { recursive: true });
        const temp = `${file}.${process.pid}.tmp`;
        await writeFile(temp, `${JSON.stringify(manifest, null, 2)}\n`);
        await rename(temp, file);
    } catch (err) {
        throw new CliError(`manifest ${file}: cannot write it (${(err as Error).message})`);
    }
}

/** Reads and checks a manifest written by `writeManifest`. */
export async function readManifest(file: string): Promise<SendManifest> {
    let text: string;
    try {
        text = await readFile(file, "utf8");
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new CliError(
            code === "ENOENT"
                ? `manifest ${file} not found (expected the file written by events:send --manifest)`
                : `manifest ${file}: cannot read it (${(err as Error).message})`,
        );
    }
    let data: unknown;
    try {
        data = JSON.parse(text);
    } catch {
        throw new CliError(`manifest ${file} is not JSON (expected the file written by events:send)`);
    }
    const m = data as Partial<SendManifest>;
    const isStringArray = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
    if (
        typeof m !== "object" ||
        m === null ||
        typeof m.stream !== "string" ||
        typeof m.since !== "string" ||
        Number.isNaN(Date.parse(m.since)) ||
        !isStringArray(m.eventIds)
    ) {
        throw new CliError(`manifest ${file} is not an events:send manifest (expected stream, since and eventIds)`);
    }
    return {
        stream: m.stream,
        region: typeof m.region === "string" ? m.region : "",
        ...(typeof m.endpoint === "string" ? { endpoint: m.endpoint } : {}),
        source: typeof m.source === "string" ? m.source : "",
        since: new Date(m.since).toISOString(),
        finishedAt: typeof m.finishedAt === "string" ? m.finishedAt : "",
        requested: typeof m.requested === "number" ? m.requested : m.eventIds!.length,
        eventIds: m.eventIds!,
        failedEventIds: isStringArray(m.failedEventIds) ? m.failedEventIds! : [],
    };
}
