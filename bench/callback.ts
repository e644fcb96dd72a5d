import * as pulumi from "@pulumi/pulumi";
import { createHandler } from "../functions/audit-logger/index";

// What `aws.lambda.CallbackFunction` would ship for the audit-logger, built the way
// @pulumi/aws lambda/lambdaMixins.js builds it: the closure serialized to `__index.js`, plus
// every folder `pulumi.runtime.computeCodePaths` returns (package.json `dependencies`,
// transitively, minus "aws-sdk").

/** File name CallbackFunction gives the serialized closure (handler "__index.handler"). */
export const CLOSURE_FILE = "__index.js";

// Why the handler module's factory rather than `async (e, c) => handler(e, c)`: serializing the
// imported handler captures its Logger and BatchProcessor instances, so Pulumi serializes their
// classes by value and fails on Powertools internals ("package.json export path for
// @aws-lambda-powertools/logger/lib/cjs/constants.js not found"). `createHandler` (for
// CallbackFunction's `callbackFactory`) builds them at cold start, as the module does on load.
const auditLoggerFactory = createHandler;

export interface CallbackArchive {
    /** Text of `__index.js`. */
    closureText: string;
    /** Archive-relative folders/files computeCodePaths adds (e.g. `node_modules/zod`), relative to the cwd. */
    codePaths: string[];
}

/** Serializes the closure and lists its code paths with the options CallbackFunction uses. */
export async function callbackArchive(): Promise<CallbackArchive> {
    const closure = await pulumi.runtime.serializeFunction(auditLoggerFactory, {
        serialize: (_) => true,
        exportName: "handler",
        isFactoryFunction: true,
        allowSecrets: true,
    });
    const codePaths = await pulumi.runtime.computeCodePaths({ extraExcludePackages: ["aws-sdk"] });
    return { closureText: closure.text, codePaths: [...codePaths.keys()] };
}
