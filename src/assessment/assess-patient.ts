import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SourceRegistry } from '../fhir/source-client.js';
import type { AssessJobResult } from '../jobs/assess-queue.js';
import type { Model } from '../models/model.js';
import { assembleRecord } from '../record/assemble-record.js';
import { assessmentKey } from '../writeback/idempotency-key.js';
import { writeBack } from '../writeback/write-back.js';

export interface AssessDeps {
  sources: SourceRegistry;
  redis: Redis;
  models: Model[];
  mode: 'shadow' | 'preliminary' | 'final';
  asOf: () => Date;
  /** Redis key prefix for the "last assessed record" markers. */
  keyPrefix: string;
  serviceVersion: string;
  logger: Logger;
}

/**
 * One assessment run for one patient: assemble the record once, then for each model skip it when the
 * record is unchanged since its last run, else infer and write back.
 */
export async function assessPatient(deps: AssessDeps, source: string, patientId: string): Promise<AssessJobResult> {
  const client = deps.sources.client(source);
  const record = await assembleRecord(client, patientId, { requires: deps.models.map((m) => m.requires) });
  const assessments: AssessJobResult['assessments'] = [];
  for (const model of deps.models) {
    const key = assessmentKey(patientId, model.id, model.version, record.hash);
    const markerKey = `${deps.keyPrefix}:last-assessed:${source}:${patientId}:${model.id}@${model.version}`;
    const base = { modelId: model.id, modelVersion: model.version, mode: deps.mode };
    if ((await deps.redis.get(markerKey)) === key) {
      assessments.push({ ...base, skipped: 'unchanged', written: [], created: 0 });
      continue;
    }
    const asOf = deps.asOf();
    const output = await model.assess(record, { asOf });
    const result = await writeBack(client, {
      patientId,
      key,
      output,
      modelTitle: model.title,
      mode: deps.mode,
      asOf,
      serviceVersion: deps.serviceVersion,
    });
    await deps.redis.set(markerKey, key);
    deps.logger.info(
      {
        patientId,
        model: `${model.id}@${model.version}`,
        created: result.created,
        existing: result.existing,
        mode: result.mode,
        truncated: record.truncated,
      },
      'assessment written',
    );
    assessments.push({ ...base, written: result.written, created: result.created });
  }
  return { assessments };
}
