import type { Plan } from "../plan";

// What the local runtime does with each resource type a plan may hold: emulated (the behaviour
// the flows depend on is there), simplified (there, with a stated gap), or not run (listed, never
// silently skipped). A type missing from this table stops the runtime before anything starts.

export type Fidelity = "emulated" | "simplified" | "not run";

export interface TypeFidelity {
    fidelity: Fidelity;
    /** What stands in for it. */
    by: string;
    /** What differs from AWS, for simplified and not-run types. */
    note?: string;
}

const IAM = "runtime IAM (iam-simulate)";
const API = "runtime API Gateway";

export const FIDELITY: Record<string, TypeFidelity> = {
    "aws:s3/bucket:Bucket": { fidelity: "emulated", by: "s3rver", note: "GetObject's If-Match checked by the runtime" },
    "aws:s3/bucketNotification:BucketNotification": { fidelity: "emulated", by: "runtime: S3 → EventBridge events" },
    "aws:s3/bucketPolicy:BucketPolicy": { fidelity: "emulated", by: IAM },
    "aws:s3/bucketVersioning:BucketVersioning": { fidelity: "simplified", by: "s3rver", note: "s3rver keeps one version: events carry no version-id" },
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": { fidelity: "not run", by: "-", note: "expiry counts in days" },
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": { fidelity: "not run", by: "-", note: "stored unencrypted on disk" },
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": { fidelity: "not run", by: "-", note: "loopback only" },
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": { fidelity: "not run", by: "-", note: "one account" },
    "aws:dynamodb/table:Table": { fidelity: "simplified", by: "dynalite", note: "keys and indexes as planned; TTL never expires items; ReturnValuesOnConditionCheckFailure filled in by the runtime" },
    "aws:kinesis/stream:Stream": { fidelity: "emulated", by: "kinesis-local" },
    "aws:sqs/queue:Queue": { fidelity: "emulated", by: "fauxqs", note: "visibility timeout scaled with the time scale" },
    "aws:sqs/queuePolicy:QueuePolicy": { fidelity: "emulated", by: IAM },
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": { fidelity: "not run", by: "-", note: "any queue may name a DLQ" },
    "aws:sns/topic:Topic": { fidelity: "emulated", by: "fauxqs" },
    "aws:sns/topicPolicy:TopicPolicy": { fidelity: "emulated", by: IAM },
    "aws:sns/topicSubscription:TopicSubscription": { fidelity: "emulated", by: "fauxqs (filter policy, raw delivery, DLQ); delivery checked by runtime IAM" },
    "aws:cloudwatch/eventRule:EventRule": { fidelity: "emulated", by: "runtime EventBridge default bus" },
    "aws:cloudwatch/eventTarget:EventTarget": { fidelity: "emulated", by: "runtime EventBridge (input transformer, retry policy, DLQ)" },
    "aws:lambda/function:Function": { fidelity: "emulated", by: "runtime: deployed archive in child processes", note: "this machine's Node runs the node20 bundle" },
    "aws:lambda/eventSourceMapping:EventSourceMapping": { fidelity: "emulated", by: "runtime mappings (SQS, Kinesis)" },
    "aws:iam/role:Role": { fidelity: "emulated", by: IAM },
    "aws:iam/rolePolicy:RolePolicy": { fidelity: "emulated", by: IAM },
    "aws:iam/policy:Policy": { fidelity: "emulated", by: IAM },
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": { fidelity: "emulated", by: IAM },
    "aws:apigateway/restApi:RestApi": { fidelity: "emulated", by: API },
    "aws:apigateway/resource:Resource": { fidelity: "emulated", by: API },
    "aws:apigateway/method:Method": { fidelity: "emulated", by: API },
    "aws:apigateway/model:Model": { fidelity: "emulated", by: API },
    "aws:apigateway/requestValidator:RequestValidator": { fidelity: "emulated", by: API },
    "aws:apigateway/integration:Integration": { fidelity: "emulated", by: API },
    "aws:apigateway/integrationResponse:IntegrationResponse": { fidelity: "emulated", by: API },
    "aws:apigateway/methodResponse:MethodResponse": { fidelity: "emulated", by: API },
    "aws:apigateway/response:Response": { fidelity: "emulated", by: API },
    "aws:apigateway/stage:Stage": { fidelity: "simplified", by: API, note: "no access log, no X-Ray" },
    "aws:apigateway/deployment:Deployment": { fidelity: "emulated", by: API },
    "aws:apigateway/methodSettings:MethodSettings": { fidelity: "simplified", by: API, note: "throttling only" },
    "aws:apigateway/usagePlan:UsagePlan": { fidelity: "emulated", by: API },
    "aws:apigateway/usagePlanKey:UsagePlanKey": { fidelity: "emulated", by: API },
    "aws:apigateway/apiKey:ApiKey": { fidelity: "emulated", by: API, note: "value generated at start" },
    "aws:apigateway/account:Account": { fidelity: "not run", by: "-", note: "account setting" },
    "aws:kms/key:Key": { fidelity: "simplified", by: IAM, note: "no encryption at rest; its policy decides deliveries to encrypted topics, queues and streams" },
    "aws:kms/keyPolicy:KeyPolicy": { fidelity: "emulated", by: IAM },
    "aws:kms/alias:Alias": { fidelity: "not run", by: "-" },
    "aws:cloudwatch/metricAlarm:MetricAlarm": { fidelity: "not run", by: "-", note: "no metrics" },
    "aws:cloudwatch/logGroup:LogGroup": { fidelity: "simplified", by: "runtime log collector", note: "no retention" },
    "aws:cloudwatch/logStream:LogStream": { fidelity: "not run", by: "-", note: "stand-ins log to the runtime's collector" },
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": {
        fidelity: "simplified",
        by: "local stand-in (runtime Firehose)",
        note: "Kinesis source → JQ subset {k: .f[a:b]}, delimiter, GZIP, one object per partition per flush; unpartitionable records under partitioning-failed; interval scaled; no multi-stage buffering",
    },
    "aws:sfn/stateMachine:StateMachine": {
        fidelity: "simplified",
        by: "aws-local-stepfunctions + local stand-ins for its tasks",
        note: "STANDARD only; waits and retry intervals scaled, without backoff or jitter; no logging or X-Ray",
    },
    "aws:glue/job:Job": { fidelity: "simplified", by: "local stand-in: DuckDB over glue/sql/transform", note: "the plan's SQL objects checked equal to the files run; no bookmarks, workers or Spark" },
    "aws:glue/catalogDatabase:CatalogDatabase": { fidelity: "simplified", by: "local stand-in: DuckDB views", note: "GetDatabase authorized; no catalog API" },
    "aws:glue/catalogTable:CatalogTable": { fidelity: "simplified", by: "local stand-in: DuckDB views", note: "the stand-ins read the same locations (partition projection: the day's dt only)" },
    "aws:glue/securityConfiguration:SecurityConfiguration": { fidelity: "not run", by: "-", note: "encryption at rest" },
    "aws:athena/workgroup:Workgroup": { fidelity: "simplified", by: "local stand-in: DuckDB over glue/sql/validate and fallback", note: "results CSV under its output location; no scan cutoff, no metrics" },
    "aws:redshiftserverless/workgroup:Workgroup": { fidelity: "simplified", by: "local stand-in: DuckDB, one database per workgroup", note: "a batch ends before batchExecuteStatement answers; COPY/UNLOAD as their IAM roles; no network" },
    "aws:redshiftserverless/namespace:Namespace": { fidelity: "simplified", by: "local stand-in: DuckDB", note: "its dbName and iamRoles checked; no admin secret, no log exports" },
    "aws:s3/bucketObjectv2:BucketObjectv2": { fidelity: "not run", by: "-", note: "not uploaded: the stand-ins run the repository's glue/ files (checked equal to the planned content)" },
    "aws:ec2/vpcEndpoint:VpcEndpoint": { fidelity: "not run", by: "-", note: "no network: loopback only" },
    "aws:ec2/securityGroup:SecurityGroup": { fidelity: "not run", by: "-", note: "no network: loopback only" },
    "aws:scheduler/schedule:Schedule": { fidelity: "not run", by: "-", note: "nothing fires on a clock: the scenario and report:replay start executions" },
};

