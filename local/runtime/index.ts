import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { S3Client } from "@aws-sdk/client-s3";
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { REPO_ROOT } from "../engine";
import type { Plan, PlannedResource } from "../plan";
import { startApiGateway, type LocalApiGateway } from "./api-gateway";
import { Counters } from "./counters";
import { dynamoClient, kinesisClient, s3Client, snsClient, sqsClient, startDynalite, startFauxqs, startKinesisLocal, startS3rver, type Emulator } from "./emulators";
import { DeliveryError, EventBus, busRulesOf, type BusTarget } from "./event-bus";
import { fidelityOf, formatFidelity, type FidelityRow } from "./fidelity";
import { firehoseSettings, startFirehose, type LocalFirehose } from "./firehose";
import { authorizeAll, planAuthorizer } from "./iam/authorizer";
import { sdkRequests, type IamRequest } from "./iam/sdk-actions";
import { startKinesisMapping, type KinesisMapping } from "./kinesis-mapping";
import { LocalFunction, makeWorkDir, type SdkCall } from "./lambda/host";
import { Identifiers, createBucket, createQueue, createSinkQueue, createStream, createTable, createTopic, queuesInRedriveOrder, subscribe } from "./provision";
import { eventBridgeEventOf } from "./s3-notifications";
import { startSqsMapping, type SqsMapping } from "./sqs-mapping";
import type { RedshiftStandIn } from "./reporting/duckdb-stand-ins";
import { startStateMachines, type ExecutionRun } from "./reporting/state-machines";
import { startStepFunctionsApi } from "./step-functions-api";
import { timeScale, type AccessRequest, type Authorizer, type TimeScale } from "./types";

// The local runtime: deploys a stack's plan (what the offline engine recorded) onto stand-ins on
// loopback ports: s3rver, dynalite, kinesis-local and fauxqs, and in this process the EventBridge
// default bus, the Lambda functions (their deployed archives, in child processes), the event
// source mappings and API Gateway, with IAM enforced on every call and delivery. Everything is
// provisioned from the plan's own inputs. stop() ends every server and process it started.

/** The setting that scales AWS's minutes for tests (visibility timeout, batching window, backoff, record age). */
export const TIME_SCALE_ENV = "LOCAL_TIME_SCALE";

export interface RuntimeOptions {
    plan: Plan;
    /** Where the plan's archive paths start. Default: the repository root. */
    projectRoot?: string;
    /** The time scale (0 < f <= 1). Default: $LOCAL_TIME_SCALE, else 1 (AWS's timings). */
    timeScale?: number;
    /** API key values by the ApiKey's logical name; default: generated. */
    apiKeys?: Record<string, string>;
    /** Each line a function logs. Default: kept in `logs` only. */
    onLog?: (fn: string, line: string) => void;
    /**
     * Fault injection for specs: an error to fail an EventBridge delivery with, before it is attempted;
     * an error to fail a state machine's Task with (by its resource ARN), after its authorization and
     * before its stand-in works (a Glue task's error not named Glue.* fails the job run itself).
     */
    faults?: { eventTarget?: (target: BusTarget) => DeliveryError | undefined; task?: (resource: string, input: unknown) => Error | undefined };
    /**
     * The time scale of the state machines' Wait states and retry intervals. Default: the runtime's.
     * A poll loop on a stand-in that has already finished (the Redshift batch) changes nothing when
     * scaled, so `npm start` scales it alone.
     */
    stateMachineTimeScale?: number;
}

