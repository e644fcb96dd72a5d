import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { PAYMENT_METRICS } from "../shared/contract";
import type { MetricSink } from "./pipeline";

/** Powertools Metrics as the pipeline's sink: one namespace and service dimension for both functions, so one alarm watches both. */
export function paymentMetrics(): MetricSink & { publishStoredMetrics(): void } {
    const metrics = new Metrics({ namespace: PAYMENT_METRICS.namespace, serviceName: PAYMENT_METRICS.service });
    return { addMetric: (name, _unit, value) => metrics.addMetric(name, MetricUnit.Count, value), publishStoredMetrics: () => metrics.publishStoredMetrics() };
}
