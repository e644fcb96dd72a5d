/**
 * The runtime as a whole: what it refuses before anything runs (as AWS would refuse to create it),
 * what it leaves out and says so, and that a signal leaves nothing running.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { execFileSync, spawn } from "child_process";
import { evaluateStack, REPO_ROOT } from "../../../local/engine";
import { startRuntime, TIME_SCALE_ENV } from "../../../local/runtime";
import { stackPlan } from "../../support/stack-plans";

/** A transformation replacing one input of the resource named `name`. */
function withInput(name: string, input: string, value: (current: unknown) => pulumi.Input<unknown>): pulumi.ResourceTransformation {
    return (args) => (args.name === name ? { props: { ...args.props, [input]: value(args.props[input]) }, opts: args.opts } : undefined);
}

/** Every process below `pid`. */
function descendants(pid: number): number[] {
    const out = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" });
    const children = new Map<number, number[]>();
    for (const line of out.trim().split("\n")) {
        const [child, parent] = line.trim().split(/\s+/).map(Number);
        children.set(parent, [...(children.get(parent) ?? []), child]);
    }
    const all: number[] = [];
    const visit = (p: number) => (children.get(p) ?? []).forEach((c) => (all.push(c), visit(c)));
    visit(pid);
    return all;
}

/** Running: present and not a zombie (an exited child whose new parent has not reaped it yet). */
const alive = (pid: number) => {
    try {
        return !execFileSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).trim().startsWith("Z");
    } catch {
        return false;
    }
};

describe("local/runtime", function () {
    this.timeout(120_000);

    it("runs the prod plan, listing its e-mail subscription as not run", async () => {
        const runtime = await startRuntime({ plan: await stackPlan("prod"), timeScale: 0.01 });
        try {
            expect(runtime.notRun.join("\n")).to.match(/subscription alerts-email-\w+ \(email to .+\): nothing is sent outside this machine/);
            expect(runtime.functions.size).to.equal(6);
        } finally {
            await runtime.stop();
        }
    });

    it("refuses, in one line, a function whose role Lambda may not assume", async () => {
        const deny = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }] });
        const plan = await evaluateStack({ stack: "dev", transformations: [withInput("events-consumer-role", "assumeRolePolicy", () => deny)] });
        const err = await startRuntime({ plan, timeScale: 0.01 }).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/^local runtime: function events-consumer-function: the role defined for the function cannot be assumed by Lambda \(User: lambda\.amazonaws\.com is not authorized to perform: sts:AssumeRole/);
        expect(err?.message).to.not.contain("\n");
    });

    it("refuses a mapping whose function's role cannot read its stream, as CreateEventSourceMapping does", async () => {
        const withoutReads = withInput("events-consumer-policy", "policy", (policy) =>
            pulumi.output(policy as pulumi.Input<string>).apply((text) => {
                const doc = JSON.parse(text);
                return JSON.stringify({ ...doc, Statement: doc.Statement.filter((s: { Action: string[] }) => !s.Action.includes("kinesis:GetRecords")) });
            }),
        );
        const plan = await evaluateStack({ stack: "dev", transformations: [withoutReads] });
        const err = await startRuntime({ plan, timeScale: 0.01 }).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/^local runtime: event source mapping events-consumer-events: the function's execution role cannot read arn:aws:kinesis:us-east-1:123456789012:stream\/EventStreamDev \(.*kinesis:GetRecords/);
    });

    it(`names ${TIME_SCALE_ENV} when it is not a factor in (0, 1]`, async () => {
        const saved = process.env[TIME_SCALE_ENV];
        process.env[TIME_SCALE_ENV] = "abc";
        try {
            const err = await startRuntime({ plan: await stackPlan("dev") }).then(() => undefined, (e: Error) => e);
            expect(err?.message).to.equal(`${TIME_SCALE_ENV}=abc: expected a number in (0, 1], e.g. 0.01`);
        } finally {
            if (saved === undefined) delete process.env[TIME_SCALE_ENV];
            else process.env[TIME_SCALE_ENV] = saved;
        }
    });

    it("leaves no process behind when npm start is interrupted while the flows run", async () => {
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "local/main.ts", "--scenario", "001"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        const up = new Promise<void>((resolve, reject) => {
            child.stdout.on("data", (chunk: Buffer) => {
                out += chunk.toString();
                if (out.includes("Local runtime up")) resolve();
            });
            child.once("exit", (code) => reject(new Error(`npm start exited (${code}) before the runtime was up: ${out.slice(-500)}`)));
        });
        await up;
        const started = descendants(child.pid!);
        expect(started.length, "kinesis-local and the functions' environments").to.be.greaterThan(0);
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        child.kill("SIGINT");
        expect(await exited).to.equal(130);
        expect(out).to.contain("SIGINT: stopping the local runtime");
        await new Promise((resolve) => setTimeout(resolve, 500));
        const left = started.filter(alive);
        const what = left.length ? execFileSync("ps", ["-o", "pid=,args=", "-p", left.join(",")], { encoding: "utf8" }) : "";
        expect(left, `processes left running: ${what}`).to.deep.equal([]);
    });
});