export interface LocalRuntime {
    plan: Plan;
    fidelity: FidelityRow[];
    /** Parts of the plan the runtime leaves out, one line each (e.g. e-mail subscriptions). */
    notRun: string[];
    time: TimeScale;
    region: string;
    account: string;
    endpoints: { s3: string; dynamodb: string; kinesis: string; sqs: string; sns: string; api: string; sfn: string };
    /** Clients for the stand-ins, acting as an administrator (no IAM), for scenarios and specs. */
    clients: { s3: S3Client; dynamodb: DynamoDBClient; kinesis: KinesisClient; sqs: SQSClient; sns: SNSClient };
    functions: Map<string, LocalFunction>;
    /** Every line each function logged, by logical name. */
    logs: Map<string, string[]>;
    counters: Counters;
    bus: EventBus;
    api: LocalApiGateway;
    ids: Identifiers;
    /** The planned Firehose delivery streams (local stand-ins), by logical name. */
    firehose: Map<string, LocalFirehose>;
    /** The planned state machines, also served at `endpoints.sfn` (the Step Functions JSON protocol). */
    stepFunctions: {
        endpoint: string;
        /** StartExecution through the endpoint; resolves with the execution ARN. */
        start(stateMachineArn: string, input: unknown, name?: string): Promise<string>;
        /** Resolves once the execution has ended: its status, the states entered, output or error and cause. */
        wait(executionArn: string): Promise<ExecutionRun>;
        /** The Redshift stand-in (DuckDB) of a planned workgroup, by name: to read its tables. */
        redshift(workgroupName: string): Promise<RedshiftStandIn>;
    };
    /** The faults in force (RuntimeOptions.faults, or an empty set): a scenario may set one and clear it. */
    faults: NonNullable<RuntimeOptions["faults"]>;
    /** The stand-in URL of a planned queue (by logical name, planned URL or ARN). */
    queueUrl(queue: string): string;
    /** Messages a queue holds now (visible, in flight, delayed). */
    queueDepth(queue: string): Promise<number>;
    /** Receives and deletes everything a queue holds (e.g. a DLQ), to read it. */
    drain(queue: string): Promise<{ body: string; attributes: Record<string, string> }[]>;
    /** Resolves once the bus, every mapping and every subscription sink is idle. */
    idle(timeoutMs?: number): Promise<void>;
    stop(): Promise<void>;
}

const ofType = (plan: Plan, type: string) => plan.resources.filter((r) => r.type === type);
const DENIED_SINK_PREFIX = "local-runtime-denied-";

/** Every runtime started and not yet stopped (starting ones too), for stopRuntimes(). */
const ACTIVE = new Set<() => Promise<void>>();

/** Stops every runtime of this process, those still starting included: what a signal handler calls. */
export async function stopRuntimes(): Promise<void> {
    await Promise.all([...ACTIVE].map((stop) => stop()));
}

/** The SDK's notice that its 2027 releases need Node 22: true of the SDK, noise on every local call. */
const SDK_NODE_WARNING = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };

