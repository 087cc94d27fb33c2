import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The process's Prometheus metrics (served at GET /metrics). One registry per process; other modules
 * record through the small helpers below, so they never import prom-client themselves.
 * Labels carry sources, model ids, queue names and states only: never patient ids (unbounded
 * cardinality, and PHI-adjacent).
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'fhir_assess_' });

/** Pipeline stages timed by {@link observeStage}. */
export type Stage = 'intake' | 'record' | 'model' | 'writeback';

/** Seconds: 5 ms .. 60 s, spaced for EHR round trips and model calls. */
const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const stageSeconds = new Histogram({
  name: 'fhir_assess_stage_duration_seconds',
  help: 'Duration of one pipeline stage (intake, record assembly, model, write-back)',
  labelNames: ['stage'],
  buckets: LATENCY_BUCKETS_S,
  registers: [metricsRegistry],
});

const modelSeconds = new Histogram({
  name: 'fhir_assess_model_duration_seconds',
  help: 'Duration of one model run',
  labelNames: ['model'],
  buckets: LATENCY_BUCKETS_S,
  registers: [metricsRegistry],
});

const eventsReceived = new Counter({
  name: 'fhir_assess_events_received_total',
  help: 'Change events accepted from notifications, by source and wire-format variant',
  labelNames: ['source', 'variant'],
  registers: [metricsRegistry],
});

const ehrRequests = new Counter({
  name: 'fhir_assess_ehr_requests_total',
  help: 'Requests to the EHR by source, method and final status (2xx, the error status, or "error" = no answer), after client retries',
  labelNames: ['source', 'method', 'status'],
  registers: [metricsRegistry],
});

const ehrSeconds = new Histogram({
  name: 'fhir_assess_ehr_request_duration_seconds',
  help: 'Duration of one EHR request (including client retries)',
  labelNames: ['source'],
  buckets: LATENCY_BUCKETS_S,
  registers: [metricsRegistry],
});

const writeBacks = new Counter({
  name: 'fhir_assess_writebacks_total',
  help: 'Assessments written back, by mode and whether the EHR created anything new',
  labelNames: ['mode', 'outcome'],
  registers: [metricsRegistry],
});

const apiAssessRequests = new Counter({
  name: 'fhir_assess_api_assess_requests_total',
  help: '$assess requests by level (patient, group, system) and how they were answered',
  labelNames: ['level', 'response'],
  registers: [metricsRegistry],
});

const reviews = new Counter({
  name: 'fhir_assess_reviews_total',
  help: 'Clinician reviews recorded, by decision (confirm, amend, reject) and how they arrived (ehr, api, cds-hooks)',
  labelNames: ['decision', 'via'],
  registers: [metricsRegistry],
});

/** Counts one clinician review newly recorded. */
export function countReview(decision: string, via: string): void {
  reviews.inc({ decision, via });
}

/** Records how long one stage took, in milliseconds. */
export function observeStage(stage: Stage, ms: number): void {
  stageSeconds.observe({ stage }, ms / 1000);
}

/** Records one model run (ms). */
export function observeModel(modelId: string, ms: number): void {
  modelSeconds.observe({ model: modelId }, ms / 1000);
}

/** Counts change events accepted by intake. */
export function countEventsReceived(source: string, variant: string, events: number): void {
  eventsReceived.inc({ source, variant }, events);
}

/** Counts one EHR request by its final status (`2xx`, an error status, or `error` when the EHR never answered). */
export function observeEhrRequest(source: string, method: string, status: number | string, ms: number): void {
  ehrRequests.inc({ source, method, status: String(status) });
  ehrSeconds.observe({ source }, ms / 1000);
}

/** Counts one write-back: `created` (something new), `existing` (all found already) or `shadow`. */
export function countWriteBack(mode: string, outcome: 'created' | 'existing' | 'shadow'): void {
  writeBacks.inc({ mode, outcome });
}

/** Counts one $assess request and how it was answered (`200`, `202`, `4xx`, `5xx`). */
export function countAssessRequest(level: 'patient' | 'group' | 'system', response: string): void {
  apiAssessRequests.inc({ level, response });
}

/**
 * A gauge whose values are read at scrape time (e.g. BullMQ job counts, Redis-held counters), so
 * every replica reports the shared state. `read` failures are swallowed: a scrape must not fail
 * because Redis blinked; the gauge then reports nothing for that scrape.
 */
export function scrapeGauge(
  name: string,
  help: string,
  labelNames: string[],
  read: () => Promise<{ labels: Record<string, string>; value: number }[]>,
): Gauge {
  const existing = metricsRegistry.getSingleMetric(name);
  if (existing) metricsRegistry.removeSingleMetric(name); // a newer app in the same process replaces the reader
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [metricsRegistry],
    async collect() {
      this.reset();
      const rows = await read().catch(() => []);
      for (const r of rows) this.set(r.labels, r.value);
    },
  });
}
