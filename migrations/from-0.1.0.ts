import * as pulumi from "@pulumi/pulumi";
import type { MessagesApiPart, UploadFanOutPart } from "../components";

// event-pipelines 0.1.0 built seed 003's flows from building blocks at the stack root; 0.2.0 builds
// them inside UploadFanOut and MessagesApi, under names that follow `${component}-<role>`. These
// aliases give each part its 0.1.0 URN (name and root parent), so `pulumi up` on a 0.1.0 stack
// moves every resource into the components instead of replacing it; the children of each part
// follow by themselves (Pulumi derives their aliases from their parent's). test/migrations checks
// that every URN of the 0.1.0 dev and prod plans is kept.

/** The old stack-root resource `name` (of the same type). */
const atRoot = (name?: string): pulumi.Alias[] => [{ ...(name ? { name } : {}), parent: pulumi.rootStackResource }];

/** UploadFanOut "uploads": bucket, rule and topic kept their names; the queues and table were unprefixed. */
export const UPLOADS_ALIASES_FROM_0_1_0: Record<UploadFanOutPart, pulumi.Alias[]> = {
    bucket: atRoot(),
    rule: atRoot(),
    topic: atRoot(),
    images: atRoot("images"),
    audit: atRoot("audit"),
    auditRecords: atRoot("audit-records"),
};

/** MessagesApi "messages": the API kept its name; the queue was "api", the account setting "api-gateway-account". */
export const MESSAGES_ALIASES_FROM_0_1_0: Record<MessagesApiPart, pulumi.Alias[]> = {
    api: atRoot(),
    inbox: atRoot("api"),
    accountLogging: atRoot("api-gateway-account"),
};
