/**
 * API Gateway mapping templates (Velocity, VTL), for the subset this project's plans use: text with
 * `$input.body`, `$input.json('<path>')`, `$input.path('<path>')`, `$input.params('<name>')`,
 * `$util.urlEncode|escapeJavaScript|base64Encode|base64Decode|parseJson(x)` and `$context.<a.b>`.
 * Anything else (a directive, another `$util` function, `$stageVariables`, a method call on a
 * result) fails when the template is compiled, naming the construct and the template's owner, so
 * a plan that relies on more is refused at start rather than rendered wrongly.
 *
 * Semantics follow the API Gateway developer guide ("Variables for data transformations"):
 * `$input.json` is the selected value re-serialized as JSON (a string comes quoted), `$input.path`
 * is the value itself (a string renders bare, an object as Java's map text `{a=1, b=x}`, an
 * array as JSON), and an absent body reads as `{}`.
 */

/** A template that uses something outside the subset: refused when compiled. */
export class TemplateCompileError extends Error {
    override name = "TemplateCompileError";
}

/** A template that cannot be rendered for this input (a body that is not JSON, parseJson of non-JSON). */
export class TemplateRenderError extends Error {
    override name = "TemplateRenderError";
}

/** What a template reads: `$input` (the payload and the method request's parameters) and `$context`. */
export interface TemplateInput {
    /** The payload: the method request body for a request template, the integration's for a response template. */
    body: string;
    /** The method request's parameters, as `$input.params` searches them: path, then query string, then header. */
    params?: { path?: Record<string, string>; querystring?: Record<string, string>; header?: Record<string, string> };
    /** `$context`, as a tree: `{ requestId, identity: { sourceIp }, error: { message } ... }`. */
    context?: Record<string, unknown>;
}

export type RenderTemplate = (input: TemplateInput) => string;

/** One step of a JSONPath of the subset: a property name or an array index. */
export type JsonPathStep = string | number;

const UTIL_FUNCTIONS = ["urlEncode", "escapeJavaScript", "base64Encode", "base64Decode", "parseJson"] as const;
type UtilFunction = (typeof UTIL_FUNCTIONS)[number];

type Expr =
    | { kind: "literal"; value: string }
    | { kind: "body" }
    | { kind: "json" | "path"; source: string; path: JsonPathStep[] }
    | { kind: "params"; name: string }
    | { kind: "util"; fn: UtilFunction; arg: Expr }
    | { kind: "context"; path: string[] };

type Part = { text: string } | { expr: Expr };

/** Velocity's directives: any of them makes the template fall outside the subset. */
const DIRECTIVES = new Set(["if", "elseif", "else", "end", "set", "foreach", "include", "parse", "macro", "define", "evaluate", "stop", "break"]);

const SUPPORTED =
    "text with $input.body, $input.json/path/params('...'), $util.urlEncode/escapeJavaScript/base64Encode/base64Decode/parseJson(x) and $context.<name>";

/**
 * Compiles a mapping template once (at start), into a renderer. `owner` names the template in
 * errors, e.g. `aws:apigateway/integration:Integration "messages-integration" requestTemplates["application/json"]`.
 */
export function compileTemplate(text: string, owner: string): RenderTemplate {
    const parts = new TemplateParser(text, owner).parse();
    return (input) => {
        const env = new Env(input, owner);
        let out = "";
        for (const part of parts) out += "text" in part ? part.text : renderValue(evaluate(part.expr, env));
        return out;
    };
}

class TemplateParser {
    private pos = 0;
    private readonly parts: Part[] = [];
    private literal = "";

    constructor(
        private readonly text: string,
        private readonly owner: string,
    ) {}

    parse(): Part[] {
        const t = this.text;
        while (this.pos < t.length) {
            const c = t[this.pos];
            if (c === "$" && this.startsReference(this.pos)) {
                this.flush();
                this.parts.push({ expr: this.reference() });
            } else if (c === "#" && this.startsDirective(this.pos)) {
                this.fail(this.pos, this.directiveName(this.pos));
            } else if (c === "\\" && (this.startsReference(this.pos + 1) || this.startsDirective(this.pos + 1))) {
                // Velocity's escaping depends on whether the escaped reference is defined: out of the subset.
                this.fail(this.pos, `escaped ${t.slice(this.pos, this.pos + 2)}`);
            } else {
                this.literal += c;
                this.pos++;
            }
        }
        this.flush();
        return this.parts;
    }

