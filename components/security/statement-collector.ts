import * as pulumi from "@pulumi/pulumi";
import { InvalidArgument } from "../shared/validation";

/**
 * Collects policy statements that other components add after this one was constructed (a topic
 * granting itself send rights on a queue it was handed, say), for a resource that accepts only
 * one policy (an SQS queue policy, an SNS topic policy, a KMS key policy).
 *
 * The collected list is sealed once the synchronous program code that created the owner has run
 * (the next turn of the event loop); `items` resolves then. Adding after that throws instead of
 * silently leaving a grant out of the deployed policy.
 */
export class StatementCollector<T> {
    private readonly pending: pulumi.Input<T>[] = [];
    private sealed = false;
    /** Everything added, resolved, in the order it was added. */
    readonly items: pulumi.Output<T[]>;

    constructor(private readonly owner: string) {
        const seal = new Promise<boolean>((resolve) =>
            setImmediate(() => {
                this.sealed = true;
                resolve(true);
            }),
        );
        this.items = pulumi.output(seal).apply(() => pulumi.all(this.pending) as pulumi.Output<T[]>);
    }

    add(item: pulumi.Input<T>): void {
        if (this.sealed) {
            throw new InvalidArgument(
                `${this.owner}: its policy was already built; grant access in the same synchronous step that creates it, not inside an apply or after an await`,
            );
        }
        this.pending.push(item);
    }
}
