import type { Reference } from '@medplum/fhirtypes';
import type { Calculator, CalculatorResult } from './calculator.js';
import { selectCalculators } from './calculators/index.js';
import { getDemographics } from './fhir-inputs/index.js';
import { formatPercent } from './format.js';
import type { Model, ModelContext, ModelOutput, PatientRecord, Prediction } from './model.js';

/** Model id of the in-process published-equations model. */
export const EMBEDDED_MODEL_ID = 'fhir-assess-risk-equations';
/** Bump whenever a calculator, code list, unit rule or recency window changes: it keys idempotent write-back. */
export const EMBEDDED_MODEL_VERSION = '0.1.0';
export const EMBEDDED_MODEL_TITLE = 'fhir-assess published clinical risk equations';

export interface EmbeddedModelOptions {
  /** Calculator ids to run (default: all registered). Unknown ids throw. */
  calculators?: string[];
}

/** One calculator's result, or the exclusion that stopped it before it ran. */
function runCalculator(calc: Calculator, record: PatientRecord, ctx: ModelContext): CalculatorResult {
  // Risk of a future event is meaningless after death, whatever the calculator: decide it once here.
  const d = getDemographics(record.bundle, ctx.asOf);
  if (d?.deceased) {
    const when = d.deceasedDate ? ` on ${d.deceasedDate.slice(0, 10)}` : '';
    return { missing: [], basis: [], exclusion: `patient deceased${when} (${d.source})` };
  }
  return calc.compute(record, ctx);
}

function predictionSentence(p: Prediction, title: string): string {
  const value = p.probability !== undefined ? formatPercent(p.probability) : `${p.score}`;
  const outcome = p.outcome.text ?? p.calculator;
  const what = p.horizonYears
    ? `${p.horizonYears}-year risk of ${outcome.charAt(0).toLowerCase()}${outcome.slice(1)}`
    : outcome;
  return `${what} ${value}${p.category ? `, ${p.category},` : ''} by the ${title}.`;
}

/** One plain-language paragraph: what was estimated, then what was not and why. */
export function summarise(output: Omit<ModelOutput, 'summary'>, calculators: readonly Calculator[]): string {
  const title = (id: string) => calculators.find((c) => c.id === id)?.title ?? id;
  const parts = output.predictions.map((p) => predictionSentence(p, title(p.calculator)));
  for (const e of output.exclusions) parts.push(`${title(e.calculator)} not applicable: ${e.reason}.`);
  const notComputed = calculators.filter((c) => output.missing.some((m) => m.calculator === c.id));
  for (const c of notComputed) {
    const why = output.missing
      .filter((m) => m.calculator === c.id)
      .map((m) => `${m.name} ${m.reason}`)
      .join(', ');
    parts.push(`${c.title} not computed: ${why}.`);
  }
  return parts.length > 0 ? parts.join(' ') : 'No risk calculators were run.';
}

/**
 * The embedded default model: runs the published risk calculators in-process over the identified record.
 * @param opts - `calculators` restricts which calculators run (default: all)
 * @returns a Model whose `assess` never throws for incomplete records: gaps go to `missing`
 */
export function createEmbeddedModel(opts: EmbeddedModelOptions = {}): Model {
  const calculators = selectCalculators(opts.calculators);
  return {
    id: EMBEDDED_MODEL_ID,
    version: EMBEDDED_MODEL_VERSION,
    title: EMBEDDED_MODEL_TITLE,
    requires: { resourceTypes: ['Patient', 'Observation', 'Condition', 'MedicationRequest'], lookbackYears: 5 },
    mayReceiveIdentifiedData: true,
    async assess(record: PatientRecord, context: ModelContext): Promise<ModelOutput> {
      const output: Omit<ModelOutput, 'summary'> = {
        modelId: EMBEDDED_MODEL_ID,
        modelVersion: EMBEDDED_MODEL_VERSION,
        predictions: [],
        missing: [],
        exclusions: [],
        basis: [],
      };
      const basis = new Set<string>();
      for (const calc of calculators) {
        const r = runCalculator(calc, record, context);
        if (r.prediction) output.predictions.push(r.prediction);
        if (r.exclusion) output.exclusions.push({ calculator: calc.id, reason: r.exclusion });
        for (const m of r.missing) output.missing.push({ ...m, calculator: calc.id });
        for (const ref of r.basis) basis.add(ref);
      }
      output.basis = [...basis].map((reference): Reference => ({ reference }));
      return { ...output, summary: summarise(output, calculators) };
    },
  };
}