    private flush(): void {
        if (this.literal) this.parts.push({ text: this.literal });
        this.literal = "";
    }

    /** `$name`, `$!name` or `${`: a `$` before anything else (`$5`, `'$'`) is text, as in Velocity. */
    private startsReference(at: number): boolean {
        const t = this.text;
        if (t[at] !== "$") return false;
        const next = t[at + 1] === "!" ? t[at + 2] : t[at + 1];
        return next === "{" || isIdentStart(next);
    }

    /** A directive or comment: `#if`, `#{if}`, `##`, `#*`, `#[[`. Other `#` (e.g. `#fff`) is text, as in Velocity. */
    private startsDirective(at: number): boolean {
        const t = this.text;
        if (t[at] !== "#") return false;
        const next = t[at + 1];
        if (next === "#" || next === "*" || next === "{" || t.startsWith("[[", at + 1)) return true;
        return DIRECTIVES.has(readIdent(t, at + 1));
    }

    private directiveName(at: number): string {
        const t = this.text;
        const next = t[at + 1];
        if (next === "#") return "## (a comment)";
        if (next === "*") return "#* (a block comment)";
        if (next === "[") return "#[[ (unparsed content)";
        if (next === "{") return `#{${readIdent(t, at + 2)}}`;
        return `#${readIdent(t, at + 1)}`;
    }

    private reference(): Expr {
        const start = this.pos;
        const t = this.text;
        this.pos++; // $
        if (t[this.pos] === "!") this.pos++; // quiet: absent values render empty here anyway
        if (t[this.pos] === "{") this.fail(start, "${...} (formal reference notation)");
        const chain: { name: string; args?: Expr[] }[] = [{ name: this.ident() }];
        while (t[this.pos] === "." && isIdentStart(t[this.pos + 1])) {
            this.pos++;
            const name = this.ident();
            if (t[this.pos] === "(") chain.push({ name, args: this.args(start) });
            else chain.push({ name });
        }
        if (t[this.pos] === "[") this.fail(start, `${t.slice(start, this.pos + 1)} (index notation)`);
        return this.interpret(chain, start);
    }

    private interpret(chain: { name: string; args?: Expr[] }[], start: number): Expr {
        const shown = this.text.slice(start, this.pos);
        const [root, member, ...rest] = chain;
        if (rest.length > 0 && root.name !== "context") this.fail(start, `${shown} (a property or method of a result)`);
        if (root.name === "input") {
            if (member?.name === "body" && !member.args) return { kind: "body" };
            if (member && (member.name === "json" || member.name === "path") && member.args) {
                const source = this.literalArg(member.args, shown, start);
                return { kind: member.name, source, path: this.jsonPath(source, shown, start) };
            }
            if (member?.name === "params" && member.args) return { kind: "params", name: this.literalArg(member.args, shown, start) };
            return this.fail(start, shown);
        }
        if (root.name === "util") {
            const fn = UTIL_FUNCTIONS.find((f) => f === member?.name);
            if (!fn || !member.args) return this.fail(start, shown);
            if (member.args.length !== 1) return this.fail(start, `${shown} (expected one argument)`);
            return { kind: "util", fn, arg: member.args[0] };
        }
        if (root.name === "context") {
            if (!member || chain.some((c) => c.args)) return this.fail(start, shown);
            return { kind: "context", path: chain.slice(1).map((c) => c.name) };
        }
        return this.fail(start, `$${root.name} (only $input, $util and $context are supported)`);
    }

    private literalArg(args: Expr[], shown: string, start: number): string {
        const [arg] = args;
        if (args.length !== 1 || arg.kind !== "literal") return this.fail(start, `${shown} (expected one quoted string argument)`);
        return arg.value;
    }

    private jsonPath(source: string, shown: string, start: number): JsonPathStep[] {
        try {
            return parseJsonPath(source);
        } catch (e) {
            return this.fail(start, `${shown} (${(e as Error).message})`);
        }
    }

