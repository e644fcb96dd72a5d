import * as pulumi from "@pulumi/pulumi";
import { API_MESSAGE_SCHEMA } from "../../functions/shared/contract";
import { ApiGatewayAccount } from "../api/api-gateway-account";
import { ApiToQueue, ApiToQueueArgs } from "../api/api-to-queue";
import { FunctionSettings, functionEntry } from "../compute/lambda-function";
import { ConsumerSettings, QueueSettings, QueueWithDlq } from "../messaging/queue-with-dlq";

/** The parts of a MessagesApi, for `partAliases`. */
export type MessagesApiPart = "inbox" | "api" | "accountLogging";

export interface MessagesApiArgs {
    /** ARN of the topic every alarm sends ALARM and OK to (an AlertTopic's `arn`). Required. */
    alertTopicArn: pulumi.Input<string>;
    /** Settings of the queue the API sends to. Default: QueueWithDlq's. */
    queues?: QueueSettings;
    /** Event-source settings of the consumer. Default: QueueWithDlq's. */
    consumers?: ConsumerSettings;
    /** Runtime, architecture, memory, timeout and log retention of the consumer. Default: LambdaFunction's. */
    functions?: FunctionSettings;
    /** The API's stage and usage-plan throttle, per-key quota, access-log retention, path and stage name. Default: ApiToQueue's. */
    api?: Pick<ApiToQueueArgs, "throttle" | "quota" | "logRetentionDays" | "path" | "stageName">;
    /**
     * Set the region's API Gateway CloudWatch Logs role here (an ApiGatewayAccount), which the
     * stage's logging needs. It is one setting per account and region: exactly one stack of an
     * account should set it, and the others wait for that stack. Default false.
     */
    manageAccountLogging?: boolean;
    /** Set Pulumi `protect` on the stateful parts (queues, API, key, log groups, account setting). Default false. */
    protect?: boolean;
    /** Aliases of each part, for a program that built them itself before using this component (as 0.1.0 did). Default none. */
    partAliases?: Partial<Record<MessagesApiPart, pulumi.Input<string | pulumi.Alias>[]>>;
}

/**
 * Seed 003, flow 2: an API straight to a queue. An ApiToQueue whose `POST /messages` sends the
 * validated body to the `inbox` queue with no Lambda in between, validating against the message
 * schema of the contract (API_MESSAGE_SCHEMA); the queue's consumer (functions/api-consumer)
 * checks every message against the same schema and moves the ones it refuses to its DLQ, with the
 * reason. Optionally sets the account's API Gateway logging role.
 */
export class MessagesApi extends pulumi.ComponentResource {
    readonly inbox: QueueWithDlq;
    readonly api: ApiToQueue;
    readonly accountLogging?: ApiGatewayAccount;
    /** The stage URL; clients POST to `${invokeUrl}/<path>` with header x-api-key. */
    readonly invokeUrl: pulumi.Output<string>;
    readonly apiKeyId: pulumi.Output<string>;

    constructor(name: string, args: MessagesApiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:MessagesApi", name, {}, opts);
        const part = (p: MessagesApiPart): pulumi.CustomResourceOptions => ({ parent: this, aliases: args.partAliases?.[p] });
        const protect = args.protect;

        if (args.manageAccountLogging) {
            this.accountLogging = new ApiGatewayAccount(`${name}-gateway-account`, { protect }, part("accountLogging"));
        }
        this.inbox = new QueueWithDlq(
            `${name}-inbox`,
            {
                alertTopicArn: args.alertTopicArn,
                ...args.queues,
                protect,
                consumer: {
                    ...args.consumers,
                    function: { ...args.functions, protect, entry: functionEntry("api-consumer") },
                    sendsRejectsToDlq: true,
                },
            },
            part("inbox"),
        );
        this.api = new ApiToQueue(
            name,
            {
                ...args.api,
                queue: this.inbox,
                alertTopicArn: args.alertTopicArn,
                requestSchema: API_MESSAGE_SCHEMA,
                accountLogging: this.accountLogging,
                protect,
            },
            part("api"),
        );
        this.invokeUrl = this.api.invokeUrl;
        this.apiKeyId = this.api.apiKeyId;
        this.registerOutputs({ invokeUrl: this.invokeUrl, apiKeyId: this.apiKeyId, inboxUrl: this.inbox.url });
    }
}
