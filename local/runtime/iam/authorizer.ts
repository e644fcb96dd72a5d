// Authorizes the local runtime's requests as IAM would, from the plan's own policies: a role's
// inline, attached and boundary policies, and the target's resource policy (queue, topic, bucket,
// key, table or stream policy). The evaluation itself is @cloud-copilot/iam-simulate's, so
// same-account trust, explicit denies, service principals and conditions follow AWS's rules.

import {
    getDenialReasons,
    runSimulation,
    type RequestAnalysis,
    type RequestDenial,
    type RunSimulationResults,
    type Simulation,
} from "@cloud-copilot/iam-simulate";
import type { Plan, PlannedResource } from "../../plan";
import type { AccessRequest, Authorizer, Decision } from "../types";
import { sdkRequests, queueArnFromUrl, type AwsScope, type IamRequest } from "./sdk-actions";

/** A policy document as IAM reads it (a parsed JSON object). */
export type PolicyDocument = Record<string, unknown>;

/** A policy and where in the plan it came from (the name shows up in simulation errors). */
export interface NamedPolicy {
    name: string;
    policy: PolicyDocument;
}

/** A role as requests are evaluated for it. */
export interface PlanRole {
    arn: string;
    name: string;
    /** The session the role is assumed in: the function's name when one Lambda function uses the role, as Lambda names it. */
    sessionName: string;
    /** Inline (RolePolicy, inlinePolicies) and attached (RolePolicyAttachment, managedPolicyArns) policies. */
    policies: NamedPolicy[];
    boundary?: NamedPolicy;
}

/** The plan's policies, indexed for evaluation. */
export interface PlanPolicies {
    scope: Required<AwsScope>;
    /** Throws for a role the plan does not declare, and for a policy that cannot be evaluated locally. */
    role(arn: string): PlanRole;
    /** The resource policy that governs `arn` (an object's bucket policy, an index's table policy), if any. */
    resourcePolicy(arn: string): NamedPolicy | undefined;
}

export interface PlanAuthorizerOptions {
    /** aws:SecureTransport for every request; false evaluates requests as if sent over plain HTTP. Default true. */
    secureTransport?: boolean;
    /** The clock for aws:CurrentTime and aws:EpochTime. */
    now?: () => Date;
}

export interface PlanAuthorizer extends Authorizer {
    readonly scope: Required<AwsScope>;
    /** How many simulations have run (decisions not served from the cache). */
    readonly simulations: number;
}

const ROLE = "aws:iam/role:Role";
const LAMBDA_FUNCTION = "aws:lambda/function:Function";
const AWS_MANAGED_POLICY = /^arn:[^:]+:iam::aws:policy\//;
// Decisions that depend on the clock are never cached.
const CLOCK_KEYS = ["aws:currenttime", "aws:epochtime"];

/** The partition, region and account every ARN in the plan shares. Throws if the plan mixes them. */
export function planScope(plan: Plan): Required<AwsScope> {
    const partitions = new Set<string>();
    const regions = new Set<string>();
    const accounts = new Set<string>();
    for (const resource of plan.resources) {
        const arn = resource.outputs.arn;
        if (typeof arn !== "string" || !arn.startsWith("arn:")) continue;
        const [, partition, , region, account] = arn.split(":");
        partitions.add(partition);
        if (region) regions.add(region);
        if (/^\d{12}$/.test(account ?? "")) accounts.add(account);
    }
    const one = (values: Set<string>, what: string) => {
        if (values.size !== 1) throw new Error(`plan ${plan.stack}: expected the resources' ARNs to share one ${what}, found ${JSON.stringify([...values])}`);
        return [...values][0];
    };
    return { partition: one(partitions, "partition"), region: one(regions, "region"), account: one(accounts, "account") };
}

/** The session ARN a role's credentials sign with: arn:aws:sts::<account>:assumed-role/<role name>/<session>. */
export function sessionArn(role: Pick<PlanRole, "arn" | "name" | "sessionName">): string {
    const [, partition, , , account] = role.arn.split(":");
    return `arn:${partition}:sts::${account}:assumed-role/${role.name}/${role.sessionName}`;
}

