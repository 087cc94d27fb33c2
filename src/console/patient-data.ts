import type { RiskAssessment } from '@medplum/fhirtypes';
import { isCurrent } from '../api/cds-cards.js';
import type { InputMissing, InputUsed } from '../models/model.js';
import { viewFor } from '../record/model-view.js';
import { ASSESSMENT_ID_SYSTEM } from '../writeback/ai-transparency.js';
import { assessmentKey } from '../writeback/idempotency-key.js';
import type { ConsoleDeps } from './console-deps.js';

export interface WrittenAssessment {
  id: string;
  calculator: string;
  probability?: number;
  category?: string;
  status?: string;
  assessedAt?: string;
  model: string;
  /** The assessment key (our tag): which record and model version produced it. */
  key?: string;
}

export interface ModelExplanation {
  modelId: string;
  version: string;
  asOf: string;
  /** True when the current record gives the same assessment key as the written results (nothing changed since). */
  matchesWritten?: boolean;
  predictions: { calculator: string; probability?: number; score?: number; category?: string; inputs: InputUsed[] }[];
  missing: (InputMissing & { calculator: string })[];
  exclusions: { calculator: string; reason: string }[];
}

export interface PatientExplanation {
  patientId: string;
  source: string;
  written: WrittenAssessment[];
  explanations: ModelExplanation[];
  /** Models not explained here (hosted ones: the console does not call them). */
  notExplained: string[];
}

function written(r: RiskAssessment): WrittenAssessment {
  const p = r.prediction?.[0];
  return {
    id: r.id ?? '?',
    calculator: r.method?.coding?.[0]?.code ?? 'model',
    probability: p?.probabilityDecimal,
    category: p?.qualitativeRisk?.text,
    status: r.status,
    assessedAt: r.occurrenceDateTime,
    model: r.performer?.display ?? 'AI model',
    key: r.meta?.tag?.find((t) => t.system === ASSESSMENT_ID_SYSTEM)?.code,
  };
}

/**
 * The explanation a clinician asks for: the patient's current written assessments, and for each
 * in-process model, every input it uses (value, date, source resource) and every missing or stale
 * input, computed on the record as the worker reads it now (same assembler, same as-of date). When
 * the record's assessment key equals the written one, the explanation is exactly that of the written
 * result. Read only.
 */
export async function patientData(
  deps: ConsoleDeps,
  patientId: string,
  sourceName?: string,
): Promise<PatientExplanation> {
  const entry = sourceName ? deps.sources.get(sourceName) : deps.sources.all()[0];
  const { source, client } = entry;
  const risks = await client.searchAll<RiskAssessment>('RiskAssessment', {
    subject: `Patient/${patientId}`,
    _count: '200',
  });
  const current = risks.filter(isCurrent).map(written);
  const models = deps.registered.map((r) => r.model);
  const local = models.filter((m) => m.mayReceiveIdentifiedData);
  const asOf = deps.asOf();
  const record = await deps.sources
    .assembler(source.name)
    .assemble(patientId, { requires: models.map((m) => m.requires), asOf });
  const keys = new Set(current.map((w) => w.key));
  const explanations: ModelExplanation[] = [];
  for (const model of local) {
    const view = viewFor(model, record, asOf, deps.deidentifySecret);
    const output = view.relink(await model.assess(view.record, { asOf: view.asOf }));
    const key = assessmentKey(patientId, model.id, model.version, record.hash);
    explanations.push({
      modelId: model.id,
      version: model.version,
      asOf: asOf.toISOString().slice(0, 10),
      matchesWritten: current.length ? keys.has(key) : undefined,
      predictions: output.predictions.map((p) => ({
        calculator: p.calculator,
        probability: p.probability,
        score: p.score,
        category: p.category,
        inputs: p.inputsUsed,
      })),
      missing: output.missing,
      exclusions: output.exclusions,
    });
  }
  return {
    patientId,
    source: source.name,
    written: current,
    explanations,
    notExplained: models.filter((m) => !m.mayReceiveIdentifiedData).map((m) => m.id),
  };
}
