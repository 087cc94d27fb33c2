import {
  PREVENT_TERMS,
  type PreventHorizon,
  type PreventOutcome,
  type PreventTerm,
  type PreventVariant,
  preventTable,
} from './prevent-coefficients.js';

/**
 * AHA PREVENT equations (Khan SS et al., Circulation 2024;149:430–449), all five model types: logistic,
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
  /** Urine albumin/creatinine ratio, mg/g (UACR and full models); absent counts as "missing". */
  uacr?: number;
  /** HbA1c, % (HbA1c and full models); absent counts as "missing". */
  hba1c?: number;
  /** Social Deprivation Index decile 1–10 (SDI and full models); absent counts as "missing". */
  sdiDecile?: number;
}

/** HbA1c centring value of the models, % (preventr `prep_terms`: "HbA1c 5.3"). */
const HBA1C_CENTRE = 5.3;

/** Valid ranges (inclusive) of preventr and the paper: years, mg/dL, mg/dL, mmHg, kg/m2, mL/min/1.73 m2. */
export const PREVENT_RANGES = {
  age: [30, 79],
  age30y: [30, 59],
  totalCholesterol: [130, 320],
  hdl: [20, 100],
  systolicBp: [90, 180],
  bmi: [18.5, 39.9],
  egfr: [15, 140],
  uacr: [0.1, 25_000],
  hba1c: [4.5, 15],
  sdiDecile: [1, 10],
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
    ...optionalTerms(i),
    constant: 1,
  };
  return terms;
}

/**
 * The optional-predictor terms (preventr `prep_terms`): SDI deciles 4–6 and 7–10 against 1–3, ln UACR, HbA1c − 5.3
 * split by diabetes status, and a "missing" indicator for each (the value terms are 0 when it is missing).
 */
function optionalTerms(i: PreventInputs): Pick<Record<PreventTerm, number>, OptionalTerm> {
  const sdi = i.sdiDecile;
  const hba1c = i.hba1c === undefined ? 0 : i.hba1c - HBA1C_CENTRE;
  return {
    sdi4to6: Number(sdi !== undefined && sdi >= 4 && sdi <= 6),
    sdi7to10: Number(sdi !== undefined && sdi >= 7),
    sdiMissing: Number(sdi === undefined),
    lnUacr: i.uacr === undefined ? 0 : Math.log(i.uacr),
    uacrMissing: Number(i.uacr === undefined),
    hba1cDiabetes: i.diabetes ? hba1c : 0,
    hba1cNoDiabetes: i.diabetes ? 0 : hba1c,
    hba1cMissing: Number(i.hba1c === undefined),
  };
}

type OptionalTerm =
  | 'sdi4to6'
  | 'sdi7to10'
  | 'sdiMissing'
  | 'lnUacr'
  | 'uacrMissing'
  | 'hba1cDiabetes'
  | 'hba1cNoDiabetes'
  | 'hba1cMissing';

/** Which optional predictors a record supplied (each valid and in range). */
export interface PreventOptionals {
  uacr: boolean;
  hba1c: boolean;
  sdi: boolean;
}

/**
 * The model type to run, as preventr's `estimate_risk(model = NULL)` chooses it: none of UACR, HbA1c and SDI →
 * base; exactly one → the base model adding that one; two or three → the full model, whose "missing" terms
 * cover the absent one.
 */
export function choosePreventVariant(has: PreventOptionals): PreventVariant {
  const present = (['uacr', 'hba1c', 'sdi'] as const).filter((k) => has[k]);
  if (present.length === 0) return 'base';
  return present.length === 1 ? present[0] : 'full';
}

/**
 * PREVENT risk of one outcome over 10 or 30 years by one model type (default base), on the 0–1 scale. Optional
 * predictors a model type does not use have coefficient 0 there. No range checks here: callers validate against
 * `PREVENT_RANGES` first.
 * @throws Error when the equation needs BMI (heart failure) and `inputs.bmi` is absent
 */
export function preventRisk(
  inputs: PreventInputs,
  outcome: PreventOutcome,
  horizon: PreventHorizon,
  variant: PreventVariant = 'base',
): number {
  const coefficients = preventTable(variant, horizon)[`${inputs.sex}_${outcome}`];
  if (!coefficients) throw new Error(`no PREVENT ${variant} ${horizon}-year column for ${inputs.sex} ${outcome}`);
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
