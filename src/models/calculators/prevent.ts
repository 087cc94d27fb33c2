import type { CodeableConcept } from '@medplum/fhirtypes';
import type { Calculator, CalculatorResult } from '../calculator.js';
import {
  BODY_MASS_INDEX,
  DIABETES,
  everConditions,
  HDL_CHOLESTEROL,
  HEART_FAILURE,
  PRIOR_ASCVD,
  SYSTOLIC_BP,
  TOTAL_CHOLESTEROL,
  withMaxAge,
} from '../fhir-inputs/index.js';
import { formatPercent } from '../format.js';
import type { InputUsed, ModelContext, PatientRecord, Prediction, QualitativeRisk } from '../model.js';
import { excluded, InputCollector } from './collect.js';
import { deriveEgfr } from './egfr.js';
import { OUTCOMES } from './outcomes.js';
import { type CalculatorParams, DEFAULT_PARAMS } from './params.js';
import type { PreventHorizon, PreventOutcome } from './prevent-coefficients.js';
import { PREVENT_RANGES, type PreventInputs, preventRisk } from './prevent-equations.js';
import { gatherOptional, type PreventOptionalInputs, preventVariantName, type SdiLookup } from './prevent-optional.js';

/** Calculator id; predictions are `prevent-{10,30}y-{cvd,ascvd,hf}`, whichever model type ran. */
export const PREVENT_CALCULATOR_ID = 'prevent';
/** The id before the optional-predictor models existed; still accepted in configurations. */
export const PREVENT_LEGACY_ID = 'prevent-base';

const method = (variant: PreventOptionalInputs['variant']) =>
  `AHA PREVENT equations, ${preventVariantName(variant)} (Khan SS et al., Circulation 2024;149:430–449, ` +
  'Supplemental Table S12; coefficients from the preventr R package v0.12.0); eGFR by CKD-EPI 2021';

/** The three outcomes we report, with their short ids and concepts. */
const REPORTED: { outcome: PreventOutcome; key: string; concept: CodeableConcept; needsBmi: boolean }[] = [
  { outcome: 'total_cvd', key: 'cvd', concept: OUTCOMES.totalCvd, needsBmi: false },
  { outcome: 'ascvd', key: 'ascvd', concept: OUTCOMES.ascvd, needsBmi: false },
  { outcome: 'heart_failure', key: 'hf', concept: OUTCOMES.heartFailure, needsBmi: true },
];

/**
 * Category and qualitativeRisk of a PREVENT risk. No official scheme exists; 10-year risks reuse the ACC/AHA
 * bands (<5 % low, 5–<7.5 % borderline, 7.5–<20 % intermediate, ≥20 % high) as AHA communications do, and
 * 30-year risks use configurable fhir-assess bands. Both are parameters (`prevent.tenYearBands`/`thirtyYearBands`).
 */
export function preventCategory(
  risk: number,
  horizon: PreventHorizon,
  p: CalculatorParams['prevent'],
): { category: string; qualitativeRisk: QualitativeRisk } {
  const pct = (x: number) => `${+(x * 100).toFixed(1)} %`;
  if (horizon === 10) {
    const [borderline, intermediate, high] = p.tenYearBands;
    if (risk < borderline) return { category: `low (<${pct(borderline)})`, qualitativeRisk: 'low' };
    if (risk < intermediate)
      return { category: `borderline (${pct(borderline)}–<${pct(intermediate)})`, qualitativeRisk: 'moderate' };
    if (risk < high)
      return { category: `intermediate (${pct(intermediate)}–<${pct(high)})`, qualitativeRisk: 'moderate' };
    return { category: `high (≥${pct(high)})`, qualitativeRisk: 'high' };
  }
  const [moderate, high] = p.thirtyYearBands;
  const note = 'fhir-assess 30-year band, no guideline band exists';
  if (risk < moderate) return { category: `low (<${pct(moderate)}; ${note})`, qualitativeRisk: 'low' };
  if (risk < high)
    return { category: `moderate (${pct(moderate)}–<${pct(high)}; ${note})`, qualitativeRisk: 'moderate' };
  return { category: `high (≥${pct(high)}; ${note})`, qualitativeRisk: 'high' };
}

