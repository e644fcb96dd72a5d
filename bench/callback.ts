import * as pulumi from "@pulumi/pulumi";

// What `aws.lambda.CallbackFunction` would ship for a handler, built the way @pulumi/aws
// lambda/lambdaMixins.js builds it: the closure serialized to `__index.js`, plus every folder
// `pulumi.runtime.computeCodePaths` returns (package.json `dependencies`, transitively, minus "aws-sdk").
//
// The closure is a handler's factory (each functions/<name>/index.ts exports one for
// CallbackFunction's `callbackFactory`), not a lambda calling the module's handler: that would
// capture its Logger and BatchProcessor instances, and Pulumi fails serializing Powertools'
// classes by value. The factory builds them at cold start, as the module does on load.

/** File name CallbackFunction gives the serialized closure (handler "__index.handler"). */
export const CLOSURE_FILE = "__index.js";

export interface CallbackArchive {
    /** Text of `__index.js`. */
    closureText: string;
    /** Archive-relative folders/files computeCodePaths adds (e.g. `node_modules/zod`), relative to the cwd. */
    codePaths: string[];
}

/** Serializes the factory and lists its code paths with the options CallbackFunction uses. */
export async function callbackArchive(factory: () => unknown): Promise<CallbackArchive> {
    const closure = await pulumi.runtime.serializeFunction(factory, {
        serialize: (_) => true,
        exportName: "handler",
        isFactoryFunction: true,
        allowSecrets: true,
    });
    const codePaths = await pulumi.runtime.computeCodePaths({ extraExcludePackages: ["aws-sdk"] });
    return { closureText: closure.text, codePaths: [...codePaths.keys()] };
}
