import { expect } from "chai";

/** The message of what `fn` throws, checked to be one line (the form every refusal here takes). */
export function oneLineError(fn: () => unknown): string {
    try {
        fn();
    } catch (err) {
        const message = (err as Error).message;
        expect(message, "one line").to.not.include("\n");
        return message;
    }
    return expect.fail("expected a throw");
}
