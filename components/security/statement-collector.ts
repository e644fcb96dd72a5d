import * as pulumi from "@pulumi/pulumi";
import { InvalidArgument } from "../shared/validation";

// A resource that accepts one policy (an SQS queue policy, an SNS topic policy, a KMS key policy)
// gets grants from components built after it: a topic subscribing a queue, a rule targeting a
// topic. Its policy document is therefore built once the program has made every grant, at a point
// that does not depend on how the program awaits between creating the resource and granting on it:
//
// - when the program returns: the root stack's outputs are settled, after the module body and every
//   `await` of an async program (`export = async () => { ... }`) have run;
// - or when Node's event loop runs out of work (`beforeExit`), which is how the Pulumi CLI's Node
//   language host ends a program: this also frees a program whose exported values wait on one of
//   these policies (a resource with `dependsOn` on a component, say), so that nothing deadlocks;
// - or when `sealGrants()` is called: for hosts where neither happens, such as an Automation API
//   inline program whose exports wait on such a policy.
//
// A grant made after that point is refused with one line naming the resource: it is never left out
// of a policy that was already built.

/**
 * The collectors still open, shared through `globalThis` by every copy of this package loaded in
 * the process (an importer may end up with two versions), so one `sealGrants()` or one `beforeExit`
 * builds them all.
 */
interface Registry {
    open: Set<{ seal(reason: string): void }>;
    exitHookInstalled: boolean;
}
const REGISTRY = Symbol.for("event-pipelines.statement-collectors");
const registry: Registry = ((globalThis as Record<symbol, Registry | undefined>)[REGISTRY] ??= { open: new Set(), exitHookInstalled: false });

/**
 * Builds the policies of every resource still collecting grants, from what was granted so far. The
 * program's end does this by itself; call it only where the program never returns to Pulumi on its
 * own (see above), after the last grant.
 */
export function sealGrants(reason = "sealGrants() was called"): void {
    for (const collector of [...registry.open]) collector.seal(reason);
}

function onStackSettled(seal: () => void): void {
    const stack = pulumi.runtime.getStackResource() as (pulumi.ComponentResource & { outputs?: pulumi.Output<unknown> }) | undefined;
    const outputs = stack?.outputs as unknown as { promise?: () => Promise<unknown> } | undefined;
    // The outputs' promise settles after the program (module body or async function) and the
    // massaging of its exports; it rejects when the program fails, and the policy is built then too.
    outputs?.promise?.().then(seal, seal);
}

/**
 * Collects the statements (or key users) of one resource's single policy. `items` resolves once
 * the collection is sealed (see above); `add` after that throws.
 */
export class StatementCollector<T> {
    readonly #pending: pulumi.Input<T>[] = [];
    #sealedBy?: string;
    #release!: () => void;
    /** Everything added, resolved, in the order it was added. */
    readonly items: pulumi.Output<T[]>;

    constructor(private readonly owner: string) {
        const released = new Promise<boolean>((resolve) => (this.#release = () => resolve(true)));
        this.items = pulumi.output(released).apply(() => pulumi.all(this.#pending) as pulumi.Output<T[]>);
        registry.open.add(this);
        if (!registry.exitHookInstalled) {
            registry.exitHookInstalled = true;
            process.on("beforeExit", () => sealGrants("the program had nothing left to run"));
        }
        onStackSettled(() => this.seal("the program returned"));
    }

    /** True once the policy has been built. */
    get sealed(): boolean {
        return this.#sealedBy !== undefined;
    }

    add(item: pulumi.Input<T>): void {
        if (this.#sealedBy !== undefined) {
            throw new InvalidArgument(
                `${this.owner}: grant refused, its policy was already built (${this.#sealedBy}); grant while the program runs, not from an apply callback or a timer the program does not await`,
            );
        }
        this.#pending.push(item);
    }

    /** Stops collecting and builds the policy from what was added. Idempotent. */
    seal(reason: string): void {
        if (this.#sealedBy !== undefined) return;
        this.#sealedBy = reason;
        registry.open.delete(this);
        this.#release();
    }
}
