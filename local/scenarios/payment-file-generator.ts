import type { LineCounts } from "../../functions/payment-file/ledger";

// Payment files for scenario 000, its specs and the bench: valid payments in several currencies
// (0, 2 and 3 minor digits), the same payment sent again (written differently: "12.3" and
// "12.30", another offset, keys in another order), a conflict (one event_id, another payee),
// every kind of bad line, blank lines, CRLF, a BOM and a last line without newline. What a clean
// run must report is counted here, from how each line was made, apart from the pipeline's own
// parsing: that is the independent computation the manifest is checked against.

/** What a clean run must report: the manifest's counts and applied amounts (currency → type → minor units). */
export type ExpectedTotals = LineCounts & { amounts: Record<string, Record<string, string>> };

export interface GeneratedFile {
    bytes: Buffer;
    expected: ExpectedTotals;
    /** The event ids applied. */
    eventIds: string[];
}

export interface GenerateOptions {
    /** Roughly this many bytes (the file ends on the first line past it), or exactly, with `exact`. */
    targetBytes: number;
    exact?: boolean;
    /** Seed of the pseudo-random choices. Default 1. */
    seed?: number;
    /** Prefix of every event_id, so files can share or not share payments. Default "evt". */
    idPrefix?: string;
    /** Bad lines, blank lines, duplicates and a conflict among the payments. Default true. */
    mixed?: boolean;
    crlf?: boolean;
    bom?: boolean;
    /** End the last line with a newline. Default false (the last line has none). */
    trailingNewline?: boolean;
    /** No line starts at a multiple of this: every chunk boundary cuts through a line. */
    cutLinesAt?: number;
    /** Payments made before the conflict may come (it comes once). Default 10. */
    conflictAfter?: number;
    /** Payments made before one may be sent again. Default 3. */
    repeatAfter?: number;
}

const CURRENCIES = [
    { code: "EUR", digits: 2 },
    { code: "USD", digits: 2 },
    { code: "JPY", digits: 0 },
    { code: "KWD", digits: 3 },
];

