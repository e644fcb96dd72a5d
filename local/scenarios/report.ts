import type { Count } from "../runtime/counters";

// What a scenario reports: the table `npm start` prints per flow, and the checks that make the
// flow green. Specs assert on the same checks, so what a newcomer sees is what CI proves.

export interface Check {
    name: string;
    ok: boolean;
    /** What was seen, when it is not what was expected. */
    detail?: string;
}

export interface FlowReport {
    id: string;
    title: string;
    sent: number;
    landed: number;
    duplicates: number;
    rejected: Count;
    /** Messages left in each dead-letter or on-failure queue, by logical name. */
    dlq: Record<string, number>;
    denied: Count;
    ms: number;
    checks: Check[];
    /** Lines worth showing under the table (status codes, keys...). */
    notes: string[];
}

export const ok = (report: FlowReport) => report.checks.every((c) => c.ok);

/** A check: `name` holds when `actual` equals `expected`. */
export function expectEqual<T>(name: string, actual: T, expected: T): Check {
    const same = JSON.stringify(actual) === JSON.stringify(expected);
    return same ? { name, ok: true } : { name, ok: false, detail: `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}` };
}

export function expectTrue(name: string, condition: boolean, detail?: string): Check {
    return condition ? { name, ok: true } : { name, ok: false, detail };
}

const reasons = (c: Count) => (c.reasons.size === 0 ? "" : ` (${[...c.reasons].map(([r, n]) => `${n}× ${r}`).join("; ")})`);

export function formatReport(r: FlowReport): string[] {
    const dlq = Object.entries(r.dlq);
    const lines = [
        `Flow ${r.id}: ${r.title}: ${ok(r) ? "PASS" : "FAIL"} in ${(r.ms / 1000).toFixed(1)} s`,
        `  sent        ${r.sent}`,
        `  landed      ${r.landed}`,
        `  duplicates  ${r.duplicates} (redelivered, added nothing)`,
        `  rejected    ${r.rejected.count}${reasons(r.rejected)}`,
        `  DLQ         ${dlq.length === 0 ? "none" : dlq.map(([q, n]) => `${q}: ${n}`).join(", ")}`,
        `  denied      ${r.denied.count}${reasons(r.denied)}`,
    ];
    for (const note of r.notes) lines.push(`  · ${note}`);
    for (const c of r.checks) lines.push(`  ${c.ok ? "✔" : "✘"} ${c.name}${c.ok || !c.detail ? "" : `: ${c.detail}`}`);
    return lines;
}