function parsePolicy(value: unknown, where: string): PolicyDocument {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as PolicyDocument;
    if (typeof value !== "string") throw new Error(`${where}: expected a policy document (JSON string or object), got ${JSON.stringify(value)}`);
    try {
        const parsed = JSON.parse(value);
        if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as PolicyDocument;
    } catch (error) {
        throw new Error(`${where}: policy is not valid JSON (${(error as Error).message})`);
    }
    throw new Error(`${where}: expected the policy to be a JSON object`);
}

const str = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
const label = (r: PlannedResource) => `${r.type} ${r.name}`;

/**
 * The resource policy AWS gives a KMS key created without one: the account (and so its IAM
 * policies) may use it. Every key has a policy, so a planned key without one still has this.
 */
function defaultKeyPolicy(account: string, partition: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [{ Sid: "Enable IAM User Permissions", Effect: "Allow", Principal: { AWS: `arn:${partition}:iam::${account}:root` }, Action: "kms:*", Resource: "*" }],
    };
}

/**
 * The resource whose policy governs an ARN: an S3 object answers to its bucket's policy, a
 * DynamoDB index or stream to its table's.
 */
function policyTarget(arn: string): string {
    const s3 = /^(arn:[^:]+:s3:::[^/]+)(?:\/.*)?$/.exec(arn);
    if (s3) return s3[1];
    const table = /^(arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/[^/]+)\/.+$/.exec(arn);
    if (table) return table[1];
    return arn;
}

