import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AlarmOverrides, ComponentAlarms, tableWriteThrottlesAlarm } from "../monitoring/alarms";
import { DYNAMODB_DEFAULTS } from "../shared/defaults";
import { InvalidArgument } from "../shared/validation";
import { autoName, explicitName } from "../shared/naming";

export interface KeyedTableArgs {
    /** Name of the string partition key, e.g. "auditId". Required. */
    hashKey: string;
    /** Physical table name. Default: Pulumi's auto-name (`${name}-table-<suffix>`), so stacks never collide. */
    tableName?: pulumi.Input<string>;
    /** Attribute holding an epoch-seconds expiry, turning on DynamoDB TTL. Default none (items are kept). */
    ttlAttribute?: string;
    /** ARN of the topic its write-throttle alarm reports to (an AlertTopic's `arn`). Default: no alarm. */
    alertTopicArn?: pulumi.Input<string>;
    /** Changes to its alarm, role "write-throttles" (threshold, periodSeconds, evaluationPeriods, datapointsToAlarm). Default: its own. */
    alarms?: AlarmOverrides<"write-throttles">;
    /** Set Pulumi `protect` and DynamoDB deletion protection on the table. Default false. */
    protect?: boolean;
}

/**
 * What every table of this project has: on-demand capacity, point-in-time recovery, encryption at
 * rest with KMS (the AWS-managed `aws/dynamodb` key: functions need no key grant), and deletion
 * protection when the stack protects its stateful resources.
 */
export function tableBasics(protect = false) {
    return {
        billingMode: DYNAMODB_DEFAULTS.billingMode,
        pointInTimeRecovery: { enabled: DYNAMODB_DEFAULTS.pointInTimeRecovery },
        serverSideEncryption: { enabled: true },
        deletionProtectionEnabled: protect,
    };
}

// DynamoDB attribute names are 1 to 255 characters; a key name is what handlers write, so keep it plain.
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,255}$/;

/**
 * A DynamoDB table keyed by one string attribute, with this project's table basics (see
 * `tableBasics`) and an alarm on write throttling. For records written once per natural key,
 * such as one audit record per object version.
 */
export class KeyedTable extends pulumi.ComponentResource {
    readonly table: aws.dynamodb.Table;
    readonly name: pulumi.Output<string>;
    readonly arn: pulumi.Output<string>;
    readonly hashKey: string;
    readonly alarms: aws.cloudwatch.MetricAlarm[] = [];

    constructor(name: string, args: KeyedTableArgs, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:KeyedTable", name, {}, opts);
        for (const [field, value] of [["hashKey", args.hashKey], ["ttlAttribute", args.ttlAttribute]] as const) {
            if (value !== undefined && !ATTRIBUTE_NAME.test(value)) {
                throw new InvalidArgument(`KeyedTable "${name}": ${field} "${value}": expected 1 to 255 letters, digits, _ . or -`);
            }
        }
        this.hashKey = args.hashKey;
        const label = `KeyedTable "${name}"`;
        const tableName = typeof args.tableName === "string" ? explicitName(label, "aws:dynamodb/table:Table", args.tableName, "tableName") : args.tableName;
        this.table = new aws.dynamodb.Table(
            autoName(label, "aws:dynamodb/table:Table", `${name}-table`),
            {
                ...tableBasics(args.protect),
                name: tableName,
                hashKey: args.hashKey,
                attributes: [{ name: args.hashKey, type: "S" }],
                ttl: args.ttlAttribute ? { attributeName: args.ttlAttribute, enabled: true } : undefined,
            },
            { parent: this, protect: args.protect },
        );
        this.name = this.table.name;
        this.arn = this.table.arn;
        if (args.alertTopicArn) {
            const alarms = new ComponentAlarms(this, name, label, args.alertTopicArn, args.alarms);
            alarms.add(tableWriteThrottlesAlarm(this.table.name));
            this.alarms = alarms.done();
        } else if (args.alarms && Object.keys(args.alarms).length > 0) {
            throw new InvalidArgument(`${label}: alarms given without alertTopicArn, which the table's alarm needs`);
        }
        this.registerOutputs({ name: this.name, arn: this.arn });
    }
}
