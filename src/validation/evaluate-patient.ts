import { getDemographics, parseFhirDate, patientOf } from '../models/fhir-inputs/index.js';
import type { Model, ModelOutput, PatientRecord } from '../models/model.js';
import { viewFor } from '../record/model-view.js';
import { recordAsOf } from './as-of-record.js';
import { type FollowUpEnd, followUp } from './outcomes/follow-up.js';
import type { ValidationTarget } from './targets.js';

/**
 * One patient's contribution to one validation: the prediction made on the as-of record and what
 * happened afterwards, or why the patient is not counted. Ids and computed values only.
 */
export interface PatientRow {
  patientId: string;
  prediction: string;
  /** Why the patient is not counted (grouped in the report). */
  excluded?: string;
  risk?: number;
  category?: string;
  /** Years of follow-up (≤ horizon), whether the outcome happened, and why follow-up ended. */
  time?: number;
  event?: boolean;
  end?: FollowUpEnd;
  sex?: string;
  age?: number;
  /** Numeric (and yes/no as 0/1) inputs the prediction used: the drift baseline. */
  inputs?: Record<string, number>;
  /** Inputs the calculator reported missing, stale or out of range. */
  missing?: string[];
}

/** Patient-level reasons decided before any model runs. */
function notAssessable(record: PatientRecord, asOf: Date): string | undefined {
  const p = patientOf(record.bundle);
  if (!p) return 'the record holds no Patient';
  const born = parseFhirDate(p.birthDate);
  if (born && born > asOf) return 'not born by the as-of date';
  const died = parseFhirDate(p.deceasedDateTime);
  if (died && died <= asOf) return 'died on or before the as-of date';
  if (p.deceasedBoolean === true && !died) return 'deceased with no date of death (follow-up unknown)';
  return undefined;
}

/** "prior clinical ASCVD: Myocardial infarction (Condition/1, …)" → "prior clinical ASCVD": groupable, no ids. */
function reasonHead(reason: string): string {
  return reason.split(/[:(;]/)[0].trim();
}

function numericInputs(output: ModelOutput, prediction: string): Record<string, number> {
  const p = output.predictions.find((x) => x.calculator === prediction);
  const out: Record<string, number> = {};
  for (const i of p?.inputsUsed ?? []) {
    if (typeof i.value === 'number') out[i.name] = i.value;
    else if (typeof i.value === 'boolean') out[i.name] = i.value ? 1 : 0;
  }
  return out;
}

/** The row of one target from the model's output on the as-of record and the follow-up after it. */
function rowFor(
  base: Pick<PatientRow, 'patientId' | 'sex' | 'age'>,
  output: ModelOutput,
  full: PatientRecord,
  when: FollowUpWindow,
  t: ValidationTarget,
): PatientRow {
  const row: PatientRow = { ...base, prediction: t.prediction };
  const missing = output.missing.filter((m) => m.calculator === t.calculator);
  row.missing = missing.map((m) => `${m.name} ${m.reason}`);
  const p = output.predictions.find((x) => x.calculator === t.prediction);
  if (p?.probability === undefined) {
    const exclusion = output.exclusions.find((e) => e.calculator === t.calculator);
    const gaps = [...new Set(row.missing)].sort().join(', ');
    row.excluded = exclusion
      ? `not applicable: ${reasonHead(exclusion.reason)}`
      : gaps
        ? `inputs missing: ${gaps}`
        : 'no probability predicted';
    return row;
  }
  const f = followUp(full.bundle, t.outcome, when.asOf, t.horizonYears, when.completeUntil);
  if ('excluded' in f) return { ...row, excluded: f.excluded };
  return {
    ...row,
    risk: p.probability,
    category: p.category,
    time: f.time,
    event: f.event,
    end: f.end,
    inputs: numericInputs(output, t.prediction),
  };
}

/** The as-of date, and optionally the date the records are complete until (see followUp). */
export interface FollowUpWindow {
  asOf: Date;
  completeUntil?: Date;
}

/**
 * Runs the model on the record as it stood on the as-of date (as-of-record.ts: nothing later leaks
 * in), then looks after the as-of date in the full record for each target's outcome.
 * @param full - the patient's whole longitudinal record as read from the EHR now
 */
export async function evaluatePatient(
  model: Model,
  full: PatientRecord,
  when: FollowUpWindow,
  targets: readonly ValidationTarget[],
  deidentifySecret?: string,
): Promise<PatientRow[]> {
  const { asOf } = when;
  const unassessable = notAssessable(full, asOf);
  if (unassessable)
    return targets.map((t) => ({ patientId: full.patientId, prediction: t.prediction, excluded: unassessable }));
  const { record } = recordAsOf(full, asOf);
  const d = getDemographics(record.bundle, asOf);
  const base = { patientId: full.patientId, sex: d?.sex ?? 'unknown', age: d?.ageYears };
  const view = viewFor(model, record, asOf, deidentifySecret);
  const output = view.relink(await model.assess(view.record, { asOf: view.asOf }));
  return targets.map((t) => rowFor(base, output, full, when, t));
}
