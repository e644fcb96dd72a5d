import { expect } from "chai";
import * as aws from "@pulumi/aws";
import { createHash } from "crypto";
import * as fs from "fs";
import { LambdaFunction, LambdaFunctionArgs, functionEntry } from "../../../components/compute/lambda-function";
import { PolicyStatement } from "../../../components/security/policy-documents";
import type { Plan, PlannedResource } from "../../../local/plan";
import { childrenOf, one, ofType, policyOf, record, generated } from "../../support/pulumi-harness";

const ACCOUNT = "123456789012";
const ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";
const FUNCTION = "aws:lambda/function:Function";
const LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup";
const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const COMPONENT = "event-pipelines:index:LambdaFunction";

const LAMBDA_TRUST = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
};

/** The component's resources in a plan, looked up by the names the component gives them. */
function parts(plan: Plan, name: string) {
    return {
        component: one(plan, COMPONENT, name),
        fn: one(plan, FUNCTION, `${name}-function`),
        role: one(plan, ROLE, `${name}-role`),
        policy: one(plan, ROLE_POLICY, `${name}-policy`),
        logGroup: one(plan, LOG_GROUP, `${name}-logs`),
    };
}

function actionsOf(s: PolicyStatement): string[] {
    return Array.isArray(s.Action) ? s.Action : [s.Action];
}

