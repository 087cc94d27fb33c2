import type { Calculator, CalculatorResult } from '../calculator.js';
import {
  ATRIAL_FIBRILLATION,
  activeMedications,
  DIABETES,
  everConditions,
  HEART_FAILURE,
  HYPERTENSION,
  LV_EJECTION_FRACTION,
  observationSeries,
  STROKE_TIA_THROMBOEMBOLISM,
  VASCULAR_DISEASE,
} from '../fhir-inputs/index.js';
import { formatPercent } from '../format.js';
import type { ModelContext, PatientRecord, Prediction, QualitativeRisk } from '../model.js';
import { excluded, type Flag, InputCollector } from './collect.js';
import { OUTCOMES } from './outcomes.js';
import { type CalculatorParams, DEFAULT_PARAMS } from './params.js';

/** CHA2DS2-VASc (Lip GYH et al., Chest 2010;137:263–72), for patients with atrial fibrillation or flutter. */
export const CHA2DS2_VASC_CALCULATOR_ID = 'cha2ds2-vasc';

/**
 * Annual stroke rate (% per year, no antithrombotic therapy) by score 0–9.
 * `esc-2010`: 2010 ESC AF guideline (Camm AJ et al., Eur Heart J 2010;31:2369) Table 8, from Lip 2010
 * (Euro Heart Survey). `friberg-2012`: Friberg L et al., Eur Heart J 2012;33:1500–10 (Swedish AF cohort,
 * ischaemic stroke). Figures as in docs/risk-models.md §4, which marks both as to be checked against the PDFs.
 */
export const STROKE_RATE_TABLES = {
  'esc-2010': {
    label: '2010 ESC AF guideline Table 8 (Lip 2010, Euro Heart Survey)',
    percentPerYear: [0, 1.3, 2.2, 3.2, 4.0, 6.7, 9.8, 9.6, 6.7, 15.2],
  },
  'friberg-2012': {
    label: 'Friberg 2012 Swedish AF cohort, ischaemic stroke without anticoagulation',
    percentPerYear: [0.2, 0.6, 2.2, 3.2, 4.8, 7.2, 9.7, 11.2, 10.8, 12.2],
  },
} as const;

/**
 * Rate-control drugs that are also antihypertensives. In an AF patient they are usually given for the
 * arrhythmia, so on their own they do not count as "treated hypertension".
 */
const RATE_CONTROL = new Set([
  'verapamil',
  'diltiazem',
  'metoprolol',
  'atenolol',
  'bisoprolol',
  'carvedilol',
  'propranolol',
]);

/** Points items as [label, points] for the rationale. */
type Item = [string, number];

/**
 * 2020 ESC / 2023 ACC/AHA thresholds (risk-models.md §4): men 0 → low, 1 → moderate (consider OAC), ≥2 → high
 * (OAC recommended); women one point higher, since female sex alone adds a point.
 */
export function cha2ds2VascCategory(
  score: number,
  sex: 'male' | 'female',
): { category: string; qualitativeRisk: QualitativeRisk } {
  const base = sex === 'female' ? score - 1 : score;
  if (base <= 0) return { category: 'low: no anticoagulation indicated', qualitativeRisk: 'low' };
  if (base === 1) return { category: 'moderate: consider oral anticoagulation', qualitativeRisk: 'moderate' };
  return { category: 'high: oral anticoagulation recommended', qualitativeRisk: 'high' };
}

/** Hypertension: an active diagnosis, or an antihypertensive other than a rate-control drug. */
function hypertension(c: InputCollector, medicationDays: number): Flag {
  const dx = c.condition('Hypertension diagnosis', HYPERTENSION);
  const meds = activeMedications(c.bundle, 'antihypertensive', c.asOf, medicationDays).filter(
    (m) => !RATE_CONTROL.has(m.ingredient),
  );
  const treated = c.flag(
    'On an antihypertensive (not rate control)',
    meds.map((m) => ({ source: m.source, label: m.ingredient, date: m.authoredOn })),
  );
  return { ...dx, present: dx.present || treated.present };
}

