import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { sealGrants } from "../components/security/statement-collector";
import { MOCK_ACCOUNT, MockContext, mockCall, mockOutputs } from "./mock-state";
import { Plan, PlannedResource } from "./plan";
import { readProject, readStackFile, resolveConfig } from "./stack-files";

// Evaluates a Pulumi program with Pulumi's own mock engine and records every resource it
// registers, with inputs, parent and dependencies. This is what `npm start` and the specs run.

export interface EvaluateOptions {
    project: string;
    stack: string;
    /** "namespace:key" → value text, as the Pulumi engine passes config to a program. */
    config: Record<string, string>;
    /** The program: creates resources, returns the stack outputs. */
    program: () => unknown;
    region?: string;
    /**
     * Build the policies that collect grants (StatementCollector) as soon as the program returns.
     * Default true. false leaves them to what ends a program run by the Pulumi CLI (the settled
     * stack outputs, or Node's event loop running out of work), for specs of that path.
     */
    sealGrantsOnReturn?: boolean;
}

type Callback = (err: unknown, response: any) => void;

let running = false;

export async function evaluate(options: EvaluateOptions): Promise<Plan> {
    if (running) throw new Error("evaluate: one program at a time (Pulumi's runtime state is global)");
    running = true;
    const ctx: MockContext = { region: options.region ?? options.config["aws:region"] ?? "us-east-1", accountId: MOCK_ACCOUNT };
    const resources: PlannedResource[] = [];
    const failures: unknown[] = [];
    // Errors thrown inside apply callbacks surface as rejected promises, not as a throw from the
    // program; and resources depending on the failed one never finish registering, so waiting for
    // the runtime alone could hang. Every wait below also ends at the first failure.
    let fail: (reason: unknown) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => undefined);
    const onRejection = (reason: unknown) => {
        failures.push(reason);
        fail(reason);
    };
    process.on("unhandledRejection", onRejection);
    try {
        pulumi.runtime.setAllConfig(options.config, []);
        await pulumi.runtime.setMocks(
            {
                newResource: (args) => mockOutputs(args.type, args.name, args.inputs, ctx),
                call: (args) => mockCall(args.token, ctx),
            },
            options.project,
            options.stack,
            true,
        );
        recordRegistrations(resources);
        let outputs: Record<string, unknown> = {};
        try {
            // As when the CLI runs a program, the policies that collect grants are built once it has
            // returned (here explicitly, so that exports waiting on such a policy cannot stall).
            const program = async () => {
                try {
                    return await options.program();
                } finally {
                    if (options.sealGrantsOnReturn ?? true) sealGrants("the program returned");
                }
            };
            outputs = ((await Promise.race([pulumi.runtime.runInPulumiStack(program), failed])) ?? {}) as Record<string, unknown>;
        } catch (err) {
            if (!failures.includes(err)) failures.push(err);
        }
        await Promise.race([pulumi.runtime.disconnect(), failed]).catch(() => undefined);
        // A registration whose inputs failed to serialize rejects outside the RPC queue: give
        // those rejections a turn of the event loop to arrive before declaring success.
        await new Promise((resolve) => setTimeout(resolve, 10));
        if (failures.length > 0) {
            // A failed program leaves its dependants' registrations pending for good; forget them so
            // the runtime does not report them as leaks when the process exits.
            require("@pulumi/pulumi/runtime/debuggable").leakedPromises();
            throw failures[0];
        }
        return {
            project: options.project,
            stack: options.stack,
            config: Object.fromEntries(
                Object.entries(options.config)
                    .filter(([k]) => k.startsWith(`${options.project}:`))
                    .map(([k, v]) => [k.slice(options.project.length + 1), parseConfigText(v)]),
            ),
            resources: withRealUrns(resources),
            outputs: JSON.parse(JSON.stringify(outputs)),
        };
    } finally {
        process.off("unhandledRejection", onRejection);
        running = false;
    }
}

/**
 * The mock monitor qualifies a URN's type with the direct parent's type only; the engine uses the
 * whole chain of ancestor types below the stack. Rewrite them so plan.json matches `pulumi preview`.
 */
