import { evaluate, evaluateStack } from "../../local/engine";
import { Plan, PlannedResource } from "../../local/plan";
import { generatedName } from "../../components/shared/naming";
import { PolicyDocument } from "../../components/security/policy-documents";

// The mock harness: runs a program under Pulumi's mock engine and hands back every resource it
// registered, with inputs, parent and dependencies, plus finders for assertions.

export { evaluateStack };

/** Runs `program` (which creates components) and records what it registers. */
export function record(program: () => unknown, config: Record<string, string> = {}): Promise<Plan> {
    return evaluate({ project: "event-pipelines", stack: "test", config: { "aws:region": "us-east-1", ...config }, program });
}

export function ofType(plan: Plan, type: string): PlannedResource[] {
    return plan.resources.filter((r) => r.type === type);
}

/** The one resource of `type` named `name`; fails loudly when absent or ambiguous. */
export function one(plan: Plan, type: string, name: string): PlannedResource {
    const hits = plan.resources.filter((r) => r.type === type && r.name === name);
    if (hits.length !== 1) {
        const names = ofType(plan, type).map((r) => r.name).join(", ");
        throw new Error(`expected one ${type} named ${name}, found ${hits.length} (have: ${names || "none"})`);
    }
    return hits[0];
}

/** The policy document held as a JSON string in `field` of a resource's inputs. */
export function policyOf(r: PlannedResource, field = "policy"): PolicyDocument {
    const raw = r.inputs[field];
    if (typeof raw !== "string") throw new Error(`${r.name}.${field} is not a JSON string`);
    return JSON.parse(raw);
}

/** The key policy of the KMS key named `keyName`: the KeyPolicy resource set on that key's id. */
export function keyPolicyOf(plan: Plan, keyName: string): PolicyDocument {
    const key = one(plan, "aws:kms/key:Key", keyName);
    const policies = ofType(plan, "aws:kms/keyPolicy:KeyPolicy").filter((p) => p.inputs.keyId === key.outputs.id);
    if (policies.length !== 1) throw new Error(`expected one KeyPolicy on ${keyName}, found ${policies.length}`);
    return policyOf(policies[0]);
}

/** Children of a resource, by URN. */
export function childrenOf(plan: Plan, parent: PlannedResource): PlannedResource[] {
    return plan.resources.filter((r) => r.parent === parent.urn);
}

/** Every resource below `root`, children before their own children. */
export function descendantsOf(plan: Plan, root: PlannedResource): PlannedResource[] {
    return childrenOf(plan, root).flatMap((child) => [child, ...descendantsOf(plan, child)]);
}

/**
 * The physical name the offline engine gives a resource Pulumi names itself (logical name, "-",
 * 7 hex characters seeded by stack, type and name) in a `record()`ed program (stack "test").
 */
export function generated(type: string, logicalName: string, stack = "test"): string {
    return generatedName(type, logicalName, `${stack}::${type}::${logicalName}`);
}

export const ALERT_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:alerts";