export async function startRuntime(options: RuntimeOptions): Promise<LocalRuntime> {
    const plan = options.plan;
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= SDK_NODE_WARNING.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const fidelity = fidelityOf(plan);
    const fromEnv = process.env[TIME_SCALE_ENV];
    if (options.timeScale === undefined && fromEnv !== undefined && !(Number(fromEnv) > 0 && Number(fromEnv) <= 1)) throw new Error(`${TIME_SCALE_ENV}=${fromEnv}: expected a number in (0, 1], e.g. 0.01`);
    const time = timeScale(options.timeScale ?? (fromEnv !== undefined ? Number(fromEnv) : 1));
    const firstArn = plan.resources.map((r) => String(r.outputs.arn ?? "")).find((a) => /^arn:aws:[a-z0-9-]+:[a-z0-9-]+:\d{12}:/.test(a));
    const region = firstArn?.split(":")[3] ?? "us-east-1";
    const account = firstArn?.split(":")[4] ?? "123456789012";
    const counters = new Counters();
    const logs = new Map<string, string[]>();
    const stops: (() => Promise<void>)[] = [];
    // Once: a signal handler and the program's own finally may both ask, at the same time.
    let stopping: Promise<void> | undefined;
    const stopAll = () =>
        (stopping ??= (async () => {
            ACTIVE.delete(stopAll);
            // Last started, first stopped: mappings before functions before stand-ins.
            for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
        })());
    ACTIVE.add(stopAll);

    // Live: a scenario on a running runtime may set a fault for one step and clear it after.
    const faults: NonNullable<RuntimeOptions["faults"]> = options.faults ?? {};
    try {
        const authorizer = planAuthorizer(plan);
        const { queueUrlOf, keyOf, writes } = indexPlan(plan);
        const ids = new Identifiers();
        let bus: EventBus | undefined;
        const notifiedBuckets = new Set(ofType(plan, "aws:s3/bucketNotification:BucketNotification").map((n) => notificationBucket(n)));

        const [s3e, ddbe, kinesise, sqse] = await Promise.all([
            startS3rver({
                region,
                onEvent: (record) => {
                    if (bus && notifiedBuckets.has(record.s3.bucket.name)) bus.put(eventBridgeEventOf(record, account), account, region);
                },
            }),
            startDynalite(region),
            startKinesisLocal(region),
            startFauxqs(region),
        ]);
        for (const e of [s3e, ddbe, kinesise, sqse] as Emulator[]) stops.push(() => e.stop());
        const clients = { s3: s3Client(s3e), dynamodb: dynamoClient(ddbe), kinesis: kinesisClient(kinesise), sqs: sqsClient(sqse), sns: snsClient(sqse) };
        stops.push(async () => Object.values(clients).forEach((c) => c.destroy()));

        // ---- stand-ins, from the plan ----
        await Promise.all(ofType(plan, "aws:s3/bucket:Bucket").map((b) => createBucket(clients.s3, b)));
        await Promise.all(ofType(plan, "aws:dynamodb/table:Table").map((t) => createTable(clients.dynamodb, t)));
        for (const s of ofType(plan, "aws:kinesis/stream:Stream")) ids.add(String(s.outputs.arn), await createStream(clients.kinesis, s));
        for (const q of queuesInRedriveOrder(ofType(plan, "aws:sqs/queue:Queue"))) await createQueue(clients.sqs, q, ids, time);
        for (const t of ofType(plan, "aws:sns/topic:Topic")) await createTopic(clients.sns, t, ids);

        // A subscription whose queue refuses the topic (its policy, or its key's) fails every
        // delivery in AWS, a client error SNS does not retry: the message goes to the subscription's
        // DLQ, if it has one SNS may send to, or is lost. Here such a subscription delivers into a
        // sink queue of the runtime's, drained into that DLQ (or counted as lost) as it fills.
        const deniedSinks: DeniedSink[] = [];
        const notRun: string[] = [];
        for (const sub of ofType(plan, "aws:sns/topicSubscription:TopicSubscription")) {
            const protocol = String(sub.inputs.protocol);
            if (SUBSCRIPTIONS_NOT_RUN.has(protocol)) {
                notRun.push(`subscription ${sub.name} (${protocol} to ${String(sub.inputs.endpoint)}): nothing is sent outside this machine`);
                continue;
            }
            const topicArn = String(sub.inputs.topic);
            const queueArn = String(sub.inputs.endpoint);
            const sns = { service: "sns.amazonaws.com", sourceArn: topicArn, sourceAccount: account };
            const refused = await refusal(authorizer, sns, writes("sqs:SendMessage", queueArn));
            if (!refused) {
                await subscribe(clients.sns, sub, ids, ids.local(queueArn));
            } else {
                const sink = await createSinkQueue(clients.sqs, `${DENIED_SINK_PREFIX}${deniedSinks.length}`);
                await subscribe(clients.sns, sub, ids, sink.arn);
                const dlq = typeof sub.inputs.redrivePolicy === "string" ? (JSON.parse(sub.inputs.redrivePolicy) as { deadLetterTargetArn?: string }).deadLetterTargetArn : undefined;
                const dlqRefused = dlq ? await refusal(authorizer, sns, writes("sqs:SendMessage", dlq)) : "no DLQ";
                deniedSinks.push({ subscription: sub.name, url: sink.url, reason: `sns.amazonaws.com → ${queueArn}: ${refused}`, dlq: dlqRefused ? undefined : dlq, dlqRefused });
            }
        }

        // ---- functions ----
        const work = makeWorkDir();
        stops.push(async () => work.remove());
        const projectRoot = options.projectRoot ?? REPO_ROOT;
        const endpoints = { S3Client: s3e.endpoint, DynamoDBClient: ddbe.endpoint, KinesisClient: kinesise.endpoint, SQSClient: sqse.endpoint, SNSClient: sqse.endpoint };
        const functions = new Map<string, LocalFunction>();
        for (const r of ofType(plan, "aws:lambda/function:Function")) {
            // AWS refuses to create a function whose role Lambda may not assume.
            const trust = await authorizer.authorize({ principal: { service: "lambda.amazonaws.com", sourceArn: String(r.outputs.arn), sourceAccount: account }, action: "sts:AssumeRole", resource: String(r.inputs.role) });
            if (!trust.allowed) throw new Error(`local runtime: function ${r.name}: the role defined for the function cannot be assumed by Lambda (${trust.message})`);
            const lines: string[] = [];
            logs.set(r.name, lines);
            const iam = counters.of(`lambda:${r.name}`);
            let fn: LocalFunction;
            fn = new LocalFunction({
                resource: r,
                concurrency: mappingConcurrency(plan, r),
                projectRoot,
                workDir: work.dir,
                endpoints,
                ids: ids.pairs(),
                environment: { ...SDK_NODE_WARNING, AWS_REGION: region, AWS_DEFAULT_REGION: region, AWS_ACCESS_KEY_ID: s3e.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3e.credentials.secretAccessKey, AWS_SESSION_TOKEN: "local" },
                log: (line) => {
                    lines.push(line);
                    options.onLog?.(r.name, line);
                },
                authorize: async (call: SdkCall) => {
                    let requests;
                    try {
                        requests = sdkRequests(call.client, call.command, call.input, { region, account });
                    } catch (err) {
                        const line = `local runtime: ${call.client}.${call.command} cannot run here: ${(err as Error).message}`;
                        iam.add("unsupported", 1, (err as Error).message);
                        lines.push(line);
                        options.onLog?.(r.name, line);
                        throw err;
                    }
                    for (const request of requests) {
                        const decision = await authorizer.authorize({ principal: { role: fn.roleArn }, action: request.action, resource: request.resource });
                        if (!decision.allowed) {
                            iam.add("denied", 1, `${request.action} on ${request.resource}`);
                            return { allowed: false, message: decision.message };
                        }
                    }
                    iam.add("calls");
                    return { allowed: true, message: "allowed" };
                },
            });
            functions.set(r.name, fn);
            stops.push(() => fn.stop());
        }
        const functionOf = (ref: string) => {
            for (const [name, fn] of functions) if (fn.arn === ref || fn.physicalName === ref || name === ref) return fn;
            throw new Error(`local runtime: no planned function ${ref}`);
        };

        /** Sends to a planned queue as `principal`, authorized against its policies; throws DeliveryError. */
        const sendAs = async (request: Omit<AccessRequest, "action" | "resource">, queueArn: string, body: string, attributes?: Record<string, string>) => {
            await authorizeOrThrow(authorizer, request.principal, writes("sqs:SendMessage", queueArn));
            const MessageAttributes = attributes && Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { DataType: "String", StringValue: v }]));
            const sent = await clients.sqs.send(new SendMessageCommand({ QueueUrl: ids.local(queueUrlOf(queueArn)), MessageBody: body, MessageAttributes }));
            return { messageId: sent.MessageId!, md5OfMessageBody: sent.MD5OfMessageBody! };
        };

        // ---- the default bus ----
        const busCounter = counters.of("bus");
        bus = new EventBus({
            rules: busRulesOf(plan),
            time,
            counter: busCounter,
            deliver: async (target, payload) => {
                const fault = faults.eventTarget?.(target);
                if (fault) throw fault;
                const events = { service: "events.amazonaws.com", sourceArn: target.ruleArn, sourceAccount: account };
                if (target.roleArn) await authorizeOrThrow(authorizer, events, [{ action: "sts:AssumeRole", resource: target.roleArn }]);
                const principal: AccessRequest["principal"] = target.roleArn ? { role: target.roleArn } : events;
                const service = target.arn.split(":")[2];
                if (service === "sns") {
                    await authorizeOrThrow(authorizer, principal, writes("sns:Publish", target.arn));
                    await clients.sns.send(new PublishCommand({ TopicArn: ids.local(target.arn), Message: payload }));
                } else if (service === "sqs") {
                    await sendAs({ principal }, target.arn, payload);
                } else {
                    throw new DeliveryError("InvalidTarget", `target ${target.arn} is not a topic or queue, which the runtime delivers to`, false);
                }
            },
            sendToDeadLetterQueue: async (target, event, attributes) => {
                await sendAs({ principal: { service: "events.amazonaws.com", sourceArn: target.ruleArn, sourceAccount: account } }, target.deadLetterArn!, event, attributes);
            },
        });
        for (const rule of bus.rules) for (const t of rule.targets) if (!["sns", "sqs"].includes(t.arn.split(":")[2])) throw new Error(`local runtime: rule ${rule.name} targets ${t.arn}; the runtime delivers to topics and queues only`);
        stops.push(() => bus!.stop());

        // ---- event source mappings ----
        const mappings: (SqsMapping | KinesisMapping)[] = [];
        for (const m of ofType(plan, "aws:lambda/eventSourceMapping:EventSourceMapping")) {
            const settings = m.inputs as Record<string, any>;
            const fn = functionOf(String(settings.functionName));
            const source = String(settings.eventSourceArn);
            const counter = counters.of(`mapping:${m.name}`);
            const service = source.split(":")[2];
            const reads = service === "sqs" ? ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"] : ["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards"];
            // Reading an encrypted stream also takes kms:Decrypt on its key.
            const streamKey = keyOf(source);
            const refused = await refusal(authorizer, { role: fn.roleArn }, [...reads.map((action) => ({ action, resource: source })), ...(streamKey ? [{ action: "kms:Decrypt", resource: streamKey }] : [])]);
            // AWS refuses to create a mapping its function's role cannot read with: so does the runtime.
            if (refused) throw new Error(`local runtime: event source mapping ${m.name}: the function's execution role cannot read ${source} (${refused})`);
            if (service === "sqs") {
                const mapping = startSqsMapping({ settings, queueArn: source, queueUrl: ids.local(queueUrlOf(source)), sqs: clients.sqs, fn, time, counter, region });
                mappings.push(mapping);
                stops.push(() => mapping.stop());
            } else if (service === "kinesis") {
                const streamName = source.split("/").pop()!;
                const mapping = startKinesisMapping({
                    settings,
                    mappingArn: String(m.outputs.arn),
                    streamArn: source,
                    streamName,
                    kinesis: clients.kinesis,
                    fn,
                    invokeIdentityArn: fn.roleArn,
                    time,
                    counter,
                    region,
                    account,
                    // Lambda sends the on-failure record with the function's execution role.
                    sendToDestination: async (destinationArn, payload) => {
                        try {
                            if (destinationArn.split(":")[2] === "sns") {
                                await authorizeOrThrow(authorizer, { role: fn.roleArn }, [{ action: "sns:Publish", resource: destinationArn }]);
                                await clients.sns.send(new PublishCommand({ TopicArn: ids.local(destinationArn), Message: payload }));
                            } else await sendAs({ principal: { role: fn.roleArn } }, destinationArn, payload);
                        } catch (err) {
                            counter.add("denied", 1, (err as Error).message);
                            throw err;
                        }
                    },
                });
                mappings.push(mapping);
                stops.push(() => mapping.stop());
            } else throw new Error(`local runtime: mapping ${m.name} reads ${source}; the runtime maps SQS queues and Kinesis streams only`);
        }

        // ---- API Gateway ----
        // The integration acts through its credentials role, which API Gateway must be trusted to assume.
        const apiGatewayAuthorizer: Authorizer = {
            authorize: async (request) => {
                if ("role" in request.principal) {
                    const sourceArn = String(plan.resources.find((r) => r.type === "aws:apigateway/restApi:RestApi")?.outputs.executionArn ?? "");
                    const trust = await authorizer.authorize({ principal: { service: "apigateway.amazonaws.com", sourceArn: `${sourceArn}/*`, sourceAccount: account }, action: "sts:AssumeRole", resource: request.principal.role });
                    if (!trust.allowed) return trust;
                }
                return authorizer.authorize(request);
            },
        };
        const api = await startApiGateway({ plan, authorizer: apiGatewayAuthorizer, apiKeys: options.apiKeys, counter: counters.of("api"), sendMessage: (queueArn, body) => clients.sqs.send(new SendMessageCommand({ QueueUrl: ids.local(queueUrlOf(queueArn)), MessageBody: body })).then((s) => ({ messageId: s.MessageId!, md5OfMessageBody: s.MD5OfMessageBody! })) });
        stops.push(() => api.stop());

        // ---- Firehose (local stand-ins): each planned delivery stream reads its Kinesis source ----
        const firehose = new Map<string, LocalFirehose>();
        for (const r of ofType(plan, "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")) {
            const settings = firehoseSettings(r);
            const lines: string[] = [];
            logs.set(r.name, lines);
            const firehoseService = { service: "firehose.amazonaws.com", sourceArn: settings.arn, sourceAccount: account };
            for (const roleArn of new Set([settings.sourceRoleArn, settings.roleArn])) {
                const trust = await authorizer.authorize({ principal: firehoseService, action: "sts:AssumeRole", resource: roleArn });
                if (!trust.allowed) throw new Error(`local runtime: delivery stream ${r.name}: Firehose cannot assume ${roleArn} (${trust.message})`);
            }
            // AWS refuses to create a delivery stream whose role cannot read its source: so does the runtime.
            const streamKey = keyOf(settings.sourceStreamArn);
            const reads = ["kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"].map((action) => ({ action, resource: settings.sourceStreamArn }));
            const refused = await refusal(authorizer, { role: settings.sourceRoleArn }, [...reads, ...(streamKey ? [{ action: "kms:Decrypt", resource: streamKey }] : [])]);
            if (refused) throw new Error(`local runtime: delivery stream ${r.name}: its role cannot read ${settings.sourceStreamArn} (${refused})`);
            const stream = await startFirehose({
                settings,
                streamName: settings.sourceStreamArn.split("/").pop()!,
                kinesis: clients.kinesis,
                s3: clients.s3,
                authorizer,
                time,
                counter: counters.of(`firehose:${r.name}`),
                log: (line) => {
                    lines.push(line);
                    options.onLog?.(r.name, line);
                },
            });
            firehose.set(r.name, stream);
            stops.push(() => stream.stop());
        }

        // ---- Step Functions: the planned state machines over local stand-ins, behind the SFN protocol ----
        const sfnLines: string[] = [];
        logs.set("stepFunctions", sfnLines);
        const stateMachines = await startStateMachines({
            plan,
            authorizer,
            s3: clients.s3,
            sns: clients.sns,
            localTopic: (arn) => ids.local(arn),
            writes,
            time: timeScale(options.stateMachineTimeScale ?? time.factor),
            workDir: work.dir,
            account,
            region,
            putEvent: (event) => bus!.put(event, account, region),
            fault: (resource, input) => faults.task?.(resource, input),
            counter: counters.of("stepFunctions"),
            log: (line) => {
                sfnLines.push(line);
                options.onLog?.("stepFunctions", line);
            },
        });
        stops.push(() => stateMachines.stop());
        const sfnApi = await startStepFunctionsApi({ backend: stateMachines.backend });
        stops.push(() => sfnApi.stop());
        const sfn = new SFNClient({ endpoint: sfnApi.url, region, credentials: { accessKeyId: "local", secretAccessKey: "local" }, maxAttempts: 1 });
        stops.push(async () => sfn.destroy());

        const queueUrl = (queue: string) => {
            const r = ofType(plan, "aws:sqs/queue:Queue").find((q) => q.name === queue || q.outputs.url === queue || q.outputs.arn === queue || q.outputs.name === queue);
            if (!r) throw new Error(`local runtime: no planned queue ${queue}`);
            return ids.local(String(r.outputs.url));
        };
        const depth = async (url: string) => {
            const { Attributes: a = {} } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"] }));
            return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
        };
        const drainUrl = async (url: string) => {
            const out: { body: string; attributes: Record<string, string> }[] = [];
            for (;;) {
                const { Messages = [] } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ["All"], VisibilityTimeout: 30 }));
                if (Messages.length === 0) return out;
                for (const m of Messages) {
                    out.push({ body: m.Body ?? "", attributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? ""])) });
                    await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
                }
            }
        };
        let draining: Promise<void> | undefined;
        const countDenied = () =>
            (draining ??= (async () => {
                for (const sink of deniedSinks) {
                    const undelivered = await drainUrl(sink.url);
                    if (undelivered.length === 0) continue;
                    counters.add(`sns:${sink.subscription}`, "denied", undelivered.length, sink.reason);
                    if (!sink.dlq) {
                        counters.add(`sns:${sink.subscription}`, "lost", undelivered.length, `its DLQ: ${sink.dlqRefused}`);
                        continue;
                    }
                    for (const m of undelivered) await clients.sqs.send(new SendMessageCommand({ QueueUrl: ids.local(queueUrlOf(sink.dlq)), MessageBody: m.body }));
                    counters.add(`sns:${sink.subscription}`, "deadLettered", undelivered.length, `${sink.subscription}: to its DLQ ${sink.dlq}`);
                }
            })().finally(() => (draining = undefined)));
        // Sinks fill whenever the topic publishes; keep them moving for `npm run local` too.
        const sinkTimer = deniedSinks.length > 0 ? setInterval(() => void countDenied().catch(() => undefined), 250) : undefined;
        stops.push(async () => {
            if (sinkTimer) clearInterval(sinkTimer);
            await draining;
        });

        const runtime: LocalRuntime = {
            plan,
            fidelity,
            notRun,
            time,
            region,
            account,
            endpoints: { s3: s3e.endpoint, dynamodb: ddbe.endpoint, kinesis: kinesise.endpoint, sqs: sqse.endpoint, sns: sqse.endpoint, api: api.url, sfn: sfnApi.url },
            clients,
            functions,
            logs,
            counters,
            bus,
            api,
            ids,
            firehose,
            stepFunctions: {
                endpoint: sfnApi.url,
                start: async (stateMachineArn, input, name) => {
                    const res = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input ?? {}), ...(name ? { name } : {}) }));
                    return res.executionArn!;
                },
                wait: (executionArn) => stateMachines.wait(executionArn),
                redshift: (workgroupName) => stateMachines.redshift(workgroupName),
            },
            faults,
            queueUrl,
            queueDepth: (queue) => depth(queueUrl(queue)),
            drain: (queue) => drainUrl(queueUrl(queue)),
            idle: async (timeoutMs = 60_000) => {
                const deadline = Date.now() + timeoutMs;
                // Settled when two rounds in a row find nothing moving: a delivery can start a mapping's work and back.
                let quiet = 0;
                while (quiet < 2) {
                    if (Date.now() > deadline) throw new Error(`local runtime: still busy after ${timeoutMs} ms`);
                    const before = counters.snapshot();
                    await withDeadline(bus!.idle(), deadline, () => `local runtime: still busy after ${timeoutMs} ms: the bus is delivering to ${bus!.busy().join(", ")}`);
                    await Promise.all(mappings.map((m) => m.idle(Math.max(1, deadline - Date.now()))));
                    await Promise.all([...firehose.values()].map((f) => f.idle(Math.max(1, deadline - Date.now()))));
                    await countDenied();
                    const after = counters.snapshot();
                    quiet = sameCounts(before, after) ? quiet + 1 : 0;
                }
            },
            stop: stopAll,
        };
        return runtime;
    } catch (err) {
        await stopAll();
        throw err;
    }
}

