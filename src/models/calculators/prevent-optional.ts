import type { Patient } from '@medplum/fhirtypes';
import { HBA1C, latestObservationValue, patientOf, refOf, URINE_ACR, withMaxAge } from '../fhir-inputs/index.js';
import type { InputCollector } from './collect.js';
import type { CalculatorParams } from './params.js';
import type { PreventVariant } from './prevent-coefficients.js';
import { choosePreventVariant, PREVENT_RANGES } from './prevent-equations.js';

/**
 * The optional predictors of the PREVENT model types (UACR, HbA1c, SDI) as a record supplies them, the model
 * type they choose, and a sentence saying why.
 */

/** Maps a US ZIP code to its Social Deprivation Index decile (1–10), or undefined when the table has none. */
export type SdiLookup = (zip: string) => number | undefined;

export interface PreventOptionalInputs {
  uacr?: number;
  hba1c?: number;
  sdiDecile?: number;
  variant: PreventVariant;
  /** Why this model type ran: which optional predictors were present, and why the others were not. */
  reason: string;
}

const VARIANT_NAME: Record<PreventVariant, string> = {
  base: 'base model',
  uacr: 'base model adding UACR',
  hba1c: 'base model adding HbA1c',
  sdi: 'base model adding SDI',
  full: 'full model (UACR, HbA1c and SDI, absent ones as "missing")',
};

/** Human name of a model type, for `method` and messages. */
export function preventVariantName(v: PreventVariant): string {
  return VARIANT_NAME[v];
}

/**
 * One optional lab value: used when present, recent and in range. Stale and out-of-range values are findings (a
 * clinician may want to repeat the test); a value never measured is only mentioned in the variant reason.
 */
function optionalLab(
  c: InputCollector,
  spec: typeof URINE_ACR,
  years: number,
  range: readonly [number, number],
): { value?: number; note: string } {
  const v = latestObservationValue(c.bundle, withMaxAge(spec, { years }), c.asOf);
  if (!v.ok && v.reason === 'missing') return { note: `${spec.name} not on record` };
  const value = c.accept(v, range);
  if (value !== undefined) return { value, note: `${spec.name} ${+value.toFixed(1)} ${v.ok ? v.unit : ''}`.trim() };
  return { note: `${spec.name} not usable (${v.ok ? 'out of range' : v.reason})` };
}

/** The patient's current home postal code (the first address without an end date, home first). */
function postalCode(patient: Patient | undefined): string | undefined {
  const current = (patient?.address ?? []).filter((a) => !a.period?.end && a.postalCode);
  return (current.find((a) => a.use === 'home') ?? current[0])?.postalCode?.trim();
}

/**
 * SDI decile from the patient's ZIP code through `lookup`. fhir-assess ships no ZIP→SDI table (the Robert
 * Graham Center publishes one; none is available to this project), so without a lookup SDI is "not usable" and
 * never guessed.
 */
function sdi(c: InputCollector, lookup: SdiLookup | undefined): { value?: number; note: string } {
  const patient = patientOf(c.bundle);
  const zip = postalCode(patient);
  if (!zip) return { note: 'SDI not usable (no postal code in Patient.address)' };
  if (!lookup) return { note: 'SDI not usable (no ZIP→SDI table is configured; the postal code is not mapped)' };
  const five = /^(\d{5})(?:-\d{4})?$/.exec(zip)?.[1];
  const decile = five ? lookup(five) : undefined;
  if (decile === undefined || !Number.isInteger(decile) || decile < 1 || decile > 10) {
    return { note: `SDI not usable (ZIP ${five ?? 'in Patient.address is not a US ZIP'} has no SDI decile)` };
  }
  c.use({ name: 'Social Deprivation Index decile', value: decile, source: patient && refOf(patient) });
  return { value: decile, note: `SDI decile ${decile}` };
}

/**
 * UACR, HbA1c and SDI as the record supplies them, and the model type they choose (preventr's rule, see
 * {@link choosePreventVariant}).
 */
export function gatherOptional(
  c: InputCollector,
  params: CalculatorParams,
  lookup: SdiLookup | undefined,
): PreventOptionalInputs {
  const r = params.recency;
  const uacr = optionalLab(c, URINE_ACR, r.kidneyYears, PREVENT_RANGES.uacr);
  const hba1c = optionalLab(c, HBA1C, r.hba1cYears, PREVENT_RANGES.hba1c);
  const s = sdi(c, lookup);
  const variant = choosePreventVariant({
    uacr: uacr.value !== undefined,
    hba1c: hba1c.value !== undefined,
    sdi: s.value !== undefined,
  });
  const present = [uacr, hba1c, s].filter((x) => x.value !== undefined).map((x) => x.note);
  const absent = [uacr, hba1c, s].filter((x) => x.value === undefined).map((x) => x.note);
  const rule =
    present.length === 0
      ? 'no optional predictor usable'
      : present.length === 1
        ? `one optional predictor: ${present[0]}`
        : `${present.length} optional predictors: ${present.join(', ')}`;
  const reason = `${VARIANT_NAME[variant]}: ${rule}${absent.length ? `; ${absent.join('; ')}` : ''}`;
  return { uacr: uacr.value, hba1c: hba1c.value, sdiDecile: s.value, variant, reason };
}
