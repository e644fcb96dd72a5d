import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AlarmOverrides, AlarmSpec, ComponentAlarms, countAlarm } from "../monitoring/alarms";
import { awsContext } from "../shared/aws-context";
import { ALARM_DEFAULTS, EVENT_TARGET_DEFAULTS, EVENT_TARGET_LIMITS } from "../shared/defaults";
import { InputTransformer, objectCreatedPattern } from "./event-patterns";
import { policyDocument } from "../security/policy-documents";
import { QueueWithDlq } from "./queue-with-dlq";
import { EventBucket, PublishableTopic, SendableQueue } from "../shared/references";
import { checkInteger } from "../shared/validation";
import { autoName } from "../shared/naming";

/** Where matching events go: a topic, a queue, or a state machine (started with `roleArn`, or a role made here). */
export type ObjectCreatedTarget =
    | { topic: PublishableTopic }
    | { queue: SendableQueue }
    | { stateMachineArn: pulumi.Input<string>; roleArn?: pulumi.Input<string> };

export interface ObjectCreatedRuleArgs {
    /** The bucket whose "Object Created" events the rule matches: a SecureBucket, or any bucket with EventBridge notifications on. Required. */
    bucket: EventBucket;
    /** ARN of the topic every alarm sends ALARM and OK to. Required. */
    alertTopicArn: pulumi.Input<string>;
    /** Only keys beginning with this. Default: any key. */
    prefix?: string;
    /** Only keys ending with one of these, in any letter case. Default: any key. */
    suffixes?: string[];
    /** Leave out keys beginning with this (one prefix), e.g. where a consumer writes back. Default: none. */
    excludePrefixes?: string[];
    /** Only keys matching one of these wildcards (case-sensitive; `*` is any characters), e.g. "payments/*.ndjson". Default: any key. */
    wildcards?: string[];
    /** Where matching events go: a topic, a queue, or a state machine (ObjectCreatedTarget). Required. */
    target: ObjectCreatedTarget;
    /**
     * Reshape what the target receives (e.g. OBJECT_ENVELOPE, for SNS filtering on the key).
     * Default: the Object Created event as EventBridge emits it.
     */
    inputTransformer?: InputTransformer;
    /** Retry policy of the target. Defaults: 3600 s maximum event age, 24 attempts. */
    retryPolicy?: { maximumEventAgeInSeconds?: number; maximumRetryAttempts?: number };
    /** Changes to its alarms by role, "failed-invocations" and "dlq-send-failures". Default: their own. */
    alarms?: AlarmOverrides<"failed-invocations" | "dlq-send-failures">;
    /** Days the undelivered-events queue keeps what EventBridge could not deliver (1 to 13; its own DLQ keeps 14). Default 13. */
    undeliveredRetentionDays?: number;
    /** Set Pulumi `protect` on the undelivered-events queues. Default false. */
    protect?: boolean;
}

/**
 * An EventBridge rule matching S3 "Object Created" events of one SecureBucket (optionally filtered
 * on the key), with one target whose permission admits only this rule's ARN, a retry policy, and a
 * dead-letter queue (`${name}-undelivered`) keeping the events EventBridge could not deliver.
 * Alarms: any message in that queue, failed invocations, and events that could not even be dead-lettered.
 */
export class ObjectCreatedRule extends pulumi.ComponentResource {
    readonly rule: aws.cloudwatch.EventRule;
    readonly target: aws.cloudwatch.EventTarget;
    readonly undelivered: QueueWithDlq;
    readonly role?: aws.iam.Role;
    readonly alarms: aws.cloudwatch.MetricAlarm[];
    readonly arn: pulumi.Output<string>;
    readonly eventPattern: pulumi.Output<string>;

