import * as aws from "@pulumi/aws";
import { expect } from "chai";
import { readFileSync } from "fs";
import { join } from "path";
import { PolicyStatement } from "../../../components/security/policy-documents";
import { contentHash } from "../../../components/systems/reporting-plan";
import { ResilientReportingPipeline, ResilientReportingPipelineArgs } from "../../../components/systems/resilient-reporting-pipeline";
import { REPORTING_STATES } from "../../../components/orchestration/reporting-definition";
import { REPORTING_PREFIXES } from "../../../functions/shared/contract";
import { SQL_ROOT, sqlFiles } from "../../../glue/sql-files";
import { Plan } from "../../../local/plan";
import { planAuthorizer } from "../../../local/runtime/iam/authorizer";
import { ALERT_TOPIC_ARN, childrenOf, descendantsOf, ofType, one, policyOf, record } from "../../support/pulumi-harness";

const T = {
    component: "event-pipelines:index:ResilientReportingPipeline",
    bucket: "aws:s3/bucket:Bucket",
    bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
    lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    stream: "aws:kinesis/stream:Stream",
    firehose: "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
    role: "aws:iam/role:Role",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    database: "aws:glue/catalogDatabase:CatalogDatabase",
    table: "aws:glue/catalogTable:CatalogTable",
    job: "aws:glue/job:Job",
    securityConfiguration: "aws:glue/securityConfiguration:SecurityConfiguration",
    object: "aws:s3/bucketObjectv2:BucketObjectv2",
    vpc: "awsx:ec2:Vpc",
    endpoint: "aws:ec2/vpcEndpoint:VpcEndpoint",
    securityGroup: "aws:ec2/securityGroup:SecurityGroup",
    namespace: "aws:redshiftserverless/namespace:Namespace",
    workgroup: "aws:redshiftserverless/workgroup:Workgroup",
    athena: "aws:athena/workgroup:Workgroup",
    stateMachine: "aws:sfn/stateMachine:StateMachine",
    schedule: "aws:scheduler/schedule:Schedule",
    rule: "aws:cloudwatch/eventRule:EventRule",
    target: "aws:cloudwatch/eventTarget:EventTarget",
    alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
    logGroup: "aws:cloudwatch/logGroup:LogGroup",
};

const ALERT_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/alert-key";

/** A stand-in for AlertTopic: records the services allowed to publish. */
function alertTopic(): ResilientReportingPipelineArgs["alertTopic"] & { publishers: string[] } {
    const publishers: string[] = [];
    return { arn: ALERT_TOPIC_ARN, keyArn: ALERT_KEY_ARN, publishers, allowPublishFrom: (service) => void publishers.push(service) };
}

const build = (args: Partial<ResilientReportingPipelineArgs> = {}): Promise<Plan> => record(() => void new ResilientReportingPipeline("rep", { alertTopic: alertTopic(), ...args }));

async function refusal(args: Partial<ResilientReportingPipelineArgs>): Promise<string> {
    try {
        await build(args);
    } catch (e) {
        return (e as Error).message;
    }
    return expect.fail("expected the program to fail");
}

