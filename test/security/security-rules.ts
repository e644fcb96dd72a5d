import { RESOURCE_STAR_ACTIONS, PolicyDocument, PolicyStatement } from "../../components/security/policy-documents";
import { Plan, PlannedResource } from "../../local/plan";

// Whole-graph security rules, as pure functions from a plan to a list of violations. Each rule
// names the resource and what is wrong; the spec runs them over every stack.

export type Rule = (plan: Plan) => string[];

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * A statement as it may appear in any policy the plan holds, not only in the ones this project
 * builds: the negated elements are part of the IAM grammar and must be read, not ignored.
 */
export type AnyStatement = Omit<PolicyStatement, "Action" | "Principal"> & {
    Action?: string | string[];
    NotAction?: string | string[];
    NotResource?: string | string[];
    Principal?: unknown;
    NotPrincipal?: unknown;
};

export interface FoundPolicy {
    resource: PlannedResource;
    field: string;
    doc: Omit<PolicyDocument, "Statement"> & { Statement: AnyStatement[] };
}

/**
 * A policy document held as JSON text, or undefined when the text is not one. IAM also accepts a
 * single statement object as `Statement`: it is read as a list of one, so a policy cannot escape
 * every rule by not using an array.
 */
function parsePolicy(value: unknown): FoundPolicy["doc"] | undefined {
    if (typeof value !== "string" || !value.includes("Statement")) return undefined;
    try {
        const doc = JSON.parse(value);
        const statement = doc?.Statement;
        if (Array.isArray(statement)) return doc;
        if (statement && typeof statement === "object") return { ...doc, Statement: [statement] };
    } catch {
        // Not JSON: not a policy.
    }
    return undefined;
}

/** Every IAM-style policy document held in any input of any resource (policy, assumeRolePolicy, ...). */
export function policyDocuments(plan: Plan): FoundPolicy[] {
    return plan.resources.flatMap((resource) =>
        Object.entries(resource.inputs).flatMap(([field, value]) => {
            const doc = parsePolicy(value);
            return doc ? [{ resource, field, doc }] : [];
        }),
    );
}

const IDENTITY_POLICY_TYPES = new Set(["aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"]);

/**
 * No Allow statement grants a wildcard action (Deny statements may: denying more is safer). IAM
 * matches `?` as a wildcard too. An Allow with `NotAction` grants every action but the listed
 * ones, so it is a wildcard as well; so is an Allow with `NotResource` in an identity policy
 * (every resource but the listed ones).
 */
