import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { bundleFunction } from "./bundle";
import { LAMBDA_ARCHITECTURES, LAMBDA_DEFAULTS, LAMBDA_LIMITS, LAMBDA_RUNTIMES, LOG_RETENTION_DAYS } from "../shared/defaults";
import { InvalidArgument, checkInteger, checkOneOf } from "../shared/validation";
import { Grant, checkGrant, functionBaseGrants, grantStatements, lambdaTrustPolicy, policyDocument } from "../security/policy-documents";
import { autoName, namePrefix } from "../shared/naming";

/** A grant whose resources may still be Outputs (ARNs of resources being created). */
export interface GrantInput {
    actions: string[];
    resources: pulumi.Input<string>[];
    /** Narrows the grant further (e.g. s3:prefix on ListBucket). Default none. */
    condition?: Record<string, Record<string, pulumi.Input<string> | pulumi.Input<string>[]>>;
}

export interface LambdaFunctionArgs {
    /**
     * Path of a TypeScript/JavaScript handler module exporting `handler`, bundled with esbuild.
     * Exactly one of `entry` and `callback` is required (no default). `functionEntry("name")` gives
     * this package's `functions/<name>/index.ts`.
     */
    entry?: string;
    /**
     * An inline handler, serialized by Pulumi (`aws.lambda.CallbackFunction`) with this component's
     * role instead of its managed policies. Exactly one of `entry` and `callback` (no default).
     */
    callback?: aws.lambda.Callback<any, any>;
    /**
     * For a callback: the npm packages it requires at run time. CallbackFunction would otherwise
     * ship every dependency in the program's package.json (build tools included). Default none.
     */
    callbackPackages?: string[];
    /** Exact actions on exact resources the handler needs, beyond its own logs and traces. Default none. */
    grants?: GrantInput[];
    /** Environment variables. Default none (plus NODE_OPTIONS=--enable-source-maps for bundled code). */
    environment?: Record<string, pulumi.Input<string>>;
    /** Timeout in seconds: a plain number, so queues can size their visibility timeout from it. Default 30. */
    timeoutSeconds?: number;
    /** Memory in MB. Default 256. */
    memorySizeMb?: pulumi.Input<number>;
    /** Lambda runtime (a plain string, as CallbackFunction requires): nodejs22.x or nodejs24.x. Default nodejs22.x. */
    runtime?: string;
    /** Instruction set. Default arm64 (cheaper; the bundles are pure JavaScript). */
    architecture?: "arm64" | "x86_64";
    /** Retention of the function's own log group, in days. Default 30. */
    logRetentionDays?: pulumi.Input<number>;
    /** X-Ray active tracing. Default true. */
    tracing?: boolean;
    /** Reserved concurrency. Default unreserved. */
    reservedConcurrency?: pulumi.Input<number>;
    /** Packages esbuild leaves out besides the AWS SDK v3 (native modules shipped in a layer). Default none. */
    external?: string[];
    /**
     * With `entry`: installed packages with native code (e.g. `sharp`), shipped in the function's
     * archive under node_modules/ with their dependencies, for this function's `architecture`
     * (linux, glibc). The machine that bundles must have that platform's binaries installed
     * (`npm install --os=linux --cpu=arm64 --libc=glibc sharp` for arm64 on an x64 machine); the build fails
     * in one line naming the missing package otherwise. Default none.
     */
    nativePackages?: string[];
    /** Lambda layers, e.g. for a native module left external. Default none. */
    layers?: pulumi.Input<string>[];
    /** Set Pulumi `protect` on the log group. Default false. */
    protect?: boolean;
}

/**
 * How a function runs, apart from its code and grants: what a system component lets its caller set
 * for every function it builds (each field keeps LambdaFunctionArgs' default).
 */
export type FunctionSettings = Pick<LambdaFunctionArgs, "runtime" | "architecture" | "memorySizeMb" | "timeoutSeconds" | "logRetentionDays" | "tracing" | "protect">;

/** The folder of this package (the one holding its package.json), from source or from the built dist/. */
export const PACKAGE_ROOT: string = (() => {
    for (let dir = __dirname; ; dir = path.dirname(dir)) {
        const manifest = path.join(dir, "package.json");
        if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === "event-pipelines") return dir;
        if (path.dirname(dir) === dir) throw new Error(`event-pipelines: no package.json of this package above ${__dirname}`);
    }
})();

/** `functions/<name>/index.ts` of this package, the handler sources it ships. */
export function functionEntry(name: string): string {
    const entry = path.join(PACKAGE_ROOT, "functions", name, "index.ts");
    if (!fs.existsSync(entry)) throw new InvalidArgument(`functionEntry: no functions/${name}/index.ts in this package (${PACKAGE_ROOT})`);
    return entry;
}

/** The program's package.json dependencies a callback does not name: left out of its archive. */
function unusedDependencies(used: string[]): string[] {
    const manifest = path.join(process.cwd(), "package.json");
    if (!fs.existsSync(manifest)) return [];
    const deps = Object.keys(JSON.parse(fs.readFileSync(manifest, "utf8")).dependencies ?? {});
    return deps.filter((d) => !used.includes(d));
}

/**
 * A Lambda function with its own log group (retention from config), X-Ray tracing, and a role
 * whose only policy is built from explicit grants. The code is either a handler bundled by esbuild
 * into a deterministic archive, or an inline callback wrapped by `aws.lambda.CallbackFunction`
 * with this role, so none of the nine managed policies CallbackFunction attaches by default.
 */
