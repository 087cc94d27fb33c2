import type { Logger } from 'pino';
import type { SourceRegistry } from '../fhir/source-client.js';
import type { Governance } from '../governance/governance.js';
import { type InferenceContext, inferenceEntry } from '../governance/inference-record.js';
import type { AssessJobResult } from '../jobs/assess-queue.js';
import { fullReadDone, pendingFullRead } from '../jobs/record-full-read.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import type { Model, PatientRecord } from '../models/model.js';
import type { OutputMonitor } from '../monitoring/output-monitor.js';
import { countWriteBack, observeModel, observeStage } from '../observability/metrics.js';
import { inSpan, traceLogFields } from '../observability/tracing.js';
import { viewFor } from '../record/model-view.js';
import { assessmentKey } from '../writeback/idempotency-key.js';
import { type WriteBackResult, writeBack } from '../writeback/write-back.js';

export interface AssessDeps {
  sources: SourceRegistry;
  redis: RedisClient;
  models: Model[];
  /** Default deployment mode (MODEL_MODE). */
  mode: 'shadow' | 'preliminary' | 'final';
  /** Per-model deployment mode by model id (from the model registry); models not listed use `mode`. */
  modes?: Readonly<Record<string, 'shadow' | 'preliminary' | 'final'>>;
  asOf: () => Date;
  /** Redis key prefix for the "last assessed record" markers. */
  keyPrefix: string;
  serviceVersion: string;
  logger: Logger;
  /** Key for de-identified records (DEIDENTIFY_SECRET); absent: random per process. */
  deidentifySecret?: string;
  /** Shadow-store retention (SHADOW_RETENTION_DAYS); default 90 days. */
  shadowRetentionDays?: number;
  /** Records each output for monitoring (distributions, input statuses, drift values); absent: not monitored. */
  monitor?: OutputMonitor;
  /** The model registry and audit trail (absent without DATABASE_URL: configured modes, no trail). */
  governance?: Governance;
}

/** The job an assessment runs in, for the audit trail. */
export interface AssessJobInfo {
  id?: string;
  requestId?: string;
  trigger?: string;
}

/**
 * One assessment run for one patient: assemble the record once, then for each model skip it when the
 * record is unchanged since its last run, else infer and write back.
 */
export async function assessPatient(
  deps: AssessDeps,
  source: string,
  patientId: string,
  /** `models`: only these model ids; `force`: run even when the record is unchanged (API callers want the resources). */
  opts: { models?: string[]; force?: boolean; job?: AssessJobInfo } = {},
): Promise<AssessJobResult> {
  const models = opts.models ? deps.models.filter((m) => opts.models?.includes(m.id)) : deps.models;
  const t0 = performance.now();
  // A deleted resource (src/jobs/process-change-event.ts) asks for a full read: `_since` misses deletes.
  const fullRead = await pendingFullRead(deps.redis, deps.keyPrefix, source, patientId);
  const record = await inSpan('record', (span) =>
    deps.sources
      .assembler(source)
      // Always the record every enabled model needs, so its hash (and the idempotency key derived from it)
      // does not depend on which models this run was asked for.
      .assemble(patientId, {
        requires: deps.models.map((m) => m.requires),
        asOf: deps.asOf(),
        fullRead: !!fullRead,
        logger: deps.logger,
      })
      .then((r) => {
        span.setAttribute('fhir_assess.record.resources', r.bundle.entry?.length ?? 0);
        return r;
      }),
  );
  if (fullRead) await fullReadDone(deps.redis, deps.keyPrefix, source, patientId, fullRead);
  observeStage('record', performance.now() - t0);
  const assessments: AssessJobResult['assessments'] = [];
  for (const model of models) assessments.push(await assessWithModel(deps, { source, patientId, record, opts }, model));
  return { assessments };
}

type Assessed = AssessJobResult['assessments'][number];

interface RunContext {
  source: string;
  patientId: string;
  record: PatientRecord;
  opts: { force?: boolean; job?: AssessJobInfo };
}

/**
 * One model over the assembled record: skipped when the registry stopped the version or the record
 * (and mode) is unchanged since its last run; else inferred and written back in the mode that
 * applies at the moment of writing (the registry's gate, when there is one).
 */