/** The required inputs from FHIR (and the eGFR caveat), or undefined when one is missing (recorded in `c`). */
function gather(c: InputCollector, params: CalculatorParams): (PreventInputs & { egfrCaveat?: string }) | undefined {
  const r = params.recency;
  const d = c.demographics();
  if (!d) return undefined;
  const age = c.age(d, PREVENT_RANGES.age);
  const sex = c.sex(d, 'the PREVENT equations are sex-specific (male or female)');
  const totalCholesterol = c.measured(
    withMaxAge(TOTAL_CHOLESTEROL, { years: r.lipidsYears }),
    PREVENT_RANGES.totalCholesterol,
  );
  const hdl = c.measured(withMaxAge(HDL_CHOLESTEROL, { years: r.lipidsYears }), PREVENT_RANGES.hdl);
  const systolicBp = c.measured(withMaxAge(SYSTOLIC_BP, { years: r.vitalsYears }), PREVENT_RANGES.systolicBp);
  let egfr: number | undefined;
  let egfrCaveat: string | undefined;
  if (age !== undefined && sex) {
    const e = deriveEgfr(c.bundle, c.asOf, { age, sex, maxAgeYears: r.kidneyYears, reported: 'ckd-epi' });
    egfr = c.accept(e.value, PREVENT_RANGES.egfr, e.derivation);
    egfrCaveat = e.caveat;
  }
  const bmi = c.measured(withMaxAge(BODY_MASS_INDEX, { years: r.vitalsYears }), PREVENT_RANGES.bmi);
  const currentSmoker = c.currentSmoker(r.smokingYears);
  const diabetes = c.condition('Diabetes', DIABETES).present;
  const bpTreated = c.medication('Treated for hypertension', 'antihypertensive', r.medicationDays).present;
  const statin = c.medication('Statin', 'statin', r.medicationDays).present;
  if (age === undefined || !sex || totalCholesterol === undefined || hdl === undefined) return undefined;
  if (systolicBp === undefined || egfr === undefined || currentSmoker === undefined) return undefined;
  const inputs = { age, sex, totalCholesterol, hdl, systolicBp, egfr, bmi, currentSmoker, diabetes, bpTreated, statin };
  return { ...inputs, egfrCaveat };
}

function predict(
  inputs: PreventInputs & { egfrCaveat?: string },
  optional: PreventOptionalInputs,
  what: (typeof REPORTED)[number],
  horizon: PreventHorizon,
  used: InputUsed[],
  params: CalculatorParams,
): Prediction {
  const risk = preventRisk(inputs, what.outcome, horizon, optional.variant);
  const cat = preventCategory(risk, horizon, params.prevent);
  const outcomeText = (what.concept.text ?? what.key).toLowerCase();
  return {
    calculator: `${PREVENT_CALCULATOR_ID}-${horizon}y-${what.key}`,
    group: PREVENT_CALCULATOR_ID,
    outcome: what.concept,
    probability: risk,
    qualitativeRisk: cat.qualitativeRisk,
    horizonYears: horizon,
    category: cat.category,
    method: method(optional.variant),
    variant: { id: optional.variant, reason: optional.reason },
    rationale:
      `${horizon}-year risk of ${outcomeText} ${formatPercent(risk, 1)} (${risk.toFixed(4)}), ${cat.category}; ` +
      `PREVENT ${preventVariantName(optional.variant)}, ${inputs.sex} equation, eGFR ${inputs.egfr.toFixed(0)} ` +
      `mL/min/1.73 m²${inputs.egfrCaveat ? ` (${inputs.egfrCaveat})` : ''}. Model choice: ${optional.reason}.`,
    inputsUsed: what.needsBmi ? used : used.filter((u) => u.name !== 'Body mass index'),
  };
}

function computePrevent(
  record: PatientRecord,
  { asOf }: ModelContext,
  params: CalculatorParams,
  sdiLookup: SdiLookup | undefined,
): CalculatorResult {
  const prior = [
    ...everConditions(record.bundle, PRIOR_ASCVD, asOf),
    ...everConditions(record.bundle, HEART_FAILURE, asOf),
  ];
  if (prior.length > 0) {
    const found = prior.map((p) => `${p.label} (${p.source})`).join('; ');
    return excluded(`known cardiovascular disease: ${found}; PREVENT is for adults without CVD`);
  }
  const c = new InputCollector(record, asOf);
  const inputs = gather(c, params);
  if (!inputs) return c.result([]);
  const optional = gatherOptional(c, params, sdiLookup);
  const full = { ...inputs, uacr: optional.uacr, hba1c: optional.hba1c, sdiDecile: optional.sdiDecile };
  const horizons: PreventHorizon[] = [10];
  const [lo30, hi30] = PREVENT_RANGES.age30y;
  if (inputs.age >= lo30 && inputs.age <= hi30) horizons.push(30);
  else c.miss('Age (30-year risk)', 'not-applicable', `30-year PREVENT risk is defined for ages ${lo30}–${hi30}`);
  const predictions: Prediction[] = [];
  for (const horizon of horizons) {
    for (const what of REPORTED) {
      if (what.needsBmi && inputs.bmi === undefined) continue;
      predictions.push(predict(full, optional, what, horizon, c.used, params));
    }
  }
  return c.result(predictions);
}

/**
 * PREVENT 10- and 30-year total CVD, ASCVD and heart-failure risk as a calculator over a FHIR record, by the most
 * complete model type the record supports (base, + UACR, + HbA1c, + SDI, full). Heart failure also needs BMI;
 * without it the CVD and ASCVD predictions are still made.
 * @param sdiLookup - ZIP → SDI decile; none ships with fhir-assess, so SDI is reported as not usable without it
 */
export function createPreventCalculator(params: CalculatorParams = DEFAULT_PARAMS, sdiLookup?: SdiLookup): Calculator {
  return {
    id: PREVENT_CALCULATOR_ID,
    title: 'AHA PREVENT equations',
    compute: (record, ctx) => computePrevent(record, ctx, params, sdiLookup),
  };
}
