// Process-wide state that handler specs borrow: environment variables and standard output.

/** Sets (or, with undefined, unsets) `vars`; returns what they were, to restore with the same call. */
export function applyEnv(vars: Record<string, string | undefined>): Record<string, string | undefined> {
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    for (const [k, v] of Object.entries(vars)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
    return saved;
}

/** Runs `fn` with `vars` set, then restores them (synchronously: use it to load modules that read their environment). */
export function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
    const saved = applyEnv(vars);
    try {
        return fn();
    } finally {
        applyEnv(saved);
    }
}

/** Runs `fn` with stdout and stderr captured; returns its result and the JSON lines written (Powertools logs). */
export async function captureJsonLines<T>(fn: () => Promise<T>): Promise<{ result: T; lines: Record<string, any>[] }> {
    const chunks: string[] = [];
    const out = process.stdout.write;
    const err = process.stderr.write;
    const capture = (chunk: unknown) => (chunks.push(String(chunk)), true);
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    let result: T;
    try {
        result = await fn();
    } finally {
        process.stdout.write = out;
        process.stderr.write = err;
    }
    const lines = chunks.join("").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, any>);
    return { result, lines };
}
