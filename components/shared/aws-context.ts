import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface AwsContext {
    accountId: string;
    region: string;
    /** "aws", "aws-cn" or "aws-us-gov": the first field of every ARN. */
    partition: string;
}

/** The account, region and partition the provider deploys into, for ARNs and aws:SourceAccount conditions. */
export function awsContext(parent: pulumi.Resource): pulumi.Output<AwsContext> {
    const opts = { parent };
    return pulumi
        .all([aws.getCallerIdentityOutput({}, opts), aws.getRegionOutput({}, opts), aws.getPartitionOutput({}, opts)])
        .apply(([identity, region, partition]) => ({ accountId: identity.accountId, region: region.region, partition: partition.partition }));
}
