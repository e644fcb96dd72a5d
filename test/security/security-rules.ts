import { RESOURCE_STAR_ACTIONS, PolicyDocument, PolicyStatement } from "../../components/policy-documents";
import { Plan, PlannedResource } from "../../local/plan";

// Whole-graph security rules, as pure functions from a plan to a list of violations. Each rule
// names the resource and what is wrong; the spec runs them over every stack.

export type Rule = (plan: Plan) => string[];

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every IAM-style policy document held in any input of any resource (policy, assumeRolePolicy, ...). */
export function policyDocuments(plan: Plan): { resource: PlannedResource; field: string; doc: PolicyDocument }[] {
    const found: { resource: PlannedResource; field: string; doc: PolicyDocument }[] = [];
    for (const resource of plan.resources) {
        for (const [field, value] of Object.entries(resource.inputs)) {
            if (typeof value !== "string" || !value.includes("Statement")) continue;
            try {
                const doc = JSON.parse(value);
                if (Array.isArray(doc?.Statement)) found.push({ resource, field, doc });
            } catch {
                // Not JSON: not a policy.
            }
        }
    }
    return found;
}

const IDENTITY_POLICY_TYPES = new Set(["aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"]);

/** No Allow statement grants a wildcard action (Deny statements may: denying more is safer). */
export const noWildcardActions: Rule = (plan) =>
    policyDocuments(plan).flatMap(({ resource, field, doc }) =>
        doc.Statement.filter((s: PolicyStatement) => s.Effect === "Allow")
            .flatMap((s) => asList(s.Action))
            .filter((a) => a.includes("*"))
            .map((a) => `${resource.name}.${field}: Allow with wildcard action ${a}`),
    );

/** Identity policies name exact resources, except for actions AWS offers on "*" only. */
export const exactResources: Rule = (plan) =>
    policyDocuments(plan)
        .filter(({ resource }) => IDENTITY_POLICY_TYPES.has(resource.type))
        .flatMap(({ resource, doc }) =>
            doc.Statement.filter((s) => s.Effect === "Allow" && asList(s.Resource).includes("*"))
                .flatMap((s) => asList(s.Action).filter((a) => !RESOURCE_STAR_ACTIONS.has(a)))
                .map((a) => `${resource.name}: ${a} on resource "*"`),
        );

/** No broad managed policy is attached anywhere (CallbackFunction's defaults among them). */
export const noBroadManagedPolicies: Rule = (plan) =>
    plan.resources.flatMap((r) => {
        const text = JSON.stringify(r.inputs);
        const hits = text.match(/arn:aws:iam::aws:policy\/[A-Za-z0-9_/-]*(FullAccess|PowerUser|AdministratorAccess)[A-Za-z0-9_-]*/g) ?? [];
        const attachment = /PolicyAttachment$/.test(r.type) ? [`${r.name}: managed policy attachment ${r.inputs.policyArn}`] : [];
        return [...hits.map((h) => `${r.name}: broad managed policy ${h}`), ...attachment];
    });

const QUEUE = "aws:sqs/queue:Queue";
const TOPIC = "aws:sns/topic:Topic";
const BUCKETS = new Set(["aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"]);

/** Queues and topics are encrypted at rest; topics with a customer-managed key, never alias/aws/sns. */
export const encryptedAtRest: Rule = (plan) => {
    const violations: string[] = [];
    for (const r of plan.resources) {
        if (r.type === QUEUE && !(r.inputs.sqsManagedSseEnabled === true || r.inputs.kmsMasterKeyId)) violations.push(`${r.name}: queue not encrypted`);
        if (r.type === TOPIC && (!r.inputs.kmsMasterKeyId || r.inputs.kmsMasterKeyId === "alias/aws/sns")) {
            violations.push(`${r.name}: topic not encrypted with a customer-managed key`);
        }
        if (BUCKETS.has(r.type)) {
            const sse = plan.resources.find(
                (c) => /bucketServerSideEncryptionConfiguration/.test(c.type) && [r.outputs.id, r.outputs.bucket].includes(c.inputs.bucket),
            );
            if (!sse) violations.push(`${r.name}: bucket has no server-side encryption configuration`);
        }
    }
    return violations;
};

function deniesInsecureTransport(doc: PolicyDocument, arn: string): boolean {
    return doc.Statement.some(
        (s) =>
            s.Effect === "Deny" &&
            s.Principal === "*" &&
            s.Condition?.Bool?.["aws:SecureTransport"] === "false" &&
            asList(s.Resource).some((res) => res === arn || res === `${arn}/*`),
    );
}

/** Every queue and bucket has a policy that denies requests without TLS. */
export const tlsOnly: Rule = (plan) => {
    const docs = policyDocuments(plan);
    return plan.resources
        .filter((r) => r.type === QUEUE || BUCKETS.has(r.type))
        .filter((r) => !docs.some(({ doc }) => deniesInsecureTransport(doc, r.outputs.arn as string)))
        .map((r) => `${r.name}: no TLS-only policy`);
};

/** Every alarm sends ALARM and OK to a topic of this stack. */
export const alarmsNotify: Rule = (plan) => {
    const topics = new Set(plan.resources.filter((r) => r.type === TOPIC).map((r) => r.outputs.arn));
    return plan.resources
        .filter((r) => r.type === "aws:cloudwatch/metricAlarm:MetricAlarm")
        .flatMap((r) =>
            (["alarmActions", "okActions"] as const)
                .filter((f) => !(Array.isArray(r.inputs[f]) && (r.inputs[f] as string[]).length > 0 && (r.inputs[f] as string[]).every((a) => topics.has(a))))
                .map((f) => `${r.name}: ${f} missing or not a topic of this stack`),
        );
};

/** Every queue either redrives to a DLQ or is one. */
export const queuesHaveDlqs: Rule = (plan) => {
    const queues = plan.resources.filter((r) => r.type === QUEUE);
    const dlqs = new Set(queues.filter((q) => q.inputs.redrivePolicy).map((q) => JSON.parse(q.inputs.redrivePolicy as string).deadLetterTargetArn));
    return queues.filter((q) => !q.inputs.redrivePolicy && !dlqs.has(q.outputs.arn)).map((q) => `${q.name}: neither redrives to a DLQ nor is one`);
};

/** Every function has tracing on and a log group with a retention. */
export const functionsObservable: Rule = (plan) =>
    plan.resources
        .filter((r) => r.type === "aws:lambda/function:Function")
        .flatMap((f) => {
            const problems: string[] = [];
            if ((f.inputs.tracingConfig as { mode?: string } | undefined)?.mode !== "Active") problems.push(`${f.name}: X-Ray tracing off`);
            const groupName = (f.inputs.loggingConfig as { logGroup?: string } | undefined)?.logGroup;
            const group = plan.resources.find((r) => r.type === "aws:cloudwatch/logGroup:LogGroup" && r.outputs.name === groupName);
            if (!group || !group.inputs.retentionInDays) problems.push(`${f.name}: no own log group with retention`);
            return problems;
        });

export const RULES: Record<string, Rule> = {
    noWildcardActions,
    exactResources,
    noBroadManagedPolicies,
    encryptedAtRest,
    tlsOnly,
    alarmsNotify,
    queuesHaveDlqs,
    functionsObservable,
};
