// The operator CLI's functions, for scripts and end-to-end tests (the entry points are events-send.ts and events-verify.ts).
export * from "./common";
export * from "./manifest";
export * from "./progress";
export * from "./send";
export * from "./verify";
