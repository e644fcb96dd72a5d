import { randomUUID } from "crypto";
import { applyInputTransformer, matchesEventPattern, valueAtPath, type EventPattern, type InputTransformer } from "../../components/messaging/event-patterns";
import type { Plan, PlannedResource } from "../plan";
import { sleep, type Counter, type TimeScale } from "./types";

// The EventBridge default bus, in the runtime itself: the plan's rules on the default bus, their
// event patterns, and each target's input (transformer, constant input or path), retry policy and
// dead-letter queue. A delivery that fails with a retryable error is retried with exponential
// backoff until its retries or the event's age run out; one that cannot succeed (access denied,
// no such target) is not retried, as EventBridge does; either way the event then goes to the
// target's DLQ with EventBridge's attributes, or is dropped and counted when there is none.

/** EventBridge's defaults when a target sets no retry policy: 185 retries within 24 hours. */
const DEFAULT_RETRY = { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86_400 };
/** Backoff between attempts, in AWS seconds: doubling from 1 s, at most a minute. */
const backoffSeconds = (attempt: number) => Math.min(2 ** attempt, 60);

export interface BusTarget {
    ruleName: string;
    ruleArn: string;
    /** The target's logical name in the plan. */
    name: string;
    arn: string;
    roleArn?: string;
    transformer?: InputTransformer;
    input?: string;
    inputPath?: string;
    maximumRetryAttempts: number;
    maximumEventAgeInSeconds: number;
    deadLetterArn?: string;
}

export interface BusRule {
    name: string;
    arn: string;
    pattern: EventPattern;
    targets: BusTarget[];
}

/** A failed delivery: `retryable` false for errors a retry cannot fix (AccessDenied, NotFound). */
export class DeliveryError extends Error {
    constructor(
        readonly code: string,
        message: string,
        readonly retryable: boolean,
    ) {
        super(message);
        this.name = code;
    }
}

export interface EventBusOptions {
    rules: BusRule[];
    /** Delivers the target's input to its ARN, authorized as EventBridge would be; throws DeliveryError. */
    deliver(target: BusTarget, payload: string): Promise<void>;
    /** Sends a dead letter (the event, with EventBridge's message attributes) to a target's DLQ; throws DeliveryError. */
    sendToDeadLetterQueue(target: BusTarget, event: string, attributes: Record<string, string>): Promise<void>;
    time: TimeScale;
    counter?: Counter;
}

/** The rules of the plan's default bus, with their targets, read from the plan's own inputs. */
export function busRulesOf(plan: Plan): BusRule[] {
    const rules = plan.resources.filter((r) => r.type === "aws:cloudwatch/eventRule:EventRule");
    const targets = plan.resources.filter((r) => r.type === "aws:cloudwatch/eventTarget:EventTarget");
    return rules.flatMap((rule): BusRule[] => {
        const i = rule.inputs as Record<string, any>;
        const bus = i.eventBusName ?? "default";
        if (bus !== "default") throw new Error(`event bus: rule ${rule.name} is on bus ${bus}; the runtime runs the default bus only`);
        if (i.scheduleExpression !== undefined) throw new Error(`event bus: rule ${rule.name} is a schedule (${i.scheduleExpression}); scheduled rules are not run yet`);
        if (i.state === "DISABLED" || i.isEnabled === false) return [];
        if (typeof i.eventPattern !== "string") throw new Error(`event bus: rule ${rule.name} has no eventPattern`);
        const name = String(rule.outputs.name ?? rule.name);
        const arn = String(rule.outputs.arn);
        return [
            {
                name,
                arn,
                pattern: JSON.parse(i.eventPattern) as EventPattern,
                targets: targets.filter((t) => t.inputs.rule === name).map((t) => busTargetOf(t, name, arn)),
            },
        ];
    });
}

const TARGET_INPUTS = new Set(["rule", "arn", "roleArn", "inputTransformer", "input", "inputPath", "retryPolicy", "deadLetterConfig", "targetId", "eventBusName"]);

function busTargetOf(t: PlannedResource, ruleName: string, ruleArn: string): BusTarget {
    const i = t.inputs as Record<string, any>;
    const unknown = Object.keys(i).filter((k) => !TARGET_INPUTS.has(k));
    if (unknown.length > 0) throw new Error(`event bus: target ${t.name} sets ${unknown.join(", ")}, which the runtime does not model`);
    return {
        ruleName,
        ruleArn,
        name: t.name,
        arn: String(i.arn),
        roleArn: i.roleArn,
        transformer: i.inputTransformer,
        input: i.input,
        inputPath: i.inputPath,
        maximumRetryAttempts: i.retryPolicy?.maximumRetryAttempts ?? DEFAULT_RETRY.maximumRetryAttempts,
        maximumEventAgeInSeconds: i.retryPolicy?.maximumEventAgeInSeconds ?? DEFAULT_RETRY.maximumEventAgeInSeconds,
        deadLetterArn: i.deadLetterConfig?.arn,
    };
}

