import { createHash } from "crypto";
import { code as iso4217 } from "currency-codes";
import { LosslessNumber, parse as parseLossless, stringify as stringifyLossless } from "lossless-json";

// One line of a payment file, parsed and validated (README, "The payment line"): a JSON object
// with event_id, type, amount (a decimal string in major units), currency (active ISO 4217),
// occurred_at (RFC 3339 with an offset), payer.account and payee.account. Every other field is
// kept as given. Its canonical content (amount in minor units, the instant in UTC, keys sorted,
// numbers as written) is what two deliveries of one event_id are compared by.

export const EVENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
export const PAYMENT_TYPES = ["payment", "refund"] as const;
export type PaymentType = (typeof PAYMENT_TYPES)[number];
export const MAX_ACCOUNT_LENGTH = 64;
/** ISO 4217 codes whose minor unit is "N.A.": units of account, metals, testing, "no currency"; not payable. */
export const NOT_PAYABLE = new Set(["XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"]);

export interface Payment {
    eventId: string;
    type: PaymentType;
    /** The amount in the currency's minor units (cents, or yen), exact. */
    amountMinor: bigint;
    currency: string;
    /** The instant, in UTC, with the fraction of a second as given (trailing zeros dropped). */
    occurredAt: string;
    payer: string;
    payee: string;
    /** The line's object as given (numbers as written, lossless). */
    fields: Record<string, unknown>;
    /** What deliveries of one event_id compare by, and its SHA-256 (hex). */
    canonical: string;
    hash: string;
}

export type LineCheck = { ok: true; payment: Payment } | { ok: false; reason: string };

const fail = (reason: string): LineCheck => ({ ok: false, reason });
const utf8 = new TextDecoder("utf-8", { fatal: true });
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof LosslessNumber);

/** Checks one line's bytes (without its ending); the reason names the field and what was expected. */
export function checkPaymentLine(bytes: Uint8Array): LineCheck {
    let text: string;
    try {
        text = utf8.decode(bytes);
    } catch {
        return fail("not UTF-8");
    }
    let parsed: unknown;
    try {
        parsed = parseLossless(text);
    } catch (err) {
        return fail(`not JSON: ${(err as Error).message.split("\n")[0]}`);
    }
    if (!isObject(parsed)) return fail("not a JSON object");
    const f = parsed;

    if (typeof f.event_id !== "string" || !EVENT_ID.test(f.event_id)) return fail(`event_id ${describe(f.event_id)}: expected 1 to 128 characters of A-Z a-z 0-9 . _ : -`);
    if (typeof f.type !== "string" || !(PAYMENT_TYPES as readonly string[]).includes(f.type)) return fail(`type ${describe(f.type)}: expected "payment" or "refund"`);

    if (typeof f.currency !== "string" || !/^[A-Z]{3}$/.test(f.currency)) return fail(`currency ${describe(f.currency)}: expected an ISO 4217 code, three capital letters`);
    const currency = iso4217(f.currency);
    if (!currency || currency.code !== f.currency) return fail(`currency "${f.currency}": not an active ISO 4217 code`);
    if (NOT_PAYABLE.has(currency.code)) return fail(`currency "${f.currency}": ISO 4217 gives it no minor unit, it is not a currency to pay in`);

    if (f.amount instanceof LosslessNumber) return fail(`amount ${f.amount.value}: a JSON number; expected a decimal string such as "12.30" (numbers lose cents)`);
    const amountMinor = minorUnits(f.amount, currency.digits, currency.code);
    if (typeof amountMinor === "string") return fail(amountMinor);

    const occurredAt = instant(f.occurred_at);
    if (occurredAt === undefined) return fail(`occurred_at ${describe(f.occurred_at)}: expected RFC 3339 with a zone offset, e.g. 2026-12-01T09:30:00+01:00`);

    const payer = account(f.payer, "payer");
    if (!payer.ok) return fail(payer.reason);
    const payee = account(f.payee, "payee");
    if (!payee.ok) return fail(payee.reason);
    if (payer.account === payee.account) return fail(`payer.account and payee.account are both "${payer.account}": a payer cannot pay themselves`);

    const normalized = { ...f, amount: amountMinor.toString(), currency: currency.code, occurred_at: occurredAt };
    const canonical = canonicalJson(normalized);
    return {
        ok: true,
        payment: {
            eventId: f.event_id,
            type: f.type as PaymentType,
            amountMinor,
            currency: currency.code,
            occurredAt,
            payer: payer.account,
            payee: payee.account,
            fields: f,
            canonical,
            hash: createHash("sha256").update(canonical, "utf8").digest("hex"),
        },
    };
}

function describe(value: unknown): string {
    if (value === undefined) return "is missing";
    const text = value instanceof LosslessNumber ? value.value : JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** "12.30" EUR → 1230n; the reason when the amount is not a positive decimal string within the currency's minor unit. */
export function minorUnits(amount: unknown, digits: number, currency: string): bigint | string {
    if (typeof amount !== "string") return `amount ${describe(amount)}: expected a decimal string such as "12.30"`;
    const m = /^(\d+)(?:\.(\d+))?$/.exec(amount);
    if (!m) return `amount "${amount.slice(0, 40)}": expected digits with an optional "." and fraction, such as "12.30"`;
    const fraction = m[2] ?? "";
    if (fraction.length > digits) return `amount "${amount}": ${fraction.length} fraction digits, ${currency} has ${digits}`;
    const minor = BigInt(m[1] + fraction.padEnd(digits, "0"));
    if (minor <= 0n) return `amount "${amount}": expected more than 0`;
    return minor;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** An RFC 3339 timestamp with an offset → the instant in UTC ("2026-12-01T08:30:00.5Z"); undefined when invalid. */
export function instant(value: unknown): string | undefined {
    if (typeof value !== "string") return undefined;
    const m = RFC3339.exec(value);
    if (!m) return undefined;
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
    const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
    if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
    let offsetMinutes = 0;
    if (!m[8]) {
        const [oh, om] = [Number(m[10]), Number(m[11])];
        if (oh > 23 || om > 59) return undefined;
        offsetMinutes = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
    }
    const utc = new Date(Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000);
    if (year < 1 || utc.getUTCFullYear() > 9999) return undefined;
    const fraction = (m[7] ?? "").replace(/0+$/, "");
    return `${utc.toISOString().slice(0, 19)}${fraction ? `.${fraction}` : ""}Z`;
}

function account(party: unknown, name: string): { ok: true; account: string } | { ok: false; reason: string } {
    const value = isObject(party) ? party.account : undefined;
    if (typeof value !== "string" || value.length === 0 || value.length > MAX_ACCOUNT_LENGTH) {
        return { ok: false, reason: `${name}.account ${describe(value)}: expected a non-empty string of at most ${MAX_ACCOUNT_LENGTH} characters` };
    }
    return { ok: true, account: value };
}

/** JSON with every object's keys sorted and numbers exactly as written: one text per content. */
export function canonicalJson(value: unknown): string {
    const sorted = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(sorted);
        if (isObject(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]));
        return v;
    };
    return stringifyLossless(sorted(value)) ?? "null";
}
