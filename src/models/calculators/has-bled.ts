import type { Calculator, CalculatorResult } from '../calculator.js';
import {
  ALCOHOL_EXCESS,
  ALKALINE_PHOSPHATASE,
  ALT,
  AST,
  ATRIAL_FIBRILLATION,
  BILIRUBIN,
  BLEEDING_PREDISPOSITION,
  everConditions,
  HEMOGLOBIN,
  INR,
  KIDNEY_FAILURE,
  KIDNEY_REPLACEMENT_PROCEDURES,
  LIVER_CIRRHOSIS,
  latestObservationValue,
  observationSeries,
  proceduresDone,
  SERUM_CREATININE,
  STROKE,
  SYSTOLIC_BP,
  withMaxAge,
} from '../fhir-inputs/index.js';
import { formatPercent } from '../format.js';
import type { ModelContext, PatientRecord, Prediction, QualitativeRisk } from '../model.js';
import { excluded, InputCollector } from './collect.js';
import { OUTCOMES } from './outcomes.js';
import { type CalculatorParams, DEFAULT_PARAMS } from './params.js';

/** HAS-BLED (Pisters R et al., Chest 2010;138:1093–1100): 1-year major-bleeding risk on anticoagulation in AF. */
export const HAS_BLED_CALCULATOR_ID = 'has-bled';

/**
 * Bleeds per 100 patient-years by score 0–5 (Pisters 2010, Euro Heart Survey; risk-models.md §4 marks them
 * unverified). Scores ≥6 have no reported rate, so no probability is given for them.
 */
export const HAS_BLED_BLEEDS_PER_100_PATIENT_YEARS = [1.13, 1.02, 1.88, 3.74, 8.7, 12.5] as const;

/** Thresholds (Pisters 2010 definitions): SBP mmHg, creatinine mg/dL (200 µmol/L), age years, TTR fraction. */
const UNCONTROLLED_SBP = 160;
const RENAL_CREATININE_MG_DL = 200 / 88.4;
const ELDERLY_AGE = 65;
const LABILE_TTR = 0.6;
/** INR therapeutic range for AF, and the fewest results that make a time-in-range meaningful. */
const INR_RANGE = [2, 3] as const;
const MIN_INR_RESULTS = 3;
/** Upper limits of normal when the lab sends none: bilirubin mg/dL, AST/ALT/ALP U/L (common adult ranges). */
const ULN = { bilirubin: 1.2, ast: 40, alt: 40, alp: 120 } as const;

/** 0 → low, 1–2 → moderate, ≥3 → high ("caution and review of correctable factors", Pisters 2010). */
export function hasBledCategory(score: number): { category: string; qualitativeRisk: QualitativeRisk } {
  if (score >= 3)
    return { category: `score ${score}, high bleeding risk (≥3): review correctable factors`, qualitativeRisk: 'high' };
  return score === 0
    ? { category: 'score 0, low bleeding risk', qualitativeRisk: 'low' }
    : { category: `score ${score}, moderate bleeding risk`, qualitativeRisk: 'moderate' };
}

type Item = [label: string, points: number];

/** H: SBP > 160 mmHg; an SBP that cannot be used is listed as missing and counts 0. */
function hypertensionItem(c: InputCollector, p: CalculatorParams): Item {
  const sbp = c.measured(withMaxAge(SYSTOLIC_BP, { years: p.recency.vitalsYears }));
  return ['H: uncontrolled hypertension (SBP >160)', Number(sbp !== undefined && sbp > UNCONTROLLED_SBP)];
}

/** A (renal): dialysis, transplant, ESKD, or creatinine ≥200 µmol/L; no evidence and no creatinine → missing. */
function renalItem(c: InputCollector, p: CalculatorParams): Item {
  const label = 'A: abnormal renal function';
  const evidence = [
    ...c.condition('Dialysis, transplant or ESKD', KIDNEY_FAILURE).sources,
    ...c.flag(
      'Dialysis or kidney transplant procedure',
      proceduresDone(c.bundle, KIDNEY_REPLACEMENT_PROCEDURES, c.asOf),
    ).sources,
  ];
  if (evidence.length > 0) return [label, 1];
  const scr = c.measured(withMaxAge(SERUM_CREATININE, { years: p.recency.kidneyYears }));
  return [label, Number(scr !== undefined && scr >= RENAL_CREATININE_MG_DL)];
}

/** A (liver): cirrhosis, or bilirubin >2× ULN with AST/ALT/ALP >3× ULN (labs optional: diagnosis-driven). */
function liverItem(c: InputCollector, p: CalculatorParams): Item {
  const label = 'A: abnormal liver function';
  if (c.condition('Cirrhosis', LIVER_CIRRHOSIS, true).present) return [label, 1];
  const lab = (spec: typeof BILIRUBIN) =>
    latestObservationValue(c.bundle, withMaxAge(spec, { years: p.recency.kidneyYears }), c.asOf);
  const bili = lab(BILIRUBIN);
  if (!bili.ok || bili.value <= 2 * ULN.bilirubin) return [label, 0];
  const enzymes = [lab(AST), lab(ALT), lab(ALKALINE_PHOSPHATASE)];
  const limits = [ULN.ast, ULN.alt, ULN.alp];
  const high = enzymes.find((e, i) => e.ok && e.value > 3 * limits[i]);
  if (!high?.ok) return [label, 0];
  c.accept(bili);
  c.accept(high);
  return [label, 1];
}

