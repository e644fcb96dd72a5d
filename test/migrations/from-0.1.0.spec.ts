import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../local/engine";
import { Plan, PlannedResource } from "../../local/plan";
import { stackPlan } from "../support/stack-plans";

// 0.2.0 moved seed 003's flows from the stack root into UploadFanOut and MessagesApi. The URNs of
// the 0.1.0 plans (test/fixtures/urns, recorded from the 0.1.0 program with `npm start`) must each
// be the URN, or an alias, of exactly one resource of the same type now: `pulumi up` then moves
// those resources instead of replacing them (and a protected one would stop the update).

const oldUrns = (stack: string) =>
    fs.readFileSync(path.join(REPO_ROOT, "test/fixtures/urns", `${stack}-0.1.0.txt`), "utf8").trim().split("\n");
const typeOf = (urn: string) => urn.split("::")[2].split("$").pop();

function owners(plan: Plan): Map<string, PlannedResource[]> {
    const byUrn = new Map<string, PlannedResource[]>();
    for (const r of plan.resources) for (const urn of [r.urn, ...(r.aliases ?? [])]) byUrn.set(urn, [...(byUrn.get(urn) ?? []), r]);
    return byUrn;
}

// dev no longer sets the account's API Gateway logging role: prod does, for both (see README, "Deployment model").
const REMOVED: Record<string, string[]> = {
    dev: [
        "urn:pulumi:dev::event-pipelines::event-pipelines:index:ApiGatewayAccount::api-gateway-account",
        "urn:pulumi:dev::event-pipelines::event-pipelines:index:ApiGatewayAccount$aws:iam/role:Role::api-gateway-account-role",
        "urn:pulumi:dev::event-pipelines::event-pipelines:index:ApiGatewayAccount$aws:iam/rolePolicy:RolePolicy::api-gateway-account-role-policy",
        "urn:pulumi:dev::event-pipelines::event-pipelines:index:ApiGatewayAccount$aws:apigateway/account:Account::api-gateway-account-account",
    ],
    prod: [],
};

// What 0.2.0 adds: the two system components, a KeyPolicy per KMS key, the uploads bucket's lifecycle.
// After 0.2.0, PaymentFilePipeline (seed 000): the component, whose parts are all new (checked apart).
const ADDED_TYPES = [
    "aws:kms/keyPolicy:KeyPolicy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "event-pipelines:index:MessagesApi",
    "event-pipelines:index:PaymentFilePipeline",
    "event-pipelines:index:ResilientReportingPipeline",
    "event-pipelines:index:UploadFanOut",
];

/** A part of the payment file pipeline (its URN's type chain goes through the component). */
/** Inside a system added after 0.1.0 (seed 000 or 002): all of it is new. */
const inNewSystem = (urn: string) => /event-pipelines:index:(PaymentFilePipeline|ResilientReportingPipeline)\$/.test(urn);

describe("migrations/from-0.1.0: URNs of stacks deployed with 0.1.0", () => {
    for (const stack of ["dev", "prod"]) {
        describe(stack, () => {
            let plan: Plan;
            let byUrn: Map<string, PlannedResource[]>;
            before(async () => {
                plan = await stackPlan(stack);
                byUrn = owners(plan);
            });

            it("keeps every 0.1.0 URN on exactly one resource of the same type, but the ones removed on purpose", () => {
                const lost = oldUrns(stack).filter((urn) => !byUrn.has(urn));
                expect(lost).to.have.members(REMOVED[stack]);
                for (const urn of oldUrns(stack).filter((u) => byUrn.has(u))) {
                    const hits = byUrn.get(urn)!;
                    expect(hits.map((r) => r.name), urn).to.have.length(1);
                    expect(hits[0].type, urn).to.equal(typeOf(urn));
                }
            });

            it("keeps most of them through aliases: the resources moved into the system components", () => {
                const throughAlias = oldUrns(stack).filter((urn) => byUrn.get(urn)?.some((r) => r.urn !== urn));
                expect(throughAlias.length, "URNs kept through an alias").to.be.above(60);
                expect(throughAlias).to.include(`urn:pulumi:${stack}::event-pipelines::event-pipelines:index:QueueWithDlq$aws:sqs/queue:Queue::images-queue`);
            });

            it("adds only the system components, the KMS key policies and the uploads bucket's lifecycle", () => {
                const old = new Set(oldUrns(stack));
                const added = plan.resources.filter((r) => r.type !== "pulumi:pulumi:Stack" && ![r.urn, ...(r.aliases ?? [])].some((u) => old.has(u)));
                expect([...new Set(added.filter((r) => !inNewSystem(r.urn)).map((r) => r.type))].sort()).to.deep.equal(ADDED_TYPES);
                // No 0.1.0 resource moved into the new pipelines.
                expect(plan.resources.filter((r) => inNewSystem(r.urn) && (r.aliases ?? []).some((u) => old.has(u)))).to.deep.equal([]);
            });
        });
    }
});
