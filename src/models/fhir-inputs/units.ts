import type { Quantity } from '@medplum/fhirtypes';

/** How to bring one analyte's quantities to a canonical unit. */
export interface UnitRule {
  /** Canonical unit (UCUM) the calculators expect. */
  canonical: string;
  /** Multiplier to the canonical unit, keyed by normalised unit (see `unitKey`). */
  factors: Readonly<Record<string, number>>;
}

/** Total or HDL cholesterol: mg/dL. 1 mmol/L = 38.67 mg/dL (cholesterol molar mass 386.65 g/mol). */
export const CHOLESTEROL_UNITS: UnitRule = {
  canonical: 'mg/dL',
  factors: { 'mg/dl': 1, 'mmol/l': 38.67 },
};

/** Serum creatinine: mg/dL. 1 mg/dL = 88.4 µmol/L. */
export const CREATININE_UNITS: UnitRule = {
  canonical: 'mg/dL',
  factors: { 'mg/dl': 1, 'umol/l': 1 / 88.4 },
};

/** Blood pressure: mm[Hg] (UCUM); the plain-text spellings are accepted too. */
export const PRESSURE_UNITS: UnitRule = {
  canonical: 'mm[Hg]',
  factors: { 'mm[hg]': 1, mmhg: 1 },
};

/** Normalises a unit string for lookup: lower case, no spaces, micro sign → `u`. */
export function unitKey(unit: string): string {
  return unit.toLowerCase().replace(/\s+/g, '').replace(/[µμ]/g, 'u');
}

/** A quantity converted to the rule's canonical unit, or why it could not be. */
export type NormalisedQuantity = { ok: true; value: number; unit: string } | { ok: false; detail: string };

/**
 * Converts a Quantity to the canonical unit of `rule`, trying the UCUM `code` first and then the display `unit`.
 * A quantity without any unit is rejected: a bare number is ambiguous between mg/dL and mmol/L.
 */
export function normaliseQuantity(q: Quantity | undefined, rule: UnitRule): NormalisedQuantity {
  if (q?.value === undefined || !Number.isFinite(q.value)) return { ok: false, detail: 'no numeric value' };
  const candidates = [q.code, q.unit].filter((u): u is string => typeof u === 'string' && u.length > 0);
  if (candidates.length === 0) return { ok: false, detail: 'no unit' };
  for (const u of candidates) {
    const factor = rule.factors[unitKey(u)];
    if (factor !== undefined) return { ok: true, value: q.value * factor, unit: rule.canonical };
  }
  return { ok: false, detail: `unsupported unit "${candidates[0]}"` };
}