/** What a target receives for an event: the transformer's output, the constant input, the path's value, or the event. */
export function targetInput(target: BusTarget, event: Record<string, unknown>): string {
    if (target.transformer) return applyInputTransformer(target.transformer, event);
    if (target.input !== undefined) return target.input;
    if (target.inputPath !== undefined) return JSON.stringify(valueAtPath(event, target.inputPath) ?? null);
    return JSON.stringify(event);
}

export class EventBus {
    private readonly inFlight = new Set<Promise<void>>();
    private readonly pending = new Map<Promise<void>, string>();
    private stopped = false;
    /** Wakes every delivery waiting out a backoff when the bus stops. */
    private readonly stopping = new AbortController();

    constructor(private readonly options: EventBusOptions) {}

    get rules(): BusRule[] {
        return this.options.rules;
    }

    /** PutEvents on the default bus: fills in what EventBridge stamps on an event, then routes it. */
    put(detail: { source: string; "detail-type": string; detail: unknown; resources?: string[]; time?: string }, account: string, region: string): Record<string, unknown> {
        const event = { version: "0", id: randomUUID(), "detail-type": detail["detail-type"], source: detail.source, account, time: detail.time ?? new Date().toISOString().replace(/\.\d{3}Z$/, "Z"), region, resources: detail.resources ?? [], detail: detail.detail };
        this.route(event);
        return event;
    }

    /** Routes a whole event to every matching rule's targets; deliveries run in the background. */
    route(event: Record<string, unknown>): void {
        this.options.counter?.add("events");
        for (const rule of this.options.rules) {
            if (!matchesEventPattern(rule.pattern, event)) continue;
            this.options.counter?.add("matched");
            for (const target of rule.targets) {
                const delivery = this.deliver(target, event).finally(() => {
                    this.inFlight.delete(delivery);
                    this.pending.delete(delivery);
                });
                this.inFlight.add(delivery);
                this.pending.set(delivery, target.name);
            }
        }
    }

    /** The targets of the deliveries in flight or waiting for a retry, for a timeout's message. */
    busy(): string[] {
        return [...this.pending.values()];
    }

    /** Resolves once no delivery is in flight or waiting for a retry. */
    async idle(): Promise<void> {
        while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    }

    async stop(): Promise<void> {
        this.stopped = true;
        this.stopping.abort();
        await this.idle();
    }

    private async deliver(target: BusTarget, event: Record<string, unknown>): Promise<void> {
        const counter = this.options.counter;
        const started = Date.now();
        let payload: string;
        try {
            payload = targetInput(target, event);
        } catch (err) {
            // EventBridge drops an event its input transformer cannot apply to (a FailedInvocation), the bus goes on.
            counter?.add("dropped", 1, `${target.name}: input transformer: ${(err as Error).message}`);
            return;
        }
        let attempt = 0;
        let last: DeliveryError;
        for (;;) {
            try {
                await this.options.deliver(target, payload);
                counter?.add("delivered");
                return;
            } catch (err) {
                last = err instanceof DeliveryError ? err : new DeliveryError("InternalException", (err as Error).message, true);
                if (last.code === "AccessDenied" || last.code === "AuthorizationError") counter?.add("denied", 1, last.message);
            }
            const ageSeconds = (Date.now() - started) / this.options.time.ms(1);
            const exhausted = !last.retryable
                ? undefined
                : attempt >= target.maximumRetryAttempts
                  ? "MaximumRetryAttempts"
                  : ageSeconds >= target.maximumEventAgeInSeconds
                    ? "MaximumEventAgeInSeconds"
                    : "";
            if (exhausted === "") {
                // stop() cuts a backoff short: check again after it, so no attempt follows a stop.
                if (!this.stopped) await sleep(this.options.time.ms(backoffSeconds(attempt)), this.stopping.signal);
                if (this.stopped) {
                    // Stopped between retries: the runtime is going away, not the event's chances.
                    counter?.add("dropped", 1, `${target.name}: the runtime stopped while retrying ${last.code}`);
                    return;
                }
                counter?.add("retries");
                attempt++;
                continue;
            }
            break;
        }
        await this.deadLetter(target, event, last, attempt);
    }

    private async deadLetter(target: BusTarget, event: Record<string, unknown>, error: DeliveryError, retries: number): Promise<void> {
        const counter = this.options.counter;
        if (!target.deadLetterArn) {
            counter?.add("dropped", 1, `${target.name}: ${error.code}`);
            return;
        }
        // EventBridge's dead letters: the event itself, with why it was not delivered as attributes.
        const attributes: Record<string, string> = {
            RULE_ARN: target.ruleArn,
            TARGET_ARN: target.arn,
            ERROR_CODE: error.code,
            ERROR_MESSAGE: error.message.slice(0, 256),
            RETRY_ATTEMPTS: String(retries),
        };
        if (error.retryable) attributes.EXHAUSTED_RETRY_CONDITION = retries >= target.maximumRetryAttempts ? "MaximumRetryAttempts" : "MaximumEventAgeInSeconds";
        try {
            await this.options.sendToDeadLetterQueue(target, JSON.stringify(event), attributes);
            counter?.add("deadLettered", 1, `${target.name}: ${error.code}`);
        } catch (err) {
            counter?.add("dropped", 1, `${target.name}: ${error.code}; its DLQ refused: ${(err as Error).message}`);
        }
    }
}
