// What the parts of the local runtime share: how a function is invoked, how a delivery is
// authorized, and how timings AWS counts in minutes are scaled for tests.

/** The outcome of one Lambda invocation, as the Lambda service reports it to an event source mapping. */
export type InvokeResult =
    | { ok: true; response: unknown; durationMs: number }
    | {
          ok: false;
          /** Lambda's error type: the thrown error's name, "Sandbox.Timedout" for a timeout, "Runtime.ExitError" for a crash. */
          errorType: string;
          errorMessage: string;
          durationMs: number;
      };

/** A deployed function, as a mapping or the bus sees it: invoke it with an event, get Lambda's outcome. */
export interface Invocable {
    /** The function's ARN as the plan states it. */
    arn: string;
    /** The function's logical name in the plan (e.g. events-consumer-function). */
    name: string;
    invoke(event: unknown): Promise<InvokeResult>;
}

/** The decision on one request, in IAM's terms. */
export interface Decision {
    allowed: boolean;
    /** One line, as AWS words a denial: "User: <principal> is not authorized to perform: <action> on resource: <arn> because ...". */
    message: string;
}

/**
 * One request to authorize: who (a role ARN, or a service principal such as sns.amazonaws.com
 * acting for a source), what (an IAM action) and on what (a resource ARN as the plan names it).
 */
export interface AccessRequest {
    principal: { role: string } | { service: string; sourceArn: string; sourceAccount: string };
    action: string;
    resource: string;
}

/** Decides requests from the plan's policies: a role's inline and attached policies, the target's resource policy. */
export interface Authorizer {
    authorize(request: AccessRequest): Promise<Decision>;
}

/** What the runtime counts for one flow: the columns of a scenario's table. */
export interface Counter {
    add(name: string, by?: number, reason?: string): void;
}

/**
 * Timings AWS counts in seconds to minutes (visibility timeout, batching window, retry backoff,
 * record age), scaled by one factor: 1 runs them as planned; tests pass e.g. 0.01 so a 180 s
 * visibility timeout is 1.8 s. The plan is never edited: only the clock the runtime waits on.
 */
export interface TimeScale {
    /** The factor (0 < factor <= 1). */
    readonly factor: number;
    /** `seconds` of AWS time as milliseconds of wall time. */
    ms(seconds: number): number;
}

export function timeScale(factor = 1): TimeScale {
    if (!(factor > 0 && factor <= 1)) throw new Error(`timeScale: expected a factor in (0, 1], got ${factor}`);
    return { factor, ms: (seconds) => seconds * 1000 * factor };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            resolve();
        }
        signal?.addEventListener("abort", done, { once: true });
    });
}