/** Subscription protocols that would reach outside this machine: listed, not run. */
const SUBSCRIPTIONS_NOT_RUN = new Set(["email", "email-json", "sms", "http", "https"]);
/** What a service needs on a customer-managed key to write to an encrypted queue or topic. */
const KMS_WRITE = ["kms:GenerateDataKey", "kms:Decrypt"];

interface DeniedSink {
    subscription: string;
    url: string;
    reason: string;
    /** The subscription's DLQ, when SNS may send to it. */
    dlq?: string;
    dlqRefused?: string;
}

/**
 * Lookups a delivery makes, built once from the plan rather than searched per message: a queue's
 * planned URL by its ARN, and the IAM requests writing to a queue or topic takes (its
 * customer-managed key's too; AWS-managed keys need no grant).
 */
function indexPlan(plan: Plan): { queueUrlOf(arn: string): string; keyOf(arn: string): string | undefined; writes(action: string, arn: string): IamRequest[] } {
    const urls = new Map<string, string>();
    const keys = new Map<string, string>();
    for (const r of plan.resources) {
        if (r.type === "aws:sqs/queue:Queue") urls.set(String(r.outputs.arn), String(r.outputs.url));
        if (!/^aws:(sqs\/queue|sns\/topic|kinesis\/stream):/.test(r.type)) continue;
        const key = r.inputs.kmsMasterKeyId ?? r.inputs.kmsKeyId;
        if (typeof key === "string" && key !== "" && !key.startsWith("alias/aws/")) keys.set(String(r.outputs.arn), key);
    }
    return {
        queueUrlOf(arn) {
            const url = urls.get(arn);
            if (!url) throw new Error(`local runtime: no planned queue has ARN ${arn}`);
            return url;
        },
        keyOf: (arn) => keys.get(arn),
        writes(action, arn) {
            const key = keys.get(arn);
            return [{ action, resource: arn }, ...(key ? KMS_WRITE.map((kms) => ({ action: kms, resource: key })) : [])];
        },
    };
}

