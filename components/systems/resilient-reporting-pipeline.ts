import * as aws from "@pulumi/aws";
// awsx's ec2 module alone: the package's index loads its classic modules too (seconds, none used here).
import * as awsxEc2 from "@pulumi/awsx/ec2";
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "fs";
import { join } from "path";
import { GLUE_JOB_ARGUMENTS, REPORT_PARTITION_KEY, REPORTING_PREFIXES } from "../../functions/shared/contract";
import { SQL_ROOT, SqlStage, placeholdersOf, renderSql, sqlFiles } from "../../glue/sql-files";
import { AlarmOverrides, AlarmSpec, ComponentAlarms, countAlarm, streamIteratorAgeAlarm } from "../monitoring/alarms";
import { ruleAlarm } from "../messaging/object-created-rule";
import { reportingDefinition } from "../orchestration/reporting-definition";
import { EncryptionKey } from "../security/encryption-key";
import { ServiceRole } from "../security/service-role";
import { awsContext } from "../shared/aws-context";
import { KINESIS_DEFAULTS, KINESIS_LIMITS, LAMBDA_DEFAULTS, LOG_RETENTION_DAYS, REPORTING_DEFAULTS, REPORTING_LIMITS } from "../shared/defaults";
import { namePrefix } from "../shared/naming";
import { AlertDestination } from "../shared/references";
import { InvalidArgument, checkInteger, checkOneOf } from "../shared/validation";
import { SecureBucket } from "../storage/secure-bucket";
import {
    CatalogColumn,
    FIREHOSE_ERROR_PREFIX,
    FIREHOSE_PREFIX,
    RAW_COLUMNS,
    ReportingRefs,
    contentHash,
    copyGrants,
    firehoseGrants,
    firehoseProcessors,
    glueGrants,
    glueJobArguments,
    partitionProjection,
    physicalName,
    schedulerGrants,
    stateMachineGrants,
    unloadGrants,
} from "./reporting-plan";

type AlarmRole =
    | "executions-failed"
    | "executions-timed-out"
    | "executions-throttled"
    | "data-freshness"
    | "delivery-failures"
    | "iterator-age"
    | "write-throttles"
    | "glue-alert-failures";

export interface ResilientReportingPipelineArgs {
    /** Where alarms, the Glue failure rule and the state machine send alerts (an AlertTopic). Required. */
    alertTopic: AlertDestination;
    /** The ingest stream. Defaults: ON_DEMAND, 24 h retention; `shardCount` (PROVISIONED only) 1. */
    stream?: { mode?: "ON_DEMAND" | "PROVISIONED"; shardCount?: number; retentionHours?: number };
    /** Firehose's buffer: flush after `bufferSeconds` (default 300) or `bufferMb` (default 64, the least dynamic partitioning takes). */
    firehose?: { bufferSeconds?: number; bufferMb?: number };
    /** The Glue job: `workerType` (default G.1X), `workers` (default 2), `timeoutMinutes` (default 60). */
    glue?: { workerType?: (typeof REPORTING_DEFAULTS)["glueWorkerType"]; workers?: number; timeoutMinutes?: number };
    /** Redshift Serverless: `baseCapacity` in RPUs (default 8), `database` (default "reporting"), the VPC's `cidrBlock` (default 10.42.0.0/16). */
    redshift?: { baseCapacity?: number; database?: string; cidrBlock?: string };
    /** Athena: bytes one query may scan (default 10 GiB). */
    athena?: { bytesScannedCutoff?: number };
    /** The daily run: an EventBridge Scheduler `expression` (default cron(0 2 * * ? *)) in `timezone` (default UTC); `enabled` default true. */
    schedule?: { expression?: string; timezone?: string; enabled?: boolean };
    /** The state machine: log level (default ERROR), Redshift polling, Glue retries, the whole run's timeout. */
    stateMachine?: {
        logLevel?: "ALL" | "ERROR" | "FATAL" | "OFF";
        pollIntervalSeconds?: number;
        maxPolls?: number;
        glueRetry?: Partial<(typeof REPORTING_DEFAULTS)["glueRetry"]>;
        timeoutSeconds?: number;
    };
    /** Raw: days to STANDARD_IA (default 30) and to GLACIER_IR (default 365), 0 for never; raw never expires. */
    raw?: { infrequentAccessDays?: number; glacierDays?: number };
    /** The first day partition projection offers (default 2020-01-01). */
    firstDay?: string;
    /** Retention of every log group here (default 14 days). */
    logRetentionDays?: number;
    /** Days before the pipeline's deleted KMS key is destroyed (default 30). */
    kmsKeyDeletionWindowDays?: number;
    /** Changes to its alarms, by role (e.g. "data-freshness": { threshold: 1800 }). Default: none. */
    alarms?: AlarmOverrides<AlarmRole>;
    /** Set Pulumi `protect` on the stateful parts (buckets, stream, key, namespace). Default false. */
    protect?: boolean;
}

