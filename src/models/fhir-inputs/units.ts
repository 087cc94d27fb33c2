import type { Quantity } from '@medplum/fhirtypes';

/** How to bring one analyte's quantities to a canonical unit. */
export interface UnitRule {
  /** Canonical unit (UCUM) the calculators expect. */
  canonical: string;
  /** Multiplier to the canonical unit, keyed by normalised unit (see `unitKey`). */
  factors: Readonly<Record<string, number>>;
  /** Added after the multiplier, keyed like `factors` (only temperatures need it). */
  offsets?: Readonly<Record<string, number>>;
  /** Scores and ratios (GCS, INR) are often sent without a unit; accept a bare number for them. */
  unitless?: boolean;
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

/** Body mass index: kg/m2. */
export const BMI_UNITS: UnitRule = {
  canonical: 'kg/m2',
  factors: { 'kg/m2': 1, 'kg/m^2': 1, 'kg/(m2)': 1 },
};

/** Urine albumin/creatinine ratio: mg/g. 1 mg/mmol = 8.84 mg/g (creatinine molar mass 113.12 g/mol). */
export const UACR_UNITS: UnitRule = {
  canonical: 'mg/g',
  factors: { 'mg/g': 1, 'mg/g{creat}': 1, 'ug/mg': 1, 'ug/mg{creat}': 1, 'mg/mmol': 8.84, 'mg/mmol{creat}': 8.84 },
};

/**
 * Reported eGFR: mL/min/1.73 m2. eGFR is normalised to body surface area by definition, so a bare `mL/min`
 * (which Synthea writes for some 33914-3 results) is read as the same quantity.
 */
export const EGFR_UNITS: UnitRule = {
  canonical: 'mL/min/{1.73_m2}',
  factors: {
    'ml/min/{1.73_m2}': 1,
    'ml/min/{1.73m2}': 1,
    'ml/min/1.73m2': 1,
    'ml/min/1.73_m2': 1,
    'ml/min/1.73.m2': 1,
    'ml/min': 1,
  },
};

/** Respiratory and heart rate: per minute. */
export const PER_MINUTE_UNITS: UnitRule = {
  canonical: '/min',
  factors: { '/min': 1, '{breaths}/min': 1, '{beats}/min': 1, 'breaths/min': 1, 'beats/min': 1, bpm: 1, 'min-1': 1 },
};

/** Percentages (SpO2, LVEF, FiO2). */
export const PERCENT_UNITS: UnitRule = { canonical: '%', factors: { '%': 1 } };

/** Body temperature: Cel. °F → °C is ×5/9 then −160/9 (i.e. (F − 32) × 5/9). */
export const TEMPERATURE_UNITS: UnitRule = {
  canonical: 'Cel',
  factors: { cel: 1, '°c': 1, degc: 1, '[degf]': 5 / 9, '°f': 5 / 9, degf: 5 / 9 },
  offsets: { '[degf]': -160 / 9, '°f': -160 / 9, degf: -160 / 9 },
};

/** Glasgow coma scale total, INR and other scores: no unit, or an annotation-only UCUM unit. */
export const SCORE_UNITS: UnitRule = {
  canonical: '{score}',
  factors: { '{score}': 1, score: 1, '{points}': 1, '1': 1, '{inr}': 1, '{ratio}': 1, ratio: 1, inr: 1 },
  unitless: true,
};

/** Inhaled oxygen flow rate: L/min. */
export const OXYGEN_FLOW_UNITS: UnitRule = { canonical: 'L/min', factors: { 'l/min': 1 } };

/** Haemoglobin: g/dL. 1 g/L = 0.1 g/dL; 1 mmol/L (Hb monomer) = 1.611 g/dL. */
export const HEMOGLOBIN_UNITS: UnitRule = {
  canonical: 'g/dL',
  factors: { 'g/dl': 1, 'g/l': 0.1, 'mmol/l': 1.611 },
};

/** Total bilirubin: mg/dL. 1 mg/dL = 17.1 µmol/L. */
export const BILIRUBIN_UNITS: UnitRule = {
  canonical: 'mg/dL',
  factors: { 'mg/dl': 1, 'umol/l': 1 / 17.1 },
};

/** Enzyme activity (AST, ALT, ALP): U/L; IU/L and µkat/L (× 60) accepted. */
export const ENZYME_UNITS: UnitRule = {
  canonical: 'U/L',
  factors: { 'u/l': 1, '[iu]/l': 1, 'iu/l': 1, 'ukat/l': 60 },
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
  if (candidates.length === 0) {
    return rule.unitless ? { ok: true, value: q.value, unit: rule.canonical } : { ok: false, detail: 'no unit' };
  }
  for (const u of candidates) {
    const key = unitKey(u);
    const factor = rule.factors[key];
    if (factor !== undefined)
      return { ok: true, value: q.value * factor + (rule.offsets?.[key] ?? 0), unit: rule.canonical };
  }
  return { ok: false, detail: `unsupported unit "${candidates[0]}"` };
}
