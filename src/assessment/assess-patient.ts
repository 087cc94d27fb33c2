import type { Logger } from 'pino';
import type { SourceRegistry } from '../fhir/source-client.js';
import type { AssessJobResult } from '../jobs/assess-queue.js';
import { fullReadDone, pendingFullRead } from '../jobs/record-full-read.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import type { Model } from '../models/model.js';
import type { OutputMonitor } from '../monitoring/output-monitor.js';
import { countWriteBack, observeModel, observeStage } from '../observability/metrics.js';
import { inSpan } from '../observability/tracing.js';
import { viewFor } from '../record/model-view.js';
import { assessmentKey } from '../writeback/idempotency-key.js';
import { writeBack } from '../writeback/write-back.js';

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
  opts: { models?: string[]; force?: boolean } = {},
): Promise<AssessJobResult> {
  const client = deps.sources.client(source);
  const models = opts.models ? deps.models.filter((m) => opts.models?.includes(m.id)) : deps.models;
  let t0 = performance.now();
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
  for (const model of models) {
    const key = assessmentKey(patientId, model.id, model.version, record.hash);
    const markerKey = `${deps.keyPrefix}:last-assessed:${source}:${patientId}:${model.id}@${model.version}`;
    const mode = deps.modes?.[model.id] ?? deps.mode;
    const base = { modelId: model.id, modelVersion: model.version, mode };
    if (!opts.force && (await deps.redis.get(markerKey)) === key) {
      assessments.push({ ...base, skipped: 'unchanged', written: [], created: 0 });
      continue;
    }
    const asOf = deps.asOf();
    t0 = performance.now();
    // Models outside the trust boundary see a de-identified record; their answer is re-linked here.
    const view = viewFor(model, record, asOf, deps.deidentifySecret);
    const output = view.relink(
      await inSpan(`model ${model.id}`, () => model.assess(view.record, { asOf: view.asOf }), {
        attributes: { 'fhir_assess.model': `${model.id}@${model.version}` },
      }),
    );
    observeModel(model.id, performance.now() - t0);
    observeStage('model', performance.now() - t0);
    // Monitoring must never fail an assessment: a Redis blip loses one observation, not the write-back.
    await deps.monitor
      ?.record(output, mode)
      .catch((err: Error) => deps.logger.warn({ err: err.message, model: model.id }, 'monitoring record failed'));
    t0 = performance.now();
    const result = await inSpan(
      `write-back ${model.id}`,
      () =>
        writeBack(
          client,
          {
            patientId,
            key,
            output,
            modelTitle: model.title,
            mode,
            asOf,
            serviceVersion: deps.serviceVersion,
          },
          { redis: deps.redis, keyPrefix: deps.keyPrefix, source, shadowRetentionDays: deps.shadowRetentionDays },
        ),
      { attributes: { 'fhir_assess.model': `${model.id}@${model.version}`, 'fhir_assess.mode': mode } },
    );
    observeStage('writeback', performance.now() - t0);
    countWriteBack(result.mode, result.mode === 'shadow' ? 'shadow' : result.created > 0 ? 'created' : 'existing');
    await deps.redis.set(markerKey, key);
    deps.logger.info(
      {
        patientId,
        model: `${model.id}@${model.version}`,
        created: result.created,
        existing: result.existing,
        superseded: result.superseded.length,
        mode: result.mode,
        truncated: record.truncated,
      },
      'assessment written',
    );
    if (result.supersedeSkipped) {
      // The new assessment is written; only the withdrawal of the older one was refused (ids only in the message).
      deps.logger.warn(
        { patientId, model: `${model.id}@${model.version}`, reason: result.supersedeSkipped },
        'older preliminary results not superseded: the EHR refused the update',
      );
    }
    assessments.push({ ...base, key, written: result.written, created: result.created });
  }
  return { assessments };
}
