// The shape of what the offline engine records for one stack: every resource the program
// registers, with its inputs, parent and dependencies. Written to out/<stack>/plan.json and
// read by the diagram, the printer and the tests.

export interface PlannedResource {
    /** Pulumi URN, e.g. urn:pulumi:dev::event-pipelines::event-pipelines:index:QueueWithDlq$aws:sqs/queue:Queue::images-queue */
    urn: string;
    /** Type token, e.g. aws:sqs/queue:Queue or event-pipelines:index:QueueWithDlq. */
    type: string;
    /** Logical name, e.g. images-queue. */
    name: string;
    /** true for cloud resources, false for components (and the stack itself). */
    custom: boolean;
    /** URN of the parent resource; undefined only for the root stack. */
    parent?: string;
    /** URNs this resource depends on (from its inputs and dependsOn). */
    dependencies: string[];
    /** Inputs as the provider would receive them (Outputs resolved to their mock values). */
    inputs: Record<string, unknown>;
    /** State returned by the mock provider (inputs plus computed ARNs, URLs and names), and its `id`. */
    outputs: Record<string, unknown>;
    /** Resource options worth reviewing in a plan. */
    protect: boolean;
    /**
     * The URNs this resource answers to besides its own (Pulumi `aliases`, and those it inherits from
     * its ancestors' aliases, as the engine derives them): a resource of an earlier deployment with
     * one of these URNs is this one, moved or renamed, not a resource to replace. Absent when none.
     */
    aliases?: string[];
}

export interface Plan {
    project: string;
    stack: string;
    /** Resolved stack config (project defaults applied), keyed without the project namespace. */
    config: Record<string, unknown>;
    resources: PlannedResource[];
    /** Stack outputs, resolved. */
    outputs: Record<string, unknown>;
}
