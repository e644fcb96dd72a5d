import * as fs from "fs";
import * as path from "path";
import type { FlowReport } from "./scenarios";

// The engine, the runtime and the scenarios load once they are needed (seconds of compiling): a
// refused argument answers at once.
/* eslint-disable @typescript-eslint/no-require-imports */
const engine = () => require("./engine") as typeof import("./engine");
const scenarios = () => require("./scenarios") as typeof import("./scenarios");
const graphs = () => require("./flow-graph") as typeof import("./flow-graph");
const printer = () => require("./preview-printer") as typeof import("./preview-printer");
let runtimeModule: typeof import("./runtime") | undefined;
const runtimes = () => (runtimeModule ??= require("./runtime") as typeof import("./runtime"));
/* eslint-enable @typescript-eslint/no-require-imports */

// `npm start [-- --stack prod] [--config-file f.yaml] [--root <project>] [--scenario 001] [--plan-only]`:
// evaluates the program for a stack offline, prints a preview-like tree, and writes
// out/<stack>/plan.json, architecture.svg and architecture.mmd; then deploys that plan on the local
// runtime and runs each seed's flow on it (or the one --scenario names), printing a table per flow.
// `--plan-only` stops after the plan. `--root` evaluates another Pulumi project (its Pulumi.yaml,
// stack files and its own node_modules, e.g. examples/consumer once installed), plan only.

const USAGE =
    "expected --stack <name> and optionally --config-file <path>, --root <project folder>, --scenario <id>, --plan-only; with --scenario 000: --file <path.ndjson>, --chunk-bytes N, --threshold-bytes N, --json";

interface Args {
    stack: string;
    configFile?: string;
    root?: string;
    scenario?: string;
    planOnly: boolean;
    /** Scenario 000: a payment file to run, sizes that override the stack's, the manifest as JSON. */
    file?: string;
    chunkBytes?: number;
    thresholdBytes?: number;
    json: boolean;
}

function parseArgs(argv: string[]): Args {
    const options: Args = { stack: "dev", planOnly: false, json: false };
    const bytes = (flag: string, v: string) => {
        if (!/^\d+$/.test(v)) throw new Error(`${flag} ${v}: expected a whole number of bytes`);
        return Number(v);
    };
    for (let i = 0; i < argv.length; i++) {
        const [flag, inline] = argv[i].split(/=(.*)/s);
        const value = () => {
            const v = inline ?? argv[++i];
            if (!v || v.startsWith("-")) throw new Error(`${flag} expects a value (${USAGE})`);
            return v;
        };
        if (flag === "--stack" || flag === "-s") options.stack = value();
        else if (flag === "--config-file") options.configFile = path.resolve(value());
        else if (flag === "--root") options.root = path.resolve(value());
        else if (flag === "--scenario") options.scenario = scenarios().scenarioById(value()).id;
        else if (flag === "--plan-only" && inline === undefined) options.planOnly = true;
        else if (flag === "--file") options.file = path.resolve(value());
        else if (flag === "--chunk-bytes") options.chunkBytes = bytes(flag, value());
        else if (flag === "--threshold-bytes") options.thresholdBytes = bytes(flag, value());
        else if (flag === "--json" && inline === undefined) options.json = true;
        else throw new Error(`unknown argument ${argv[i]} (${USAGE})`);
    }
    const paymentFlags = [options.file && "--file", options.chunkBytes !== undefined && "--chunk-bytes", options.thresholdBytes !== undefined && "--threshold-bytes", options.json && "--json"].filter(Boolean);
    if (paymentFlags.length > 0 && options.scenario !== "000") throw new Error(`${paymentFlags.join(", ")} ${paymentFlags.length === 1 ? "needs" : "need"} --scenario 000 (${USAGE})`);
    if (options.file && !fs.existsSync(options.file)) throw new Error(`--file ${options.file}: no such file`);
    return options;
}

/** A manifest for people: one field per line, each array element (a chunk) on one line. */
function compactJson(value: unknown): string[] {
    return JSON.stringify(value, (_k, v) => (Array.isArray(v) ? v.map((e) => JSON.stringify(e)) : v), 2)
        .split("\n")
        .map((line) => line.replace(/^(\s*)"(\{.*\})"(,?)$/, (_m, indent: string, json: string, comma: string) => `${indent}${JSON.parse(`"${json}"`)}${comma}`));
}

/** Ctrl-C (or a kill) stops whatever runs, a runtime still starting included, then exits. */
let interrupted = false;

