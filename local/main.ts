import * as fs from "fs";
import * as path from "path";
import { evaluateStack } from "./engine";
import { buildFlowGraph, renderSvg, toDot, toMermaid } from "./flow-graph";
import { formatPreview } from "./preview-printer";
import { formatFidelity, startRuntime, stopRuntimes } from "./runtime";
import { SCENARIOS, formatReport, ok, scenarioById, type FlowReport } from "./scenarios";

// `npm start [-- --stack prod] [--config-file f.yaml] [--root <project>] [--scenario 001] [--plan-only]`:
// evaluates the program for a stack offline, prints a preview-like tree, and writes
// out/<stack>/plan.json, architecture.svg and architecture.mmd; then deploys that plan on the local
// runtime and runs each seed's flow on it (or the one --scenario names), printing a table per flow.
// `--plan-only` stops after the plan. `--root` evaluates another Pulumi project (its Pulumi.yaml,
// stack files and its own node_modules, e.g. examples/consumer once installed), plan only.

const USAGE = "expected --stack <name> and optionally --config-file <path>, --root <project folder>, --scenario <id>, --plan-only";

interface Args {
    stack: string;
    configFile?: string;
    root?: string;
    scenario?: string;
    planOnly: boolean;
}

function parseArgs(argv: string[]): Args {
    const options: Args = { stack: "dev", planOnly: false };
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
        else if (flag === "--scenario") options.scenario = scenarioById(value()).id;
        else if (flag === "--plan-only" && inline === undefined) options.planOnly = true;
        else throw new Error(`unknown argument ${argv[i]} (${USAGE})`);
    }
    return options;
}

/** Ctrl-C (or a kill) stops whatever runs, a runtime still starting included, then exits. */
let interrupted = false;

function stopOnSignals(): void {
    const stop = (signal: NodeJS.Signals) => {
        interrupted = true;
        console.log(`\n${signal}: stopping the local runtime…`);
        void stopRuntimes().finally(() => process.exit(130));
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
}

async function main(): Promise<void> {
    stopOnSignals();
    const started = Date.now();
    const { stack, configFile, root, scenario, planOnly } = parseArgs(process.argv.slice(2));
    // As the Pulumi CLI runs a program: from its project folder, where out/ and .build/ then go.
    if (root) process.chdir(root);
    const plan = await evaluateStack({ stack, configFile, root });
    for (const line of formatPreview(plan)) console.log(line);
    for (const warning of plan.warnings) console.log(`warning: ${warning}`);

    const outDir = path.join("out", stack);
    fs.mkdirSync(outDir, { recursive: true });
    const { warnings: _w, ...planFile } = plan;
    fs.writeFileSync(path.join(outDir, "plan.json"), JSON.stringify(planFile, null, 2) + "\n");
    const graph = buildFlowGraph(plan);
    fs.writeFileSync(path.join(outDir, "architecture.mmd"), toMermaid(graph));
    fs.writeFileSync(path.join(outDir, "architecture.svg"), await renderSvg(toDot(graph)));
    console.log("");
    console.log(`Outputs:`);
    for (const [k, v] of Object.entries(plan.outputs)) console.log(`    ${k}: ${JSON.stringify(v)}`);
    console.log("");
    console.log(`Wrote ${outDir}/plan.json, ${outDir}/architecture.svg and ${outDir}/architecture.mmd in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (planOnly) return;
    if (root) {
        // Another project's flows are its own: the runtime runs this repository's scenarios.
        console.log("(--root: plan only; the local runtime runs this repository's flows)");
        return;
    }

    console.log("");
    const booting = Date.now();
    const runtime = await startRuntime({ plan });
    const reports: FlowReport[] = [];
    try {
        for (const line of formatFidelity(runtime.fidelity, runtime.notRun)) console.log(line);
        console.log(`Local runtime up in ${((Date.now() - booting) / 1000).toFixed(1)} s (time scale ${runtime.time.factor})`);
        for (const s of scenario ? [scenarioById(scenario)] : SCENARIOS) {
            console.log("");
            const report = await s.run(runtime);
            reports.push(report);
            for (const line of formatReport(report)) console.log(line);
        }
    } finally {
        await runtime.stop();
    }
    console.log("");
    const failed = reports.filter((r) => !ok(r));
    console.log(failed.length === 0 ? `All ${reports.length} flows passed in ${((Date.now() - started) / 1000).toFixed(1)} s; the runtime has stopped.` : `FAILED: flow ${failed.map((r) => r.id).join(", ")}`);
    if (failed.length > 0) process.exitCode = 1;
}

main().catch((err: Error) => {
    // A flow cut short by Ctrl-C fails as its stand-ins go: the signal handler reports and exits.
    if (interrupted) return;
    // One line, as the Pulumi CLI reports a refused config: no stack trace for a user error.
    console.error(`error: ${err.message.split("\n")[0]}`);
    process.exit(1);
});