/** Indexes the plan's roles and resource policies. Roles resolve lazily, so one unusable role does not block the rest. */
export function planPolicies(plan: Plan): PlanPolicies {
    const scope = planScope(plan);
    const byType = (type: string) => plan.resources.filter((r) => r.type === type);
    const roles = new Map(byType(ROLE).map((r) => [str(r.outputs.arn) ?? "", r]));
    const resolved = new Map<string, PlanRole>();

    // ---- identity policies ----

    // RolePolicy.role and RolePolicyAttachment.role name the role (its name, which is also its id).
    const belongsTo = (role: PlannedResource) => {
        const names = new Set([str(role.outputs.name), str(role.outputs.id), str(role.outputs.arn)].filter(Boolean));
        return (r: PlannedResource) => names.has(str(r.inputs.role));
    };

    const managedPolicy = (policyArn: string, where: string): NamedPolicy => {
        if (AWS_MANAGED_POLICY.test(policyArn)) {
            throw new Error(`${where}: AWS-managed policy ${policyArn} cannot be evaluated locally; use a customer-managed or inline policy`);
        }
        const policy = byType("aws:iam/policy:Policy").find((p) => str(p.outputs.arn) === policyArn);
        if (!policy) throw new Error(`${where}: policy ${policyArn} is not an aws:iam/policy:Policy in the plan`);
        return { name: policy.name, policy: parsePolicy(policy.inputs.policy, label(policy)) };
    };

    const resolveRole = (role: PlannedResource, arn: string): PlanRole => {
        const ofRole = belongsTo(role);
        const policies: NamedPolicy[] = [];
        const inline = role.inputs.inlinePolicies;
        if (Array.isArray(inline)) {
            inline.forEach((p: { name?: unknown; policy?: unknown }, i) => {
                // A provider placeholder with neither name nor policy stands for "no inline policies".
                if (p.policy === undefined && p.name === undefined) return;
                const name = `${role.name}/inline/${str(p.name) ?? i}`;
                policies.push({ name, policy: parsePolicy(p.policy, `${label(role)} inlinePolicies[${i}]`) });
            });
        }
        for (const p of byType("aws:iam/rolePolicy:RolePolicy").filter(ofRole)) {
            policies.push({ name: p.name, policy: parsePolicy(p.inputs.policy, label(p)) });
        }
        const managed = role.inputs.managedPolicyArns;
        if (Array.isArray(managed)) for (const policyArn of managed) policies.push(managedPolicy(String(policyArn), `${label(role)} managedPolicyArns`));
        for (const a of byType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter(ofRole)) {
            policies.push(managedPolicy(String(a.inputs.policyArn), label(a)));
        }
        const boundaryArn = str(role.inputs.permissionsBoundary);
        const name = str(role.outputs.name) ?? role.name;
        const functions = byType(LAMBDA_FUNCTION).filter((f) => (str(f.outputs.role) ?? str(f.inputs.role)) === arn);
        return {
            arn,
            name,
            sessionName: functions.length === 1 ? (str(functions[0].outputs.name) ?? functions[0].name) : name,
            policies,
            ...(boundaryArn ? { boundary: managedPolicy(boundaryArn, `${label(role)} permissionsBoundary`) } : {}),
        };
    };

    // ---- resource policies ----

    const arnOf = (type: string, matches: (r: PlannedResource) => boolean) => str(byType(type).find(matches)?.outputs.arn);
    const queueArn = (url: string) => arnOf("aws:sqs/queue:Queue", (q) => q.outputs.url === url || q.outputs.id === url) ?? queueArnFromUrl(url, scope);
    const bucketArn = (bucket: string) =>
        arnOf("aws:s3/bucket:Bucket", (b) => b.outputs.bucket === bucket || b.outputs.id === bucket) ?? `arn:${scope.partition}:s3:::${bucket}`;
    const keyArn = (keyId: string) =>
        arnOf("aws:kms/key:Key", (k) => [k.outputs.id, k.outputs.keyId, k.outputs.arn].includes(keyId)) ??
        (keyId.startsWith("arn:") ? keyId : `arn:${scope.partition}:kms:${scope.region}:${scope.account}:key/${keyId}`);

    // A standalone policy resource replaces the target's own `policy` input (it is applied after),
    // so those go in first and are overwritten; two standalone policies on one target conflict.
    const policies = new Map<string, NamedPolicy & { standalone: boolean }>();
    const put = (target: string | undefined, r: PlannedResource, standalone: boolean) => {
        if (!target || r.inputs.policy === undefined || r.inputs.policy === "") return;
        const existing = policies.get(target);
        if (standalone && existing?.standalone) throw new Error(`${target}: two resource policies in the plan, ${existing.name} and ${r.name}; expected one`);
        policies.set(target, { name: r.name, policy: parsePolicy(r.inputs.policy, label(r)), standalone });
    };
    for (const type of ["aws:sqs/queue:Queue", "aws:sns/topic:Topic", "aws:s3/bucket:Bucket", "aws:kms/key:Key"]) {
        for (const r of byType(type)) put(str(r.outputs.arn), r, false);
    }
    for (const r of byType("aws:sqs/queuePolicy:QueuePolicy")) put(queueArn(String(r.inputs.queueUrl)), r, true);
    for (const r of byType("aws:sns/topicPolicy:TopicPolicy")) put(str(r.inputs.arn), r, true);
    for (const r of byType("aws:s3/bucketPolicy:BucketPolicy")) put(bucketArn(String(r.inputs.bucket)), r, true);
    for (const r of byType("aws:kms/keyPolicy:KeyPolicy")) put(keyArn(String(r.inputs.keyId)), r, true);
    for (const type of ["aws:dynamodb/resourcePolicy:ResourcePolicy", "aws:kinesis/resourcePolicy:ResourcePolicy"]) {
        for (const r of byType(type)) put(str(r.inputs.resourceArn), r, true);
    }
    // A role's trust policy is its resource policy for sts:AssumeRole: who may act as it.
    for (const role of byType(ROLE)) {
        const arn = str(role.outputs.arn);
        const trust = role.inputs.assumeRolePolicy;
        if (arn && typeof trust === "string" && trust !== "") policies.set(arn, { name: `${role.name} (trust policy)`, policy: parsePolicy(trust, label(role)), standalone: false });
    }
    for (const key of byType("aws:kms/key:Key")) {
        const arn = str(key.outputs.arn);
        if (arn && !policies.has(arn)) policies.set(arn, { name: `${key.name} (default key policy)`, policy: defaultKeyPolicy(scope.account, scope.partition), standalone: false });
    }

    return {
        scope,
        role(arn) {
            const known = resolved.get(arn);
            if (known) return known;
            const role = roles.get(arn);
            if (!role) throw new Error(`unknown role ${arn}: no ${ROLE} in plan ${plan.stack} has this ARN`);
            const result = resolveRole(role, arn);
            resolved.set(arn, result);
            return result;
        },
        resourcePolicy(arn) {
            const found = policies.get(policyTarget(arn));
            return found && { name: found.name, policy: found.policy };
        },
    };
}