/** What a message says when `promise` rejects; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<string> {
    try {
        await promise;
    } catch (err) {
        return (err as Error).message;
    }
    expect.fail("expected the program to fail");
}

const noop: aws.lambda.Callback<unknown, unknown> = async () => undefined;

describe("LambdaFunction", () => {
    describe("bundled (entry)", () => {
        let plan: Plan;
        let queueArn: string;

        before(async () => {
            plan = await record(() => {
                const queue = new aws.sqs.Queue("source", {});
                new LambdaFunction("audit", {
                    entry: functionEntry("audit-logger"),
                    grants: [
                        // Unsorted on purpose; the resource is an Output, resolved before the policy is built.
                        { actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], resources: [queue.arn] },
                        { actions: ["s3:GetObject"], resources: ["arn:aws:s3:::uploads/*"] },
                    ],
                });
            });
            queueArn = one(plan, "aws:sqs/queue:Queue", "source").outputs.arn as string;
        });

        it("creates a function with the defaults: nodejs22.x, arm64, 256 MB, 30 s, index.handler, active tracing", () => {
            const { fn } = parts(plan, "audit");
            expect(fn.inputs.runtime).to.equal("nodejs22.x");
            expect(fn.inputs.architectures).to.deep.equal(["arm64"]);
            expect(fn.inputs.memorySize).to.equal(256);
            expect(fn.inputs.timeout).to.equal(30);
            expect(fn.inputs.handler).to.equal("index.handler");
            expect(fn.inputs.tracingConfig).to.deep.equal({ mode: "Active" });
            expect(fn.inputs.environment).to.deep.equal({ variables: { NODE_OPTIONS: "--enable-source-maps" } });
            expect(fn.inputs).not.to.have.property("reservedConcurrentExecutions");
        });

        it("logs JSON to its own log group, kept 30 days by default", () => {
            const { fn, logGroup } = parts(plan, "audit");
            expect(logGroup.outputs.name).to.be.a("string").and.match(/^\/aws\/lambda\/audit-/);
            expect(fn.inputs.loggingConfig).to.deep.equal({ logFormat: "JSON", logGroup: logGroup.outputs.name });
            expect(logGroup.inputs.retentionInDays).to.equal(30);
        });

        it("ships the bundled archive with its sha256 as codeSha256", () => {
            const { fn, component } = parts(plan, "audit");
            const code = fn.inputs.code as { archive: string };
            expect(code.archive).to.match(/audit-logger-[0-9a-f]{16}\.zip$/);
            const hash = fn.inputs.codeSha256 as string;
            expect(hash).to.match(/^[A-Za-z0-9+/]{43}=$/);
            expect(hash).to.equal(createHash("sha256").update(fs.readFileSync(code.archive)).digest("base64"));
            // The function is the component's, and waits for its policy and log group.
            expect(fn.parent).to.equal(component.urn);
        });

        it("waits for its role policy and log group before the function is created", () => {
            const { fn, policy, logGroup, role } = parts(plan, "audit");
            expect(fn.dependencies).to.include.members([policy.urn, logGroup.urn, role.urn]);
        });

        it("lets only the Lambda service assume its role, and uses that role", () => {
            const { fn, role, policy } = parts(plan, "audit");
            expect(policyOf(role, "assumeRolePolicy")).to.deep.equal(LAMBDA_TRUST);
            expect(fn.inputs.role).to.equal(`arn:aws:iam::${ACCOUNT}:role/${role.outputs.name}`);
            expect(policy.inputs.role).to.equal(role.outputs.name);
        });

        it("grants exactly its own logs, X-Ray, and the given grants verbatim (actions sorted)", () => {
            const { policy, logGroup } = parts(plan, "audit");
            expect(policyOf(policy)).to.deep.equal({
                Version: "2012-10-17",
                Statement: [
                    { Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`${logGroup.outputs.arn}:*`] },
                    { Effect: "Allow", Action: ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], Resource: ["*"] },
                    { Effect: "Allow", Action: ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], Resource: [queueArn] },
                    { Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::uploads/*"] },
                ],
            });
            expect(queueArn).to.equal(`arn:aws:sqs:us-east-1:${ACCOUNT}:${generated("aws:sqs/queue:Queue", "source")}`);
            expect(logGroup.outputs.arn).to.equal(`arn:aws:logs:us-east-1:${ACCOUNT}:log-group:${logGroup.outputs.name}`);
        });

        it("has no wildcard action and puts only X-Ray on resource *", () => {
            const { policy } = parts(plan, "audit");
            for (const statement of policyOf(policy).Statement) {
                for (const action of actionsOf(statement)) expect(action, "action").not.to.contain("*");
                const resources = ([] as string[]).concat(statement.Resource ?? []);
                if (resources.includes("*")) expect(actionsOf(statement).every((a) => a.startsWith("xray:"))).to.equal(true);
            }
        });

        it("attaches no managed policy at all", () => {
            expect(ofType(plan, ATTACHMENT)).to.have.length(0);
            expect(ofType(plan, ROLE_POLICY)).to.have.length(1);
            const { component } = parts(plan, "audit");
            expect(childrenOf(plan, component).map((r) => r.type).sort()).to.deep.equal([LOG_GROUP, ROLE, ROLE_POLICY, FUNCTION].sort());
        });

        it("takes runtime, architecture, memory, timeout, retention, environment and tracing from its args", async () => {
            const args: LambdaFunctionArgs = {
                entry: functionEntry("audit-logger"),
                runtime: "nodejs24.x",
                architecture: "x86_64",
                memorySizeMb: 1024,
                timeoutSeconds: 45,
                logRetentionDays: 7,
                tracing: false,
                reservedConcurrency: 3,
                environment: { STAGE: "test" },
            };
            let component: LambdaFunction | undefined;
            const given = await record(() => {
                component = new LambdaFunction("tuned", args);
            });
            const { fn, logGroup, policy } = parts(given, "tuned");
            expect(fn.inputs.runtime).to.equal("nodejs24.x");
            expect(fn.inputs.architectures).to.deep.equal(["x86_64"]);
            expect(fn.inputs.memorySize).to.equal(1024);
            expect(fn.inputs.timeout).to.equal(45);
            expect(fn.inputs.reservedConcurrentExecutions).to.equal(3);
            expect(fn.inputs.tracingConfig).to.deep.equal({ mode: "PassThrough" });
            expect(fn.inputs.environment).to.deep.equal({ variables: { NODE_OPTIONS: "--enable-source-maps", STAGE: "test" } });
            expect(logGroup.inputs.retentionInDays).to.equal(7);
            expect(component?.timeoutSeconds).to.equal(45);
            // Without tracing, no X-Ray grant either.
            expect(policyOf(policy).Statement).to.deep.equal([
                { Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`${logGroup.outputs.arn}:*`] },
            ]);
        });
    });

    describe("inline (callback)", () => {
        let plan: Plan;
        let component: LambdaFunction | undefined;

        before(async () => {
            plan = await record(() => {
                component = new LambdaFunction("inline", { callback: noop });
            });
        });

        it("wraps the callback in a CallbackFunction running as the component's role", () => {
            const { fn, role } = parts(plan, "inline");
            expect(component?.function).to.be.instanceOf(aws.lambda.CallbackFunction);
            expect(fn.inputs.handler).to.equal("__index.handler");
            expect((fn.inputs.code as { archive: string[] }).archive).to.include("__index.js");
            expect(fn.inputs.role).to.equal(role.outputs.arn);
            expect(fn.inputs.runtime).to.equal("nodejs22.x");
            expect(fn.inputs.loggingConfig).to.deep.equal({ logFormat: "JSON", logGroup: parts(plan, "inline").logGroup.outputs.name });
            expect(fn.inputs).not.to.have.property("codeSha256");
            expect(component?.codeSha256).to.equal(undefined);
        });

        it("creates no second role and attaches none of CallbackFunction's managed policies", () => {
            expect(ofType(plan, ROLE)).to.have.length(1);
            expect(ofType(plan, ATTACHMENT)).to.have.length(0);
            const inputs = JSON.stringify(plan.resources.map((r: PlannedResource) => r.inputs));
            expect(inputs).not.to.contain("FullAccess");
            expect(inputs).not.to.contain("PowerUser");
        });

        it("ships only the closure, plus the packages the callback names", async () => {
            expect((parts(plan, "inline").fn.inputs.code as { archive: string[] }).archive).to.deep.equal(["__index.js"]);
            const named = await record(() => void new LambdaFunction("named", { callback: noop, callbackPackages: ["zod"] }));
            expect((parts(named, "named").fn.inputs.code as { archive: string[] }).archive).to.deep.equal(["__index.js", "node_modules/zod"]);
        });

        it("(control) a bare CallbackFunction would attach FullAccess/PowerUser managed policies", async () => {
            // Proves the two checks above can see what they guard against.
            const bare = await record(() => {
                new aws.lambda.CallbackFunction("bare", { callback: noop });
            });
            const attachments = ofType(bare, ATTACHMENT);
            expect(attachments.length).to.be.greaterThan(0);
            expect(JSON.stringify(attachments.map((r) => r.inputs))).to.match(/FullAccess|PowerUser/);
        });
    });

    describe("errors", () => {
        const refusals: [Record<string, unknown>, string][] = [
            [{ runtime: "nodejs20.x" }, 'LambdaFunction "f": runtime = "nodejs20.x": expected one of nodejs22.x, nodejs24.x'],
            [{ architecture: "sparc" }, 'LambdaFunction "f": architecture = "sparc": expected one of arm64, x86_64'],
            [{ memorySizeMb: 64 }, 'LambdaFunction "f": memorySizeMb = 64: expected an integer from 128 to 10240'],
            [{ timeoutSeconds: 901 }, 'LambdaFunction "f": timeoutSeconds = 901: expected an integer from 1 to 900'],
            [{ logRetentionDays: 10 }, 'LambdaFunction "f": logRetentionDays = 10: expected one of 1, 3, 5, 7, 14, 30,'],
        ];
        for (const [args, message] of refusals) {
            it(`refuses ${JSON.stringify(args)} at construction, in one line`, async () => {
                const error = await rejection(record(() => void new LambdaFunction("f", { callback: noop, ...args })));
                expect(error.startsWith(message), error).to.equal(true);
            });
        }

        it("refuses neither entry nor callback, in one line naming the component", async () => {
            const message = await rejection(record(() => void new LambdaFunction("nothing", {})));
            expect(message).to.contain('LambdaFunction "nothing"');
            expect(message).to.contain("expected exactly one of entry");
            expect(message).not.to.contain("\n");
        });

        it("refuses both entry and callback, in one line naming the component", async () => {
            const message = await rejection(record(() => void new LambdaFunction("both", { entry: functionEntry("audit-logger"), callback: noop })));
            expect(message).to.contain('LambdaFunction "both"');
            expect(message).to.contain("expected exactly one of entry");
            expect(message).not.to.contain("\n");
        });

        it("refuses a wildcard action at construction, naming the component and the grant", async () => {
            const message = await rejection(
                record(() => void new LambdaFunction("bad", { entry: functionEntry("audit-logger"), grants: [{ actions: ["sqs:*"], resources: [`arn:aws:sqs:us-east-1:${ACCOUNT}:q`] }] })),
            );
            expect(message).to.equal('LambdaFunction "bad": grant 1: action "sqs:*" must be one exact action such as "sqs:SendMessage" (no wildcards)');
        });

        it("refuses resource * for an action that has resource types", async () => {
            const message = await rejection(record(() => void new LambdaFunction("bad", { callback: noop, grants: [{ actions: ["sqs:SendMessage"], resources: ["*"] }] })));
            expect(message).to.equal(
                'LambdaFunction "bad": grant 1 (sqs:SendMessage): resource "*" is only allowed for actions without resource types (RESOURCE_STAR_ACTIONS): give sqs:SendMessage exact ARNs',
            );
        });

        it("refuses a resource that resolves to * once its Output is known, and the program still ends", async () => {
            const message = await rejection(
                record(() => {
                    const queue = new aws.sqs.Queue("q", {});
                    new LambdaFunction("late", { entry: functionEntry("audit-logger"), grants: [{ actions: ["sqs:SendMessage"], resources: [queue.arn.apply(() => "*")] }] });
                }),
            );
            expect(message).to.contain('LambdaFunction "late": grant 1 (sqs:SendMessage): resource "*" is only allowed');
            // The engine is free again: a later program runs.
            expect((await record(() => void new aws.sqs.Queue("after", {}))).resources.length).to.be.above(0);
        });

        it("(control) accepts resource * for an action without resource types", async () => {
            const plan = await record(
                () => void new LambdaFunction("metrics", { callback: noop, grants: [{ actions: ["cloudwatch:PutMetricData"], resources: ["*"] }] }),
            );
            expect(policyOf(one(plan, ROLE_POLICY, "metrics-policy")).Statement).to.deep.include({
                Effect: "Allow",
                Action: ["cloudwatch:PutMetricData"],
                Resource: ["*"],
            });
        });
    });
});
