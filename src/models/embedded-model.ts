import { createHash } from 'node:crypto';
import type { Reference } from '@medplum/fhirtypes';
import type { Calculator, CalculatorResult } from './calculator.js';
import { CALCULATOR_IDS, selectCalculators } from './calculators/index.js';
import { type CalculatorParams, CalculatorParamsSchema, DEFAULT_PARAMS } from './calculators/params.js';
import { getDemographics, LATEST_VALUE_CODES } from './fhir-inputs/index.js';
import { formatPercent } from './format.js';
import type { Model, ModelContext, ModelOutput, PatientRecord, Prediction } from './model.js';

/** Model id of the in-process published-equations model. */
export const EMBEDDED_MODEL_ID = 'fhir-assess-risk-equations';
/**
 * Version of the calculator library. Bump whenever a calculator, code list, unit rule or default recency window
 * changes: the model version keys idempotent write-back.
 */
export const EMBEDDED_MODEL_VERSION = '0.3.0';
/** The walking skeleton's configuration (PCE only, default parameters), whose output has not changed since. */
const SKELETON = { calculators: ['pce-2013'], version: '0.1.0' } as const;
export const EMBEDDED_MODEL_TITLE = 'fhir-assess published clinical risk equations';

export interface EmbeddedModelOptions {
  /**
   * Calculator ids to run, or `all`. Default: the PCE only, as in the walking skeleton (version 0.1.0), which
   * keeps existing deployments and tests stable; the model registry runs `all` by default.
   */
  calculators?: readonly string[] | 'all';
  /** Calculator parameters (recency windows, KFRE region, stroke-rate table...); parsed with defaults. */
  params?: unknown;
  /** Model id (default `fhir-assess-risk-equations`); the registry sets it when several are configured. */
  id?: string;
  title?: string;
}

/**
 * The model version for a configuration: the library version for the full library with default parameters,
 * `0.1.0` for the skeleton's PCE-only configuration, else the library version plus a fingerprint of the
 * calculator set and parameters, so that a configuration change is a new version (new write-backs, not
 * "unchanged, skipped").
 */
export function embeddedModelVersion(calculators: readonly string[], params: CalculatorParams): string {
  const defaults = JSON.stringify(params) === JSON.stringify(DEFAULT_PARAMS);
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  if (defaults && same(calculators, CALCULATOR_IDS)) return EMBEDDED_MODEL_VERSION;
  if (defaults && same(calculators, SKELETON.calculators)) return SKELETON.version;
  const fingerprint = createHash('sha256').update(JSON.stringify({ calculators, params })).digest('hex').slice(0, 8);
  return `${EMBEDDED_MODEL_VERSION}+${fingerprint}`;
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
  const value =
    p.probability !== undefined
      ? formatPercent(p.probability)
      : `${p.score ?? ''}${p.scoreUnit ? ` ${p.scoreUnit.replace('{1.73_m2}', '1.73 m²')}` : ''}`;
  const outcome = p.outcome.text ?? p.calculator;
  const what = p.horizonYears
    ? `${p.horizonYears}-year risk of ${outcome.charAt(0).toLowerCase()}${outcome.slice(1)}`
    : outcome;
  return `${what} ${value}${p.category ? `, ${p.category},` : ''} by the ${title}.`;
}

/** One plain-language paragraph: what was estimated, then what was not (or only partly) and why. */
export function summarise(output: Omit<ModelOutput, 'summary'>, calculators: readonly Calculator[]): string {
  const title = (id: string) => calculators.find((c) => c.id === id)?.title ?? id;
  const parts = output.predictions.map((p) => predictionSentence(p, title(p.group ?? p.calculator)));
  for (const e of output.exclusions) parts.push(`${title(e.calculator)} not applicable: ${e.reason}.`);
  for (const c of calculators) {
    const gaps = output.missing.filter((m) => m.calculator === c.id);
    if (gaps.length === 0) continue;
    const why = gaps
      .map(
        (m) => `${m.name} ${m.reason}${m.reason === 'stale' && m.last ? ` (last measured ${m.last.effective})` : ''}`,
      )
      .join(', ');
    const computed = output.predictions.some((p) => (p.group ?? p.calculator) === c.id);
    parts.push(computed ? `${c.title} computed without: ${why}.` : `${c.title} not computed: ${why}.`);
  }
  return parts.length > 0 ? parts.join(' ') : 'No risk calculators were run.';
}

/** Runs every calculator over one record and collects their results into one output. */
function assessWith(
  id: string,
  version: string,
  calculators: readonly Calculator[],
  record: PatientRecord,
  context: ModelContext,
): ModelOutput {
  const output: Omit<ModelOutput, 'summary'> = {
    modelId: id,
    modelVersion: version,
    predictions: [],
    missing: [],
    exclusions: [],
    basis: [],
  };
  const basis = new Set<string>();
  for (const calc of calculators) {
    const r = runCalculator(calc, record, context);
    if (r.prediction) output.predictions.push(r.prediction);
    if (r.predictions) output.predictions.push(...r.predictions);
    if (r.exclusion) output.exclusions.push({ calculator: calc.id, reason: r.exclusion });
    for (const m of r.missing) output.missing.push({ ...m, calculator: calc.id });
    for (const ref of r.basis) basis.add(ref);
  }
  output.basis = [...basis].map((reference): Reference => ({ reference }));
  return { ...output, summary: summarise(output, calculators) };
}

/** KFRE and HAS-BLED look for dialysis and kidney-transplant Procedures; the others read none. */
function proceduresFor(calculators: readonly Calculator[]): string[] {
  return calculators.some((c) => c.id === 'kfre-4v' || c.id === 'has-bled') ? ['Procedure'] : [];
}

/**
 * The embedded default model: runs the published risk calculators in-process over the identified record.
 * @param opts - which calculators (default: the PCE only; `all` for the library), their parameters, the model id
 * @returns a Model whose `assess` never throws for incomplete records: gaps go to `missing`
 * @throws ZodError for invalid parameters; Error for unknown calculator ids
 */
export function createEmbeddedModel(opts: EmbeddedModelOptions = {}): Model {
  const params = opts.params === undefined ? DEFAULT_PARAMS : CalculatorParamsSchema.parse(opts.params);
  const ids = opts.calculators === 'all' ? undefined : (opts.calculators ?? SKELETON.calculators);
  const calculators = selectCalculators(ids, params);
  const id = opts.id ?? EMBEDDED_MODEL_ID;
  const version = embeddedModelVersion(
    calculators.map((c) => c.id),
    params,
  );
  return {
    id,
    version,
    title: opts.title ?? EMBEDDED_MODEL_TITLE,
    requires: {
      resourceTypes: ['Patient', 'Observation', 'Condition', 'MedicationRequest', ...proceduresFor(calculators)],
      // Conditions and medications have no lookback (record-bounds.ts); time series need the longest window.
      lookbackYears: Math.ceil(
        Math.max(
          params.recency.lipidsYears,
          params.recency.vitalsYears,
          params.recency.kidneyYears,
          params.recency.smokingYears,
          params.recency.hba1cYears,
        ),
      ),
      // ...and the newest value of each windowed input whatever its date, to call an old one stale.
      latestObservationCodes: [...LATEST_VALUE_CODES],
    },
    mayReceiveIdentifiedData: true,
    assess: async (record, context) => assessWith(id, version, calculators, record, context),
  };
}
