import * as pulumi from "@pulumi/pulumi";

/**
 * An argument or config value outside what AWS or this project accepts. A RunError, so the
 * Pulumi CLI prints its one-line message without a stack trace.
 */
export class InvalidArgument extends pulumi.RunError {
    constructor(message: string) {
        super(message);
        this.name = "InvalidArgument";
    }
}

/** Refuses a number that is not an integer within [min, max]; Outputs and undefined pass (nothing to check yet). */
export function checkInteger(label: string, value: unknown, [min, max]: readonly [number, number]): void {
    if (typeof value !== "number") return;
    if (!Number.isInteger(value) || value < min || value > max) {
        throw new InvalidArgument(`${label} = ${value}: expected an integer from ${min} to ${max}`);
    }
}

/** Refuses a plain value that is not one of `allowed`; Outputs and undefined pass. */
export function checkOneOf(label: string, value: unknown, allowed: readonly (string | number)[]): void {
    if (typeof value !== "string" && typeof value !== "number") return;
    if (!allowed.includes(value)) throw new InvalidArgument(`${label} = ${JSON.stringify(value)}: expected one of ${allowed.join(", ")}`);
}
