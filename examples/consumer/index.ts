import * as pulumi from "@pulumi/pulumi";
import {
    AUDIT_TABLE_ENV,
    AUDIT_TABLE_KEY,
    AlertTopic,
    DEFAULT_DERIVED_PREFIX,
    FanOutTopic,
    IMAGE_KEY_SUFFIXES,
    IMAGE_PROCESSOR_ENV,
    KeyedTable,
    ObjectCreatedRule,
    OBJECT_ENVELOPE,
    QueueWithDlq,
    ResilientReportingPipeline,
    SecureBucket,
    StreamToTable,
    UPLOAD_ENVELOPE,
    anyCaseSuffixes,
    functionEntry,
} from "event-pipelines";

// Another team's program, written against the package as it installs (`npm install
// event-pipelines-<version>.tgz`): the building blocks, one of the seed systems, and each shipped
// handler wired by hand from the names the package exports (functions/shared/contract.ts), as a
// team rebuilding one of our flows would.

const alerts = new AlertTopic("alerts");

// A queue whose consumer is an inline function: CallbackFunction, with the component's own role.
const orders = new QueueWithDlq("orders", {
    alertTopicArn: alerts.arn,
    consumer: {
        function: {
            callback: async (event: { Records: { messageId: string; body: string }[] }) => {
                const batchItemFailures = event.Records.filter((r) => !r.body.startsWith("{")).map((r) => ({ itemIdentifier: r.messageId }));
                return { batchItemFailures };
            },
        },
    },
});

// A fan-out topic feeding it the order events only.
const orderEvents = new FanOutTopic("order-events", {
    subscribers: { orders: { queue: orders, filterPolicy: { type: ["order"] } } },
});

// Seed 001's system, as it ships.
const clicks = new StreamToTable("clicks", { alertTopicArn: alerts.arn, lookupIndex: true });

// Uploads fanned out to the image processor and the audit logger, from the building blocks.
const photos = new SecureBucket("photos");
const photoObjects = pulumi.interpolate`${photos.arn}/*`;
const auditRecords = new KeyedTable("photo-audit", { hashKey: AUDIT_TABLE_KEY, alertTopicArn: alerts.arn });
const audit = new QueueWithDlq("photo-audit", {
    alertTopicArn: alerts.arn,
    consumer: {
        function: {
            entry: functionEntry("audit-logger"),
            environment: { [AUDIT_TABLE_ENV]: auditRecords.name },
            grants: [{ actions: ["dynamodb:PutItem"], resources: [auditRecords.arn] }],
        },
    },
});
const thumbnails = new QueueWithDlq("thumbnails", {
    alertTopicArn: alerts.arn,
    consumer: {
        function: {
            entry: functionEntry("image-processor"),
            // sharp ships in the archive, for the CPU this machine installed it for.
            nativePackages: ["sharp"],
            architecture: "x86_64",
            memorySizeMb: 1024,
            timeoutSeconds: 60,
            environment: { ...IMAGE_PROCESSOR_ENV },
            grants: [
                { actions: ["s3:GetObject"], resources: [photoObjects] },
                { actions: ["s3:ListBucket"], resources: [photos.arn] },
                { actions: ["s3:PutObject"], resources: [pulumi.interpolate`${photos.arn}/${DEFAULT_DERIVED_PREFIX}*`] },
            ],
        },
    },
});
const uploads = new FanOutTopic("photo-uploads", {
    subscribers: {
        thumbnails: {
            queue: thumbnails,
            filterPolicyScope: "MessageBody",
            filterPolicy: { [UPLOAD_ENVELOPE.object]: { key: anyCaseSuffixes([...IMAGE_KEY_SUFFIXES]) } },
        },
        audit: { queue: audit },
    },
});
new ObjectCreatedRule("photo-created", {
    bucket: photos,
    alertTopicArn: alerts.arn,
    excludePrefixes: [DEFAULT_DERIVED_PREFIX],
    target: { topic: uploads },
    inputTransformer: OBJECT_ENVELOPE,
});

// A queue of API messages, its consumer moving the ones it refuses to its DLQ.
const inbox = new QueueWithDlq("inbox", {
    alertTopicArn: alerts.arn,
    consumer: { function: { entry: functionEntry("api-consumer") }, sendsRejectsToDlq: true },
});

// Seed 002's system, as it ships: its Glue script and SQL come from the package's glue/ folder.
const daily = new ResilientReportingPipeline("daily", { alertTopic: alerts, glue: { workers: 4 }, schedule: { enabled: false } });

export const ordersQueueUrl = orders.url;
export const orderEventsTopicArn = orderEvents.arn;
export const clicksStreamName = clicks.stream.name;
export const clicksTableName = clicks.table.name;
export const photosBucket = photos.bucketName;
export const inboxQueueUrl = inbox.url;
export const dailyStateMachineArn = daily.stateMachine.arn;