export interface FidelityRow {
    type: string;
    count: number;
    fidelity: TypeFidelity;
}

/** Every cloud resource type of the plan, with what the runtime does with it; throws on a type it does not know. */
export function fidelityOf(plan: Plan): FidelityRow[] {
    const counts = new Map<string, number>();
    for (const r of plan.resources) if (r.custom) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
    const unknown = [...counts.keys()].filter((t) => !FIDELITY[t]);
    if (unknown.length > 0) {
        throw new Error(`local runtime: the plan holds ${unknown.join(", ")}, which the runtime does not know (add it to local/runtime/fidelity.ts as emulated, simplified or not run)`);
    }
    const order: Fidelity[] = ["emulated", "simplified", "not run"];
    return [...counts.entries()]
        .map(([type, count]) => ({ type, count, fidelity: FIDELITY[type] }))
        .sort((a, b) => order.indexOf(a.fidelity.fidelity) - order.indexOf(b.fidelity.fidelity) || a.type.localeCompare(b.type));
}

/** Settings inside emulated resources that the runtime does not run either. */
export const SETTINGS_NOT_RUN = ["X-Ray tracing (tracingConfig, xrayTracingEnabled)", "encryption at rest", "KMS grants for a function's own SDK calls"];

/** The short start-up table: one line per fidelity, the types it covers, the gaps, and the parts of the plan left out (`notRun`). */
export function formatFidelity(rows: FidelityRow[], notRun: string[] = []): string[] {
    const short = (type: string) => type.replace(/^aws:/, "").replace(/:[A-Za-z]+$/, "");
    const lines = ["Local runtime fidelity:"];
    for (const level of ["emulated", "simplified", "not run"] as Fidelity[]) {
        const of = rows.filter((r) => r.fidelity.fidelity === level);
        if (of.length === 0) continue;
        const total = of.reduce((n, r) => n + r.count, 0);
        const types = of.map((r) => (r.fidelity.note ? `${short(r.type)} (${r.fidelity.note})` : short(r.type)));
        lines.push(`  ${level.padEnd(10)} ${String(total).padStart(3)} resources: ${types.join(", ")}`);
    }
    lines.push(`  also not run: ${SETTINGS_NOT_RUN.join(", ")}`);
    for (const line of notRun) lines.push(`  not run: ${line}`);
    return lines;
}
