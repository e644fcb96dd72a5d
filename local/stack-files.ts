import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";

// Reads Pulumi.yaml and Pulumi.<stack>.yaml and merges them the way the Pulumi engine does before
// it starts a program: project defaults fill unset keys, missing required keys and values of the
// wrong type stop the run, with the engine's own wording.

export interface ConfigDeclaration {
    type?: "string" | "integer" | "boolean" | "array";
    items?: { type: string };
    default?: unknown;
    value?: unknown;
    description?: string;
    secret?: boolean;
}

export interface ProjectFile {
    name: string;
    /** The program's entry point, relative to the project folder. */
    main: string;
    config: Record<string, ConfigDeclaration>;
}

/** A stack configuration the engine would refuse: one line, as the Pulumi CLI prints it. */
export class StackConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackConfigError";
    }
}

export function readProject(root: string): ProjectFile {
    const doc = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"));
    return { name: doc.name, main: doc.main ?? "index.ts", config: doc.config ?? {} };
}

/** The stack's config: Pulumi.<stack>.yaml in `root`, or `configFile` (as `pulumi --config-file`). */
export function readStackFile(root: string, stack: string, configFile?: string): Record<string, unknown> {
    const file = configFile ?? path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        throw new StackConfigError(configFile ? `config file ${configFile} not found` : `no stack named '${stack}' found (expected ${path.basename(file)})`);
    }
    return YAML.parse(fs.readFileSync(file, "utf8"))?.config ?? {};
}

function namespaced(project: string, key: string): string {
    return key.includes(":") ? key : `${project}:${key}`;
}

/** Config as Pulumi hands it to a program: scalars as text, lists and objects as JSON. */
function configText(value: unknown): string {
    return value !== null && typeof value === "object" ? JSON.stringify(value) : String(value);
}

function fullTypeName(decl: ConfigDeclaration): string {
    return decl.type === "array" ? `array<${decl.items?.type ?? "string"}>` : String(decl.type);
}

function matchesType(type: string, items: ConfigDeclaration["items"], value: unknown): boolean {
    switch (type) {
        case "string":
            return typeof value === "string";
        case "integer":
            return (typeof value === "number" && Number.isInteger(value)) || (typeof value === "string" && /^[+-]?\d+$/.test(value));
        case "boolean":
            return typeof value === "boolean" || value === "true" || value === "false";
        case "array":
            return Array.isArray(value) && value.every((v) => matchesType(items?.type ?? "string", undefined, v));
        default:
            return true;
    }
}

export interface ResolvedConfig {
    /** "namespace:key" → value text, ready for pulumi.runtime.setAllConfig. */
    values: Record<string, string>;
    /** Stack keys in the project namespace that Pulumi.yaml does not declare (likely typos). */
    undeclared: string[];
}

export function resolveConfig(project: ProjectFile, stack: string, stackValues: Record<string, unknown>): ResolvedConfig {
    const merged = new Map<string, unknown>();
    for (const [key, value] of Object.entries(stackValues)) merged.set(namespaced(project.name, key), value);

    const missing: string[] = [];
    const keys = Object.keys(project.config).sort();
    for (const key of keys) {
        const decl = project.config[key];
        const full = namespaced(project.name, key);
        if (merged.has(full)) continue;
        const fallback = decl.default !== undefined ? decl.default : decl.value;
        if (fallback !== undefined) merged.set(full, fallback);
        else if (full.startsWith(`${project.name}:`)) missing.push(key);
    }
    if (missing.length > 0) {
        const list = missing.length === 1 ? `'${missing[0]}'` : `${missing.slice(0, -1).map((k) => `'${k}'`).join(", ")} and '${missing[missing.length - 1]}'`;
        throw new StackConfigError(`Stack '${stack}' is missing configuration ${missing.length === 1 ? "value" : "values"} ${list}`);
    }
    for (const key of keys) {
        const decl = project.config[key];
        if (!decl.type) continue;
        // The engine sees scalars as text (Go's %v) and lists as structures.
        const raw = merged.get(namespaced(project.name, key));
        const content = raw !== null && typeof raw === "object" ? raw : String(raw);
        if (!matchesType(decl.type, decl.items, content)) {
            throw new StackConfigError(`Stack '${stack}' with configuration key '${key}' must be of type '${fullTypeName(decl)}'`);
        }
    }
    const declared = new Set(keys.map((k) => namespaced(project.name, k)));
    const undeclared = [...merged.keys()].filter((k) => k.startsWith(`${project.name}:`) && !declared.has(k));
    const values: Record<string, string> = {};
    for (const [key, value] of merged) values[key] = configText(value);
    return { values, undeclared };
}