    /** `(` one argument: a quoted string or a reference `)`. */
    private args(start: number): Expr[] {
        const t = this.text;
        this.pos++; // (
        this.skipSpace();
        const args: Expr[] = [];
        while (t[this.pos] !== ")") {
            if (this.pos >= t.length) this.fail(start, `${t.slice(start, this.pos)} (an unclosed call)`);
            if (args.length > 0) {
                if (t[this.pos] !== ",") this.fail(start, `${t.slice(start, this.pos + 1)} (an argument)`);
                this.pos++;
                this.skipSpace();
            }
            args.push(this.arg(start));
            this.skipSpace();
        }
        this.pos++; // )
        return args;
    }

    private arg(start: number): Expr {
        const t = this.text;
        const quote = t[this.pos];
        if (quote === "'" || quote === '"') {
            const end = t.indexOf(quote, this.pos + 1);
            if (end < 0) this.fail(start, `${t.slice(start, this.pos + 1)} (an unclosed string)`);
            const value = t.slice(this.pos + 1, end);
            // Velocity interpolates double-quoted strings: only plain ones are in the subset.
            if (quote === '"' && [...value].some((_, i) => this.startsReferenceIn(value, i))) {
                this.fail(start, `"${value}" (an interpolated string)`);
            }
            this.pos = end + 1;
            return { kind: "literal", value };
        }
        if (t[this.pos] === "$" && this.startsReference(this.pos)) return this.reference();
        return this.fail(start, `${t.slice(start, this.pos + 1)} (an argument other than a quoted string or a reference)`);
    }

    private startsReferenceIn(s: string, i: number): boolean {
        return (s[i] === "$" && (isIdentStart(s[i + 1]) || s[i + 1] === "{" || s[i + 1] === "!")) || (s[i] === "#" && DIRECTIVES.has(readIdent(s, i + 1)));
    }

    private ident(): string {
        const name = readIdent(this.text, this.pos);
        this.pos += name.length;
        return name;
    }

    private skipSpace(): void {
        while (/\s/.test(this.text[this.pos] ?? "")) this.pos++;
    }

    private fail(at: number, construct: string): never {
        const before = this.text.slice(0, at);
        const line = before.split("\n").length;
        const column = at - before.lastIndexOf("\n");
        const shown = construct.split("\n")[0].slice(0, 160);
        throw new TemplateCompileError(
            `${this.owner}: mapping template uses ${shown} at line ${line}, column ${column}, which the local API Gateway does not support (expected ${SUPPORTED})`,
        );
    }
}

function isIdentStart(c: string | undefined): boolean {
    return c !== undefined && /[A-Za-z]/.test(c);
}

function readIdent(text: string, at: number): string {
    return /^[A-Za-z][A-Za-z0-9_]*/.exec(text.slice(at))?.[0] ?? "";
}

/**
 * Parses the JSONPath subset: `$`, then `.name`, `['name']` or `[index]` steps. Wildcards, recursive
 * descent, filters and slices are refused.
 */
export function parseJsonPath(path: string): JsonPathStep[] {
    if (!path.startsWith("$")) throw new Error(`JSONPath "${path}" must start with $`);
    const steps: JsonPathStep[] = [];
    let rest = path.slice(1);
    while (rest) {
        const m = /^(?:\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\])/.exec(rest);
        if (!m) throw new Error(`JSONPath "${path}": expected .name, ['name'] or [index] at "${rest}"`);
        steps.push(m[2] !== undefined ? Number(m[2]) : (m[1] ?? m[3] ?? m[4]));
        rest = rest.slice(m[0].length);
    }
    return steps;
}

/** The value at `path` in `root`, or undefined when a step finds nothing. */
export function selectJsonPath(root: unknown, path: JsonPathStep[]): unknown {
    let value = root;
    for (const step of path) {
        if (typeof step === "number") value = Array.isArray(value) ? value[step] : undefined;
        else value = isObject(value) && Object.prototype.hasOwnProperty.call(value, step) ? value[step] : undefined;
        if (value === undefined) return undefined;
    }
    return value;
}

class Env {
    private parsed?: { value: unknown } | { error: string };

    constructor(
        readonly input: TemplateInput,
        readonly owner: string,
    ) {}

    /** `$input.body`: API Gateway reads an absent body as `{}`. */
    get body(): string {
        return this.input.body === "" ? "{}" : this.input.body;
    }

    /** The body parsed once per rendering, for every `$input.json` / `$input.path` of the template. */
    json(source: string): unknown {
        if (!this.parsed) {
            try {
                this.parsed = { value: JSON.parse(this.body) };
            } catch (e) {
                this.parsed = { error: (e as Error).message };
            }
        }
        if ("error" in this.parsed) throw new TemplateRenderError(`${this.owner}: ${source}: the payload is not JSON (${this.parsed.error})`);
        return this.parsed.value;
    }
}