interface Settings {
    bufferSeconds: number;
    bufferMb: number;
    workers: number;
    glueTimeoutMinutes: number;
    baseCapacity: number;
    bytesScannedCutoff: number;
    pollIntervalSeconds: number;
    maxPolls: number;
    logRetentionDays: number;
}

function checkArgs(name: string, args: ResilientReportingPipelineArgs): Settings {
    const label = `ResilientReportingPipeline "${name}"`;
    const d = REPORTING_DEFAULTS;
    const L = REPORTING_LIMITS;
    const s: Settings = {
        bufferSeconds: args.firehose?.bufferSeconds ?? d.firehoseBufferSeconds,
        bufferMb: args.firehose?.bufferMb ?? d.firehoseBufferMb,
        workers: args.glue?.workers ?? d.glueWorkers,
        glueTimeoutMinutes: args.glue?.timeoutMinutes ?? d.glueTimeoutMinutes,
        baseCapacity: args.redshift?.baseCapacity ?? d.redshiftBaseCapacity,
        bytesScannedCutoff: args.athena?.bytesScannedCutoff ?? d.athenaBytesScannedCutoff,
        pollIntervalSeconds: args.stateMachine?.pollIntervalSeconds ?? d.pollIntervalSeconds,
        maxPolls: args.stateMachine?.maxPolls ?? d.maxPolls,
        logRetentionDays: args.logRetentionDays ?? LAMBDA_DEFAULTS.logRetentionDays,
    };
    checkInteger(`${label}: firehose.bufferSeconds`, s.bufferSeconds, L.firehoseBufferSeconds);
    checkInteger(`${label}: firehose.bufferMb`, s.bufferMb, L.firehoseBufferMb);
    checkInteger(`${label}: glue.workers`, s.workers, L.glueWorkers);
    checkInteger(`${label}: glue.timeoutMinutes`, s.glueTimeoutMinutes, L.glueTimeoutMinutes);
    checkInteger(`${label}: redshift.baseCapacity`, s.baseCapacity, L.redshiftBaseCapacity);
    if (s.baseCapacity % 8 !== 0) throw new InvalidArgument(`${label}: redshift.baseCapacity = ${s.baseCapacity}: expected a multiple of 8 RPUs`);
    checkInteger(`${label}: athena.bytesScannedCutoff`, s.bytesScannedCutoff, L.athenaBytesScannedCutoff);
    checkInteger(`${label}: stateMachine.pollIntervalSeconds`, s.pollIntervalSeconds, L.pollIntervalSeconds);
    checkInteger(`${label}: stateMachine.maxPolls`, s.maxPolls, L.maxPolls);
    checkInteger(`${label}: stream.shardCount`, args.stream?.shardCount, KINESIS_LIMITS.shardCount);
    checkInteger(`${label}: stream.retentionHours`, args.stream?.retentionHours, KINESIS_LIMITS.retentionHours);
    checkOneOf(`${label}: logRetentionDays`, s.logRetentionDays, LOG_RETENTION_DAYS);
    if (args.firstDay !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(args.firstDay)) throw new InvalidArgument(`${label}: firstDay = ${args.firstDay}: expected YYYY-MM-DD`);
    return s;
}

/** What the state machine fills per run: the date, and the execution's name (the fallback's folder). */
const RUN_PLACEHOLDERS = ["date", "run"];

/** A stage's SQL with every plan-time placeholder filled; only the run's are left. */
function planSql(stage: SqlStage, values: Record<string, string>): string[] {
    return sqlFiles(stage).map((f) => {
        const text = renderSql(f.text, values);
        const left = placeholdersOf(text).filter((p) => !RUN_PLACEHOLDERS.includes(p));
        if (left.length > 0) throw new Error(`glue/sql/${stage}/${f.name}: placeholder ${left.map((p) => `{{${p}}}`).join(", ")} has no value in the plan`);
        return text;
    });
}

