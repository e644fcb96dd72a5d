import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { GrantInput } from "../compute/lambda-function";
import { awsContext } from "../shared/aws-context";
import { autoName } from "../shared/naming";
import { Grant, PolicyStatement, checkGrant, grantStatements, policyDocument } from "./policy-documents";

export interface ServiceRoleArgs {
    /** The services that may assume the role, e.g. ["firehose.amazonaws.com"]. Required. */
    services: string[];
    /**
     * Only on behalf of these source ARNs (aws:SourceArn), where the service presents one. Default:
     * none, and the trust is still limited to this account (aws:SourceAccount).
     */
    sourceArns?: pulumi.Input<string>[];
    /**
     * Exact actions on exact resources. Default: none yet; then call `allow()` once, when the ARNs
     * the grants name exist (a bucket whose policy names this role, say).
     */
    grants?: GrantInput[];
    /** What the role is for, shown in IAM. Default none. */
    description?: string;
}

/** The trust policy of a role a service assumes, only for this account and, when given, these sources. */
export function serviceTrustPolicy(services: string[], accountId: string, sourceArns: string[] = []): ReturnType<typeof policyDocument> {
    const condition: PolicyStatement["Condition"] = { StringEquals: { "aws:SourceAccount": accountId } };
    if (sourceArns.length > 0) condition.ArnEquals = { "aws:SourceArn": sourceArns.length === 1 ? sourceArns[0] : [...sourceArns].sort() };
    return policyDocument([{ Effect: "Allow", Principal: { Service: services.length === 1 ? services[0] : [...services].sort() }, Action: "sts:AssumeRole", Condition: condition }]);
}

/**
 * An IAM role for an AWS service (Firehose, Glue, Step Functions, Scheduler, Redshift): trusted by
 * that service for this account only (and for the given source ARNs), with one inline policy built
 * from exact grants, refused in one line when a grant holds a wildcard.
 */
export class ServiceRole extends pulumi.ComponentResource {
    readonly role: aws.iam.Role;
    readonly arn: pulumi.Output<string>;
    readonly name: pulumi.Output<string>;
    #policy?: aws.iam.RolePolicy;
    readonly #label: string;

    constructor(name: string, args: ServiceRoleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:ServiceRole", name, {}, opts);
        const label = `ServiceRole "${name}"`;
        this.#label = label;
        const ctx = awsContext(this);
        this.role = new aws.iam.Role(
            autoName(label, "aws:iam/role:Role", `${name}-role`),
            {
                description: args.description,
                assumeRolePolicy: pulumi
                    .all([ctx, pulumi.output(args.sourceArns ?? [])])
                    .apply(([{ accountId }, sources]) => JSON.stringify(serviceTrustPolicy(args.services, accountId, sources))),
            },
            { parent: this },
        );
        this.arn = this.role.arn;
        this.name = this.role.name;
        this.#name = name;
        if (args.grants) this.allow(args.grants);
        this.registerOutputs({ arn: this.arn });
    }

    readonly #name: string;

    /** The role's one inline policy: what it may do. Throws when called twice, or on a wildcard grant. */
    allow(grants: GrantInput[] | pulumi.Output<Grant[]>): aws.iam.RolePolicy {
        if (this.#policy) throw new Error(`${this.#label}: allow() was already called; pass every grant at once`);
        if (Array.isArray(grants)) grants.forEach((g, i) => checkGrant(g, `${this.#label}: grant ${i + 1}`));
        this.#policy = new aws.iam.RolePolicy(
            autoName(this.#label, "aws:iam/rolePolicy:RolePolicy", `${this.#name}-policy`),
            {
                role: this.role.id,
                policy: pulumi.output(grants as pulumi.Input<Grant[]>).apply((resolved) => JSON.stringify(policyDocument(grantStatements(resolved, `${this.#label}: grant`)))),
            },
            { parent: this },
        );
        return this.#policy;
    }

    /** The inline policy; throws until allow() was called. */
    get policy(): aws.iam.RolePolicy {
        if (!this.#policy) throw new Error(`${this.#label}: no grants yet; call allow() first`);
        return this.#policy;
    }
}
