import { execFile } from "child_process";
import * as path from "path";

const CHILD = path.join(__dirname, "cold-load-child.js");

export interface Variant {
    label: string;
    /** Absolute path of the module exporting `handler`. */
    module: string;
    /** Node flags the deployed function runs with (the bundled one sets NODE_OPTIONS=--enable-source-maps). */
    nodeFlags: string[];
}

export interface Sample {
    requireMs: number;
    callMs: number;
    totalMs: number;
}

/**
 * Loads and calls the handler once in a fresh node process, with `env` added to its environment
 * (the function's: tables, endpoints). Throws unless `verify` finds the call did its work (its
 * result and what it logged), so every number is a working handler's. Asynchronous: the emulators
 * the handler talks to may run in this process.
 */
export function coldLoad(
    variant: Variant,
    event: unknown,
    env: Record<string, string>,
    verify: (result: any, stdout: string) => string | undefined,
): Promise<Sample> {
    return new Promise((resolve, reject) => {
        execFile(
            process.execPath,
            [...variant.nodeFlags, CHILD, variant.module, JSON.stringify(event)],
            // No inherited NODE_OPTIONS: only the flags above shape the child.
            { encoding: "utf8", timeout: 60_000, maxBuffer: 16 << 20, env: { ...process.env, ...env, NODE_OPTIONS: "" } },
            (error, stdout, stderr) => {
                const fail = (why: string) => reject(new Error(`${variant.label}: ${why}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
                if (error) return fail(String(error));
                const line = stdout.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
                if (!line) return fail("no BENCH_RESULT line");
                const { result, ...sample } = JSON.parse(line.slice("BENCH_RESULT ".length));
                const problem = verify(result, stdout);
                if (problem) return fail(`first call: ${problem}`);
                resolve(sample as Sample);
            },
        );
    });
}