/**
 * Seed 002: a daily report that survives failures. Events go to a Kinesis ingest stream; Firehose
 * lands them, GZIP NDJSON partitioned by event date, under raw/ of a versioned bucket that only
 * Firehose may write and no one may delete from: the source of truth, replayable. A Glue catalog
 * (partition projection) describes raw, curated and rejects; a Glue 5.0 job turns one day of raw
 * into curated Parquet and rejects with reasons; a Step Functions state machine, started daily
 * by EventBridge Scheduler (or by `npm run report:replay`), runs the job with retries, checks in
 * Athena that raw = curated + rejects, loads the day into Redshift Serverless (COPY, then MERGE),
 * builds and UNLOADs the report, and on any failure alerts with the failing state and error and
 * writes a basic report from raw with Athena. Alarms watch the state machine, Glue (through an
 * EventBridge rule on Glue Job State Change), Firehose and the stream.
 */
export class ResilientReportingPipeline extends pulumi.ComponentResource {
    readonly key: EncryptionKey;
    readonly stream: aws.kinesis.Stream;
    readonly rawBucket: SecureBucket;
    readonly lakeBucket: SecureBucket;
    readonly resultsBucket: SecureBucket;
    readonly deliveryStream: aws.kinesis.FirehoseDeliveryStream;
    readonly database: aws.glue.CatalogDatabase;
    readonly tables: { raw: aws.glue.CatalogTable; curated: aws.glue.CatalogTable; rejects: aws.glue.CatalogTable };
    readonly job: aws.glue.Job;
    readonly vpc: awsxEc2.Vpc;
    readonly namespace: aws.redshiftserverless.Namespace;
    readonly workgroup: aws.redshiftserverless.Workgroup;
    readonly athenaWorkgroup: aws.athena.Workgroup;
    readonly stateMachine: aws.sfn.StateMachine;
    readonly schedule: aws.scheduler.Schedule;
    readonly glueFailureRule: aws.cloudwatch.EventRule;
    readonly roles: { firehose: ServiceRole; glue: ServiceRole; stateMachine: ServiceRole; scheduler: ServiceRole; copy: ServiceRole; unload: ServiceRole };
    readonly alarms: aws.cloudwatch.MetricAlarm[];

