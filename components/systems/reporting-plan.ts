// Pure builders for ResilientReportingPipeline: the IAM grants of each of its roles, Firehose's
// partitioning, the Glue catalog's tables and the Glue job's arguments. They take resolved strings
// and are tested without mocks; the component only composes them.

import { createHash } from "crypto";
import { GLUE_JOB_ARGUMENTS, RAW_TRANSACTION_COLUMNS, REPORT_PARTITION_KEY, REPORTING_PREFIXES } from "../../functions/shared/contract";
import { Grant } from "../security/policy-documents";

/** ARNs and names the grants are built from, resolved. */
export interface ReportingRefs {
    partition: string;
    region: string;
    accountId: string;
    rawBucketArn: string;
    lakeBucketArn: string;
    resultsBucketArn: string;
    /** The pipeline's customer-managed key: the ingest stream, Glue's output and bookmarks, Athena's results, Redshift. */
    keyArn: string;
    streamArn: string;
    firehoseLogGroupArn: string;
    glueLogGroupArn: string;
    glueJobArn: string;
    glueDatabase: string;
    athenaWorkgroupArn: string;
    redshiftWorkgroupArn: string;
    alertTopicArn: string;
    alertKeyArn: string;
}

const objects = (bucketArn: string, prefix: string) => `${bucketArn}/${prefix}*`;
/** ListBucket on a bucket, only for keys under these prefixes. */
const listUnder = (bucketArn: string, ...prefixes: string[]): Grant => ({
    actions: ["s3:ListBucket"],
    resources: [bucketArn],
    condition: { StringLike: { "s3:prefix": prefixes.flatMap((p) => [p, `${p}*`]) } },
});

/**
 * Firehose: read the ingest stream (and decrypt it), write objects under raw/ (its error prefix
 * is under raw/ too), log its delivery errors. Nothing else of either bucket.
 */
