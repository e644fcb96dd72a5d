import { createHash } from "crypto";
import { NAME_PREFIX_SUFFIX_LENGTH, NAME_RULES, generatedName, nameProblem } from "../components/shared/naming";

// What the mock provider returns for a resource: its inputs plus the ids, ARNs, URLs and names
// AWS would compute, in AWS's own formats, so ARN-based wiring and the flow diagram resolve.

export const MOCK_ACCOUNT = "123456789012";

export interface MockContext {
    region: string;
    accountId: string;
    /** The stack, part of the seed of generated names (two stacks never share one). */
    stack: string;
}

/** A stable, UUID-shaped id derived from a name (real ids are random; plans must be reproducible). */
export function stableUuid(seed: string): string {
    const h = createHash("sha1").update(seed).digest("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * The physical name the provider would use: the one given; or a `namePrefix` completed with 26
 * characters, as Terraform does; or Pulumi's autoname (logical name, "-", 7 hex characters),
 * seeded by stack, type and logical name so that runs repeat. A generated name AWS would refuse
 * fails here, as it would fail the provider.
 */
export function physicalName(type: string, name: string, inputs: Record<string, any>, ctx: MockContext): string {
    const given = inputs[NAME_RULES[type]?.field ?? "name"];
    if (typeof given === "string") return given;
    const seed = `${ctx.stack}::${type}::${name}`;
    if (typeof inputs.namePrefix === "string") {
        const digits = BigInt(`0x${createHash("sha256").update(seed).digest("hex")}`).toString().slice(0, NAME_PREFIX_SUFFIX_LENGTH);
        return `${inputs.namePrefix}${digits}`;
    }
    const generated = generatedName(type, name, seed);
    const problem = NAME_RULES[type] ? nameProblem(type, generated) : undefined;
    if (problem) throw new Error(`${type} "${name}": the generated name "${generated}" ${problem}`);
    return generated;
}

export function mockOutputs(type: string, name: string, inputs: Record<string, any>, ctx: MockContext): { id: string; state: Record<string, unknown> } {
    const { region: r, accountId: a } = ctx;
    const physical = physicalName(type, name, inputs, ctx);
    const uuid = stableUuid(`${type}::${name}`);
    const s = (id: string, extra: Record<string, unknown>) => ({ id, state: { ...inputs, ...extra } });
    switch (type) {
        case "aws:sqs/queue:Queue": {
            const url = `https://sqs.${r}.amazonaws.com/${a}/${physical}`;
            return s(url, { name: physical, arn: `arn:aws:sqs:${r}:${a}:${physical}`, url });
        }
        case "aws:sns/topic:Topic": {
            const arn = `arn:aws:sns:${r}:${a}:${physical}`;
            return s(arn, { name: physical, arn });
        }
        case "aws:sns/topicSubscription:TopicSubscription": {
            const arn = `${inputs.topic}:${uuid}`;
            return s(arn, { arn });
        }
        case "aws:kms/key:Key":
            return s(uuid, { keyId: uuid, arn: `arn:aws:kms:${r}:${a}:key/${uuid}` });
        case "aws:iam/role:Role":
            return s(physical, { name: physical, arn: `arn:aws:iam::${a}:role/${physical}`, uniqueId: `AROA${uuid.replace(/-/g, "").slice(0, 17).toUpperCase()}` });
        case "aws:iam/rolePolicy:RolePolicy":
            return s(`${inputs.role}:${physical}`, { name: physical });
        case "aws:lambda/function:Function": {
            const arn = `arn:aws:lambda:${r}:${a}:function:${physical}`;
            return s(physical, {
                name: physical,
                arn,
                qualifiedArn: `${arn}:$LATEST`,
                invokeArn: `arn:aws:apigateway:${r}:lambda:path/2015-03-31/functions/${arn}/invocations`,
                version: "$LATEST",
            });
        }
        case "aws:cloudwatch/logGroup:LogGroup":
            return s(physical, { name: physical, arn: `arn:aws:logs:${r}:${a}:log-group:${physical}` });
        case "aws:cloudwatch/metricAlarm:MetricAlarm":
            return s(physical, { name: physical, arn: `arn:aws:cloudwatch:${r}:${a}:alarm:${physical}` });
        case "aws:lambda/eventSourceMapping:EventSourceMapping":
            return s(uuid, { uuid, arn: `arn:aws:lambda:${r}:${a}:event-source-mapping:${uuid}` });
        case "aws:cloudwatch/eventRule:EventRule":
            return s(physical, { name: physical, arn: `arn:aws:events:${r}:${a}:rule/${physical}` });
        case "aws:s3/bucket:Bucket":
        case "aws:s3/bucketV2:BucketV2": {
            const bucket = inputs.bucket ?? physical;
            return s(bucket, { bucket, arn: `arn:aws:s3:::${bucket}`, bucketRegionalDomainName: `${bucket}.s3.${r}.amazonaws.com` });
        }
        case "aws:dynamodb/table:Table":
            return s(physical, { name: physical, arn: `arn:aws:dynamodb:${r}:${a}:table/${physical}` });
        case "aws:kinesis/stream:Stream":
            return s(physical, { name: physical, arn: `arn:aws:kinesis:${r}:${a}:stream/${physical}` });
        case "aws:sfn/stateMachine:StateMachine": {
            const arn = `arn:aws:states:${r}:${a}:stateMachine:${physical}`;
            return s(arn, { name: physical, arn });
        }
        case "aws:apigateway/restApi:RestApi": {
            const id = uuid.replace(/-/g, "").slice(0, 10);
            return s(id, { name: physical, rootResourceId: id.slice(0, 6), arn: `arn:aws:apigateway:${r}::/restapis/${id}`, executionArn: `arn:aws:execute-api:${r}:${a}:${id}` });
        }
        case "aws:glue/job:Job":
            return s(physical, { name: physical, arn: `arn:aws:glue:${r}:${a}:job/${physical}` });
        case "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream":
            return s(`arn:aws:firehose:${r}:${a}:deliverystream/${physical}`, { name: physical, arn: `arn:aws:firehose:${r}:${a}:deliverystream/${physical}` });
        case "aws:glue/catalogDatabase:CatalogDatabase":
            return s(`${a}:${physical}`, { name: physical, catalogId: a, arn: `arn:aws:glue:${r}:${a}:database/${physical}` });
        case "aws:glue/catalogTable:CatalogTable":
            return s(`${a}:${inputs.databaseName}:${physical}`, { name: physical, catalogId: a, arn: `arn:aws:glue:${r}:${a}:table/${inputs.databaseName}/${physical}` });
        case "aws:athena/workgroup:Workgroup":
            return s(physical, { name: physical, arn: `arn:aws:athena:${r}:${a}:workgroup/${physical}` });
        case "aws:redshiftserverless/namespace:Namespace":
            return s(String(inputs.namespaceName), { namespaceId: uuid, arn: `arn:aws:redshift-serverless:${r}:${a}:namespace/${uuid}` });
        case "aws:redshiftserverless/workgroup:Workgroup":
            return s(String(inputs.workgroupName), {
                workgroupId: uuid,
                arn: `arn:aws:redshift-serverless:${r}:${a}:workgroup/${uuid}`,
                endpoints: [{ address: `${inputs.workgroupName}.${a}.${r}.redshift-serverless.amazonaws.com`, port: 5439 }],
            });
        case "aws:scheduler/schedule:Schedule":
            return s(`default/${physical}`, { name: physical, groupName: "default", arn: `arn:aws:scheduler:${r}:${a}:schedule/default/${physical}` });
        case "aws:ec2/securityGroup:SecurityGroup":
            return s(`sg-${uuid.replace(/-/g, "").slice(0, 17)}`, { name: physical, arn: `arn:aws:ec2:${r}:${a}:security-group/sg-${uuid.replace(/-/g, "").slice(0, 17)}` });
        case "aws:ec2/vpcEndpoint:VpcEndpoint":
            return s(`vpce-${uuid.replace(/-/g, "").slice(0, 17)}`, { prefixListId: `pl-${uuid.replace(/-/g, "").slice(0, 8)}`, arn: `arn:aws:ec2:${r}:${a}:vpc-endpoint/vpce-${uuid.replace(/-/g, "").slice(0, 17)}` });
        case "aws:glue/securityConfiguration:SecurityConfiguration":
            return s(physical, { name: physical });
        case "awsx:ec2:Vpc":
            // A remote component: under mocks Pulumi builds none of its children, so its outputs are
            // made up here in the shape awsx returns (three AZs, one private subnet and route table each).
            return s(`${name}-vpc-id`, awsxVpcOutputs(name, r));
        default: {
            // Anything else: an id and an ARN in the service's namespace, enough for references.
            const service = type.split(":")[1]?.split("/")[0] ?? "unknown";
            return s(`${name}-id`, { name: physical, arn: `arn:aws:${service}:${r}:${a}:${physical}` });
        }
    }
}

/** What awsx's Vpc returns, made up for the offline plan: the VPC, and per AZ a private subnet and its route table. */
function awsxVpcOutputs(name: string, region: string): Record<string, unknown> {
    const id = (kind: string, i: number) => `${kind}-${createHash("sha1").update(`${name}:${kind}:${i}`).digest("hex").slice(0, 17)}`;
    const zones = ["a", "b", "c"];
    const vpcId = id("vpc", 0);
    const privateSubnetIds = zones.map((_, i) => id("subnet", i));
    return {
        vpcId,
        vpc: { id: vpcId },
        privateSubnetIds,
        publicSubnetIds: [],
        isolatedSubnetIds: [],
        subnets: zones.map((z, i) => ({ id: privateSubnetIds[i], availabilityZone: `${region}${z}` })),
        routeTables: zones.map((_, i) => ({ id: id("rtb", i) })),
        natGateways: [],
        eips: [],
        vpcEndpoints: [],
    };
}

/** Answers to the provider functions (data sources) the program calls. */
export function mockCall(token: string, ctx: MockContext): Record<string, unknown> {
    switch (token) {
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: ctx.accountId, arn: `arn:aws:iam::${ctx.accountId}:user/offline`, userId: "OFFLINE", id: ctx.accountId };
        case "aws:index/getRegion:getRegion":
            return { name: ctx.region, region: ctx.region, id: ctx.region, endpoint: `ec2.${ctx.region}.amazonaws.com`, description: ctx.region };
        case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
        default:
            throw new Error(`the offline engine has no mock for the provider function ${token}; add it to local/mock-state.ts`);
    }
}