    constructor(name: string, args: ObjectCreatedRuleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:ObjectCreatedRule", name, {}, opts);
        const label = `ObjectCreatedRule "${name}"`;
        checkInteger(`${label}: retryPolicy.maximumEventAgeInSeconds`, args.retryPolicy?.maximumEventAgeInSeconds, EVENT_TARGET_LIMITS.maximumEventAgeInSeconds);
        checkInteger(`${label}: retryPolicy.maximumRetryAttempts`, args.retryPolicy?.maximumRetryAttempts, EVENT_TARGET_LIMITS.maximumRetryAttempts);
        // Refuse impossible filters now, with plain strings, before any resource is registered.
        const filter = { prefix: args.prefix, suffixes: args.suffixes, excludePrefixes: args.excludePrefixes, wildcards: args.wildcards };
        objectCreatedPattern({ bucketName: "checked-at-construction", ...filter }, label);

        this.eventPattern = pulumi.output(args.bucket.bucketName).apply((bucketName) =>
            JSON.stringify(objectCreatedPattern({ bucketName, ...filter }, label)),
        );
        this.rule = new aws.cloudwatch.EventRule(
            autoName(label, "aws:cloudwatch/eventRule:EventRule", `${name}-rule`),
            { description: `S3 Object Created events of ${name}'s bucket`, eventPattern: this.eventPattern },
            { parent: this },
        );
        this.arn = this.rule.arn;

        // Events EventBridge could not deliver after the retries; read by people, so kept 13 days
        // (its own DLQ, 14) and alarmed on from the first message.
        this.undelivered = new QueueWithDlq(
            `${name}-undelivered`,
            {
                alertTopicArn: args.alertTopicArn,
                depthAlarmThreshold: ALARM_DEFAULTS.dlqDepthThreshold,
                retentionDays: args.undeliveredRetentionDays ?? EVENT_TARGET_DEFAULTS.undeliveredRetentionDays,
                protect: args.protect,
            },
            { parent: this },
        );
        this.undelivered.allowSendFrom("events.amazonaws.com", this.rule.arn);

        const t = args.target;
        let targetArn: pulumi.Input<string>;
        let roleArn: pulumi.Input<string> | undefined;
        if ("topic" in t) {
            t.topic.allowPublishFrom("events.amazonaws.com", this.rule.arn);
            targetArn = t.topic.arn;
        } else if ("queue" in t) {
            t.queue.allowSendFrom("events.amazonaws.com", this.rule.arn);
            targetArn = t.queue.arn;
        } else {
            targetArn = t.stateMachineArn;
            roleArn = t.roleArn ?? (this.role = this.startExecutionRole(name, t.stateMachineArn)).arn;
        }

        this.target = new aws.cloudwatch.EventTarget(
            `${name}-target`,
            {
                rule: this.rule.name,
                arn: targetArn,
                roleArn,
                retryPolicy: {
                    maximumEventAgeInSeconds: args.retryPolicy?.maximumEventAgeInSeconds ?? EVENT_TARGET_DEFAULTS.maximumEventAgeInSeconds,
                    maximumRetryAttempts: args.retryPolicy?.maximumRetryAttempts ?? EVENT_TARGET_DEFAULTS.maximumRetryAttempts,
                },
                deadLetterConfig: { arn: this.undelivered.arn },
                inputTransformer: args.inputTransformer,
            },
            { parent: this },
        );

        const alarms = new ComponentAlarms(this, name, label, args.alertTopicArn, args.alarms);
        alarms.add(ruleAlarm(this.rule.name, "FailedInvocations"));
        alarms.add(ruleAlarm(this.rule.name, "InvocationsFailedToBeSentToDlq"));
        this.alarms = alarms.done();
        this.registerOutputs({ arn: this.arn, eventPattern: this.eventPattern });
    }

    /** A role EventBridge may assume for this rule only, allowed to start executions of this state machine only. */
    private startExecutionRole(name: string, stateMachineArn: pulumi.Input<string>): aws.iam.Role {
        const accountId = awsContext(this).accountId;
        const label = `ObjectCreatedRule "${name}"`;
        const role = new aws.iam.Role(
            autoName(label, "aws:iam/role:Role", `${name}-role`),
            {
                assumeRolePolicy: pulumi.all([this.rule.arn, accountId]).apply(([ruleArn, account]) =>
                    JSON.stringify(
                        policyDocument([
                            {
                                Effect: "Allow",
                                Principal: { Service: "events.amazonaws.com" },
                                Action: "sts:AssumeRole",
                                Condition: { ArnEquals: { "aws:SourceArn": ruleArn }, StringEquals: { "aws:SourceAccount": account } },
                            },
                        ]),
                    ),
                ),
            },
            { parent: this },
        );
        new aws.iam.RolePolicy(
            autoName(label, "aws:iam/rolePolicy:RolePolicy", `${name}-role-policy`),
            {
                role: role.id,
                policy: pulumi
                    .output(stateMachineArn)
                    .apply((arn) => JSON.stringify(policyDocument([{ Effect: "Allow", Action: ["states:StartExecution"], Resource: [arn] }]))),
            },
            { parent: this },
        );
        return role;
    }
}

/** The rule's target failed for good (FailedInvocations) or its dead letter could not be written. */
export function ruleAlarm(ruleName: pulumi.Input<string>, metricName: "FailedInvocations" | "InvocationsFailedToBeSentToDlq"): AlarmSpec {
    const failed = metricName === "FailedInvocations";
    return countAlarm({
        role: failed ? "failed-invocations" : "dlq-send-failures",
        description: failed
            ? "EventBridge failed to deliver events to the rule's target; after the retries they go to the undelivered queue. Check the target's permissions and health."
            : "EventBridge could not write undelivered events to the rule's dead-letter queue: those events are lost. Check the queue's policy and encryption.",
        namespace: "AWS/Events",
        metricName,
        dimensions: { RuleName: ruleName },
        threshold: 1,
    });
}
