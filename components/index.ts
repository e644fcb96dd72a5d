// The library surface: `import { QueueWithDlq, FanOutTopic } from "event-pipelines"`.

// What the shipped handlers and their infrastructure agree on (env names, table keys, schemas).
export * from "../functions/shared/contract";

// Shared defaults, limits and argument checks.
export * from "./shared/defaults";
export * from "./shared/validation";
export * from "./shared/naming";
export * from "./shared/references";

// Building blocks, grouped by what they are.
export * from "./security/policy-documents";
export * from "./security/encryption-key";
export * from "./security/statement-collector";
export * from "./security/service-role";
export * from "./monitoring/alarms";
export * from "./monitoring/alert-topic";
export * from "./messaging/queue-with-dlq";
export * from "./messaging/encrypted-topic";
export * from "./messaging/fan-out-topic";
export * from "./messaging/filter-policies";
export * from "./messaging/event-patterns";
export * from "./messaging/object-created-rule";
export * from "./storage/secure-bucket";
export * from "./storage/keyed-table";
export * from "./compute/bundle";
export * from "./compute/lambda-function";
export * from "./api/api-to-queue";
export * from "./api/api-gateway-account";

// The seed systems.
export * from "./systems/stream-to-table";
export * from "./systems/upload-fan-out";
export * from "./systems/messages-api";
export * from "./systems/payment-file-pipeline";
export * from "./systems/reporting-plan";
export * from "./systems/resilient-reporting-pipeline";
export * from "./orchestration/asl";
export * from "./orchestration/reporting-definition";
