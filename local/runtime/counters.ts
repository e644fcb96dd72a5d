import type { Counter } from "./types";

// What the runtime counts, by part (a function, a mapping, the bus, the API, IAM): a number per
// name and, where given, how many of each reason. Scenarios read their table's columns from here.

export interface Count {
    count: number;
    reasons: Map<string, number>;
}

export class Counters {
    private readonly parts = new Map<string, Map<string, Count>>();

    /** A Counter for one part, e.g. counters.of("bus"). */
    of(part: string): Counter {
        return { add: (name, by = 1, reason) => this.add(part, name, by, reason) };
    }

    add(part: string, name: string, by = 1, reason?: string): void {
        let names = this.parts.get(part);
        if (!names) this.parts.set(part, (names = new Map()));
        let c = names.get(name);
        if (!c) names.set(name, (c = { count: 0, reasons: new Map() }));
        c.count += by;
        if (reason !== undefined) c.reasons.set(reason, (c.reasons.get(reason) ?? 0) + by);
    }

    get(part: string, name: string): number {
        return this.parts.get(part)?.get(name)?.count ?? 0;
    }

    /** The total of `name` over every part, with its reasons. */
    total(name: string): Count {
        const out: Count = { count: 0, reasons: new Map() };
        for (const names of this.parts.values()) {
            const c = names.get(name);
            if (!c) continue;
            out.count += c.count;
            for (const [r, n] of c.reasons) out.reasons.set(r, (out.reasons.get(r) ?? 0) + n);
        }
        return out;
    }

    /** A copy of every count, to diff against later (counts since a point). */
    snapshot(): Map<string, number> {
        const out = new Map<string, number>();
        for (const [part, names] of this.parts) for (const [name, c] of names) out.set(`${part}/${name}`, c.count);
        return out;
    }
}
