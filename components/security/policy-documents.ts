// Pure builders for IAM identity policies, resource policies and KMS key policies. They take
// resolved strings (components resolve Outputs first) so they are tested without mocks.

import { InvalidArgument } from "../shared/validation";

export interface PolicyStatement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Principal?: "*" | { AWS?: string | string[]; Service?: string | string[] };
    Action: string | string[];
    /** Absent only in trust policies. */
    Resource?: string | string[];
    Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
    Version: "2012-10-17";
    Statement: PolicyStatement[];
}

/** What a function (or a role) may do: exact actions on exact resources. */
export interface Grant {
    actions: string[];
    resources: string[];
    /** Narrows the grant further (e.g. s3:prefix on ListBucket). Default none. */
    condition?: Record<string, Record<string, string | string[]>>;
}

/**
 * Actions that accept no resource but "*" (AWS documents no resource type for them). They are the
 * only ones a grant may put on "*".
 */
export const RESOURCE_STAR_ACTIONS: ReadonlySet<string> = new Set([
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "cloudwatch:PutMetricData",
    // Step Functions' log delivery to CloudWatch Logs (the actions its documentation lists, on "*").
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    // Redshift Data API: a statement is scoped by the condition redshift-data:statement-owner-iam-userid instead.
    "redshift-data:DescribeStatement",
]);

const ACTION = /^[a-z0-9-]+:[A-Za-z0-9]+$/;

export function policyDocument(statements: PolicyStatement[]): PolicyDocument {
    return { Version: "2012-10-17", Statement: statements };
}

/**
 * Checks one grant: at least one action, each an exact action; at least one resource; "*" only
 * for actions without resource types. Resources that are not strings yet (Outputs) are checked
 * again once resolved. Throws one line starting with `label`.
 */
export function checkGrant(grant: { actions: string[]; resources: unknown[] }, label: string): void {
    if (grant.actions.length === 0) throw new InvalidArgument(`${label}: expected at least one action`);
    const what = `${label} (${grant.actions.join(", ")})`;
    if (grant.resources.length === 0) throw new InvalidArgument(`${what}: expected at least one resource ARN`);
    for (const action of grant.actions) {
        if (!ACTION.test(action)) throw new InvalidArgument(`${label}: action "${action}" must be one exact action such as "sqs:SendMessage" (no wildcards)`);
    }
    if (grant.resources.includes("*") && !grant.actions.every((a) => RESOURCE_STAR_ACTIONS.has(a))) {
        const scoped = grant.actions.filter((a) => !RESOURCE_STAR_ACTIONS.has(a));
        throw new InvalidArgument(`${what}: resource "*" is only allowed for actions without resource types (RESOURCE_STAR_ACTIONS): give ${scoped.join(", ")} exact ARNs`);
    }
}

/** Turns grants into Allow statements, refusing wildcards: every action and resource must be exact. */
export function grantStatements(grants: Grant[], label = "grant"): PolicyStatement[] {
    return grants.map((grant, i) => {
        checkGrant(grant, `${label} ${i + 1}`);
        const statement: PolicyStatement = { Effect: "Allow", Action: [...grant.actions].sort(), Resource: [...grant.resources].sort() };
        if (grant.condition) statement.Condition = grant.condition;
        return statement;
    });
}

/** The trust policy that lets the Lambda service assume a function's role. */
export function lambdaTrustPolicy(): PolicyDocument {
    return policyDocument([{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }]);
}

/** What every function needs: writing to its own log group, and X-Ray traces when tracing is on. */
export function functionBaseGrants(logGroupArn: string, tracing: boolean): Grant[] {
    const grants: Grant[] = [{ actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [`${logGroupArn}:*`] }];
    if (tracing) grants.push({ actions: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources: ["*"] });
    return grants;
}

/** Denies any request to these resources that does not use TLS. */
export function tlsOnlyStatement(service: "sqs" | "sns" | "s3", resources: string[]): PolicyStatement {
    return {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        // A Deny on the whole service is the strictest form; only Allow statements must be exact.
        Action: `${service}:*`,
        Resource: resources,
        Condition: { Bool: { "aws:SecureTransport": "false" } },
    };
}

/** The object writes a write-once prefix refuses to everyone but its writer. */
export const OBJECT_WRITE_ACTIONS = ["s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectTagging", "s3:PutObjectRetention", "s3:PutObjectLegalHold", "s3:RestoreObject"];
/** The object removals a write-once prefix refuses to everyone (only lifecycle rules remove its objects). */
export const OBJECT_DELETE_ACTIONS = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"];

