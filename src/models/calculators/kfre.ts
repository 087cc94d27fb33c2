import type { Calculator, CalculatorResult } from '../calculator.js';
import {
  activeConditions,
  KIDNEY_FAILURE,
  KIDNEY_REPLACEMENT_PROCEDURES,
  proceduresDone,
  URINE_ACR,
  withMaxAge,
  yearsBefore,
} from '../fhir-inputs/index.js';
import { formatPercent } from '../format.js';
import type { ModelContext, PatientRecord, Prediction, QualitativeRisk } from '../model.js';
import { excluded, InputCollector } from './collect.js';
import { deriveEgfr } from './egfr.js';
import { OUTCOMES } from './outcomes.js';
import { type CalculatorParams, DEFAULT_PARAMS } from './params.js';

/**
 * Kidney Failure Risk Equation, 4-variable (Tangri N et al., JAMA 2011;305:1553–9; non-North-American baseline
 * from the CKD-PC recalibration, Tangri N et al., JAMA 2016;315:164–74). Coefficients and baselines as in
 * lshpaner/kfre `src/kfre/main.py` (docs/risk-models.md §2).
 */

export const KFRE_CALCULATOR_ID = 'kfre-4v';
export type KfreRegion = 'north-america' | 'non-north-america';
export type KfreHorizon = 2 | 5;

export interface KfreInputs {
  /** Years (fractional ages allowed). */
  age: number;
  male: boolean;
  /** mL/min/1.73 m2. */
  egfr: number;
  /** Urine albumin/creatinine ratio, mg/g. */
  uacr: number;
}

/** Baseline survival S₀ by region and horizon. */
export const KFRE_BASELINE: Record<KfreRegion, Record<KfreHorizon, number>> = {
  'north-america': { 2: 0.975, 5: 0.924 },
  'non-north-america': { 2: 0.9832, 5: 0.9365 },
};

/**
 * Risk = 1 − S₀ ^ exp(−0.2201·(age/10 − 7.036) + 0.2467·(male − 0.5642) − 0.5567·(eGFR/5 − 7.222)
 * + 0.4510·(ln UACR − 5.137)).
 * @returns risk of treated kidney failure within `horizon` years, 0–1
 */
export function kfreRisk(i: KfreInputs, horizon: KfreHorizon, region: KfreRegion): number {
  const lp =
    -0.2201 * (i.age / 10 - 7.036) +
    0.2467 * (Number(i.male) - 0.5642) -
    0.5567 * (i.egfr / 5 - 7.222) +
    0.451 * (Math.log(i.uacr) - 5.137);
  return 1 - KFRE_BASELINE[region][horizon] ** Math.exp(lp);
}