function items(c: InputCollector, age: number, sex: 'male' | 'female', params: CalculatorParams): Item[] {
  const chf = c.condition('Heart failure', HEART_FAILURE, true);
  const lowEf = observationSeries(c.bundle, LV_EJECTION_FRACTION, c.asOf).filter((v) => v.value <= 40);
  const lvd = c.flag(
    'LV ejection fraction ≤40 %',
    lowEf.map((v) => ({ source: v.source, date: v.effective })),
  );
  return [
    ['C: heart failure or LV dysfunction', Number(chf.present || lvd.present)],
    ['H: hypertension', Number(hypertension(c, params.recency.medicationDays).present)],
    ['A2: age ≥75', age >= 75 ? 2 : 0],
    ['D: diabetes', Number(c.condition('Diabetes', DIABETES).present)],
    [
      'S2: prior stroke, TIA or thromboembolism',
      2 * Number(c.condition('Prior stroke/TIA/thromboembolism', STROKE_TIA_THROMBOEMBOLISM, true).present),
    ],
    ['V: vascular disease', Number(c.condition('Vascular disease', VASCULAR_DISEASE, true).present)],
    ['A: age 65–74', age >= 65 && age < 75 ? 1 : 0],
    ['Sc: female sex', sex === 'female' ? 1 : 0],
  ];
}

function computeCha2ds2Vasc(record: PatientRecord, { asOf }: ModelContext, params: CalculatorParams): CalculatorResult {
  const af = everConditions(record.bundle, ATRIAL_FIBRILLATION, asOf);
  if (af.length === 0) return excluded('no atrial fibrillation or flutter on record; CHA2DS2-VASc applies to AF');
  const c = new InputCollector(record, asOf);
  c.flag(
    'Atrial fibrillation or flutter',
    af.map((a) => ({ source: a.source, label: a.label, date: a.onset })),
  );
  const d = c.demographics();
  if (!d) return c.result([]);
  const age = c.age(d, [18, 120]);
  const sex = c.sex(d, 'CHA2DS2-VASc scores female sex');
  if (age === undefined || !sex) return c.result([]);
  const scored = items(c, age, sex, params);
  const score = scored.reduce((sum, [, p]) => sum + p, 0);
  const table = STROKE_RATE_TABLES[params.cha2ds2vasc.strokeRateTable];
  const rate = table.percentPerYear[score] / 100;
  const cat = cha2ds2VascCategory(score, sex);
  const points = scored.filter(([, p]) => p > 0).map(([label, p]) => `${label} ${p}`);
  const prediction: Prediction = {
    calculator: CHA2DS2_VASC_CALCULATOR_ID,
    outcome: OUTCOMES.stroke,
    probability: rate,
    qualitativeRisk: cat.qualitativeRisk,
    horizonYears: 1,
    score,
    category: `score ${score}, ${cat.category}`,
    method: `CHA2DS2-VASc (Lip 2010); annual stroke rate from ${table.label}`,
    rationale: `CHA2DS2-VASc ${score} (${points.length ? points.join(', ') : 'no risk factors'}); annual stroke rate without anticoagulation ${formatPercent(rate, 1)} per ${table.label}; ${cat.category}.`,
    inputsUsed: c.used,
  };
  return c.result([prediction]);
}

/** CHA2DS2-VASc with the annual stroke rate from the table chosen by `cha2ds2vasc.strokeRateTable`. */
export function createCha2ds2VascCalculator(params: CalculatorParams = DEFAULT_PARAMS): Calculator {
  return {
    id: CHA2DS2_VASC_CALCULATOR_ID,
    title: 'CHA2DS2-VASc stroke risk in atrial fibrillation',
    compute: (record, ctx) => computeCha2ds2Vasc(record, ctx, params),
  };
}