function withRealUrns(resources: PlannedResource[]): PlannedResource[] {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const qualified = new Map<string, string>();
    const qualify = (r: PlannedResource): string => {
        let q = qualified.get(r.urn);
        if (q === undefined) {
            const parent = r.parent ? byUrn.get(r.parent) : undefined;
            q = !parent || parent.type === "pulumi:pulumi:Stack" ? r.type : `${qualify(parent)}$${r.type}`;
            qualified.set(r.urn, q);
        }
        return q;
    };
    const real = new Map(resources.map((r) => [r.urn, `${r.urn.split("::").slice(0, 2).join("::")}::${qualify(r)}::${r.name}`]));
    const map = (urn: string) => real.get(urn) ?? urn;
    return resources.map((r) => ({ ...r, urn: map(r.urn), parent: r.parent && map(r.parent), dependencies: r.dependencies.map(map) }));
}

function parseConfigText(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/** Wraps the mock monitor so each registration is recorded with what MockResourceArgs leaves out. */
function recordRegistrations(into: PlannedResource[]): void {
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: Callback) =>
        register(req, (err: unknown, response: any) => {
            if (!err) {
                into.push({
                    urn: response.getUrn(),
                    type: req.getType(),
                    name: req.getName(),
                    custom: req.getCustom(),
                    parent: req.getParent() || undefined,
                    dependencies: [...req.getDependenciesList()].sort(),
                    inputs: plain(req.getObject()?.toJavaScript() ?? {}),
                    // The provider's id (a queue's URL, a bucket's name...) travels apart from the state.
                    outputs: plain({ ...(response.getObject()?.toJavaScript() ?? {}), ...(response.getId() ? { id: response.getId() } : {}) }),
                    protect: req.getProtect() ?? false,
                });
            }
            callback(err, response);
        });
}

// Signatures Pulumi's wire format uses for values that are not plain JSON.
const SIG = "4dabf18193072939515e22adb298388d";
const ASSET = "c44067f5952c0a294b673a41bacd8c17";
const ARCHIVE = "0def7320c3a5731c473e5ecbe6d01bc7";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";
const RESOURCE_REF = "5cf8f73096256a8f31e491e813e4eb8e";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Wire values as a reviewer wants them: assets by path or file list, secrets never in clear. */
function plain(value: unknown): any {
    if (value === UNKNOWN) return "(known after apply)";
    if (Array.isArray(value)) return value.map(plain);
    if (value && typeof value === "object") {
        const v = value as Record<string, any>;
        switch (v[SIG]) {
            case SECRET:
                return "[secret]";
            case ASSET:
                return v.path !== undefined ? { asset: v.path } : { text: v.text };
            case ARCHIVE: {
                if (v.path !== undefined) return { archive: v.path };
                // An in-memory archive (a CallbackFunction's): its entries, and the text of generated files.
                const assets: Record<string, any> = v.assets ?? {};
                const texts = Object.entries(assets).filter(([, a]) => typeof a?.text === "string");
                return { archive: Object.keys(assets).sort(), files: Object.fromEntries(texts.map(([k, a]) => [k, a.text])) };
            }
            case RESOURCE_REF:
                return { resource: v.urn };
        }
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
    }
    return value;
}

export interface StackRunOptions {
    /** Project folder holding Pulumi.yaml, the stack files and the program. Default: the repository root. */
    root?: string;
    stack: string;
    /** Read the stack's config from this file instead of Pulumi.<stack>.yaml (as `pulumi --config-file`). */
    configFile?: string;
    /** Stack values to override (as if edited in Pulumi.<stack>.yaml), e.g. in tests. */
    overrides?: Record<string, unknown>;
}

export const REPO_ROOT = path.resolve(__dirname, "..");

/**
 * Evaluates the project's program (Pulumi.yaml `main`) for a stack: reads Pulumi.yaml and Pulumi.<stack>.yaml,
 * applies defaults and type checks as the engine does, then runs the program under mocks.
 */
export async function evaluateStack(options: StackRunOptions): Promise<Plan & { warnings: string[] }> {
    const root = options.root ?? REPO_ROOT;
    const project = readProject(root);
    const stackValues = { ...readStackFile(root, options.stack, options.configFile), ...options.overrides };
    const { values, undeclared } = resolveConfig(project, options.stack, stackValues);
    const entry = require.resolve(path.join(root, project.main));
    const plan = await evaluate({
        project: project.name,
        stack: options.stack,
        config: values,
        program: async () => {
            // The program reads its config when it loads: load it afresh for every stack.
            delete require.cache[entry];
            const exports = require(entry);
            return { ...exports };
        },
    });
    const warnings = undeclared.map((k) => `Pulumi.${options.stack}.yaml sets ${k}, which Pulumi.yaml does not declare (a typo?)`);
    return { ...plan, warnings };
}
