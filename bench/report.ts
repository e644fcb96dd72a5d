// How the bench prints: aligned tables, sizes, times, ratios, and goals met or NOT met.

/** Left-aligns the first `labels` columns, right-aligns the rest (numbers). */
export function table(header: string[], rows: string[][], labels = 1): void {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => "  " + cells.map((c, i) => (i < labels ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("   ");
    console.log(line(header));
    console.log(line(widths.map((w) => "-".repeat(w))));
    rows.forEach((r) => console.log(line(r)));
}

export const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
export const ms = (n: number) => `${n.toFixed(1)} ms`;
export const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x`;
export const goal = (met: boolean, measured: string) => `${met ? "met" : "NOT met"} (${measured})`;

export function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    const mid = s.length >> 1;
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