/** B: active bleeding predisposition (anaemia, thrombocytopenia, bleeding) or haemoglobin below WHO anaemia cut-offs. */
function bleedingItem(c: InputCollector, p: CalculatorParams, sex?: string): Item {
  const label = 'B: bleeding history or predisposition';
  if (c.condition('Bleeding history or predisposition', BLEEDING_PREDISPOSITION).present) return [label, 1];
  const hb = latestObservationValue(c.bundle, withMaxAge(HEMOGLOBIN, { years: p.recency.kidneyYears }), c.asOf);
  const cutoff = sex === 'female' ? 12 : 13; // g/dL, WHO anaemia thresholds for adult women / men
  if (!hb.ok || hb.value >= cutoff) return [label, 0];
  c.accept(hb);
  return [label, 1];
}

/** L: time in therapeutic range <60 % over the INR window, only for patients on a vitamin K antagonist. */
function labileInrItem(c: InputCollector, p: CalculatorParams): Item {
  const label = 'L: labile INR (TTR <60 %)';
  const vka = c.medication('On a vitamin K antagonist', 'vitaminKAntagonist', p.recency.medicationDays);
  if (!vka.present) return [label, 0];
  const series = observationSeries(c.bundle, withMaxAge(INR, { hours: p.recency.inrDays * 24 }), c.asOf);
  if (series.length < MIN_INR_RESULTS) {
    c.miss(
      'INR series',
      'missing',
      `${series.length} INR result(s) in ${p.recency.inrDays} days; time in range needs ≥${MIN_INR_RESULTS}; counted 0`,
    );
    return [label, 0];
  }
  const inRange = series.filter((v) => v.value >= INR_RANGE[0] && v.value <= INR_RANGE[1]).length / series.length;
  c.use({
    name: 'INR time in range (fraction of results)',
    value: Math.round(inRange * 100) / 100,
    source: series[0].source,
    effective: series[0].effective,
  });
  for (const v of series) c.basis.add(v.source);
  return [label, Number(inRange < LABILE_TTR)];
}

function computeHasBled(record: PatientRecord, { asOf }: ModelContext, params: CalculatorParams): CalculatorResult {
  const af = everConditions(record.bundle, ATRIAL_FIBRILLATION, asOf);
  if (af.length === 0)
    return excluded('no atrial fibrillation or flutter on record; HAS-BLED applies to anticoagulation in AF');
  const c = new InputCollector(record, asOf);
  const d = c.demographics();
  const age = d ? c.age(d, [18, 120]) : undefined;
  if (!d || age === undefined) return c.result([]);
  const drugs = c.medication('Antiplatelet or NSAID', 'bleedingRiskDrug', params.recency.intermittentDrugDays);
  const scored: Item[] = [
    hypertensionItem(c, params),
    renalItem(c, params),
    liverItem(c, params),
    ['S: prior stroke', Number(c.condition('Prior stroke', STROKE, true).present)],
    bleedingItem(c, params, d.sex),
    labileInrItem(c, params),
    ['E: elderly (>65)', Number(age > ELDERLY_AGE)],
    ['D: antiplatelet or NSAID', Number(drugs.present)],
    ['D: alcohol excess', Number(c.condition('Alcohol use disorder', ALCOHOL_EXCESS).present)],
  ];
  const score = scored.reduce((sum, [, pts]) => sum + pts, 0);
  const rate = HAS_BLED_BLEEDS_PER_100_PATIENT_YEARS[score];
  const cat = hasBledCategory(score);
  const points = scored.filter(([, pts]) => pts > 0).map(([label]) => label);
  const gaps = c.missing.length
    ? `; not assessable (counted 0, so the score is a minimum): ${c.missing.map((m) => m.name).join(', ')}`
    : '';
  const prediction: Prediction = {
    calculator: HAS_BLED_CALCULATOR_ID,
    outcome: OUTCOMES.majorBleeding,
    probability: rate !== undefined ? rate / 100 : undefined,
    qualitativeRisk: cat.qualitativeRisk,
    horizonYears: 1,
    score,
    category: cat.category,
    method: 'HAS-BLED (Pisters 2010); bleeds per 100 patient-years from Pisters 2010 (Euro Heart Survey)',
    rationale:
      `HAS-BLED ${score} (${points.length ? points.join(', ') : 'no risk factors'})` +
      `${rate !== undefined ? `; ${formatPercent(rate / 100, 2)} major bleeds per year in the derivation cohort` : '; no published rate for ≥6'}${gaps}.`,
    inputsUsed: c.used,
  };
  return c.result([prediction]);
}

/** HAS-BLED over a FHIR record; items without data are counted 0 and listed in `missing` (risk-models.md §8). */
export function createHasBledCalculator(params: CalculatorParams = DEFAULT_PARAMS): Calculator {
  return {
    id: HAS_BLED_CALCULATOR_ID,
    title: 'HAS-BLED bleeding risk',
    compute: (record, ctx) => computeHasBled(record, ctx, params),
  };
}
