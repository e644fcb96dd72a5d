import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { awsContext } from "../shared/aws-context";
import { Grant, grantStatements, policyDocument } from "../security/policy-documents";
import { apiGatewayTrustPolicy } from "./api-to-queue";
import { autoName } from "../shared/naming";

export interface ApiGatewayAccountArgs {
    /** Set Pulumi `protect` on the account setting, so a stack removal does not unset logging for every API. Default false. */
    protect?: boolean;
}

/**
 * What API Gateway needs to write execution and access logs for REST APIs: the actions of AWS's
 * AmazonAPIGatewayPushToCloudWatchLogs managed policy, on this account's log groups in this region
 * instead of "*". Not narrower: the role is the region's, shared by every REST API in the account,
 * whose log groups this stack does not know (execution logs go to `API-Gateway-Execution-Logs_<api id>/<stage>`,
 * access logs to any group an API names).
 */
export function apiGatewayLoggingGrants(partition: string, region: string, accountId: string): Grant[] {
    const groups = `arn:${partition}:logs:${region}:${accountId}:log-group:*`;
    return [
        {
            actions: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:FilterLogEvents"],
            resources: [groups],
        },
        { actions: ["logs:GetLogEvents", "logs:PutLogEvents"], resources: [`${groups}:log-stream:*`] },
    ];
}

/**
 * The account-level API Gateway setting (one per account and region): the IAM role API Gateway
 * assumes to write CloudWatch Logs. Without it, a stage with access logging or execution logging
 * (such as ApiToQueue's) fails to deploy with "CloudWatch Logs role ARN must be set in account
 * settings to enable logging". Pass this component in `dependsOn` of such APIs.
 *
 * One stack per account and region should own it: two stacks setting it fight over one value.
 */
export class ApiGatewayAccount extends pulumi.ComponentResource {
    readonly role: aws.iam.Role;
    readonly account: aws.apigateway.Account;

    constructor(name: string, args: ApiGatewayAccountArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:ApiGatewayAccount", name, {}, opts);
        const ctx = awsContext(this);
        const label = `ApiGatewayAccount "${name}"`;
        this.role = new aws.iam.Role(
            autoName(label, "aws:iam/role:Role", `${name}-role`),
            {
                description: "API Gateway writes REST API execution and access logs to CloudWatch Logs (account setting)",
                assumeRolePolicy: JSON.stringify(apiGatewayTrustPolicy()),
            },
            { parent: this },
        );
        const policy = new aws.iam.RolePolicy(
            autoName(label, "aws:iam/rolePolicy:RolePolicy", `${name}-role-policy`),
            {
                role: this.role.id,
                policy: ctx.apply(({ partition, region, accountId }) =>
                    JSON.stringify(policyDocument(grantStatements(apiGatewayLoggingGrants(partition, region, accountId), `ApiGatewayAccount "${name}" role`))),
                ),
            },
            { parent: this },
        );
        // After the policy: API Gateway checks the role when the setting is made.
        this.account = new aws.apigateway.Account(
            `${name}-account`,
            { cloudwatchRoleArn: this.role.arn },
            { parent: this, dependsOn: [policy], protect: args.protect },
        );
        this.registerOutputs({ roleArn: this.role.arn });
    }
}
