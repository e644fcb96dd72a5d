import { evaluate } from "../../local/engine";
import { WAITS, grantAfterWaiting, grantedPolicies } from "../fixtures/grant-timing";

// Runs every grant-timing program in this process the way the Pulumi CLI's Node host ends one:
// nothing seals the policies when the program returns; the settled stack outputs or Node's event
// loop running out of work (`beforeExit`) must. Prints one JSON object, wait → policies.
async function main(): Promise<void> {
    const exportWaitsOnPolicy = process.argv[2] === "export-waits-on-policy";
    const result: Record<string, unknown> = {};
    for (const wait of Object.keys(WAITS)) {
        const plan = await evaluate({
            project: "event-pipelines",
            stack: "test",
            config: { "aws:region": "us-east-1" },
            program: grantAfterWaiting(wait, exportWaitsOnPolicy),
            sealGrantsOnReturn: false,
        });
        result[wait] = grantedPolicies(plan);
    }
    process.stdout.write(JSON.stringify(result));
}

main().catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
});
