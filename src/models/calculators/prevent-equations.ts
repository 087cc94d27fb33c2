import {
  PREVENT_TERMS,
  type PreventHorizon,
  type PreventOutcome,
  type PreventTerm,
  preventBaseTable,
} from './prevent-coefficients.js';

/**
 * AHA PREVENT base equations (Khan SS et al., Circulation 2024;149:430–449): logistic,
 * risk = eˣ / (1 + eˣ) with x = constant + Σ βᵢ·termᵢ. Term transforms as in preventr `R/estimate_risk.R`
 * (docs/risk-models.md §1b).
 */

/** mg/dL → mmol/L for cholesterol, the factor preventr uses (1 / 38.67). */
const CHOLESTEROL_MMOL_PER_MG_DL = 0.02586;

export interface PreventInputs {
  /** Years, 30–79 (30-year risk: 30–59). */
  age: number;
  sex: 'male' | 'female';
  /** mg/dL. */
  totalCholesterol: number;
  /** mg/dL. */
  hdl: number;
  /** mmHg. */
  systolicBp: number;
  diabetes: boolean;
  currentSmoker: boolean;
  /** kg/m2; only the heart-failure equations use it. */
  bmi?: number;
  /** mL/min/1.73 m2 (CKD-EPI 2021). */
  egfr: number;
  bpTreated: boolean;
  statin: boolean;
}

/** Valid ranges (inclusive) of preventr and the paper: years, mg/dL, mg/dL, mmHg, kg/m2, mL/min/1.73 m2. */
export const PREVENT_RANGES = {
  age: [30, 79],
  age30y: [30, 59],
  totalCholesterol: [130, 320],
  hdl: [20, 100],
  systolicBp: [90, 180],
  bmi: [18.5, 39.9],
  egfr: [15, 140],
} as const satisfies Record<string, readonly [number, number]>;

/** The transformed terms (x values) of the model for one patient. */
export function preventTerms(i: PreventInputs): Record<PreventTerm, number> {
  const a = (i.age - 55) / 10;
  const nonHdl = (i.totalCholesterol - i.hdl) * CHOLESTEROL_MMOL_PER_MG_DL - 3.5;
  const hdl = (i.hdl * CHOLESTEROL_MMOL_PER_MG_DL - 1.3) / 0.3;
  const sbpAbove110 = (Math.max(i.systolicBp, 110) - 130) / 20;
  const bmi = i.bmi ?? Number.NaN;
  const bmiAbove30 = (Math.max(bmi, 30) - 30) / 5;
  const egfrBelow60 = (Math.min(i.egfr, 60) - 60) / -15;
  const dm = Number(i.diabetes);
  const smoking = Number(i.currentSmoker);
  const terms: Record<PreventTerm, number> = {
    age: a,
    ageSquared: a * a,
    nonHdl,
    hdl,
    sbpBelow110: (Math.min(i.systolicBp, 110) - 110) / 20,
    sbpAbove110,
    diabetes: dm,
    smoking,
    bmiBelow30: (Math.min(bmi, 30) - 25) / 5,
    bmiAbove30,
    egfrBelow60,
    egfrAbove60: (Math.max(i.egfr, 60) - 90) / -15,
    bpTreated: Number(i.bpTreated),
    statin: Number(i.statin),
    treatedSbpAbove110: Number(i.bpTreated) * sbpAbove110,
    treatedNonHdl: Number(i.statin) * nonHdl,
    ageNonHdl: a * nonHdl,
    ageHdl: a * hdl,
    ageSbpAbove110: a * sbpAbove110,
    ageDiabetes: a * dm,
    ageSmoking: a * smoking,
    ageBmiAbove30: a * bmiAbove30,
    ageEgfrBelow60: a * egfrBelow60,
    constant: 1,
  };
  return terms;
}

/**
 * PREVENT base risk of one outcome over 10 or 30 years, on the 0–1 scale. No range checks here: callers
 * validate against `PREVENT_RANGES` first.
 * @throws Error when the equation needs BMI (heart failure) and `inputs.bmi` is absent
 */
export function preventRisk(inputs: PreventInputs, outcome: PreventOutcome, horizon: PreventHorizon): number {
  const coefficients = preventBaseTable(horizon)[`${inputs.sex}_${outcome}`];
  if (!coefficients) throw new Error(`no PREVENT ${horizon}-year column for ${inputs.sex} ${outcome}`);
  const terms = preventTerms(inputs);
  let x = 0;
  for (const t of PREVENT_TERMS) {
    const beta = coefficients[t];
    if (beta === 0) continue; // terms a model does not use (BMI outside HF) may be NaN
    x += beta * terms[t];
  }
  if (Number.isNaN(x)) throw new Error(`PREVENT ${outcome} needs BMI`);
  return Math.exp(x) / (1 + Math.exp(x));
}