export class LambdaFunction extends pulumi.ComponentResource {
    readonly function: aws.lambda.Function;
    readonly role: aws.iam.Role;
    readonly logGroup: aws.cloudwatch.LogGroup;
    readonly arn: pulumi.Output<string>;
    readonly functionName: pulumi.Output<string>;
    /** The timeout, in seconds, as a plain number. */
    readonly timeoutSeconds: number;
    /** Base64 SHA-256 of the bundled archive (undefined for callbacks, whose archive Pulumi builds). */
    readonly codeSha256?: pulumi.Output<string>;

    constructor(name: string, args: LambdaFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("event-pipelines:index:LambdaFunction", name, {}, opts);
        const label = `LambdaFunction "${name}"`;
        if (!args.entry === !args.callback) {
            throw new InvalidArgument(`${label}: expected exactly one of entry (a handler file to bundle) or callback (an inline function)`);
        }
        if (args.callback && args.nativePackages?.length) {
            throw new InvalidArgument(`${label}: nativePackages needs entry (a bundled handler); a callback's packages go in callbackPackages`);
        }
        checkOneOf(`${label}: runtime`, args.runtime, LAMBDA_RUNTIMES);
        checkOneOf(`${label}: architecture`, args.architecture, LAMBDA_ARCHITECTURES);
        checkInteger(`${label}: memorySizeMb`, args.memorySizeMb, LAMBDA_LIMITS.memorySizeMb);
        checkInteger(`${label}: timeoutSeconds`, args.timeoutSeconds, LAMBDA_LIMITS.timeoutSeconds);
        checkOneOf(`${label}: logRetentionDays`, args.logRetentionDays, LOG_RETENTION_DAYS);
        // Refuse a bad grant here, with the component's name, rather than later inside an apply.
        const grantLabel = `${label}: grant`;
        (args.grants ?? []).forEach((g, i) => checkGrant(g, `${grantLabel} ${i + 1}`));
        this.timeoutSeconds = args.timeoutSeconds ?? LAMBDA_DEFAULTS.timeoutSeconds;
        const tracing = args.tracing ?? LAMBDA_DEFAULTS.tracing;

        this.logGroup = new aws.cloudwatch.LogGroup(
            `${name}-logs`,
            { namePrefix: namePrefix(label, "aws:cloudwatch/logGroup:LogGroup", `/aws/lambda/${name}-`), retentionInDays: args.logRetentionDays ?? LAMBDA_DEFAULTS.logRetentionDays },
            { parent: this, protect: args.protect },
        );
        this.role = new aws.iam.Role(autoName(label, "aws:iam/role:Role", `${name}-role`), { assumeRolePolicy: JSON.stringify(lambdaTrustPolicy()) }, { parent: this });
        const statements = pulumi
            .all([this.logGroup.arn, pulumi.output((args.grants ?? []) as pulumi.Input<Grant>[])])
            .apply(([logGroupArn, extra]) => [...grantStatements(functionBaseGrants(logGroupArn, tracing)), ...grantStatements(extra, grantLabel)]);
        const policy = new aws.iam.RolePolicy(
            autoName(label, "aws:iam/rolePolicy:RolePolicy", `${name}-policy`),
            { role: this.role.id, policy: statements.apply((s) => JSON.stringify(policyDocument(s))) },
            { parent: this },
        );

        const common = {
            role: this.role.arn,
            runtime: args.runtime ?? LAMBDA_DEFAULTS.runtime,
            architectures: [args.architecture ?? LAMBDA_DEFAULTS.architecture],
            memorySize: args.memorySizeMb ?? LAMBDA_DEFAULTS.memorySizeMb,
            timeout: this.timeoutSeconds,
            reservedConcurrentExecutions: args.reservedConcurrency,
            layers: args.layers,
            loggingConfig: { logFormat: "JSON", logGroup: this.logGroup.name },
            tracingConfig: { mode: tracing ? "Active" : "PassThrough" },
        };
        // The role's policy and the log group must exist before the first invocation writes logs.
        const fnOpts = { parent: this, dependsOn: [policy, this.logGroup] };
        if (args.entry) {
            const bundle = pulumi.output(
                bundleFunction(args.entry, {
                    external: args.external,
                    nativePackages: args.nativePackages,
                    architecture: args.architecture ?? LAMBDA_DEFAULTS.architecture,
                }),
            );
            this.codeSha256 = bundle.sha256;
            this.function = new aws.lambda.Function(
                autoName(label, "aws:lambda/function:Function", `${name}-function`),
                {
                    ...common,
                    handler: "index.handler",
                    code: bundle.zipPath.apply((p) => new pulumi.asset.FileArchive(p)),
                    // Lambda's own CodeSha256: a diff appears when the code changes here or out of band.
                    codeSha256: bundle.sha256,
                    environment: { variables: { NODE_OPTIONS: "--enable-source-maps", ...args.environment } },
                },
                fnOpts,
            );
        } else {
            this.function = new aws.lambda.CallbackFunction(
                autoName(label, "aws:lambda/function:Function", `${name}-function`),
                {
                    ...common,
                    callback: args.callback,
                    environment: args.environment ? { variables: args.environment } : undefined,
                    codePathOptions: { extraExcludePackages: unusedDependencies(args.callbackPackages ?? []) },
                },
                fnOpts,
            );
        }
        this.arn = this.function.arn;
        this.functionName = this.function.name;
        this.registerOutputs({ arn: this.arn, functionName: this.functionName });
    }
}
