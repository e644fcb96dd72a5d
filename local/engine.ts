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
    /**
     * The folder whose `@pulumi/pulumi` runs the program: the program's own copy (a project with its
     * node_modules, such as examples/consumer), whose runtime the mocks must be set on. Default: this repository's.
     */
    pulumiFrom?: string;
}

type PulumiModule = typeof import("@pulumi/pulumi");

/** The `@pulumi/pulumi` a program in `folder` loads (Node's resolution from there). */
function pulumiOf(folder: string | undefined): { pulumi: PulumiModule; debuggable: string } {
    if (!folder) return { pulumi, debuggable: require.resolve("@pulumi/pulumi/runtime/debuggable") };
    const main = require.resolve("@pulumi/pulumi", { paths: [folder] });
    return { pulumi: require(main) as PulumiModule, debuggable: require.resolve("@pulumi/pulumi/runtime/debuggable", { paths: [folder] }) };
}

type Callback = (err: unknown, response: any) => void;

/** A registration as recorded, before its URNs are rewritten to the engine's form. */
type Recorded = Omit<PlannedResource, "aliases"> & { aliasSpecs: AliasSpec[] };

let running = false;

/**
 * Pulumi records a stack trace for every promise it makes (`new Error().stack` in
 * runtime/debuggable.js, for its leak report), and under ts-node each is source-mapped: a third of
 * an evaluation. While a program runs here those traces are left empty; every other stack is
 * formatted as before.
 */
function skipPromiseStacks(): () => void {
    const original = Error.prepareStackTrace;
    Error.prepareStackTrace = (error, sites) => {
        if (sites[0]?.getFunctionName() === "debuggablePromise") return "";
        return original ? original(error, sites) : `${String(error)}${sites.map((site) => `\n    at ${String(site)}`).join("")}`;
    };
    return () => {
        Error.prepareStackTrace = original;
    };
}

export async function evaluate(options: EvaluateOptions): Promise<Plan> {
    if (running) throw new Error("evaluate: one program at a time (Pulumi's runtime state is global)");
    running = true;
    const { pulumi, debuggable } = pulumiOf(options.pulumiFrom);
    const ctx: MockContext = { region: options.region ?? options.config["aws:region"] ?? "us-east-1", accountId: MOCK_ACCOUNT, stack: options.stack };
    const resources: Recorded[] = [];
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
    const restoreStacks = skipPromiseStacks();
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
        recordRegistrations(pulumi, resources);
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
            require(debuggable).leakedPromises();
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
            resources: withRealUrns(resources, options.stack, options.project),
            outputs: JSON.parse(JSON.stringify(outputs)),
        };
    } finally {
        restoreStacks();
        process.off("unhandledRejection", onRejection);
        running = false;
    }
}