// ---- decisions ----

const EXPLICIT: Record<string, string> = {
    identity: "an identity-based policy",
    resource: "a resource-based policy",
    scp: "a service control policy",
    rcp: "a resource control policy",
    pb: "a permissions boundary",
    vpce: "a VPC endpoint policy",
    "s3-bpa": "S3 Block Public Access",
};
const IMPLICIT: Record<string, string> = {
    identity: "identity-based policy",
    resource: "resource-based policy",
    scp: "service control policy",
    rcp: "resource control policy",
    pb: "permissions boundary",
    vpce: "VPC endpoint policy",
    "s3-bpa": "S3 Block Public Access setting",
};

/** AWS's wording of a denial, from iam-simulate's reasons: an explicit deny first, then what failed to allow. */
export function denialMessage(who: string, action: string, resource: string, reasons: RequestDenial[], servicePrincipal: boolean): string {
    const head = `User: ${who} is not authorized to perform: ${action} on resource: ${resource}`;
    const explicit = reasons.find((r) => r.denialType === "Explicit");
    if (explicit) return `${head} with an explicit deny in ${EXPLICIT[explicit.policyType] ?? explicit.policyType}`;
    // A service principal has no identity policies: only a resource policy can let it in.
    const implicit = servicePrincipal ? "resource" : (reasons.find((r) => r.policyType === "identity") ?? reasons[0])?.policyType ?? "identity";
    return `${head} because no ${IMPLICIT[implicit] ?? implicit} allows the ${action} action`;
}

function simulationError(result: Extract<RunSimulationResults, { resultType: "error" }>): string {
    const { message, ...groups } = result.errors;
    const details = Object.entries(groups).flatMap(([group, errors]) => {
        const entries: [string, unknown][] = Array.isArray(errors) ? [["", errors]] : Object.entries(errors ?? {});
        return entries.map(([name, list]) => `${group}${name ? ` ${name}` : ""}: ${JSON.stringify(list)}`);
    });
    return [message, ...details].join("; ");
}

/** The analysis behind the overall result (a wildcard simulation runs one per matching pattern). */
function analysisOf(result: Exclude<RunSimulationResults, { resultType: "error" }>): RequestAnalysis | undefined {
    if (result.resultType === "single") return result.result.analysis;
    return result.results.find((r) => r.analysis.result === result.overallResult)?.analysis;
}

const mentionsClock = (docs: (PolicyDocument | undefined)[]) => {
    const text = JSON.stringify(docs).toLowerCase();
    return CLOCK_KEYS.some((k) => text.includes(k));
};

/**
 * Authorizes requests against the plan's policies. Decisions are cached per request (principal,
 * action, resource), except those whose policies read the clock. Throws, rather than deciding, for
 * an unknown role, a policy that cannot be evaluated locally, or a request iam-simulate rejects
 * (an unknown action, a resource of the wrong type for the action).
 */