/** Valid ranges: adults; eGFR 10–<60 (CKD G3–G5; the 2016 validation covered 10–59); UACR 0.1–25000 mg/g. */
export const KFRE_RANGES = {
  age: [18, 120],
  egfr: [10, 60], // ≥60 is excluded before the range check
  uacr: [0.1, 25_000],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * Interpretation thresholds in common use (risk-models.md §2): 5-year ≥3–5 % → nephrology referral (NICE NG203:
 * >5 %); 2-year >10 % → multidisciplinary care, >40 % → prepare for kidney replacement therapy.
 */
export function kfreCategory(
  risk: number,
  horizon: KfreHorizon,
): { category: string; qualitativeRisk: QualitativeRisk } {
  if (horizon === 5) {
    if (risk < 0.03) return { category: 'below referral thresholds (<3 % at 5 y)', qualitativeRisk: 'low' };
    if (risk <= 0.05) return { category: 'consider nephrology referral (3–5 % at 5 y)', qualitativeRisk: 'moderate' };
    return { category: 'nephrology referral (>5 % at 5 y, NICE NG203)', qualitativeRisk: 'high' };
  }
  if (risk <= 0.1) return { category: 'below multidisciplinary-care threshold (≤10 % at 2 y)', qualitativeRisk: 'low' };
  if (risk <= 0.4) return { category: 'multidisciplinary CKD care (>10 % at 2 y)', qualitativeRisk: 'high' };
  return { category: 'prepare for kidney replacement therapy (>40 % at 2 y)', qualitativeRisk: 'high' };
}

/**
 * Kidney failure already present: an active ESKD / dialysis / transplant-status Condition, or a dialysis or
 * transplant Procedure within the kidney recency window. The equation predicts its onset, so it does not apply.
 */
function kidneyFailureEvidence(record: PatientRecord, asOf: Date, windowYears: number): string[] {
  const since = yearsBefore(asOf, windowYears).toISOString().slice(0, 10);
  const conditions = activeConditions(record.bundle, KIDNEY_FAILURE, asOf);
  const procedures = proceduresDone(record.bundle, KIDNEY_REPLACEMENT_PROCEDURES, asOf).filter(
    (p) => !p.performed || p.performed >= since,
  );
  return [...conditions, ...procedures].map((m) => `${m.label} (${m.source})`);
}

function computeKfre(record: PatientRecord, { asOf }: ModelContext, params: CalculatorParams): CalculatorResult {
  const failure = kidneyFailureEvidence(record, asOf, params.recency.kidneyYears);
  if (failure.length > 0) return excluded(`kidney failure already treated or present: ${failure.join('; ')}`);
  const c = new InputCollector(record, asOf);
  const r = params.recency;
  const d = c.demographics();
  if (!d) return c.result([]);
  const age = c.age(d, KFRE_RANGES.age);
  const sex = c.sex(d, 'KFRE needs male or female');
  if (age === undefined || !sex) return c.result([]);
  const e = deriveEgfr(c.bundle, asOf, { age, sex, maxAgeYears: r.kidneyYears, reported: 'any' });
  if (e.value.ok && e.value.value >= 60) {
    return excluded(
      `eGFR ${e.value.value.toFixed(0)} mL/min/1.73 m² (${e.value.source}) is ≥60: KFRE is for CKD G3–G5`,
    );
  }
  const egfr = c.accept(e.value, KFRE_RANGES.egfr, e.derivation);
  const uacr = c.measured(withMaxAge(URINE_ACR, { years: r.kidneyYears }), KFRE_RANGES.uacr);
  if (egfr === undefined || uacr === undefined) return c.result([]);
  const region = params.kfre.region;
  const predictions = ([2, 5] as const).map((horizon): Prediction => {
    const risk = kfreRisk({ age, male: sex === 'male', egfr, uacr }, horizon, region);
    const cat = kfreCategory(risk, horizon);
    return {
      calculator: `${KFRE_CALCULATOR_ID}-${horizon}y`,
      group: KFRE_CALCULATOR_ID,
      outcome: OUTCOMES.kidneyFailure,
      probability: risk,
      qualitativeRisk: cat.qualitativeRisk,
      horizonYears: horizon,
      category: cat.category,
      method: `KFRE 4-variable (Tangri 2011; ${region === 'north-america' ? 'North American baseline' : 'non-North-American baseline, Tangri 2016'})`,
      rationale: `${horizon}-year risk of treated kidney failure ${formatPercent(risk, 1)} (${risk.toFixed(4)}), ${cat.category}; eGFR ${egfr.toFixed(1)}, UACR ${uacr.toFixed(0)} mg/g.`,
      inputsUsed: c.used,
    };
  });
  return c.result(predictions);
}

/** KFRE 4-variable 2- and 5-year risk; the baseline (North American or not) is the `kfre.region` parameter. */
export function createKfreCalculator(params: CalculatorParams = DEFAULT_PARAMS): Calculator {
  return {
    id: KFRE_CALCULATOR_ID,
    title: 'Kidney Failure Risk Equation (4-variable)',
    compute: (record, ctx) => computeKfre(record, ctx, params),
  };
}