export function firehoseGrants(r: ReportingRefs): Grant[] {
    return [
        { actions: ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"], resources: [r.streamArn] },
        { actions: ["kms:Decrypt"], resources: [r.keyArn] },
        { actions: ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"], resources: [r.rawBucketArn] },
        listUnder(r.rawBucketArn, REPORTING_PREFIXES.raw),
        { actions: ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"], resources: [objects(r.rawBucketArn, REPORTING_PREFIXES.raw)] },
        { actions: ["logs:PutLogEvents"], resources: [`${r.firehoseLogGroupArn}:*`] },
    ];
}

/**
 * The Glue job: read raw/ and its scripts, replace a day under curated/ (Spark's overwrite lists
 * and deletes the day's old files), use its temporary directory, encrypt with the pipeline's key,
 * write its continuous logs and metrics.
 */
export function glueGrants(r: ReportingRefs): Grant[] {
    return [
        listUnder(r.rawBucketArn, REPORTING_PREFIXES.raw),
        { actions: ["s3:GetObject"], resources: [objects(r.rawBucketArn, REPORTING_PREFIXES.raw), objects(r.lakeBucketArn, REPORTING_PREFIXES.scripts)] },
        listUnder(r.lakeBucketArn, "curated/", REPORTING_PREFIXES.glueTemp, REPORTING_PREFIXES.scripts),
        {
            actions: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            resources: [objects(r.lakeBucketArn, "curated/"), objects(r.lakeBucketArn, REPORTING_PREFIXES.glueTemp)],
        },
        { actions: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], resources: [r.keyArn] },
        { actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [`${r.glueLogGroupArn}:*`] },
        { actions: ["cloudwatch:PutMetricData"], resources: ["*"], condition: { StringEquals: { "cloudwatch:namespace": "Glue" } } },
    ];
}

/** The catalog entries Athena reads for the pipeline's tables. */
function catalogGrant(r: ReportingRefs): Grant {
    const base = `arn:${r.partition}:glue:${r.region}:${r.accountId}`;
    return {
        actions: ["glue:GetDatabase", "glue:GetPartition", "glue:GetPartitions", "glue:GetTable"],
        resources: [`${base}:catalog`, `${base}:database/${r.glueDatabase}`, `${base}:table/${r.glueDatabase}/*`],
    };
}

/**
 * The state machine: start and follow only this Glue job; query only this workgroup (reading raw,
 * curated and rejects, writing Athena's results and the fallback report); run statements only on
 * this Redshift workgroup and read back only its own; publish only to the alert topic; deliver its
 * logs and traces (actions AWS offers on "*" only).
 */
export function stateMachineGrants(r: ReportingRefs): Grant[] {
    return [
        { actions: ["glue:BatchStopJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:StartJobRun"], resources: [r.glueJobArn] },
        { actions: ["athena:GetQueryExecution", "athena:GetQueryResults", "athena:StartQueryExecution", "athena:StopQueryExecution"], resources: [r.athenaWorkgroupArn] },
        catalogGrant(r),
        // Athena reads and writes S3 with the caller's credentials.
        listUnder(r.rawBucketArn, REPORTING_PREFIXES.raw),
        { actions: ["s3:GetObject"], resources: [objects(r.rawBucketArn, REPORTING_PREFIXES.raw), objects(r.lakeBucketArn, "curated/")] },
        listUnder(r.lakeBucketArn, "curated/", REPORTING_PREFIXES.fallbackReports),
        { actions: ["s3:GetBucketLocation"], resources: [r.rawBucketArn, r.lakeBucketArn, r.resultsBucketArn] },
        { actions: ["s3:AbortMultipartUpload", "s3:PutObject"], resources: [objects(r.lakeBucketArn, REPORTING_PREFIXES.fallbackReports)] },
        { actions: ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"], resources: [`${r.resultsBucketArn}/*`] },
        { actions: ["s3:ListBucket", "s3:ListBucketMultipartUploads"], resources: [r.resultsBucketArn] },
        { actions: ["kms:Decrypt", "kms:GenerateDataKey"], resources: [r.keyArn] },
        { actions: ["redshift-data:BatchExecuteStatement"], resources: [r.redshiftWorkgroupArn] },
        { actions: ["redshift-serverless:GetCredentials"], resources: [r.redshiftWorkgroupArn] },
        // DescribeStatement has no resource type: only statements this role ran.
        { actions: ["redshift-data:DescribeStatement"], resources: ["*"], condition: { StringEquals: { "redshift-data:statement-owner-iam-userid": "${aws:userid}" } } },
        { actions: ["sns:Publish"], resources: [r.alertTopicArn] },
        { actions: ["kms:Decrypt", "kms:GenerateDataKey"], resources: [r.alertKeyArn] },
        {
            actions: [
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies",
                "logs:GetLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:UpdateLogDelivery",
            ],
            resources: ["*"],
        },
        { actions: ["xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"], resources: ["*"] },
    ];
}

/** Redshift's COPY role: read the curated prefix only (and decrypt what Glue wrote). */
export function copyGrants(r: ReportingRefs): Grant[] {
    return [
        listUnder(r.lakeBucketArn, REPORTING_PREFIXES.curated),
        { actions: ["s3:GetBucketLocation"], resources: [r.lakeBucketArn] },
        { actions: ["s3:GetObject"], resources: [objects(r.lakeBucketArn, REPORTING_PREFIXES.curated)] },
        { actions: ["kms:Decrypt"], resources: [r.keyArn] },
    ];
}

/** Redshift's UNLOAD role: write the daily report under reports/dt=… only (not the fallback's prefix). */
export function unloadGrants(r: ReportingRefs): Grant[] {
    const reports = `${REPORTING_PREFIXES.reports}${REPORT_PARTITION_KEY}=`;
    return [
        listUnder(r.lakeBucketArn, reports),
        { actions: ["s3:GetBucketLocation"], resources: [r.lakeBucketArn] },
        { actions: ["s3:AbortMultipartUpload", "s3:PutObject"], resources: [objects(r.lakeBucketArn, reports)] },
        { actions: ["kms:Decrypt", "kms:GenerateDataKey"], resources: [r.keyArn] },
    ];
}

/** The scheduler's role: start executions of this state machine only. */
export function schedulerGrants(stateMachineArn: string): Grant[] {
    return [{ actions: ["states:StartExecution"], resources: [stateMachineArn] }];
}

/**
 * Firehose's partition key, read from each record with JQ: the date part of event_time. The
 * prefix puts the record under raw/dt=YYYY-MM-DD/; a record without one goes to the error prefix.
 */
export const FIREHOSE_PARTITION_QUERY = `{${REPORT_PARTITION_KEY}: .event_time[0:10]}`;
export const FIREHOSE_PREFIX = `${REPORTING_PREFIXES.raw}${REPORT_PARTITION_KEY}=!{partitionKeyFromQuery:${REPORT_PARTITION_KEY}}/`;
export const FIREHOSE_ERROR_PREFIX = `${REPORTING_PREFIXES.rawErrors}!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/`;

/** Firehose's processors: extract the partition key, then end each record with a newline (NDJSON). */
export function firehoseProcessors(): { type: string; parameters: { parameterName: string; parameterValue: string }[] }[] {
    return [
        {
            type: "MetadataExtraction",
            parameters: [
                { parameterName: "MetadataExtractionQuery", parameterValue: FIREHOSE_PARTITION_QUERY },
                { parameterName: "JsonParsingEngine", parameterValue: "JQ-1.6" },
            ],
        },
        { type: "AppendDelimiterToRecord", parameters: [{ parameterName: "Delimiter", parameterValue: "\\n" }] },
    ];
}

/** A Glue catalog column. */
export interface CatalogColumn {
    name: string;
    type: string;
    comment?: string;
}

/** The raw table: every field a string, as sent. */
export const RAW_COLUMNS: CatalogColumn[] = RAW_TRANSACTION_COLUMNS.map((name) => ({ name, type: "string" }));

/** Partition projection on dt: Athena and Glue see each new day without a crawler or a partition to add. */
export function partitionProjection(location: string, firstDay: string): Record<string, string> {
    const k = REPORT_PARTITION_KEY;
    return {
        "projection.enabled": "true",
        [`projection.${k}.type`]: "date",
        [`projection.${k}.format`]: "yyyy-MM-dd",
        [`projection.${k}.range`]: `${firstDay},NOW`,
        [`projection.${k}.interval`]: "1",
        [`projection.${k}.interval.unit`]: "DAYS",
        "storage.location.template": `${location}${k}=\${${k}}/`,
    };
}

/** The Glue job's default arguments: bookmarks, continuous logs, metrics, and where everything is. */
export function glueJobArguments(o: { rawBucket: string; lakeBucket: string; sqlPrefix: string; logGroupName: string }): Record<string, string> {
    const a = GLUE_JOB_ARGUMENTS;
    return {
        "--job-bookmark-option": "job-bookmark-enable",
        "--enable-continuous-cloudwatch-log": "true",
        "--continuous-log-logGroup": o.logGroupName,
        "--enable-metrics": "true",
        "--enable-observability-metrics": "true",
        "--TempDir": `s3://${o.lakeBucket}/${REPORTING_PREFIXES.glueTemp}`,
        // No _SUCCESS marker in a day's partition: Redshift's COPY would read it as a Parquet file.
        "--conf": "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs=false",
        [a.rawPath]: `s3://${o.rawBucket}/${REPORTING_PREFIXES.raw}`,
        [a.curatedPath]: `s3://${o.lakeBucket}/${REPORTING_PREFIXES.curated}`,
        [a.rejectsPath]: `s3://${o.lakeBucket}/${REPORTING_PREFIXES.rejects}`,
        [a.sqlPath]: `s3://${o.lakeBucket}/${o.sqlPrefix}`,
    };
}

/** The first 16 hex characters of the SHA-256 of `texts`, in order: the content part of a script's key. */
export function contentHash(...texts: string[]): string {
    const h = createHash("sha256");
    for (const t of texts) h.update(t).update("\0");
    return h.digest("hex").slice(0, 16);
}

/** A physical name from the component's name and the stack, in the characters `pattern` allows (Glue databases: lower case and _). */
export function physicalName(parts: string[], separator: "-" | "_", maxLength: number): string {
    const name = parts
        .join(separator)
        .toLowerCase()
        .replace(separator === "_" ? /[^a-z0-9_]/g : /[^a-z0-9-]/g, separator);
    return name.slice(0, maxLength);
}