export function planAuthorizer(plan: Plan, options: PlanAuthorizerOptions = {}): PlanAuthorizer {
    const index = planPolicies(plan);
    const { scope } = index;
    const secureTransport = options.secureTransport ?? true;
    const now = options.now ?? (() => new Date());
    const cache = new Map<string, Promise<Decision>>();
    let simulations = 0;

    const decide = async (request: AccessRequest): Promise<Decision> => {
        const { action, resource } = request;
        const resourcePolicy = index.resourcePolicy(resource);
        const time = now();
        const context: Record<string, string> = {
            "aws:SecureTransport": String(secureTransport),
            "aws:CurrentTime": time.toISOString(),
            "aws:EpochTime": String(Math.floor(time.getTime() / 1000)),
            "aws:RequestedRegion": scope.region,
        };
        let who: string;
        let identityPolicies: NamedPolicy[] = [];
        let boundary: NamedPolicy | undefined;
        const principal = request.principal;
        if ("role" in principal) {
            const role = index.role(principal.role);
            who = sessionArn(role);
            identityPolicies = role.policies;
            boundary = role.boundary;
            context["aws:PrincipalArn"] = role.arn;
            context["aws:PrincipalAccount"] = role.arn.split(":")[4];
        } else {
            if (!/^[a-z0-9.-]+\.amazonaws\.com$/.test(principal.service)) {
                throw new Error(`expected a service principal such as sns.amazonaws.com, got ${JSON.stringify(principal.service)}`);
            }
            who = principal.service;
            context["aws:SourceArn"] = principal.sourceArn;
            context["aws:SourceAccount"] = principal.sourceAccount;
            context["aws:PrincipalServiceName"] = principal.service;
        }
        const simulation: Simulation = {
            request: {
                principal: who,
                action,
                // S3 ARNs carry no account: the bucket is the plan's.
                resource: { resource, accountId: resource.split(":")[4] || scope.account },
                contextVariables: context,
            },
            identityPolicies: identityPolicies.map((p) => ({ name: p.name, policy: p.policy })),
            serviceControlPolicies: [],
            resourceControlPolicies: [],
            ...(resourcePolicy ? { resourcePolicy: resourcePolicy.policy } : {}),
            ...(boundary ? { permissionBoundaryPolicies: [{ name: boundary.name, policy: boundary.policy }] } : {}),
        };
        simulations++;
        const result = await runSimulation(simulation, { simulationMode: "Strict" });
        if (result.resultType === "error") {
            throw new Error(`cannot evaluate ${action} on ${resource} for ${who}: ${simulationError(result)}`);
        }
        if (result.overallResult === "Allowed") return { allowed: true, message: "allowed" };
        const analysis = analysisOf(result);
        return { allowed: false, message: denialMessage(who, action, resource, analysis ? getDenialReasons(analysis) : [], !("role" in principal)) };
    };

    const cacheable = (request: AccessRequest) => {
        const docs = [index.resourcePolicy(request.resource)?.policy];
        if ("role" in request.principal) docs.push(...index.role(request.principal.role).policies.map((p) => p.policy));
        return !mentionsClock(docs);
    };

    return {
        scope,
        get simulations() {
            return simulations;
        },
        authorize(request) {
            const p = request.principal;
            const key = JSON.stringify(["role" in p ? [p.role] : [p.service, p.sourceArn, p.sourceAccount], request.action, request.resource]);
            const cached = cache.get(key);
            if (cached) return cached;
            let decision: Promise<Decision>;
            try {
                if (!cacheable(request)) return decide(request);
                decision = decide(request);
            } catch (error) {
                return Promise.reject(error);
            }
            cache.set(key, decision);
            // A failure is not a decision: the next identical request fails afresh instead of from the cache.
            decision.catch(() => cache.delete(key));
            return decision;
        },
    };
}

/** All of a call's requests must be allowed: the first denial is the call's, as AWS reports one. */
export async function authorizeAll(authorizer: Authorizer, principal: AccessRequest["principal"], requests: IamRequest[]): Promise<Decision> {
    if (requests.length === 0) throw new Error("authorizeAll: expected at least one IAM request");
    for (const { action, resource } of requests) {
        const decision = await authorizer.authorize({ principal, action, resource });
        if (!decision.allowed) return decision;
    }
    return { allowed: true, message: "allowed" };
}

/** Authorizes one SDK call a function makes as its role (`client`/`command` as the SDK's middleware reports them). */
export async function authorizeSdkCall(authorizer: PlanAuthorizer, roleArn: string, call: { client: string; command: string; input: unknown }): Promise<Decision> {
    return authorizeAll(authorizer, { role: roleArn }, sdkRequests(call.client, call.command, call.input, authorizer.scope));
}
