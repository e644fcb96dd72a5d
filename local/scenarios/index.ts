import type { LocalRuntime } from "../runtime";
import { runEventDrivenLab } from "./event-driven-lab";
import { runPaymentFiles, type PaymentFilesOptions } from "./payment-files";
import type { FlowReport } from "./report";
import { runReporting } from "./reporting";
import { runStreamToTable } from "./stream-to-table";

// Every seed's flow, runnable on the local runtime: `npm start` runs them all, `--scenario <id>` one.

export interface Scenario {
    id: string;
    title: string;
    run(runtime: LocalRuntime, options?: ScenarioOptions): Promise<FlowReport & { manifest?: unknown }>;
}

/** What `npm start` passes a scenario from its flags (scenario 000 reads `file`). */
export type ScenarioOptions = PaymentFilesOptions;

export const SCENARIOS: Scenario[] = [
    { id: "000", title: "payment files, exactly once", run: (rt, options) => runPaymentFiles(rt, options) },
    { id: "001", title: "stream to table", run: (rt) => runStreamToTable(rt) },
    { id: "002", title: "resilient daily report", run: (rt) => runReporting(rt) },
    { id: "003", title: "the event-driven lab", run: runEventDrivenLab },
];

export function scenarioById(id: string): Scenario {
    const s = SCENARIOS.find((x) => x.id === id);
    if (!s) throw new Error(`--scenario ${id}: no such scenario (expected one of ${SCENARIOS.map((x) => x.id).join(", ")})`);
    return s;
}

export { formatReport, ok, type FlowReport } from "./report";