/** The bad lines a file may carry, each with what makes it bad. */
export const BAD_LINES: { name: string; line: (id: string) => Buffer }[] = [
    { name: "amount as a JSON number", line: (id) => Buffer.from(`{"event_id":"${id}","type":"payment","amount":12.5,"currency":"EUR","occurred_at":"2026-11-30T10:00:00Z","payer":{"account":"A1"},"payee":{"account":"B1"}}`) },
    { name: "too many fraction digits", line: (id) => Buffer.from(`{"event_id":"${id}","type":"payment","amount":"12.505","currency":"EUR","occurred_at":"2026-11-30T10:00:00Z","payer":{"account":"A1"},"payee":{"account":"B1"}}`) },
    { name: "unknown currency", line: (id) => Buffer.from(`{"event_id":"${id}","type":"payment","amount":"1.00","currency":"ABC","occurred_at":"2026-11-30T10:00:00Z","payer":{"account":"A1"},"payee":{"account":"B1"}}`) },
    { name: "payer paying themselves", line: (id) => Buffer.from(`{"event_id":"${id}","type":"refund","amount":"3.00","currency":"USD","occurred_at":"2026-11-30T10:00:00Z","payer":{"account":"SAME"},"payee":{"account":"SAME"}}`) },
    { name: "not JSON", line: () => Buffer.from(`{"event_id": "broken", "amount": "1.00"`) },
    { name: "invalid UTF-8", line: (id) => Buffer.concat([Buffer.from(`{"event_id":"${id}","memo":"`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(`"}`)]) },
    { name: "binary garbage", line: () => Buffer.from([0x00, 0x01, 0x02, 0xfe, 0x7f, 0x1b, 0x00]) },
];

function random(seed: number): () => number {
    let s = seed >>> 0 || 1;
    return () => {
        s = (s + 0x6d2b79f5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

interface Made {
    id: string;
    type: "payment" | "refund";
    currency: string;
    digits: number;
    minor: bigint;
    payer: string;
    payee: string;
}

function major(minor: bigint, digits: number, padded: boolean): string {
    if (digits === 0) return minor.toString();
    const s = minor.toString().padStart(digits + 1, "0");
    let frac = s.slice(-digits);
    if (!padded) frac = frac.replace(/0+$/, "");
    return frac ? `${s.slice(0, -digits)}.${frac}` : s.slice(0, -digits);
}

/** One payment written as a line; `variant` writes the same content differently. */
function paymentLine(p: Made, variant: number, memo: string): string {
    const amount = major(p.minor, p.digits, variant % 2 === 0);
    const at = variant % 2 === 0 ? "2026-11-30T10:15:00+01:00" : "2026-11-30T09:15:00Z";
    const fields =
        variant % 2 === 0
            ? { event_id: p.id, type: p.type, amount, currency: p.currency, occurred_at: at, payer: { account: p.payer }, payee: { account: p.payee }, memo }
            : { memo, payee: { account: p.payee }, payer: { account: p.payer }, occurred_at: at, currency: p.currency, amount, type: p.type, event_id: p.id };
    return JSON.stringify(fields);
}

export function generatePaymentFile(options: GenerateOptions): GeneratedFile {
    const rnd = random(options.seed ?? 1);
    const prefix = options.idPrefix ?? "evt";
    const mixed = options.mixed ?? true;
    const eol = options.crlf ? "\r\n" : "\n";
    const pieces: Buffer[] = [];
    let size = 0;
    if (options.bom) {
        pieces.push(Buffer.from([0xef, 0xbb, 0xbf]));
        size += 3;
    }
    const expected: ExpectedTotals = { lines: 0, applied: 0, duplicates: 0, conflicts: 0, quarantined: 0, blank: 0, amounts: {} };
    const sums = new Map<string, bigint>();
    const made: Made[] = [];
    let badIndex = 0;
    let conflicted = false;

    const push = (line: Buffer | string, count: keyof Omit<ExpectedTotals, "amounts" | "lines">) => {
        let body = typeof line === "string" ? Buffer.from(line) : line;
        const step = options.cutLinesAt;
        // Keep every chunk boundary inside a line: the next line must not start on one (JSON takes a leading space).
        if (step && (size + body.length + eol.length) % step === 0) body = Buffer.concat([Buffer.from(" "), body]);
        pieces.push(body, Buffer.from(eol));
        size += body.length + eol.length;
        expected.lines++;
        expected[count]++;
    };

    // Exact: stop a longest line short of the target, then pad.
    const stop = options.exact ? options.targetBytes - 400 : options.targetBytes;
    for (let i = 0; size < stop; i++) {
        const roll = rnd();
        if (mixed && i > 3 && roll < 0.05) {
            push("", "blank");
        } else if (mixed && i > 3 && roll < 0.1) {
            const bad = BAD_LINES[badIndex++ % BAD_LINES.length];
            push(bad.line(`${prefix}-bad-${i}`), "quarantined");
        } else if (mixed && made.length > (options.repeatAfter ?? 3) && roll < 0.2) {
            // The same payment again, written another way.
            const p = made[Math.floor(rnd() * made.length)];
            push(paymentLine(p, 1, ""), "duplicates");
        } else if (mixed && !conflicted && made.length > (options.conflictAfter ?? 10) && roll < 0.25) {
            // One event_id, other content; the amount is the same, so the sums do not depend on which version a parallel run keeps.
            const p = made[Math.floor(rnd() * made.length)];
            push(paymentLine({ ...p, payee: `${p.payee}-X` }, 0, ""), "conflicts");
            conflicted = true;
        } else {
            const c = CURRENCIES[Math.floor(rnd() * CURRENCIES.length)];
            const p: Made = {
                id: `${prefix}-${i}`,
                type: rnd() < 0.8 ? "payment" : "refund",
                currency: c.code,
                digits: c.digits,
                minor: BigInt(1 + Math.floor(rnd() * 5_000_000)),
                payer: `ACC${Math.floor(rnd() * 1000)}`,
                payee: `ACC${1000 + Math.floor(rnd() * 1000)}`,
            };
            made.push(p);
            push(paymentLine(p, 0, ""), "applied");
            const k = `${p.currency}:${p.type}`;
            sums.set(k, (sums.get(k) ?? 0n) + p.minor);
        }
    }
    if (!mixed) expected.duplicates = expected.conflicts = 0;
    for (const [k, v] of [...sums].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const [currency, type] = k.split(":");
        (expected.amounts[currency] ??= {})[type] = v.toString();
    }
    let bytes: Buffer = Buffer.concat(pieces);
    if (!options.trailingNewline) bytes = bytes.subarray(0, bytes.length - eol.length);
    if (options.exact) bytes = exactly(bytes, options.targetBytes);
    return { bytes, expected, eventIds: made.map((m) => m.id) };
}

/** Pads the last line with leading spaces (JSON allows them; a blank line stays blank) to exactly `target` bytes. */
function exactly(bytes: Buffer, target: number): Buffer {
    const missing = target - bytes.length;
    if (missing < 0) throw new Error(`generatePaymentFile: ${bytes.length} bytes already, over the exact ${target}`);
    const lastStart = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
    return Buffer.concat([bytes.subarray(0, lastStart), Buffer.alloc(missing, " "), bytes.subarray(lastStart)]);
}
