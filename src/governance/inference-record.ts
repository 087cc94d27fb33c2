import type { ModelOutput } from '../models/model.js';
import type { WriteBackResult } from '../writeback/write-back.js';
import type { StoppedMode } from '../writeback/write-gate.js';
import type { AuditEntry, AuditedPrediction } from './audit-trail.js';

/** Where an inference ran: ids only. */
export interface InferenceContext {
  source: string;
  patientId: string;
  recordHash: string;
  /** The assessment key (idempotency key of the write-back). */
  key: string;
  jobId?: string;
  /** The `$assess` request or backfill run the job belongs to (the service has no distributed tracing). */
  traceId?: string;
  /** What triggered it: `Type/id` of the changed resource, `api`, `poll` or `backfill`. */
  trigger?: string;
}

/** The predictions as audited: values, codes and the names of the inputs used. */
export function auditedPredictions(output: ModelOutput): AuditedPrediction[] {
  return output.predictions.map((p) => ({
    calculator: p.calculator,
    probability: p.probability,
    score: p.score,
    risk: p.qualitativeRisk,
    category: p.category,
    inputs: [...new Set(p.inputsUsed.map((i) => i.name))],
  }));
}

/**
 * The audit record of one inference and its write-back: time, source, patient, model id@version and
 * mode, the record hash, inputs used (references) and missing (names and reasons), the predictions
 * (values and categories), what was written (references), the job and trace ids. A stopped version's
 * inference is recorded as blocked, with nothing written.
 */
export function inferenceEntry(
  ctx: InferenceContext,
  output: ModelOutput,
  result: WriteBackResult | StoppedMode,
  mode: string,
  now = new Date(),
): AuditEntry {
  const stopped = typeof result === 'string';
  return {
    action: stopped ? 'inference-blocked' : 'inference',
    recorded: now.toISOString(),
    source: ctx.source,
    patient: `Patient/${ctx.patientId}`,
    model: `${output.modelId}@${output.modelVersion}`,
    mode,
    recordHash: ctx.recordHash,
    assessment: ctx.key,
    inputsUsed: output.basis.map((b) => b.reference ?? '').filter(Boolean),
    inputsMissing: output.missing.map((m) => ({ calculator: m.calculator, name: m.name, reason: m.reason })),
    predictions: auditedPredictions(output),
    written: stopped ? [] : result.written,
    jobId: ctx.jobId,
    traceId: ctx.traceId,
    detail: {
      trigger: ctx.trigger,
      created: stopped ? 0 : result.created,
      superseded: stopped ? undefined : result.superseded,
      shadowStored: stopped || result.mode !== 'shadow' ? undefined : result.stored,
    },
  };
}