/** The URN the engine gives a resource of `type` named `name` under `parentUrn`: its type qualified by every ancestor's type below the stack. */
function urnOf(parentUrn: string | undefined, type: string, name: string, stack: string, project: string): string {
    const parentType = parentUrn ? parentUrn.split("::")[2] : undefined;
    const qualified = !parentType || parentType === "pulumi:pulumi:Stack" ? type : `${parentType}$${type}`;
    return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

/**
 * The mock monitor qualifies a URN's type with the direct parent's type only; the engine uses the
 * whole chain of ancestor types below the stack. Rewrite them so plan.json matches `pulumi preview`.
 */
function withRealUrns(resources: Recorded[], stack: string, project: string): PlannedResource[] {
    const real = new Map<string, string>();
    // Registration order puts parents first.
    for (const r of resources) real.set(r.urn, urnOf(r.parent && real.get(r.parent), r.type, r.name, stack, project));
    const map = (urn: string) => real.get(urn) ?? urn;
    const aliases = engineAliases(resources, map, stack, project);
    return resources.map(({ aliasSpecs: _specs, ...r }) => {
        const planned: PlannedResource = { ...r, urn: map(r.urn), parent: r.parent && map(r.parent), dependencies: r.dependencies.map(map) };
        const own = aliases.get(r.urn) ?? [];
        if (own.length > 0) planned.aliases = own;
        return planned;
    });
}

/**
 * Every alias URN of every resource, as the Pulumi engine derives them from the alias specs: each
 * spec filled in from the resource (name, type, parent), then, for each alias of the parent, the
 * same child under that aliased parent. A child named after its parent (`<parent>-<role>`) is
 * renamed with it, the convention Pulumi's engine and SDKs both assume.
 */
function engineAliases(resources: Recorded[], realUrn: (mockUrn: string) => string, stack: string, project: string): Map<string, string[]> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const out = new Map<string, string[]>();
    const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);
    const typeOf = (urn: string) => urn.split("::")[2].split("$").pop()!;
    const inherited = (childType: string, childName: string, parentName: string, parentAlias: string) =>
        urnOf(parentAlias, childType, childName.startsWith(parentName) ? nameOf(parentAlias) + childName.slice(parentName.length) : childName, stack, project);
    // Registration order puts parents first.
    for (const r of resources) {
        const parent = r.parent ? byUrn.get(r.parent) : undefined;
        const realParent = r.parent ? realUrn(r.parent) : undefined;
        const own = r.aliasSpecs.map((spec) => {
            if (typeof spec === "string") return spec;
            const aliasParent = spec.noParent ? undefined : spec.parentUrn ? realUrn(spec.parentUrn) : realParent;
            return urnOf(aliasParent, spec.type ?? r.type, spec.name ?? r.name, spec.stack ?? stack, spec.project ?? project);
        });
        const all = new Set(own);
        for (const parentAlias of (parent && out.get(parent.urn)) ?? []) {
            all.add(inherited(r.type, r.name, parent!.name, parentAlias));
            for (const alias of own) all.add(inherited(typeOf(alias), nameOf(alias), parent!.name, parentAlias));
        }
        out.set(r.urn, [...all]);
    }
    return out;
}

function parseConfigText(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/** An alias as the SDK sends it: a whole URN, or the parts that differ from the resource's own. */
type AliasSpec = string | { name?: string; type?: string; stack?: string; project?: string; parentUrn?: string; noParent?: boolean };

/** What the engine receives as a registration's aliases (structured alias specs, which the mock monitor supports). */
function aliasSpecsOf(req: any): AliasSpec[] {
    return (req.getAliasesList?.() ?? []).map((a: any): AliasSpec => {
        if (a.hasUrn?.() || (a.getUrn?.() && !a.hasSpec?.())) return a.getUrn();
        const spec = a.getSpec();
        return {
            name: spec.getName() || undefined,
            type: spec.getType() || undefined,
            stack: spec.getStack() || undefined,
            project: spec.getProject() || undefined,
            parentUrn: spec.getParenturn() || undefined,
            noParent: spec.getNoparent() || undefined,
        };
    });
}

/** Wraps the mock monitor so each registration is recorded with what MockResourceArgs leaves out. */
function recordRegistrations(pulumi: PulumiModule, into: Recorded[]): void {
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
                    aliasSpecs: aliasSpecsOf(req),
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
    /**
     * Changes to the program, as a program makes them with Pulumi's stack transformations (e.g. a
     * spec removing one grant to watch its flow fail): registered before the program runs, they
     * apply to every resource it creates.
     */
    transformations?: pulumi.ResourceTransformation[];
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
        pulumiFrom: root === REPO_ROOT ? undefined : root,
        program: async () => {
            for (const t of options.transformations ?? []) pulumi.runtime.registerStackTransformation(t);
            // The program reads its config when it loads: load it afresh for every stack.
            delete require.cache[entry];
            const exported = require(entry);
            // As Pulumi's Node host does: a program that exports a function (`export = async () => {...}`)
            // is that function, called and awaited, its result the stack's outputs.
            if (typeof exported === "function") return await exported();
            return { ...exported };
        },
    });
    const warnings = undeclared.map((k) => `Pulumi.${options.stack}.yaml sets ${k}, which Pulumi.yaml does not declare (a typo?)`);
    return { ...plan, warnings };
}