/**
 * A bucket policy's statements making `prefix` write-once: no principal but `writerArn` (a role)
 * may write under it, and no one may delete under it, whatever their identity policies allow.
 */
export function writeOnceStatements(bucketArn: string, prefix: string, writerArn: string): PolicyStatement[] {
    const objects = `${bucketArn}/${prefix}*`;
    return [
        {
            Sid: "OnlyTheWriterWrites",
            Effect: "Deny",
            Principal: "*",
            Action: OBJECT_WRITE_ACTIONS,
            Resource: objects,
            Condition: { ArnNotEquals: { "aws:PrincipalArn": writerArn } },
        },
        { Sid: "NoOneDeletes", Effect: "Deny", Principal: "*", Action: OBJECT_DELETE_ACTIONS, Resource: objects },
    ];
}

/** An AWS service may perform `actions` on `resource`, only on behalf of `sourceArn` in `accountId`. */
export interface ServiceGrant {
    sid: string;
    service: string;
    actions: string[];
    resource: string | string[];
    sourceArn: string;
    accountId?: string;
}

export function serviceStatement(grant: ServiceGrant): PolicyStatement {
    const condition: Record<string, Record<string, string>> = {
        [grant.sourceArn.includes("*") ? "ArnLike" : "ArnEquals"]: { "aws:SourceArn": grant.sourceArn },
    };
    if (grant.accountId) condition.StringEquals = { "aws:SourceAccount": grant.accountId };
    return {
        Sid: grant.sid,
        Effect: "Allow",
        Principal: { Service: grant.service },
        Action: grant.actions.length === 1 ? grant.actions[0] : [...grant.actions].sort(),
        Resource: grant.resource,
        Condition: condition,
    };
}

/** Key administration, listed action by action rather than kms:*. */
export const KMS_ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
];

/** Cryptographic use that IAM policies in the account may delegate (e.g. a consumer's kms:Decrypt). */
export const KMS_USE_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"];

/** What a service needs to write to, or read from, a resource encrypted with the key. */
export const KMS_SERVICE_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"];

/**
 * Services that cannot present aws:SourceArn or aws:SourceAccount to KMS: the SNS documentation
 * says those conditions are not supported in a key policy for EventBridge publishing to an
 * encrypted topic. Their key statement is unconditioned; the topic policy still scopes publishing.
 */
export const KMS_UNSCOPED_SERVICES: ReadonlySet<string> = new Set(["events.amazonaws.com"]);

/** An AWS service that encrypts or decrypts with a key on behalf of one source. */
export interface KeyUser {
    service: string;
    sourceArn: string;
    /** Default: the key's own account. */
    accountId?: string;
    /** Default: AllowServiceUse<n>. */
    sid?: string;
}

/**
 * A key policy: the account administers the key and may delegate its use through IAM; each
 * service may use it only for its own source ARN (listed once, however often it was granted).
 * In a key policy, Resource "*" means this key.
 */
export function keyPolicy(accountId: string, users: KeyUser[], partition = "aws"): PolicyDocument {
    const root = `arn:${partition}:iam::${accountId}:root`;
    const identity = (u: KeyUser) => (KMS_UNSCOPED_SERVICES.has(u.service) ? u.service : `${u.service} ${u.sourceArn}`);
    const unique = users.filter((u, i) => users.findIndex((other) => identity(other) === identity(u)) === i);
    return policyDocument([
        { Sid: "AccountAdministersKey", Effect: "Allow", Principal: { AWS: root }, Action: KMS_ADMIN_ACTIONS, Resource: "*" },
        { Sid: "AccountDelegatesUseThroughIam", Effect: "Allow", Principal: { AWS: root }, Action: KMS_USE_ACTIONS, Resource: "*" },
        ...unique.map((u, i): PolicyStatement => {
            const sid = u.sid ?? `AllowServiceUse${i + 1}`;
            if (KMS_UNSCOPED_SERVICES.has(u.service)) {
                return { Sid: sid, Effect: "Allow", Principal: { Service: u.service }, Action: KMS_SERVICE_ACTIONS, Resource: "*" };
            }
            return serviceStatement({ sid, service: u.service, sourceArn: u.sourceArn, accountId: u.accountId ?? accountId, actions: KMS_SERVICE_ACTIONS, resource: "*" });
        }),
    ]);
}
