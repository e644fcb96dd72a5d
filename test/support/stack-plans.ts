import { evaluateStack } from "../../local/engine";
import { Plan } from "../../local/plan";

// Evaluating a stack takes a couple of seconds: each stack is evaluated once per test run and
// shared by every spec that reads it.
const plans = new Map<string, Promise<Plan>>();

export function stackPlan(stack: string): Promise<Plan> {
    let plan = plans.get(stack);
    if (!plan) {
        // Pulumi's runtime state is global: evaluate stacks one after another.
        const previous = Promise.all([...plans.values()].map((p) => p.catch(() => undefined)));
        plan = previous.then(() => evaluateStack({ stack }));
        plans.set(stack, plan);
    }
    return plan;
}

export const STACKS = ["dev", "prod"];