    constructor(name: string, args: ResilientReportingPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:ResilientReportingPipeline", name, {}, opts);
        const s = checkArgs(name, args);
        const label = `ResilientReportingPipeline "${name}"`;
        const protect = args.protect;
        const d = REPORTING_DEFAULTS;
        const stack = pulumi.getStack();
        const parent = { parent: this };
        const ctx = awsContext(this);
        const logGroup = (role: string, prefix: string) =>
            new aws.cloudwatch.LogGroup(
                `${name}-${role}-logs`,
                { namePrefix: namePrefix(label, "aws:cloudwatch/logGroup:LogGroup", prefix), retentionInDays: s.logRetentionDays },
                { parent: this, protect },
            );

        // ---- ingest: the stream, Firehose, raw ----
        this.key = new EncryptionKey(`${name}-key`, { description: `ResilientReportingPipeline ${name}: ingest stream, curated data, query results, Redshift`, deletionWindowInDays: args.kmsKeyDeletionWindowDays, protect }, parent);
        const mode = args.stream?.mode ?? KINESIS_DEFAULTS.streamMode;
        this.stream = new aws.kinesis.Stream(
            `${name}-ingest`,
            {
                streamModeDetails: { streamMode: mode },
                shardCount: mode === "PROVISIONED" ? (args.stream?.shardCount ?? KINESIS_DEFAULTS.shardCount) : undefined,
                retentionPeriod: args.stream?.retentionHours ?? KINESIS_DEFAULTS.retentionHours,
                encryptionType: "KMS",
                kmsKeyId: this.key.arn,
            },
            { parent: this, protect },
        );
        const firehoseRole = new ServiceRole(`${name}-firehose`, { services: ["firehose.amazonaws.com"], description: `Firehose of ${name}: the one writer of raw/` }, parent);
        this.rawBucket = new SecureBucket(
            `${name}-raw`,
            {
                eventBridge: false,
                writeOnce: { prefix: REPORTING_PREFIXES.raw, writerArn: firehoseRole.arn },
                lifecycle: {
                    transitions: [
                        { days: args.raw?.infrequentAccessDays ?? d.rawInfrequentAccessDays, storageClass: "STANDARD_IA" as const },
                        { days: args.raw?.glacierDays ?? d.rawGlacierDays, storageClass: "GLACIER_IR" as const },
                    ].filter((t) => t.days > 0),
                },
                protect,
            },
            parent,
        );
        this.lakeBucket = new SecureBucket(`${name}-lake`, { eventBridge: false, protect }, parent);
        this.resultsBucket = new SecureBucket(`${name}-results`, { eventBridge: false, lifecycle: { noncurrentVersionExpirationDays: 7 } }, parent);
        const firehoseLogs = logGroup("firehose", `/aws/kinesisfirehose/${name}-`);
        const firehoseLogStream = new aws.cloudwatch.LogStream(`${name}-firehose-delivery`, { logGroupName: firehoseLogs.name, name: "DestinationDelivery" }, parent);
        const glueLogs = logGroup("glue", `/aws-glue/jobs/${name}-`);

        // ---- Glue: catalog, scripts, job ----
        const databaseName = physicalName([name, stack], "_", 255);
        this.database = new aws.glue.CatalogDatabase(`${name}-catalog`, { name: databaseName, description: `Seed 002 ${name}: raw, curated and rejected transactions` }, parent);
        const firstDay = args.firstDay ?? "2020-01-01";
        const table = (role: string, tableName: string, location: pulumi.Output<string>, columns: CatalogColumn[], format: "json" | "parquet") =>
            new aws.glue.CatalogTable(
                `${name}-${role}-table`,
                {
                    databaseName: this.database.name,
                    name: tableName,
                    tableType: "EXTERNAL_TABLE",
                    partitionKeys: [{ name: REPORT_PARTITION_KEY, type: "string" }],
                    parameters: location.apply((l) => ({ classification: format, EXTERNAL: "TRUE", ...partitionProjection(l, firstDay) })),
                    storageDescriptor: {
                        location,
                        columns,
                        ...(format === "json"
                            ? {
                                  inputFormat: "org.apache.hadoop.mapred.TextInputFormat",
                                  outputFormat: "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                                  serDeInfo: { serializationLibrary: "org.openx.data.jsonserde.JsonSerDe", parameters: { "ignore.malformed.json": "true" } },
                              }
                            : {
                                  inputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                                  outputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                                  serDeInfo: { serializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" },
                              }),
                    },
                },
                parent,
            );
        const rawLocation = pulumi.interpolate`s3://${this.rawBucket.bucketName}/${REPORTING_PREFIXES.raw}`;
        const curatedLocation = pulumi.interpolate`s3://${this.lakeBucket.bucketName}/${REPORTING_PREFIXES.curated}`;
        const rejectsLocation = pulumi.interpolate`s3://${this.lakeBucket.bucketName}/${REPORTING_PREFIXES.rejects}`;
        const typed: CatalogColumn[] = [
            { name: "event_id", type: "string" },
            { name: "event_time", type: "timestamp" },
            { name: "account_id", type: "string" },
            { name: "amount", type: "decimal(18,2)" },
            { name: "currency", type: "string" },
            { name: "type", type: "string" },
            { name: "source", type: "string" },
        ];
        this.tables = {
            raw: table("raw", "raw_transactions", rawLocation, RAW_COLUMNS, "json"),
            curated: table("curated", "curated_transactions", curatedLocation, typed, "parquet"),
            rejects: table("rejects", "rejected_transactions", rejectsLocation, [...RAW_COLUMNS, { name: "reason", type: "string" }], "parquet"),
        };

        // Each script under its content hash: a changed script is a new object, and the job's
        // scriptLocation changes with it, so a run never mixes an old script with new SQL.
        const script = readFileSync(join(SQL_ROOT, "..", "report_etl.py"), "utf8");
        const transform = sqlFiles("transform");
        const sqlPrefix = `${REPORTING_PREFIXES.scripts}sql-${contentHash(...transform.map((f) => `${f.name}\n${f.text}`))}/`;
        const scriptKey = `${REPORTING_PREFIXES.scripts}${contentHash(script)}/report_etl.py`;
        const upload = (role: string, key: string, content: string) =>
            new aws.s3.BucketObjectv2(`${name}-${role}`, { bucket: this.lakeBucket.bucketName, key, content, contentType: "text/plain" }, parent);
        const scriptObject = upload("script", scriptKey, script);
        const sqlObjects = transform.map((f) => upload(`sql-${f.name.replace(/\.sql$/, "").replace(/_/g, "-")}`, `${sqlPrefix}${f.name}`, f.text));

        const securityConfiguration = new aws.glue.SecurityConfiguration(
            `${name}-glue-security`,
            {
                name: physicalName([name, stack, "glue"], "-", 255),
                encryptionConfiguration: {
                    s3Encryption: { s3EncryptionMode: "SSE-KMS", kmsKeyArn: this.key.arn },
                    jobBookmarksEncryption: { jobBookmarksEncryptionMode: "CSE-KMS", kmsKeyArn: this.key.arn },
                    // Encrypting Glue's logs takes the logs service in the key policy; they hold no data rows.
                    cloudwatchEncryption: { cloudwatchEncryptionMode: "DISABLED" },
                },
            },
            parent,
        );
        const jobArguments = pulumi
            .all([this.rawBucket.bucketName, this.lakeBucket.bucketName, glueLogs.name])
            .apply(([rawBucket, lakeBucket, logGroupName]) => glueJobArguments({ rawBucket, lakeBucket, sqlPrefix, logGroupName }));
        const glueRole = new ServiceRole(`${name}-glue`, { services: ["glue.amazonaws.com"], description: `Glue ETL of ${name}: raw/ to curated/` }, parent);
        this.job = new aws.glue.Job(
            `${name}-etl`,
            {
                roleArn: glueRole.arn,
                glueVersion: d.glueVersion,
                workerType: args.glue?.workerType ?? d.glueWorkerType,
                numberOfWorkers: s.workers,
                timeout: s.glueTimeoutMinutes,
                // Step Functions retries, with backoff; a second run of the same day is safe.
                maxRetries: 0,
                executionProperty: { maxConcurrentRuns: 1 },
                securityConfiguration: securityConfiguration.name,
                command: { name: "glueetl", pythonVersion: "3", scriptLocation: pulumi.interpolate`s3://${this.lakeBucket.bucketName}/${scriptKey}` },
                defaultArguments: jobArguments,
            },
            { parent: this, dependsOn: [scriptObject, ...sqlObjects] },
        );

        // ---- Redshift Serverless, in the private subnets of its own VPC ----
        this.vpc = new awsxEc2.Vpc(
            `${name}-vpc`,
            {
                cidrBlock: args.redshift?.cidrBlock ?? "10.42.0.0/16",
                numberOfAvailabilityZones: 3,
                // Nothing here goes to the internet: S3 through the gateway endpoint below, no NAT.
                natGateways: { strategy: "None" },
                subnetStrategy: "Auto",
                subnetSpecs: [{ type: "Private", cidrMask: 20 }],
                enableDnsHostnames: true,
                enableDnsSupport: true,
            },
            parent,
        );
        const region = ctx.region;
        const s3Endpoint = new aws.ec2.VpcEndpoint(
            `${name}-s3-endpoint`,
            {
                vpcId: this.vpc.vpcId,
                serviceName: pulumi.interpolate`com.amazonaws.${region}.s3`,
                vpcEndpointType: "Gateway",
                routeTableIds: this.vpc.routeTables.apply((tables) => pulumi.all(tables.map((t) => t.id))),
            },
            parent,
        );
        const redshiftGroup = new aws.ec2.SecurityGroup(
            `${name}-redshift-sg`,
            {
                vpcId: this.vpc.vpcId,
                description: "Redshift Serverless: no inbound; HTTPS out to S3 only (COPY and UNLOAD, enhanced VPC routing)",
                egress: [{ protocol: "tcp", fromPort: 443, toPort: 443, prefixListIds: [s3Endpoint.prefixListId], description: "S3 through the gateway endpoint" }],
            },
            parent,
        );
        const redshiftServices = ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"];
        const copyRole = new ServiceRole(`${name}-copy`, { services: redshiftServices, description: `Redshift COPY of ${name}: reads curated/ only` }, parent);
        const unloadRole = new ServiceRole(`${name}-unload`, { services: redshiftServices, description: `Redshift UNLOAD of ${name}: writes reports/dt=… only` }, parent);
        const database = args.redshift?.database ?? d.redshiftDatabase;
        const redshiftLogs = ["connectionlog", "userlog", "useractivitylog"];
        this.namespace = new aws.redshiftserverless.Namespace(
            `${name}-namespace`,
            {
                namespaceName: physicalName([name, stack], "-", 64),
                dbName: database,
                // Secrets Manager holds the admin password: none in config or state.
                manageAdminPassword: true,
                adminUsername: "reporting_admin",
                kmsKeyId: this.key.arn,
                iamRoles: [copyRole.arn, unloadRole.arn],
                defaultIamRoleArn: copyRole.arn,
                logExports: redshiftLogs,
            },
            { parent: this, protect },
        );
        this.workgroup = new aws.redshiftserverless.Workgroup(
            `${name}-workgroup`,
            {
                workgroupName: physicalName([name, stack], "-", 64),
                namespaceName: this.namespace.namespaceName,
                baseCapacity: s.baseCapacity,
                enhancedVpcRouting: true,
                publiclyAccessible: false,
                subnetIds: this.vpc.privateSubnetIds,
                securityGroupIds: [redshiftGroup.id],
                configParameters: [
                    { parameterKey: "enable_user_activity_logging", parameterValue: "true" },
                    { parameterKey: "require_ssl", parameterValue: "true" },
                ],
            },
            parent,
        );

        // ---- Athena ----
        this.athenaWorkgroup = new aws.athena.Workgroup(
            `${name}-athena`,
            {
                name: physicalName([name, stack], "-", 128),
                forceDestroy: false,
                configuration: {
                    enforceWorkgroupConfiguration: true,
                    publishCloudwatchMetricsEnabled: true,
                    bytesScannedCutoffPerQuery: s.bytesScannedCutoff,
                    engineVersion: { selectedEngineVersion: "Athena engine version 3" },
                    resultConfiguration: {
                        outputLocation: pulumi.interpolate`s3://${this.resultsBucket.bucketName}/athena/`,
                        encryptionConfiguration: { encryptionOption: "SSE_KMS", kmsKeyArn: this.key.arn },
                    },
                },
            },
            parent,
        );

        // ---- grants, once every ARN they name exists ----
        const smRole = new ServiceRole(`${name}-states`, { services: ["states.amazonaws.com"], description: `Reporting state machine of ${name}` }, parent);
        const refs: pulumi.Output<ReportingRefs> = pulumi
            .all([
                ctx,
                pulumi.all({
                    rawBucketArn: this.rawBucket.arn,
                    lakeBucketArn: this.lakeBucket.arn,
                    resultsBucketArn: this.resultsBucket.arn,
                    keyArn: this.key.arn,
                    streamArn: this.stream.arn,
                    firehoseLogGroupArn: firehoseLogs.arn,
                    glueLogGroupArn: glueLogs.arn,
                    glueJobArn: this.job.arn,
                    glueDatabase: this.database.name,
                    athenaWorkgroupArn: this.athenaWorkgroup.arn,
                    redshiftWorkgroupArn: this.workgroup.arn,
                    alertTopicArn: pulumi.output(args.alertTopic.arn),
                    alertKeyArn: pulumi.output(args.alertTopic.keyArn),
                }),
            ])
            .apply(([c, arns]) => ({ partition: c.partition, region: c.region, accountId: c.accountId, ...(arns as Omit<ReportingRefs, "partition" | "region" | "accountId">) }));
        firehoseRole.allow(refs.apply(firehoseGrants));
        glueRole.allow(refs.apply(glueGrants));
        smRole.allow(refs.apply(stateMachineGrants));
        copyRole.allow(refs.apply(copyGrants));
        unloadRole.allow(refs.apply(unloadGrants));

        // ---- the state machine, its schedule, the Glue failure rule ----
        const smLogs = logGroup("states", `/aws/vendedlogs/states/${name}-`);
        const lake = this.lakeBucket.bucketName;
        const sqlValues = pulumi.all([rawLocation, curatedLocation, rejectsLocation, lake, copyRole.arn, unloadRole.arn]).apply(([raw, curated, rejects, lakeBucket, copyArn, unloadArn]) => ({
            raw_location: raw,
            curated_location: curated,
            rejects_location: rejects,
            report_location: `s3://${lakeBucket}/${REPORTING_PREFIXES.reports}`,
            fallback_location: `s3://${lakeBucket}/${REPORTING_PREFIXES.fallbackReports}`,
            copy_role_arn: copyArn,
            unload_role_arn: unloadArn,
        }));
        const glueRetry = { ...d.glueRetry, ...args.stateMachine?.glueRetry };
        const definition = pulumi
            .all([sqlValues, jobArguments, this.job.name, this.athenaWorkgroup.name, this.database.name, this.workgroup.workgroupName, args.alertTopic.arn])
            .apply(([values, jobArgs, jobName, athenaWorkGroup, athenaDatabase, redshiftWorkgroup, alertTopicArn]) =>
                JSON.stringify(
                    reportingDefinition({
                        glueJobName: jobName,
                        glueArguments: {
                            rawPath: jobArgs[GLUE_JOB_ARGUMENTS.rawPath],
                            curatedPath: jobArgs[GLUE_JOB_ARGUMENTS.curatedPath],
                            rejectsPath: jobArgs[GLUE_JOB_ARGUMENTS.rejectsPath],
                            sqlPath: jobArgs[GLUE_JOB_ARGUMENTS.sqlPath],
                        },
                        glueRetry,
                        athenaWorkGroup,
                        athenaDatabase,
                        validateSql: planSql("validate", values)[0],
                        fallbackSql: planSql("fallback", values)[0],
                        redshiftWorkgroup,
                        redshiftDatabase: database,
                        loadSqls: planSql("load", values),
                        reportSqls: planSql("report", values),
                        pollIntervalSeconds: s.pollIntervalSeconds,
                        maxPolls: s.maxPolls,
                        alertTopicArn,
                        timeoutSeconds: args.stateMachine?.timeoutSeconds ?? d.executionTimeoutSeconds,
                    }),
                ),
            );
        this.stateMachine = new aws.sfn.StateMachine(
            `${name}-states`,
            {
                type: "STANDARD",
                roleArn: smRole.arn,
                definition,
                loggingConfiguration: { level: args.stateMachine?.logLevel ?? d.stateMachineLogLevel, includeExecutionData: true, logDestination: pulumi.interpolate`${smLogs.arn}:*` },
                tracingConfiguration: { enabled: true },
            },
            { parent: this, dependsOn: [smRole.policy] },
        );
        const schedulerRole = new ServiceRole(`${name}-scheduler`, { services: ["scheduler.amazonaws.com"], description: `Daily start of ${name}'s state machine` }, parent);
        schedulerRole.allow(this.stateMachine.arn.apply(schedulerGrants));
        this.schedule = new aws.scheduler.Schedule(
            `${name}-daily`,
            {
                description: "Reports the previous day: the state machine resolves the date from the scheduled time",
                scheduleExpression: args.schedule?.expression ?? d.schedule,
                scheduleExpressionTimezone: args.schedule?.timezone ?? d.scheduleTimezone,
                state: args.schedule?.enabled === false ? "DISABLED" : "ENABLED",
                flexibleTimeWindow: { mode: "OFF" },
                target: {
                    arn: this.stateMachine.arn,
                    roleArn: schedulerRole.arn,
                    input: JSON.stringify({ scheduledTime: "<aws.scheduler.scheduled-time>" }),
                    retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
                },
            },
            { parent: this, dependsOn: [schedulerRole.policy] },
        );
        this.roles = { firehose: firehoseRole, glue: glueRole, stateMachine: smRole, scheduler: schedulerRole, copy: copyRole, unload: unloadRole };

        this.glueFailureRule = new aws.cloudwatch.EventRule(
            `${name}-glue-failed`,
            {
                description: `Glue job ${name}: FAILED, TIMEOUT or ERROR`,
                eventPattern: this.job.name.apply((jobName) => JSON.stringify({ source: ["aws.glue"], "detail-type": ["Glue Job State Change"], detail: { jobName: [jobName], state: ["FAILED", "TIMEOUT", "ERROR"] } })),
            },
            parent,
        );
        new aws.cloudwatch.EventTarget(
            `${name}-glue-failed-alert`,
            {
                rule: this.glueFailureRule.name,
                arn: args.alertTopic.arn,
                inputTransformer: {
                    inputPaths: { job: "$.detail.jobName", run: "$.detail.jobRunId", state: "$.detail.state", message: "$.detail.message" },
                    inputTemplate: '"Glue job <job> run <run> ended <state>: <message>"',
                },
            },
            parent,
        );
        args.alertTopic.allowPublishFrom("events.amazonaws.com", this.glueFailureRule.arn);

        this.deliveryStream = new aws.kinesis.FirehoseDeliveryStream(
            `${name}-firehose`,
            {
                destination: "extended_s3",
                kinesisSourceConfiguration: { kinesisStreamArn: this.stream.arn, roleArn: firehoseRole.arn },
                extendedS3Configuration: {
                    roleArn: firehoseRole.arn,
                    bucketArn: this.rawBucket.arn,
                    prefix: FIREHOSE_PREFIX,
                    errorOutputPrefix: FIREHOSE_ERROR_PREFIX,
                    bufferingInterval: s.bufferSeconds,
                    bufferingSize: s.bufferMb,
                    compressionFormat: "GZIP",
                    dynamicPartitioningConfiguration: { enabled: true, retryDuration: d.firehosePartitioningRetrySeconds },
                    processingConfiguration: { enabled: true, processors: firehoseProcessors() },
                    cloudwatchLoggingOptions: { enabled: true, logGroupName: firehoseLogs.name, logStreamName: firehoseLogStream.name },
                },
            },
            // Firehose checks its role's access when the stream is created.
            { parent: this, dependsOn: [firehoseRole.policy, this.rawBucket.policy] },
        );

        // ---- alarms ----
        const alarms = new ComponentAlarms(this, name, label, args.alertTopic.arn, args.alarms);
        const states = (role: AlarmRole, metricName: string, what: string) =>
            alarms.add(countAlarm({ role, metricName, namespace: "AWS/States", dimensions: { StateMachineArn: this.stateMachine.arn }, threshold: 1, description: what }));
        states("executions-failed", "ExecutionsFailed", "A daily report run failed. Its alert names the failing state and error; a basic report from raw is under reports/fallback/. Fix the cause, then `npm run report:replay -- --date <day>`.");
        states("executions-timed-out", "ExecutionsTimedOut", "A daily report run timed out. Look at the execution's last state; then replay the day.");
        states("executions-throttled", "ExecutionThrottled", "Step Functions throttled the reporting state machine's state transitions.");
        const firehose = (spec: Omit<AlarmSpec, "namespace" | "dimensions">): AlarmSpec => ({ ...spec, namespace: "AWS/Firehose", dimensions: { DeliveryStreamName: this.deliveryStream.name } });
        alarms.add(
            firehose({
                role: "data-freshness",
                description: `Firehose holds records older than ${d.dataFreshnessAlarmSeconds} s: deliveries to raw/ are failing or behind (see its DestinationDelivery log).`,
                metricName: "DeliveryToS3.DataFreshness",
                statistic: "Maximum",
                periodSeconds: 300,
                evaluationPeriods: 1,
                threshold: d.dataFreshnessAlarmSeconds,
                comparison: "GreaterThanOrEqualToThreshold",
                treatMissingData: "notBreaching",
            }),
        );
        alarms.add(
            firehose({
                role: "delivery-failures",
                description: "Firehose deliveries to raw/ failed (DeliveryToS3.Success below 1): records wait in Firehose and then go to raw/_errors/.",
                metricName: "DeliveryToS3.Success",
                statistic: "Minimum",
                periodSeconds: 300,
                evaluationPeriods: 1,
                threshold: 1,
                comparison: "LessThanThreshold",
                treatMissingData: "notBreaching",
            }),
        );
        alarms.add(streamIteratorAgeAlarm(this.stream.name, d.iteratorAgeAlarmMs));
        alarms.add(
            countAlarm({
                role: "write-throttles",
                description: "Producers are throttled writing to the ingest stream: add shards or switch to on-demand; throttled events must be resent by the producer.",
                namespace: "AWS/Kinesis",
                metricName: "WriteProvisionedThroughputExceeded",
                dimensions: { StreamName: this.stream.name },
                threshold: 1,
            }),
        );
        alarms.add({ ...ruleAlarm(this.glueFailureRule.name, "FailedInvocations"), role: "glue-alert-failures" });
        this.alarms = alarms.done();

        this.registerOutputs({
            streamName: this.stream.name,
            rawBucketName: this.rawBucket.bucketName,
            lakeBucketName: this.lakeBucket.bucketName,
            stateMachineArn: this.stateMachine.arn,
            redshiftWorkgroupName: this.workgroup.workgroupName,
            athenaWorkgroupName: this.athenaWorkgroup.name,
        });
    }
}
