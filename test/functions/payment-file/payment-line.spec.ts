import { expect } from "chai";
import fc from "fast-check";
import { checkPaymentLine, instant, minorUnits, type LineCheck } from "../../../functions/payment-file/payment-line";

const line = (fields: Record<string, unknown>) => Buffer.from(JSON.stringify(fields), "utf8");
const valid = { event_id: "evt-1", type: "payment", amount: "12.30", currency: "EUR", occurred_at: "2026-12-01T09:30:00+01:00", payer: { account: "DE01" }, payee: { account: "FR02" } };
const ok = (check: LineCheck) => {
    if (!check.ok) throw new Error(`expected a valid line, got: ${check.reason}`);
    return check.payment;
};
const reason = (check: LineCheck) => (check.ok ? "(valid)" : check.reason);

describe("payment-file: the payment line", () => {
    it("reads a valid line: minor units, the instant in UTC, both accounts, every field kept", () => {
        const p = ok(checkPaymentLine(line({ ...valid, memo: "rent", meta: { n: 1 } })));
        expect(p).to.deep.include({ eventId: "evt-1", type: "payment", amountMinor: 1230n, currency: "EUR", occurredAt: "2026-12-01T08:30:00Z", payer: "DE01", payee: "FR02" });
        expect(p.fields).to.have.property("memo", "rent");
        expect(p.hash).to.match(/^[0-9a-f]{64}$/);
    });

    it("gives one content, one hash, to amounts and instants that are equal however written", () => {
        const a = ok(checkPaymentLine(line(valid)));
        // Keys in another order, the amount without its trailing zero, the instant in UTC.
        const reordered = Object.fromEntries(Object.entries({ ...valid, amount: "12.3", occurred_at: "2026-12-01T08:30:00.000Z" }).reverse());
        const b = ok(checkPaymentLine(line(reordered)));
        expect(b.hash).to.equal(a.hash);
        const c = ok(checkPaymentLine(line({ ...valid, amount: "12.31" })));
        expect(c.hash).to.not.equal(a.hash);
        const d = ok(checkPaymentLine(line({ ...valid, memo: "other content" })));
        expect(d.hash, "other fields count as content").to.not.equal(a.hash);
    });

    it("keeps other fields' numbers exactly as written, beyond what a double holds", () => {
        const text = Buffer.from(JSON.stringify(valid).replace(/}$/, ',"ref":12345678901234567890123}'));
        expect(ok(checkPaymentLine(text)).canonical).to.contain('"ref":12345678901234567890123');
    });

    it("follows each currency's ISO 4217 minor unit: 2 for EUR, 0 for JPY and KRW, 3 for BHD, KWD, JOD, OMR and TND", () => {
        expect(ok(checkPaymentLine(line({ ...valid, currency: "JPY", amount: "1500" }))).amountMinor).to.equal(1500n);
        expect(reason(checkPaymentLine(line({ ...valid, currency: "KRW", amount: "1500.5" })))).to.equal('amount "1500.5": 1 fraction digits, KRW has 0');
        for (const c of ["BHD", "KWD", "JOD", "OMR", "TND"]) expect(ok(checkPaymentLine(line({ ...valid, currency: c, amount: "1.234" }))).amountMinor, c).to.equal(1234n);
        expect(reason(checkPaymentLine(line({ ...valid, amount: "12.345" })))).to.equal('amount "12.345": 3 fraction digits, EUR has 2');
    });

    it("refuses each bad field with one line naming it and what was expected", () => {
        const cases: [Record<string, unknown>, string][] = [
            [{ ...valid, amount: 12.3 }, 'amount 12.3: a JSON number; expected a decimal string such as "12.30" (numbers lose cents)'],
            [{ ...valid, amount: "0.00" }, 'amount "0.00": expected more than 0'],
            [{ ...valid, amount: "-5" }, 'amount "-5": expected digits with an optional "." and fraction, such as "12.30"'],
            [{ ...valid, amount: "1e3" }, 'amount "1e3": expected digits with an optional "." and fraction, such as "12.30"'],
            [{ ...valid, currency: "ABC" }, 'currency "ABC": not an active ISO 4217 code'],
            [{ ...valid, currency: "eur" }, 'currency "eur": expected an ISO 4217 code, three capital letters'],
            [{ ...valid, currency: "XAU" }, 'currency "XAU": ISO 4217 gives it no minor unit, it is not a currency to pay in'],
            [{ ...valid, payee: { account: "DE01" } }, 'payer.account and payee.account are both "DE01": a payer cannot pay themselves'],
            [{ ...valid, payer: { account: "" } }, 'payer.account "": expected a non-empty string of at most 64 characters'],
            [{ ...valid, payee: { account: "x".repeat(65) } }, `payee.account "${"x".repeat(56)}...: expected a non-empty string of at most 64 characters`],
            [{ ...valid, payer: undefined }, "payer.account is missing: expected a non-empty string of at most 64 characters"],
            [{ ...valid, event_id: "has space" }, 'event_id "has space": expected 1 to 128 characters of A-Z a-z 0-9 . _ : -'],
            [{ ...valid, event_id: "e".repeat(129) }, `event_id "${"e".repeat(56)}...: expected 1 to 128 characters of A-Z a-z 0-9 . _ : -`],
            [{ ...valid, type: "chargeback" }, 'type "chargeback": expected "payment" or "refund"'],
            [{ ...valid, occurred_at: "2026-12-01T09:30:00" }, 'occurred_at "2026-12-01T09:30:00": expected RFC 3339 with a zone offset, e.g. 2026-12-01T09:30:00+01:00'],
            [{ ...valid, occurred_at: "2026-02-30T09:30:00Z" }, 'occurred_at "2026-02-30T09:30:00Z": expected RFC 3339 with a zone offset, e.g. 2026-12-01T09:30:00+01:00'],
        ];
        for (const [fields, expected] of cases) expect(reason(checkPaymentLine(line(fields))), JSON.stringify(fields).slice(0, 80)).to.equal(expected);
    });

    it("refuses what is not a JSON object of UTF-8 text", () => {
        expect(reason(checkPaymentLine(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])))).to.equal("not UTF-8");
        expect(reason(checkPaymentLine(Buffer.from([0x00, 0x01, 0x02, 0x89, 0x50])))).to.equal("not UTF-8");
        expect(reason(checkPaymentLine(Buffer.from("[1,2]")))).to.equal("not a JSON object");
        expect(reason(checkPaymentLine(Buffer.from('{"event_id":')))).to.match(/^not JSON: /);
    });

    it("compares instants, not texts: any offset and fraction of one moment give the same UTC form", () => {
        expect(instant("2026-12-01T09:30:00.120+01:00")).to.equal("2026-12-01T08:30:00.12Z");
        expect(instant("2026-12-01t08:30:00.12z")).to.equal("2026-12-01T08:30:00.12Z");
        expect(instant("2024-02-29T23:59:59-00:30")).to.equal("2024-03-01T00:29:59Z");
        expect(instant("2026-02-29T00:00:00Z")).to.equal(undefined);
        fc.assert(
            fc.property(fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2099, 0, 1) }), fc.integer({ min: -23 * 60, max: 23 * 60 }), (ms, offset) => {
                const at = new Date(Math.floor(ms / 1000) * 1000);
                const local = new Date(at.getTime() + offset * 60_000).toISOString().slice(0, 19);
                const sign = offset < 0 ? "-" : "+";
                const hhmm = `${String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0")}:${String(Math.abs(offset) % 60).padStart(2, "0")}`;
                expect(instant(`${local}${sign}${hhmm}`)).to.equal(at.toISOString().slice(0, 19) + "Z");
            }),
        );
    });

    it("reads amounts as exact integers of minor units, trailing zeros or not", () => {
        fc.assert(
            fc.property(fc.bigInt({ min: 1n, max: 10n ** 30n }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), (minor, digits, extraZeros) => {
                const text = minor.toString().padStart(digits + 1, "0");
                const amount = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}${"0".repeat(Math.min(extraZeros, 3 - digits))}`;
                const maxDigits = digits === 0 ? 0 : digits + Math.min(extraZeros, 3 - digits);
                expect(minorUnits(amount, maxDigits, "T")).to.equal(minor * 10n ** BigInt(maxDigits - digits));
            }),
        );
    });
});