function evaluate(expr: Expr, env: Env): unknown {
    switch (expr.kind) {
        case "literal":
            return expr.value;
        case "body":
            return env.body;
        case "json": {
            const value = selectJsonPath(env.json(`$input.json('${expr.source}')`), expr.path);
            // Nothing selected: an empty JSON string, so `"a": $input.json('$.missing')` stays valid JSON.
            return value === undefined ? '""' : JSON.stringify(value);
        }
        case "path":
            return selectJsonPath(env.json(`$input.path('${expr.source}')`), expr.path) ?? null;
        case "params":
            return inputParam(env.input.params, expr.name);
        case "util":
            return applyUtil(expr.fn, toText(evaluate(expr.arg, env)), env.owner);
        case "context":
            return selectJsonPath(env.input.context ?? {}, expr.path) ?? null;
    }
}

/** `$input.params('name')`: the path, then the query string, then the headers (those case-insensitively); "" when absent. */
export function inputParam(params: TemplateInput["params"], name: string): string {
    const path = params?.path?.[name];
    if (path !== undefined) return path;
    const query = params?.querystring?.[name];
    if (query !== undefined) return query;
    const header = Object.entries(params?.header ?? {}).find(([k]) => k.toLowerCase() === name.toLowerCase());
    return header ? header[1] : "";
}

function applyUtil(fn: UtilFunction, arg: string, owner: string): unknown {
    switch (fn) {
        case "urlEncode":
            return urlEncode(arg);
        case "escapeJavaScript":
            return escapeJavaScript(arg);
        case "base64Encode":
            return base64Encode(arg);
        case "base64Decode":
            return base64Decode(arg);
        case "parseJson":
            try {
                return JSON.parse(arg);
            } catch (e) {
                throw new TemplateRenderError(`${owner}: $util.parseJson: the argument is not JSON (${(e as Error).message})`);
            }
    }
}

/** A reference's value as the template's text: an absent value renders empty. */
function renderValue(value: unknown): string {
    return value === null || value === undefined ? "" : toText(value);
}

/**
 * A value as Java's toString gives it in a template: strings bare, numbers and booleans as
 * literals, maps as `{key=value, key2=value2}`, lists as compact JSON (as API Gateway renders
 * `$input.path` results).
 */
export function toText(value: unknown): string {
    if (value === null || value === undefined) return "null";
    if (typeof value === "string") return value;
    if (Array.isArray(value)) return JSON.stringify(value);
    if (isObject(value)) return `{${Object.entries(value).map(([k, v]) => `${k}=${toText(v)}`).join(", ")}}`;
    return String(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `$util.urlEncode`: application/x-www-form-urlencoded as Java's URLEncoder writes it (UTF-8):
 * letters, digits and `.-*_` kept, space as `+`, every other byte as `%XX`.
 */
export function urlEncode(s: string): string {
    let out = "";
    for (const byte of Buffer.from(s, "utf8")) {
        const c = String.fromCharCode(byte);
        if (/[A-Za-z0-9.\-*_]/.test(c)) out += c;
        else if (c === " ") out += "+";
        else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
    return out;
}

/**
 * `$util.escapeJavaScript`: JavaScript string rules (as Apache Commons Lang's escapeJavaScript, which
 * the guide's note describes: single quotes become `\'`): `'` `"` `\` `/` and control characters
 * escaped, every character above 0x7f as `\uXXXX`.
 */
export function escapeJavaScript(s: string): string {
    const named: Record<string, string> = { "'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
    let out = "";
    for (let i = 0; i < s.length; i++) {
        const c = s[i];
        const code = s.charCodeAt(i);
        if (named[c]) out += named[c];
        else if (code < 0x20 || code > 0x7f) out += `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
        else out += c;
    }
    return out;
}

/** `$util.base64Encode`: the string's UTF-8 bytes, in standard base64. */
export function base64Encode(s: string): string {
    return Buffer.from(s, "utf8").toString("base64");
}

/** `$util.base64Decode`: standard base64 back to a UTF-8 string. */
export function base64Decode(s: string): string {
    return Buffer.from(s, "base64").toString("utf8");
}
