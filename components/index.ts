// The library surface: `import { QueueWithDlq, FanOutTopic } from "event-pipelines"`.
export * from "./alarms";
export * from "./alert-topic";
export * from "./bundle";
export * from "./defaults";
export * from "./encrypted-topic";
export * from "./encryption-key";
export * from "./fan-out-topic";
export * from "./lambda-function";
export * from "./policy-documents";
export * from "./queue-with-dlq";
export * from "./filter-policies";
export * from "./validation";
export * from "./stream-to-table";
export * from "./api-to-queue";
export * from "./event-patterns";
export * from "./object-created-rule";
export * from "./secure-bucket";
