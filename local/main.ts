import * as fs from "fs";
import * as path from "path";
import { evaluateStack } from "./engine";
import { buildFlowGraph, renderSvg, toDot, toMermaid } from "./flow-graph";
import { formatPreview } from "./preview-printer";

// `npm start [-- --stack prod] [--config-file f.yaml] [--root <project>]`: evaluates the program for a stack
// offline, prints a preview-like tree, and writes out/<stack>/plan.json, architecture.svg and
// architecture.mmd. `--root` evaluates another Pulumi project (its Pulumi.yaml, stack files and
// its own node_modules, e.g. examples/consumer once installed).

const USAGE = "expected --stack <name> and optionally --config-file <path> and --root <project folder>";

function parseArgs(argv: string[]): { stack: string; configFile?: string; root?: string } {
    const options: { stack: string; configFile?: string; root?: string } = { stack: "dev" };
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
        else throw new Error(`unknown argument ${argv[i]} (${USAGE})`);
    }
    return options;
}

async function main(): Promise<void> {
    const started = Date.now();
    const { stack, configFile, root } = parseArgs(process.argv.slice(2));
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
}

main().catch((err: Error) => {
    // One line, as the Pulumi CLI reports a refused config: no stack trace for a user error.
    console.error(`error: ${err.message.split("\n")[0]}`);
    process.exit(1);
});
