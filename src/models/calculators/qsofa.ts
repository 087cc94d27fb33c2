import type { Calculator, CalculatorResult } from '../calculator.js';
import { RESPIRATORY_RATE, SYSTOLIC_BP, withMaxAge } from '../fhir-inputs/index.js';
import type { ModelContext, PatientRecord, Prediction, QualitativeRisk } from '../model.js';
import { consciousness, hasAcuteVitals } from './acute-inputs.js';
import { excluded, InputCollector } from './collect.js';
import { OUTCOMES } from './outcomes.js';
import { type CalculatorParams, DEFAULT_PARAMS } from './params.js';

/**
 * quick SOFA (Seymour CW et al., JAMA 2016;315:762–74; Sepsis-3, Singer M et al., JAMA 2016;315:801–10):
 * one point each for RR ≥22/min, altered mentation, SBP ≤100 mmHg. For patients with suspected infection;
 * not a diagnostic test for sepsis.
 */
export const QSOFA_CALCULATOR_ID = 'qsofa';

/** Thresholds: breaths/min, mmHg. */
const RR_THRESHOLD = 22;
const SBP_THRESHOLD = 100;

/** qSOFA score 0–3 from respiratory rate (/min), systolic BP (mmHg) and mentation. */
export function qsofaScore(respiratoryRate: number, systolicBp: number, alteredMentation: boolean): number {
  return Number(respiratoryRate >= RR_THRESHOLD) + Number(systolicBp <= SBP_THRESHOLD) + Number(alteredMentation);
}

/** ≥2 → high risk of poor outcome (Seymour 2016); 0–1 → not high, mapped to `low`. */
export function qsofaCategory(score: number): { category: string; qualitativeRisk: QualitativeRisk } {
  return score >= 2
    ? { category: `qSOFA ${score} (≥2): high risk of poor outcome if infection is suspected`, qualitativeRisk: 'high' }
    : { category: `qSOFA ${score} (<2): not high risk by qSOFA`, qualitativeRisk: 'low' };
}

function computeQsofa(record: PatientRecord, { asOf }: ModelContext, params: CalculatorParams): CalculatorResult {
  const c = new InputCollector(record, asOf);
  const hours = params.recency.acuteHours;
  if (!hasAcuteVitals(c, hours)) {
    return excluded(
      `no respiratory rate, SpO2, pulse or consciousness in the last ${hours} h: qSOFA scores an acute episode`,
    );
  }
  const d = c.demographics();
  const age = d ? c.age(d, [18, 120]) : undefined; // derived and validated in adults
  const rr = c.measured(withMaxAge(RESPIRATORY_RATE, { hours }));
  const sbp = c.measured(withMaxAge(SYSTOLIC_BP, { hours }));
  const level = consciousness(c, hours);
  if (age === undefined || rr === undefined || sbp === undefined || !level) return c.result([]);
  const score = qsofaScore(rr, sbp, !level.alert);
  const cat = qsofaCategory(score);
  const prediction: Prediction = {
    calculator: QSOFA_CALCULATOR_ID,
    outcome: OUTCOMES.sepsisPoorOutcome,
    qualitativeRisk: cat.qualitativeRisk,
    score,
    category: cat.category,
    method: `qSOFA (Seymour 2016, Sepsis-3); vital signs from the last ${hours} h`,
    rationale: `qSOFA ${score}: RR ${rr} /min (${rr >= RR_THRESHOLD ? 1 : 0}), SBP ${sbp} mmHg (${sbp <= SBP_THRESHOLD ? 1 : 0}), mentation ${level.text} (${level.alert ? 0 : 1}). Only meaningful when infection is suspected.`,
    inputsUsed: c.used,
  };
  return c.result([prediction]);
}

/** qSOFA from the vital signs of the last `recency.acuteHours` hours. */
export function createQsofaCalculator(params: CalculatorParams = DEFAULT_PARAMS): Calculator {
  return {
    id: QSOFA_CALCULATOR_ID,
    title: 'quick SOFA (qSOFA)',
    compute: (record, ctx) => computeQsofa(record, ctx, params),
  };
}