export const noWildcardActions: Rule = (plan) =>
    policyDocuments(plan).flatMap(({ resource, field, doc }) =>
        doc.Statement.filter((s) => s.Effect === "Allow").flatMap((s) => [
            ...asList(s.Action)
                .filter((a) => /[*?]/.test(a))
                .map((a) => `${resource.name}.${field}: Allow with wildcard action ${a}`),
            ...(s.NotAction !== undefined ? [`${resource.name}.${field}: Allow with NotAction ${asList(s.NotAction).join(",")}`] : []),
            ...(s.NotResource !== undefined && IDENTITY_POLICY_TYPES.has(resource.type)
                ? [`${resource.name}.${field}: Allow with NotResource ${asList(s.NotResource).join(",")}`]
                : []),
        ]),
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

/** True when a Principal (or NotPrincipal) value names everyone: "*", or any listed principal containing "*". */
function namesEveryone(principal: unknown): boolean {
    if (principal === undefined || principal === null) return false;
    if (typeof principal === "string") return principal.includes("*");
    if (Array.isArray(principal)) return principal.some(namesEveryone);
    if (typeof principal === "object") return Object.values(principal as Record<string, unknown>).some(namesEveryone);
    return false;
}

/** Condition keys that tie an Allow for everyone to one source, account, organization or VPC endpoint. */
const RESTRICTING_KEYS = new Set(["aws:sourcearn", "aws:sourceaccount", "aws:principalorgid", "aws:sourcevpce"]);
/** Positive match operators only: negated operators and `...IfExists` variants let requests without the key through. */
const RESTRICTING_OPERATORS = new Set(["StringEquals", "StringLike", "ArnEquals", "ArnLike"]);

/**
 * The one exception to noPublicAccess: the statement's Condition uses StringEquals, StringLike,
 * ArnEquals or ArnLike on aws:SourceArn, aws:SourceAccount, aws:PrincipalOrgID or aws:SourceVpce
 * (key names compared case-insensitively, as IAM does), with at least one value and no value that
 * is "*" alone. Anything else (other keys, negated or IfExists operators, an empty or "*" value)
 * leaves the statement public.
 */
function restrictsToSource(condition: AnyStatement["Condition"]): boolean {
    return Object.entries(condition ?? {}).some(
        ([operator, entries]) =>
            RESTRICTING_OPERATORS.has(operator) &&
            Object.entries(entries ?? {}).some(([key, value]) => {
                const values = asList(value);
                return RESTRICTING_KEYS.has(key.toLowerCase()) && values.length > 0 && values.every((v) => typeof v === "string" && v !== "" && v !== "*");
            }),
    );
}

/**
 * No resource policy (queue, topic, bucket, key, ...: any policy document in the plan) lets everyone
 * in: an Allow whose Principal is "*", `{ AWS: "*" }` or lists a principal containing "*", or any
 * Allow with NotPrincipal (everyone but the listed ones), is a violation unless its Condition
 * restricts it to a source as `restrictsToSource` describes.
 */
export const noPublicAccess: Rule = (plan) =>
    policyDocuments(plan).flatMap(({ resource, field, doc }) =>
        doc.Statement.filter((s) => s.Effect === "Allow")
            .filter((s) => namesEveryone(s.Principal) || s.NotPrincipal !== undefined)
            .filter((s) => !restrictsToSource(s.Condition))
            .map((s) => {
                const who = s.NotPrincipal !== undefined ? `NotPrincipal ${JSON.stringify(s.NotPrincipal)}` : `Principal ${JSON.stringify(s.Principal)}`;
                return `${resource.name}.${field}: public Allow (${who}) ${asList(s.Action).join(",") || "NotAction"}${s.Sid ? ` [${s.Sid}]` : ""}`;
            }),
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

/**
 * Queues, topics, streams and tables are encrypted at rest (topics with a customer-managed key, never
 * alias/aws/sns; tables with KMS rather than the AWS-owned default); buckets have an SSE configuration.
 */
export const encryptedAtRest: Rule = (plan) => {
    const violations: string[] = [];
    for (const r of plan.resources) {
        if (r.type === QUEUE && !(r.inputs.sqsManagedSseEnabled === true || r.inputs.kmsMasterKeyId)) violations.push(`${r.name}: queue not encrypted`);
        if (r.type === TOPIC && (!r.inputs.kmsMasterKeyId || r.inputs.kmsMasterKeyId === "alias/aws/sns")) {
            violations.push(`${r.name}: topic not encrypted with a customer-managed key`);
        }
        if (r.type === "aws:kinesis/stream:Stream" && r.inputs.encryptionType !== "KMS") violations.push(`${r.name}: stream not KMS-encrypted`);
        if (r.type === "aws:dynamodb/table:Table" && (r.inputs.serverSideEncryption as { enabled?: boolean } | undefined)?.enabled !== true) {
            violations.push(`${r.name}: table without server-side encryption with KMS`);
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

/**
 * True when `doc` denies, to everyone, every action of `service` without TLS on each of `arns`: a
 * Deny with Principal "*" (or `{ AWS: "*" }`), Action `${service}:*` (or "*"), the condition
 * Bool aws:SecureTransport "false", and every ARN in its Resource.
 */
function deniesInsecureTransport(doc: FoundPolicy["doc"], service: "sqs" | "s3", arns: string[]): boolean {
    return doc.Statement.some(
        (s) =>
            s.Effect === "Deny" &&
            (s.Principal === "*" || JSON.stringify(s.Principal) === JSON.stringify({ AWS: "*" })) &&
            asList(s.Action).some((a) => a === "*" || a === `${service}:*`) &&
            s.Condition?.Bool?.["aws:SecureTransport"] === "false" &&
            arns.every((arn) => asList(s.Resource).includes(arn)),
    );
}

const QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy";
const BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy";

/** The policies that are `r`'s own: a queue's QueuePolicy by its URL, a bucket's BucketPolicy by its name or id. */
function ownPolicies(plan: Plan, r: PlannedResource): PlannedResource[] {
    if (r.type === QUEUE) {
        return plan.resources.filter((p) => p.type === QUEUE_POLICY && r.outputs.url !== undefined && p.inputs.queueUrl === r.outputs.url);
    }
    const names = [r.outputs.bucket, r.outputs.id].filter((n): n is string => typeof n === "string" && n !== "");
    return plan.resources.filter((p) => p.type === BUCKET_POLICY && typeof p.inputs.bucket === "string" && names.includes(p.inputs.bucket));
}

/**
 * Every queue and bucket has its own policy denying requests without TLS: for a queue, a QueuePolicy
 * whose queueUrl is the queue's URL, covering the queue's ARN; for a bucket, a BucketPolicy whose
 * bucket is the bucket's name (or id), covering both the bucket's ARN and its objects (`arn/*`).
 * A deny that only sits in some other resource's policy does not count: AWS never evaluates it
 * for this resource.
 */
export const tlsOnly: Rule = (plan) =>
    plan.resources
        .filter((r) => r.type === QUEUE || BUCKETS.has(r.type))
        .filter((r) => {
            const arn = r.outputs.arn as string;
            const [service, arns] = r.type === QUEUE ? (["sqs", [arn]] as const) : (["s3", [arn, `${arn}/*`]] as const);
            return !ownPolicies(plan, r).some((p) => {
                const doc = parsePolicy(p.inputs.policy);
                return doc !== undefined && deniesInsecureTransport(doc, service, [...arns]);
            });
        })
        .map((r) => `${r.name}: no TLS-only policy of its own`);

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

/**
 * Every KMS key has a policy of its own, inline or as a KeyPolicy naming it: without one, KMS gives
 * a key its default policy (the account may do kms:* on it), the policy this project never wants.
 */
export const keysHavePolicies: Rule = (plan) =>
    plan.resources
        .filter((r) => r.type === "aws:kms/key:Key")
        .filter((k) => parsePolicy(k.inputs.policy) === undefined)
        .filter((k) => !plan.resources.some((p) => p.type === "aws:kms/keyPolicy:KeyPolicy" && p.inputs.keyId === k.outputs.id && parsePolicy(p.inputs.policy) !== undefined))
        .map((k) => `${k.name}: no key policy of its own (KMS would apply its default)`);

export const RULES: Record<string, Rule> = {
    noWildcardActions,
    noPublicAccess,
    exactResources,
    noBroadManagedPolicies,
    encryptedAtRest,
    tlsOnly,
    alarmsNotify,
    queuesHaveDlqs,
    functionsObservable,
    keysHavePolicies,
};
