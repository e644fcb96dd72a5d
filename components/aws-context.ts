import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface AwsContext {
    accountId: string;
    region: string;
}

/** The account and region the provider deploys into, for ARNs and aws:SourceAccount conditions. */
export function awsContext(parent: pulumi.Resource): pulumi.Output<AwsContext> {
    const opts = { parent };
    return pulumi
        .all([aws.getCallerIdentityOutput({}, opts), aws.getRegionOutput({}, opts)])
        .apply(([identity, region]) => ({ accountId: identity.accountId, region: region.region }));
}
