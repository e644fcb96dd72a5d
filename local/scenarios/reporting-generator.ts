import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { RawTransaction, TRANSACTION_TYPES, rawPartitionPrefix, reportDate } from "../../functions/shared/contract";

// A seeded day of raw transactions for the reporting pipeline, written in Firehose's layout
// (`<root>/<rawBucket>/raw/dt=<date>/part-NNNNN.gz`, GZIP NDJSON), with the outcome every stage should
// reach. The expectations come from what the generator meant each line to be, in TypeScript: never
// from running the pipeline's SQL, so a test comparing the two checks the SQL.

/** The ways a generated line is broken, each meant to fail exactly one check of the transform. */
export const BAD_ROW_KINDS = ["notJson", "missingId", "badTime", "badAmount", "tooManyDecimals", "badCurrency", "badType"] as const;
export type BadRowKind = (typeof BAD_ROW_KINDS)[number];

/** The reject reason the transform gives each kind (and late rows, and duplicates). */
export const EXPECTED_REASONS: Record<BadRowKind | "late" | "duplicate", string> = {
    notJson: "no fields: not a JSON object, or an empty one",
    missingId: "missing event_id",
    badTime: "event_time missing or not ISO 8601 UTC (YYYY-MM-DDThh:mm:ss[.fff]Z)",
    badAmount: "amount missing or not a decimal with at most 2 fraction digits",
    tooManyDecimals: "amount missing or not a decimal with at most 2 fraction digits",
    badCurrency: "currency is not a 3-letter code",
    badType: "unknown type",
    late: "event date is not {{date}}: a record in the wrong partition",
    duplicate: "duplicate of a later record (same event_id)",
};

export interface ReportingGeneratorOptions {
    /** The local S3 mirror: files go to `<root>/<rawBucket>/raw/dt=<date>/`. */
    root: string;
    rawBucket: string;
    date: string;
    /** Distinct valid transactions (the curated rows). */
    count: number;
    seed?: number;
    /** Share of the valid transactions sent twice (same event_id); 0..1. Default 0.05. */
    duplicatesRatio?: number;
    /** Broken lines of each kind. Default none. */
    bad?: Partial<Record<BadRowKind, number>>;
    /** Lines whose event is of another day, written in this day's partition. Default 0. */
    late?: number;
    sources?: string[];
    currencies?: string[];
    /** How many objects the day is split into (Firehose flushes). Default 3 (1 when count is 0). */
    files?: number;
    /** Pad and re-case some valid fields (" usd", "Credit ") to exercise the normalisation. Default true. */
    messy?: boolean;
}

export interface GroupTotal {
    transactions: number;
    /** Exact, as the SQL writes DECIMAL(38,2): "1234.50". */
    total_amount: string;
}

export interface ReportingExpectation {
    date: string;
    /** The object keys written in the raw bucket. */
    keys: string[];
    rawRows: number;
    curatedRows: number;
    rejectedRows: number;
    rejectsByReason: Record<string, number>;
    /** `${type}|${currency}` → the curated day's count and total. */
    byTypeCurrency: Record<string, GroupTotal>;
    /** `${source}|${currency}` → the curated day's count and total. */
    bySourceCurrency: Record<string, GroupTotal>;
    /** `${currency}|${type}` → the fallback report over raw (lenient amounts, no dedupe). */
    fallback: Record<string, GroupTotal>;
    /** The event_id of every curated row with the amount that must win ("12.34"). */
    winners: Record<string, string>;
}