const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
/** Every (action, resource) a policy allows, sorted: widening any grant changes it. */
const allowed = (s: PolicyStatement[]) => s.flatMap((st) => list(st.Action).flatMap((a) => list(st.Resource).map((r) => `${a} ${r}`))).sort();
const pairs = (actions: string[], resources: string[]) => actions.flatMap((a) => resources.map((r) => `${a} ${r}`));
/** A resource's inputs, untyped: the specs read nested provider inputs. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ins = (p: Plan, type: string, name: string): any => one(p, type, name).inputs;
const grantsOf = (plan: Plan, role: string) => policyOf(one(plan, T.rolePolicy, `rep-${role}-policy`)).Statement;

describe("ResilientReportingPipeline", () => {
    let plan: Plan;
    let raw: { name: string; arn: string };
    let lake: { name: string; arn: string };
    let results: { name: string; arn: string };
    let keyArn: string;
    const bucket = (p: Plan, role: string) => ({ name: one(p, T.bucket, `rep-${role}-bucket`).outputs.bucket as string, arn: one(p, T.bucket, `rep-${role}-bucket`).outputs.arn as string });
    const arnOf = (type: string, name: string) => one(plan, type, name).outputs.arn as string;
    before(async () => {
        plan = await build();
        raw = bucket(plan, "raw");
        lake = bucket(plan, "lake");
        results = bucket(plan, "results");
        keyArn = arnOf("aws:kms/key:Key", "rep-key-cmk");
    });

    it("holds every part below the component, named `<name>-<role>`", () => {
        const component = one(plan, T.component, "rep");
        const descendants = descendantsOf(plan, component);
        expect(descendants.every((d) => d.name.startsWith("rep-")), descendants.map((d) => d.name).join(", ")).to.equal(true);
        const kinds = new Set(childrenOf(plan, component).map((c) => c.type));
        for (const t of [T.stream, T.firehose, T.database, T.job, T.vpc, T.namespace, T.workgroup, T.athena, T.stateMachine, T.schedule, T.rule]) expect(kinds.has(t), t).to.equal(true);
    });

    describe("ingest and raw", () => {
        it("encrypts the ingest stream with the pipeline's key, on demand by default, provisioned when asked", async () => {
            const s = ins(plan, T.stream, "rep-ingest");
            expect(s).to.include({ encryptionType: "KMS", kmsKeyId: keyArn, retentionPeriod: 24 });
            expect(s.streamModeDetails).to.deep.equal({ streamMode: "ON_DEMAND" });
            const p = await build({ stream: { mode: "PROVISIONED", shardCount: 2, retentionHours: 48 } });
            expect(ins(p, T.stream, "rep-ingest")).to.include({ shardCount: 2, retentionPeriod: 48 });
        });

        it("lands Firehose's records in raw/dt=YYYY-MM-DD/ by the record's own date, GZIP, one line each, errors under raw/_errors/", () => {
            const f = ins(plan, T.firehose, "rep-firehose");
            expect(f.destination).to.equal("extended_s3");
            expect(f.kinesisSourceConfiguration).to.deep.equal({ kinesisStreamArn: arnOf(T.stream, "rep-ingest"), roleArn: arnOf(T.role, "rep-firehose-role") });
            const s3 = f.extendedS3Configuration;
            expect(s3).to.include({ bucketArn: raw.arn, prefix: "raw/dt=!{partitionKeyFromQuery:dt}/", compressionFormat: "GZIP", bufferingSize: 64, bufferingInterval: 300 });
            expect(s3.errorOutputPrefix).to.equal("raw/_errors/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/");
            expect(s3.dynamicPartitioningConfiguration).to.deep.equal({ enabled: true, retryDuration: 300 });
            expect(s3.processingConfiguration.processors).to.deep.equal([
                {
                    type: "MetadataExtraction",
                    parameters: [
                        { parameterName: "MetadataExtractionQuery", parameterValue: "{dt: .event_time[0:10]}" },
                        { parameterName: "JsonParsingEngine", parameterValue: "JQ-1.6" },
                    ],
                },
                { type: "AppendDelimiterToRecord", parameters: [{ parameterName: "Delimiter", parameterValue: "\\n" }] },
            ]);
            expect(s3.cloudwatchLoggingOptions).to.include({ enabled: true, logStreamName: "DestinationDelivery" });
        });

        it("refuses a Firehose buffer below the 64 MB dynamic partitioning needs, in one line", async () => {
            expect(await refusal({ firehose: { bufferMb: 32 } })).to.equal('ResilientReportingPipeline "rep": firehose.bufferMb = 32: expected an integer from 64 to 128');
            expect(await refusal({ firehose: { bufferSeconds: 1000 } })).to.match(/firehose\.bufferSeconds = 1000: expected an integer from 0 to 900/);
        });

        it("keeps raw versioned, encrypted, TLS-only, moving to cheaper storage and never expiring", () => {
            const bucketId = one(plan, T.bucket, "rep-raw-bucket").outputs.id;
            expect(ofType(plan, "aws:s3/bucketVersioning:BucketVersioning").find((v) => v.inputs.bucket === bucketId)?.inputs.versioningConfiguration).to.deep.equal({ status: "Enabled" });
            expect(ofType(plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").some((e) => e.inputs.bucket === bucketId)).to.equal(true);
            const rules = ofType(plan, T.lifecycle).find((l) => l.inputs.bucket === bucketId)!.inputs.rules as { id: string; transitions?: unknown; expiration?: { days?: number } }[];
            expect(rules.find((r) => r.id === "transition-current-versions")?.transitions).to.deep.equal([
                { days: 30, storageClass: "STANDARD_IA" },
                { days: 365, storageClass: "GLACIER_IR" },
            ]);
            expect(rules.every((r) => r.expiration?.days === undefined), "no rule expires current objects").to.equal(true);
            const policy = policyOf(ofType(plan, T.bucketPolicy).find((p) => p.inputs.bucket === bucketId)!);
            expect(policy.Statement.map((s) => s.Sid)).to.deep.equal(["DenyInsecureTransport", "OnlyTheWriterWrites", "NoOneDeletes"]);
        });

        it("lets no role of the plan but Firehose's write under raw/, and none delete there (IAM simulation over every role)", async () => {
            const authorizer = planAuthorizer(plan);
            const firehoseRole = arnOf(T.role, "rep-firehose-role");
            const object = `${raw.arn}/raw/dt=2026-11-20/part-0001.gz`;
            const roles = ofType(plan, T.role).map((r) => r.outputs.arn as string);
            expect(roles.length).to.be.greaterThan(5);
            const writers: string[] = [];
            const deleters: string[] = [];
            for (const role of roles) {
                if ((await authorizer.authorize({ principal: { role }, action: "s3:PutObject", resource: object })).allowed) writers.push(role);
                for (const action of ["s3:DeleteObject", "s3:DeleteObjectVersion"]) if ((await authorizer.authorize({ principal: { role }, action, resource: object })).allowed) deleters.push(`${role} ${action}`);
            }
            expect(writers).to.deep.equal([firehoseRole]);
            expect(deleters).to.deep.equal([]);
            // The bucket policy holds against a role whose own policy allows everything on the bucket.
            const withOperator = await record(() => {
                const p = new ResilientReportingPipeline("rep", { alertTopic: alertTopic() });
                const operator = new aws.iam.Role("operator", { assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }] }) });
                new aws.iam.RolePolicy("operator-policy", {
                    role: operator.id,
                    policy: p.rawBucket.arn.apply((arn) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"], Resource: `${arn}/*` }] })),
                });
            });
            const operator = one(withOperator, T.role, "operator").outputs.arn as string;
            const judge = planAuthorizer(withOperator);
            for (const action of ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]) {
                expect((await judge.authorize({ principal: { role: operator }, action, resource: object })).allowed, action).to.equal(false);
                expect((await judge.authorize({ principal: { role: operator }, action, resource: `${raw.arn}/notes/readme.txt` })).allowed, `${action} outside raw/`).to.equal(true);
            }
            // Firehose may write only under raw/.
            expect((await authorizer.authorize({ principal: { role: firehoseRole }, action: "s3:PutObject", resource: `${raw.arn}/elsewhere/x.gz` })).allowed).to.equal(false);
            expect((await authorizer.authorize({ principal: { role: firehoseRole }, action: "s3:PutObject", resource: `${lake.arn}/curated/x` })).allowed).to.equal(false);
        });

        it("gives Firehose exactly: read the stream, decrypt it, write raw/, log", () => {
            const logs = arnOf(T.logGroup, "rep-firehose-logs");
            expect(allowed(grantsOf(plan, "firehose"))).to.deep.equal(
                [
                    ...pairs(["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"], [arnOf(T.stream, "rep-ingest")]),
                    `kms:Decrypt ${keyArn}`,
                    ...pairs(["s3:GetBucketLocation", "s3:ListBucketMultipartUploads", "s3:ListBucket"], [raw.arn]),
                    ...pairs(["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"], [`${raw.arn}/raw/*`]),
                    `logs:PutLogEvents ${logs}:*`,
                ].sort(),
            );
            const trust = JSON.parse(ins(plan, T.role, "rep-firehose-role").assumeRolePolicy as string);
            expect(trust.Statement[0]).to.deep.include({ Principal: { Service: "firehose.amazonaws.com" }, Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } } });
        });
    });

    describe("the Glue catalog and job", () => {
        it("catalogs raw (JSON, all strings), curated and rejects (Parquet), each with partition projection on dt", () => {
            const db = one(plan, T.database, "rep-catalog");
            expect(db.inputs.name).to.equal("rep_test");
            const rawTable = ins(plan, T.table, "rep-raw-table");
            expect(rawTable).to.include({ databaseName: "rep_test", name: "raw_transactions", tableType: "EXTERNAL_TABLE" });
            expect(rawTable.storageDescriptor.columns.map((c: { name: string; type: string }) => `${c.name}:${c.type}`)).to.deep.equal(
                ["event_id", "event_time", "account_id", "amount", "currency", "type", "source"].map((c) => `${c}:string`),
            );
            expect(rawTable.storageDescriptor.serDeInfo.serializationLibrary).to.equal("org.openx.data.jsonserde.JsonSerDe");
            expect(rawTable.partitionKeys).to.deep.equal([{ name: "dt", type: "string" }]);
            expect(rawTable.parameters).to.deep.include({
                "projection.enabled": "true",
                "projection.dt.type": "date",
                "projection.dt.format": "yyyy-MM-dd",
                "projection.dt.range": "2020-01-01,NOW",
                "storage.location.template": `s3://${raw.name}/raw/dt=\${dt}/`,
            });
            for (const [role, name, prefix] of [["curated", "curated_transactions", REPORTING_PREFIXES.curated], ["rejects", "rejected_transactions", REPORTING_PREFIXES.rejects]]) {
                const t = ins(plan, T.table, `rep-${role}-table`);
                expect(t.name).to.equal(name);
                expect(t.storageDescriptor.location).to.equal(`s3://${lake.name}/${prefix}`);
                expect(t.storageDescriptor.serDeInfo.serializationLibrary).to.match(/ParquetHiveSerDe/);
                expect(t.parameters["storage.location.template"]).to.equal(`s3://${lake.name}/${prefix}dt=\${dt}/`);
            }
        });

        it("runs a Glue 5.0 job with workers from args, bookmarks, continuous logs, metrics and a security configuration", async () => {
            const job = ins(plan, T.job, "rep-etl");
            expect(job).to.include({ glueVersion: "5.0", workerType: "G.1X", numberOfWorkers: 2, timeout: 60, maxRetries: 0 });
            expect(job.executionProperty).to.deep.equal({ maxConcurrentRuns: 1 });
            expect(job.defaultArguments).to.include({
                "--job-bookmark-option": "job-bookmark-enable",
                "--enable-continuous-cloudwatch-log": "true",
                "--enable-metrics": "true",
                "--continuous-log-logGroup": one(plan, T.logGroup, "rep-glue-logs").outputs.name,
                "--raw_path": `s3://${raw.name}/raw/`,
                "--curated_path": `s3://${lake.name}/curated/transactions/`,
                "--rejects_path": `s3://${lake.name}/curated/rejects/`,
            });
            const security = ins(plan, T.securityConfiguration, "rep-glue-security");
            expect(job.securityConfiguration).to.equal(security.name);
            expect(security.encryptionConfiguration.s3Encryption).to.deep.equal({ s3EncryptionMode: "SSE-KMS", kmsKeyArn: keyArn });
            expect(security.encryptionConfiguration.jobBookmarksEncryption).to.deep.equal({ jobBookmarksEncryptionMode: "CSE-KMS", kmsKeyArn: keyArn });
            const big = await build({ glue: { workerType: "G.2X", workers: 10 } });
            expect(ins(big, T.job, "rep-etl")).to.include({ workerType: "G.2X", numberOfWorkers: 10 });
        });

        it("uploads the script and its SQL under their content hash, and points the job at exactly those objects", () => {
            const job = ins(plan, T.job, "rep-etl");
            const objects = ofType(plan, T.object);
            const script = objects.find((o) => String(o.inputs.key).endsWith("/report_etl.py"))!;
            expect(script.inputs.key).to.match(/^scripts\/[0-9a-f]{16}\/report_etl\.py$/);
            expect(script.inputs.content).to.equal(readFileSync(join(SQL_ROOT, "..", "report_etl.py"), "utf8"));
            expect(job.command).to.deep.equal({ name: "glueetl", pythonVersion: "3", scriptLocation: `s3://${lake.name}/${script.inputs.key}` });
            const sqlPath = job.defaultArguments["--sql_path"] as string;
            expect(sqlPath).to.match(new RegExp(`^s3://${lake.name}/scripts/sql-[0-9a-f]{16}/$`));
            const uploaded = objects.filter((o) => `s3://${lake.name}/${o.inputs.key}`.startsWith(sqlPath));
            expect(uploaded.map((o) => [String(o.inputs.key).split("/").pop(), o.inputs.content])).to.deep.equal(sqlFiles("transform").map((f) => [f.name, f.text]));
        });

        it("changes the SQL prefix when a transform file changes", async () => {
            const before = ins(plan, T.job, "rep-etl").defaultArguments["--sql_path"];
            const files = sqlFiles("transform");
            expect(contentHash(...files.map((f) => `${f.name}\n${f.text}`))).to.equal(String(before).split("sql-")[1].slice(0, 16));
            expect(contentHash(...files.map((f, i) => `${f.name}\n${f.text}${i === 0 ? " " : ""}`))).to.not.equal(String(before).split("sql-")[1].slice(0, 16));
        });

        it("gives Glue exactly: read raw/ and its scripts, replace curated/, its temp dir, the key, its logs and metrics", () => {
            const logs = arnOf(T.logGroup, "rep-glue-logs");
            expect(allowed(grantsOf(plan, "glue"))).to.deep.equal(
                [
                    `s3:ListBucket ${raw.arn}`,
                    ...pairs(["s3:GetObject"], [`${raw.arn}/raw/*`, `${lake.arn}/scripts/*`]),
                    `s3:ListBucket ${lake.arn}`,
                    ...pairs(["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"], [`${lake.arn}/curated/*`, `${lake.arn}/glue-temp/*`]),
                    ...pairs(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], [keyArn]),
                    ...pairs(["logs:CreateLogStream", "logs:PutLogEvents"], [`${logs}:*`]),
                    "cloudwatch:PutMetricData *",
                ].sort(),
            );
        });
    });

    describe("Redshift Serverless", () => {
        it("runs in the private subnets of an awsx Vpc without NAT, reaching S3 through a gateway endpoint", () => {
            const vpc = one(plan, T.vpc, "rep-vpc");
            expect(vpc.inputs).to.deep.include({ natGateways: { strategy: "None" }, subnetSpecs: [{ type: "Private", cidrMask: 20 }], numberOfAvailabilityZones: 3 });
            const wg = ins(plan, T.workgroup, "rep-workgroup");
            expect(wg.subnetIds).to.deep.equal(vpc.outputs.privateSubnetIds).and.have.length(3);
            const endpoint = ins(plan, T.endpoint, "rep-s3-endpoint");
            expect(endpoint).to.include({ vpcId: vpc.outputs.vpcId, vpcEndpointType: "Gateway", serviceName: "com.amazonaws.us-east-1.s3" });
            expect(endpoint.routeTableIds).to.deep.equal((vpc.outputs.routeTables as { id: string }[]).map((t) => t.id));
            const sg = one(plan, T.securityGroup, "rep-redshift-sg");
            expect(wg.securityGroupIds).to.deep.equal([sg.outputs.id]);
            expect(sg.inputs.ingress ?? []).to.deep.equal([]);
            expect(sg.inputs.egress).to.deep.equal([{ protocol: "tcp", fromPort: 443, toPort: 443, prefixListIds: [one(plan, T.endpoint, "rep-s3-endpoint").outputs.prefixListId], description: "S3 through the gateway endpoint" }]);
        });

        it("keeps the admin password in Secrets Manager, encrypts, audits, routes through the VPC, base capacity from args", async () => {
            const ns = ins(plan, T.namespace, "rep-namespace");
            expect(ns).to.include({ manageAdminPassword: true, kmsKeyId: keyArn, dbName: "reporting" });
            expect(ns).to.not.have.property("adminUserPassword");
            expect(ns.logExports).to.deep.equal(["connectionlog", "userlog", "useractivitylog"]);
            expect(ns.iamRoles).to.deep.equal([arnOf(T.role, "rep-copy-role"), arnOf(T.role, "rep-unload-role")]);
            const wg = ins(plan, T.workgroup, "rep-workgroup");
            expect(wg).to.include({ baseCapacity: 8, enhancedVpcRouting: true, publiclyAccessible: false, namespaceName: ns.namespaceName });
            expect(wg.configParameters).to.deep.include({ parameterKey: "enable_user_activity_logging", parameterValue: "true" });
            const big = await build({ redshift: { baseCapacity: 32 } });
            expect(ins(big, T.workgroup, "rep-workgroup").baseCapacity).to.equal(32);
            expect(await refusal({ redshift: { baseCapacity: 12 } })).to.equal('ResilientReportingPipeline "rep": redshift.baseCapacity = 12: expected a multiple of 8 RPUs');
        });

        it("gives COPY's role the curated prefix only, and UNLOAD's role reports/dt=… only", () => {
            expect(allowed(grantsOf(plan, "copy"))).to.deep.equal(
                [`s3:ListBucket ${lake.arn}`, `s3:GetBucketLocation ${lake.arn}`, `s3:GetObject ${lake.arn}/curated/transactions/*`, `kms:Decrypt ${keyArn}`].sort(),
            );
            const listing = grantsOf(plan, "copy").find((st) => list(st.Action).includes("s3:ListBucket"))!;
            expect(listing.Condition).to.deep.equal({ StringLike: { "s3:prefix": ["curated/transactions/", "curated/transactions/*"] } });
            expect(allowed(grantsOf(plan, "unload"))).to.deep.equal(
                [
                    `s3:ListBucket ${lake.arn}`,
                    `s3:GetBucketLocation ${lake.arn}`,
                    ...pairs(["s3:AbortMultipartUpload", "s3:PutObject"], [`${lake.arn}/reports/dt=*`]),
                    ...pairs(["kms:Decrypt", "kms:GenerateDataKey"], [keyArn]),
                ].sort(),
            );
            const trust = JSON.parse(ins(plan, T.role, "rep-copy-role").assumeRolePolicy as string);
            expect(trust.Statement[0].Principal).to.deep.equal({ Service: ["redshift-serverless.amazonaws.com", "redshift.amazonaws.com"] });
        });
    });

    describe("Athena", () => {
        it("enforces the workgroup's configuration: encrypted results in its own bucket, a bytes-scanned limit per query", async () => {
            const wg = ins(plan, T.athena, "rep-athena");
            expect(wg.configuration).to.deep.include({ enforceWorkgroupConfiguration: true, publishCloudwatchMetricsEnabled: true, bytesScannedCutoffPerQuery: 10 * 1024 ** 3 });
            expect(wg.configuration.resultConfiguration).to.deep.equal({ outputLocation: `s3://${results.name}/athena/`, encryptionConfiguration: { encryptionOption: "SSE_KMS", kmsKeyArn: keyArn } });
            const small = await build({ athena: { bytesScannedCutoff: 20 * 1024 * 1024 } });
            expect(ins(small, T.athena, "rep-athena").configuration.bytesScannedCutoffPerQuery).to.equal(20 * 1024 * 1024);
        });
    });

    describe("the state machine", () => {
        let definition: any;
        before(() => {
            definition = JSON.parse(ins(plan, T.stateMachine, "rep-states").definition as string);
        });

        it("is a standard state machine logging to its own log group (level from args), traced", async () => {
            const sm = ins(plan, T.stateMachine, "rep-states");
            expect(sm.type).to.equal("STANDARD");
            expect(sm.loggingConfiguration).to.deep.equal({ level: "ERROR", includeExecutionData: true, logDestination: `${arnOf(T.logGroup, "rep-states-logs")}:*` });
            expect(sm.tracingConfiguration).to.deep.equal({ enabled: true });
            const dev = await build({ stateMachine: { logLevel: "ALL" } });
            expect(ins(dev, T.stateMachine, "rep-states").loggingConfiguration.level).to.equal("ALL");
        });

        it("passes asl-validator", async () => {
            const validator = require("asl-validator") as (d: unknown) => { isValid: boolean; errors: unknown[] };
            const result = validator(definition);
            expect(result.errors, JSON.stringify(result.errors)).to.deep.equal([]);
            expect(result.isValid).to.equal(true);
        });

        it("names this job, this workgroup, this database and this topic, with the plan's locations in its SQL", () => {
            const text = JSON.stringify(definition);
            const glue = definition.States[REPORTING_STATES.runGlueJob];
            expect(glue.Parameters.JobName).to.equal(one(plan, T.job, "rep-etl").outputs.name);
            expect(text).to.include(one(plan, T.athena, "rep-athena").outputs.name as string);
            expect(text).to.include(ins(plan, T.workgroup, "rep-workgroup").workgroupName as string);
            expect(text).to.include(ALERT_TOPIC_ARN);
            expect(text).to.include(`s3://${lake.name}/curated/transactions/`);
            expect(text).to.include(arnOf(T.role, "rep-copy-role"));
            expect(text).to.not.match(/\{\{(?!date\}\}|run\}\})[a-z_]+\}\}/);
        });

        it("may start only this Glue job, query only this workgroup, run statements only on this Redshift workgroup, publish only to the alert topic", () => {
            const s = grantsOf(plan, "states");
            const resourcesOf = (prefix: string) => [...new Set(s.filter((st) => list(st.Action).some((a) => a.startsWith(prefix))).flatMap((st) => list(st.Resource)))];
            expect(resourcesOf("glue:StartJobRun")).to.deep.equal([arnOf(T.job, "rep-etl")]);
            expect(resourcesOf("athena:")).to.deep.equal([arnOf(T.athena, "rep-athena")]);
            expect(resourcesOf("redshift-data:BatchExecuteStatement")).to.deep.equal([arnOf(T.workgroup, "rep-workgroup")]);
            expect(resourcesOf("sns:")).to.deep.equal([ALERT_TOPIC_ARN]);
            const describe = s.find((st) => list(st.Action).includes("redshift-data:DescribeStatement"))!;
            expect(describe.Condition).to.deep.equal({ StringEquals: { "redshift-data:statement-owner-iam-userid": "${aws:userid}" } });
            expect(allowed(s).filter((p) => p.startsWith("s3:PutObject"))).to.deep.equal([`s3:PutObject ${lake.arn}/reports/fallback/*`, `s3:PutObject ${results.arn}/*`]);
            expect(allowed(s).filter((p) => p.endsWith(" *")).map((p) => p.split(" ")[0])).to.deep.equal(
                ["logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies", "logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery", "redshift-data:DescribeStatement", "xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"].sort(),
            );
        });

        it("starts daily from EventBridge Scheduler with the scheduled time, through a role that may start only this state machine", async () => {
            const schedule = ins(plan, T.schedule, "rep-daily");
            expect(schedule).to.include({ scheduleExpression: "cron(0 2 * * ? *)", scheduleExpressionTimezone: "UTC", state: "ENABLED" });
            expect(schedule.target).to.deep.include({ arn: arnOf(T.stateMachine, "rep-states"), roleArn: arnOf(T.role, "rep-scheduler-role"), input: '{"scheduledTime":"<aws.scheduler.scheduled-time>"}' });
            expect(allowed(grantsOf(plan, "scheduler"))).to.deep.equal([`states:StartExecution ${arnOf(T.stateMachine, "rep-states")}`]);
            const off = await build({ schedule: { expression: "cron(30 4 * * ? *)", enabled: false } });
            expect(ins(off, T.schedule, "rep-daily")).to.include({ scheduleExpression: "cron(30 4 * * ? *)", state: "DISABLED" });
        });
    });

    describe("alarms", () => {
        it("alerts on Glue FAILED, TIMEOUT and ERROR through an EventBridge rule on Glue Job State Change, which may publish to the topic", async () => {
            const rule = one(plan, T.rule, "rep-glue-failed");
            expect(JSON.parse(rule.inputs.eventPattern as string)).to.deep.equal({ source: ["aws.glue"], "detail-type": ["Glue Job State Change"], detail: { jobName: [one(plan, T.job, "rep-etl").outputs.name], state: ["FAILED", "TIMEOUT", "ERROR"] } });
            const target = ins(plan, T.target, "rep-glue-failed-alert");
            expect(target).to.include({ rule: rule.outputs.name, arn: ALERT_TOPIC_ARN });
            const topic = alertTopic();
            await record(() => void new ResilientReportingPipeline("rep", { alertTopic: topic }));
            expect(topic.publishers).to.deep.equal(["events.amazonaws.com"]);
        });

        it("watches the state machine, Firehose and the stream, each alarm with dimensions and both actions to the alert topic", () => {
            const alarms = Object.fromEntries(ofType(plan, T.alarm).map((a) => [a.name.replace(/^rep-|-alarm$/g, ""), a.inputs as Record<string, any>]));
            expect(Object.keys(alarms).sort()).to.deep.equal(["data-freshness", "delivery-failures", "executions-failed", "executions-throttled", "executions-timed-out", "glue-alert-failures", "iterator-age", "write-throttles"]);
            for (const [role, a] of Object.entries(alarms)) {
                expect(a.alarmActions, role).to.deep.equal([ALERT_TOPIC_ARN]);
                expect(a.okActions, role).to.deep.equal([ALERT_TOPIC_ARN]);
                expect(Object.keys(a.dimensions), role).to.have.length(1);
            }
            const sm = arnOf(T.stateMachine, "rep-states");
            expect(alarms["executions-failed"]).to.include({ namespace: "AWS/States", metricName: "ExecutionsFailed" });
            expect(alarms["executions-timed-out"]).to.include({ metricName: "ExecutionsTimedOut" });
            expect(alarms["executions-throttled"]).to.include({ metricName: "ExecutionThrottled" });
            expect(alarms["executions-failed"].dimensions).to.deep.equal({ StateMachineArn: sm });
            expect(alarms["data-freshness"]).to.include({ namespace: "AWS/Firehose", metricName: "DeliveryToS3.DataFreshness", statistic: "Maximum", threshold: 900 });
            expect(alarms["delivery-failures"]).to.include({ metricName: "DeliveryToS3.Success", comparisonOperator: "LessThanThreshold", threshold: 1 });
            expect(alarms["iterator-age"]).to.include({ namespace: "AWS/Kinesis", metricName: "GetRecords.IteratorAgeMilliseconds" });
            expect(alarms["write-throttles"]).to.include({ namespace: "AWS/Kinesis", metricName: "WriteProvisionedThroughputExceeded" });
        });

        it("refuses an override of an alarm it does not have, naming its alarms", async () => {
            expect(await refusal({ alarms: { nope: { threshold: 1 } } as never })).to.match(/alarms has no alarm "nope"; its alarms are "executions-failed"/);
        });
    });
});