function stopOnSignals(): void {
    const stop = (signal: NodeJS.Signals) => {
        interrupted = true;
        console.log(`\n${signal}: stopping the local runtime…`);
        // No runtime module loaded: no runtime to stop.
        void (runtimeModule?.stopRuntimes() ?? Promise.resolve()).finally(() => process.exit(130));
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
}

async function main(): Promise<void> {
    stopOnSignals();
    const started = Date.now();
    const { stack, configFile, root, scenario, planOnly, file, chunkBytes, thresholdBytes, json } = parseArgs(process.argv.slice(2));
    // With --json, stdout is the manifest alone; everything else goes to stderr.
    const log = json ? (line: string) => console.error(line) : (line: string) => console.log(line);
    // As the Pulumi CLI runs a program: from its project folder, where out/ and .build/ then go.
    if (root) process.chdir(root);
    const overrides: Record<string, string> = {};
    if (chunkBytes !== undefined) overrides["event-pipelines:paymentChunkBytes"] = String(chunkBytes);
    if (thresholdBytes !== undefined) overrides["event-pipelines:paymentThresholdBytes"] = String(thresholdBytes);
    const plan = await engine().evaluateStack({ stack, configFile, root, overrides });
    const { buildFlowGraph, renderSvg, toDot, toMermaid } = graphs();
    for (const line of printer().formatPreview(plan)) log(line);
    for (const warning of plan.warnings) log(`warning: ${warning}`);

    const outDir = path.join("out", stack);
    fs.mkdirSync(outDir, { recursive: true });
    const { warnings: _w, ...planFile } = plan;
    fs.writeFileSync(path.join(outDir, "plan.json"), JSON.stringify(planFile, null, 2) + "\n");
    const graph = buildFlowGraph(plan);
    fs.writeFileSync(path.join(outDir, "architecture.mmd"), toMermaid(graph));
    fs.writeFileSync(path.join(outDir, "architecture.svg"), await renderSvg(toDot(graph)));
    log("");
    log(`Outputs:`);
    for (const [k, v] of Object.entries(plan.outputs)) log(`    ${k}: ${JSON.stringify(v)}`);
    log("");
    log(`Wrote ${outDir}/plan.json, ${outDir}/architecture.svg and ${outDir}/architecture.mmd in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (planOnly) return;
    if (root) {
        // Another project's flows are its own: the runtime runs this repository's scenarios.
        log("(--root: plan only; the local runtime runs this repository's flows)");
        return;
    }

    log("");
    const booting = Date.now();
    // The state machines' waits poll stand-ins that have already finished (a Redshift batch ends
    // before its submit answers): scaled, they change no outcome and spare 20 s per report.
    const { formatFidelity, startRuntime } = runtimes();
    const { SCENARIOS, formatReport, ok, scenarioById } = scenarios();
    const runtime = await startRuntime({ plan, stateMachineTimeScale: STATE_MACHINE_TIME_SCALE });
    const reports: FlowReport[] = [];
    try {
        for (const line of formatFidelity(runtime.fidelity, runtime.notRun)) log(line);
        log(`Local runtime up in ${((Date.now() - booting) / 1000).toFixed(1)} s (time scale ${runtime.time.factor}; state machine waits ${STATE_MACHINE_TIME_SCALE})`);
        for (const s of scenario ? [scenarioById(scenario)] : SCENARIOS) {
            log("");
            const report = await s.run(runtime, { file });
            reports.push(report);
            for (const line of formatReport(report)) log(line);
            if (report.manifest !== undefined) {
                if (json) console.log(JSON.stringify(report.manifest, null, 2));
                else for (const line of compactJson(report.manifest)) log(`    ${line}`);
            }
        }
    } finally {
        await runtime.stop();
    }
    log("");
    const failed = reports.filter((r) => !ok(r));
    log(failed.length === 0 ? `All ${reports.length} flows passed in ${((Date.now() - started) / 1000).toFixed(1)} s; the runtime has stopped.` : `FAILED: flow ${failed.map((r) => r.id).join(", ")}`);
    if (failed.length > 0) process.exitCode = 1;
}

/** The time scale of Wait states and retry intervals under `npm start`. */
const STATE_MACHINE_TIME_SCALE = 0.01;

main().catch((err: Error) => {
    // A flow cut short by Ctrl-C fails as its stand-ins go: the signal handler reports and exits.
    if (interrupted) return;
    // One line, as the Pulumi CLI reports a refused config: no stack trace for a user error.
    console.error(`error: ${err.message.split("\n")[0]}`);
    process.exit(1);
});