/** mulberry32: small, fast, and the same sequence for a seed on every machine. */
function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function cents(value: bigint): string {
    const neg = value < 0n;
    const abs = neg ? -value : value;
    return `${neg ? "-" : ""}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

/**
 * The fallback's lenient cast, modelled independently: a plain decimal rounds half away from zero
 * to cents (a leading + is taken); anything else does not cast. The generator only writes amounts this model covers.
 */
function lenientCents(amount: string | undefined): bigint | undefined {
    const a = amount?.trim();
    const m = a === undefined ? null : /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(a);
    if (!m) return undefined;
    const frac = (m[3] ?? "").padEnd(3, "0");
    let v = BigInt(m[2]) * 100n + BigInt(frac.slice(0, 2));
    if (Number(frac[2]) >= 5) v += 1n;
    return m[1] === "-" ? -v : v;
}

function add(map: Record<string, GroupTotal & { c?: bigint }>, key: string, amount: bigint): void {
    const g = (map[key] ??= { transactions: 0, total_amount: "0.00", c: 0n });
    g.transactions++;
    g.c = (g.c ?? 0n) + amount;
    g.total_amount = cents(g.c);
}

function finish(map: Record<string, GroupTotal & { c?: bigint }>): Record<string, GroupTotal> {
    return Object.fromEntries(Object.entries(map).map(([k, g]) => [k, { transactions: g.transactions, total_amount: g.total_amount }]));
}

/** Writes the day and returns what the pipeline must make of it. */
export function generateReportingDay(options: ReportingGeneratorOptions): ReportingExpectation {
    const date = reportDate(options.date);
    if (!date) throw new Error(`reporting generator: date ${JSON.stringify(options.date)} is not a YYYY-MM-DD calendar day`);
    const random = rng(options.seed ?? 1);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const sources = options.sources ?? ["pos", "web", "batch:core-banking"];
    const currencies = options.currencies ?? ["EUR", "USD", "GBP"];
    const messy = options.messy ?? true;
    const dayStart = Date.parse(`${date}T00:00:00.000Z`);
    const DAY = 86_400_000;
    // Leaves room for a later resend within the same day.
    const timeIn = (start: number) => new Date(start + Math.floor(random() * (DAY - 10_000))).toISOString();

    const lines: string[] = [];
    const rejectsByReason: Record<string, number> = {};
    const reject = (reason: string) => (rejectsByReason[reason] = (rejectsByReason[reason] ?? 0) + 1);
    const byType: Record<string, GroupTotal & { c?: bigint }> = {};
    const bySource: Record<string, GroupTotal & { c?: bigint }> = {};
    const fallback: Record<string, GroupTotal & { c?: bigint }> = {};
    const winners: Record<string, string> = {};
    const write = (record: Partial<RawTransaction> | string) => {
        const line = typeof record === "string" ? record : JSON.stringify(record);
        lines.push(line);
        if (typeof record !== "string") {
            const amount = lenientCents(record.amount);
            if (amount !== undefined) add(fallback, `${record.currency?.trim().toUpperCase()}|${record.type?.trim().toLowerCase()}`, amount);
        }
    };
    let serial = 0;
    const valid = (): RawTransaction & { c: bigint } => {
        const c = BigInt(1 + Math.floor(random() * 1_000_000));
        const currency = pick(currencies);
        const type = pick(TRANSACTION_TYPES);
        const source = pick(sources);
        const noisy = messy && random() < 0.1;
        return {
            event_id: `evt-${options.seed ?? 1}-${String(++serial).padStart(8, "0")}`,
            event_time: timeIn(dayStart),
            account_id: `acct-${Math.floor(random() * 5000)}`,
            amount: cents(c),
            currency: noisy ? ` ${currency.toLowerCase()}` : currency,
            type: noisy ? `${type[0].toUpperCase()}${type.slice(1)} ` : type,
            source: noisy ? ` ${source.toUpperCase()}` : source,
            c,
        };
    };
    const strip = ({ c: _c, ...r }: RawTransaction & { c: bigint }): RawTransaction => r;

    for (let i = 0; i < options.count; i++) {
        const tx = valid();
        const dup = random() < (options.duplicatesRatio ?? 0.05);
        let winner = tx;
        if (dup) {
            // Half exact resends, half corrections sent later with another amount (the later wins).
            const later = random() < 0.5 ? { ...tx } : { ...tx, event_time: new Date(Date.parse(tx.event_time) + 1 + Math.floor(random() * 9_000)).toISOString(), c: tx.c + 1n, amount: cents(tx.c + 1n) };
            const [first, second] = random() < 0.5 ? [tx, later] : [later, tx];
            write(strip(first));
            write(strip(second));
            winner = later;
            reject(EXPECTED_REASONS.duplicate);
        } else write(strip(tx));
        const currency = winner.currency.trim().toUpperCase();
        add(byType, `${winner.type.trim().toLowerCase()}|${currency}`, winner.c);
        add(bySource, `${winner.source.trim().toLowerCase()}|${currency}`, winner.c);
        winners[winner.event_id] = cents(winner.c);
    }
    const bad = options.bad ?? {};
    const breakers: Record<BadRowKind, (tx: RawTransaction, n: number) => Partial<RawTransaction> | string> = {
        notJson: (_tx, n) => [`not json at all ${n}`, `{"event_id": "broken-${n}", "amount": `, `[1, 2, ${n}]`, "{}"][n % 4],
        missingId: (tx, n) => (n % 2 ? { ...tx, event_id: "  " } : (({ event_id: _e, ...rest }) => rest)(tx)),
        badTime: (tx, n) => ({ ...tx, event_time: [`yesterday`, `${date} 10:00:00`, `${date}T25:61:00Z`, `${date}T10:00:00+02:00`][n % 4] }),
        badAmount: (tx, n) => ({ ...tx, amount: ["twelve", "1,000.00", "", "12.3.4", "+5.00"][n % 5] }),
        tooManyDecimals: (tx, n) => ({ ...tx, amount: ["12.345", "0.125", "7.999"][n % 3] }),
        badCurrency: (tx, n) => ({ ...tx, currency: ["US", "U$D", "EURO", "123"][n % 4] }),
        badType: (tx, n) => ({ ...tx, type: ["transfer", "", "credit-card"][n % 3] }),
    };
    for (const kind of BAD_ROW_KINDS) {
        for (let n = 0; n < (bad[kind] ?? 0); n++) {
            write(breakers[kind](strip(valid()), n));
            reject(EXPECTED_REASONS[kind].replace("{{date}}", date));
        }
    }
    for (let n = 0; n < (options.late ?? 0); n++) {
        // An event of the day before or after, landed in this partition (a late or mis-stamped flush).
        const other = n % 2 ? dayStart - DAY : dayStart + DAY;
        write({ ...strip(valid()), event_time: timeIn(other) });
        reject(EXPECTED_REASONS.late.replace("{{date}}", date));
    }

    // Shuffle (seeded) so duplicates and bad lines land anywhere, then split into objects.
    for (let i = lines.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [lines[i], lines[j]] = [lines[j], lines[i]];
    }
    const fileCount = Math.max(1, Math.min(options.files ?? 3, lines.length || 1));
    const dir = join(options.root, options.rawBucket, rawPartitionPrefix(date));
    mkdirSync(dir, { recursive: true });
    const keys: string[] = [];
    const per = Math.ceil(lines.length / fileCount);
    for (let f = 0; f < fileCount; f++) {
        const chunk = lines.slice(f * per, (f + 1) * per);
        const name = `part-${String(f).padStart(5, "0")}.gz`;
        writeFileSync(join(dir, name), gzipSync(chunk.length ? `${chunk.join("\n")}\n` : ""));
        keys.push(`${rawPartitionPrefix(date)}${name}`);
    }
    const rejectedRows = Object.values(rejectsByReason).reduce((a, b) => a + b, 0);
    return {
        date,
        keys,
        rawRows: lines.length,
        curatedRows: options.count,
        rejectedRows,
        rejectsByReason,
        byTypeCurrency: finish(byType),
        bySourceCurrency: finish(bySource),
        fallback: finish(fallback),
        winners,
    };
}