async function assessWithModel(deps: AssessDeps, ctx: RunContext, model: Model): Promise<Assessed> {
  const { source, patientId, record } = ctx;
  const key = assessmentKey(patientId, model.id, model.version, record.hash);
  const markerKey = `${deps.keyPrefix}:last-assessed:${source}:${patientId}:${model.id}@${model.version}`;
  const configured = deps.modes?.[model.id] ?? deps.mode;
  // The registry's mode (a promotion or recall applies without a restart), else the configured one.
  const mode = (await deps.governance?.resolver.modeOf(model.id, model.version)) ?? configured;
  const base = { modelId: model.id, modelVersion: model.version, mode };
  if (mode === 'retired' || mode === 'recalled') return { ...base, skipped: mode, written: [], created: 0 };
  // The mode is part of the marker: a promotion makes an unchanged record worth writing again.
  if (!ctx.opts.force && (await deps.redis.get(markerKey)) === `${key}|${mode}`)
    return { ...base, skipped: 'unchanged', written: [], created: 0 };
  const asOf = deps.asOf();
  let t0 = performance.now();
  // Models outside the trust boundary see a de-identified record; their answer is re-linked here.
  const view = viewFor(model, record, asOf, deps.deidentifySecret);
  const modelAttributes = { 'fhir_assess.model': `${model.id}@${model.version}` };
  const output = view.relink(
    await inSpan(`model ${model.id}`, () => model.assess(view.record, { asOf: view.asOf }), {
      attributes: modelAttributes,
    }),
  );
  observeModel(model.id, performance.now() - t0);
  observeStage('model', performance.now() - t0);
  // Monitoring must never fail an assessment: a Redis blip loses one observation, not the write-back.
  await deps.monitor
    ?.record(output, mode)
    .catch((err: Error) => deps.logger.warn({ err: err.message, model: model.id }, 'monitoring record failed'));
  t0 = performance.now();
  const input = { patientId, key, output, modelTitle: model.title, mode, asOf, serviceVersion: deps.serviceVersion };
  const gate = deps.governance?.gate({ modelId: model.id, version: model.version, configured }, (res, m) =>
    inferenceEntry(inferenceContext(ctx, key), output, res, m),
  );
  const result = await inSpan(
    `write-back ${model.id}`,
    () =>
      writeBack(deps.sources.client(source), input, {
        redis: deps.redis,
        keyPrefix: deps.keyPrefix,
        source,
        shadowRetentionDays: deps.shadowRetentionDays,
        gate,
      }),
    { attributes: { ...modelAttributes, 'fhir_assess.mode': mode } },
  );
  observeStage('writeback', performance.now() - t0);
  // Stopped between the model run and the write: nothing written (audited as blocked).
  if (result.mode === 'retired' || result.mode === 'recalled')
    return { ...base, mode: result.mode, skipped: result.mode, written: [], created: 0 };
  countWriteBack(result.mode, result.mode === 'shadow' ? 'shadow' : result.created > 0 ? 'created' : 'existing');
  await deps.redis.set(markerKey, `${key}|${result.mode}`);
  logWritten(deps.logger, ctx, model, result);
  return { ...base, mode: result.mode, key, written: result.written, created: result.created };
}

function inferenceContext(ctx: RunContext, key: string): InferenceContext {
  const { job } = ctx.opts;
  return {
    source: ctx.source,
    patientId: ctx.patientId,
    recordHash: ctx.record.hash,
    key,
    jobId: job?.id,
    // The OpenTelemetry trace when tracing is on, else the $assess request or backfill run it belongs to.
    traceId: traceLogFields().trace_id ?? job?.requestId,
    trigger: job?.trigger,
  };
}

function logWritten(logger: Logger, ctx: RunContext, model: Model, result: WriteBackResult): void {
  const ids = { patientId: ctx.patientId, model: `${model.id}@${model.version}` };
  logger.info(
    {
      ...ids,
      created: result.created,
      existing: result.existing,
      superseded: result.superseded.length,
      mode: result.mode,
      truncated: ctx.record.truncated,
    },
    'assessment written',
  );
  // The new assessment is written; only the withdrawal of the older one was refused (ids only in the message).
  if (result.supersedeSkipped)
    logger.warn(
      { ...ids, reason: result.supersedeSkipped },
      'older preliminary results not superseded: the EHR refused the update',
    );
}