/** Why `principal` may not make `requests` (the first denial's message), or undefined when it may. */
async function refusal(authorizer: Authorizer, principal: AccessRequest["principal"], requests: IamRequest[]): Promise<string | undefined> {
    const decision = await authorizeAll(authorizer, principal, requests);
    return decision.allowed ? undefined : decision.message;
}

/** How many environments a function may run at once: its mappings' maximum concurrency, if higher than the local default. */
function mappingConcurrency(plan: Plan, fn: PlannedResource): number | undefined {
    const most = plan.resources
        .filter((m) => m.type === "aws:lambda/eventSourceMapping:EventSourceMapping" && (m.inputs.functionName === fn.outputs.arn || m.inputs.functionName === fn.outputs.name))
        .map((m) => Number((m.inputs.scalingConfig as { maximumConcurrency?: number } | undefined)?.maximumConcurrency ?? 0));
    return most.length > 0 ? Math.max(...most) || undefined : undefined;
}

/** `work`, or a rejection naming what is busy once the deadline passes. */
async function withDeadline<T>(work: Promise<T>, deadline: number, busy: () => string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(busy())), Math.max(0, deadline - Date.now()))));
    try {
        return await Promise.race([work, late]);
    } finally {
        clearTimeout(timer);
    }
}

function sameCounts(a: Map<string, number>, b: Map<string, number>): boolean {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (b.get(k) !== v) return false;
    return true;
}

function notificationBucket(n: PlannedResource): string {
    const i = n.inputs as Record<string, any>;
    for (const kind of ["lambdaFunctions", "queues", "topics"]) {
        if (Array.isArray(i[kind]) && i[kind].length > 0) throw new Error(`local runtime: bucket notification ${n.name} sends to ${kind}; the runtime runs EventBridge notifications only`);
    }
    if (i.eventbridge !== true) throw new Error(`local runtime: bucket notification ${n.name} does not turn eventbridge on, and sends nowhere else`);
    return String(i.bucket);
}

/** Authorizes a delivery the runtime makes for a service; throws the DeliveryError AWS's refusal would be. */
async function authorizeOrThrow(authorizer: Authorizer, principal: AccessRequest["principal"], requests: IamRequest[]): Promise<void> {
    for (const request of requests) {
        const decision = await authorizer.authorize({ principal, ...request });
        if (!decision.allowed) throw new DeliveryError(request.action.startsWith("sns:") ? "AuthorizationError" : "AccessDenied", decision.message, false);
    }
}

export { formatFidelity };
