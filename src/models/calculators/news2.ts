import type { Calculator, CalculatorResult } from '../calculator.js';
import {
  BODY_TEMPERATURE,
  HEART_RATE,
  OXYGEN_SATURATION,
  RESPIRATORY_RATE,
  SYSTOLIC_BP,
  withMaxAge,
} from '../fhir-inputs/index.js';
import type { ModelContext, PatientRecord, Prediction, QualitativeRisk } from '../model.js';
import { consciousness, hasAcuteVitals, onOxygen } from './acute-inputs.js';
import { excluded, InputCollector } from './collect.js';
import { OUTCOMES } from './outcomes.js';
import { type CalculatorParams, DEFAULT_PARAMS } from './params.js';

/**
 * National Early Warning Score 2 (Royal College of Physicians, December 2017), SpO2 Scale 1. Scale 2 is for
 * confirmed hypercapnic respiratory failure on clinical instruction, which a record cannot tell us, so it is
 * not used. Qualitative only: NEWS2 gives no probability.
 */
export const NEWS2_CALCULATOR_ID = 'news2';

/** The seven NEWS2 parameters in their units: /min, %, mmHg, /min, °C. */
export interface News2Inputs {
  respiratoryRate: number;
  spo2: number;
  onOxygen: boolean;
  systolicBp: number;
  pulse: number;
  alert: boolean;
  temperature: number;
}

/** Points for each parameter (RCP 2017 chart, risk-models.md §5). */
export function news2Points(i: News2Inputs): Record<keyof News2Inputs, number> {
  const rr = i.respiratoryRate;
  const t = i.temperature;
  const sbp = i.systolicBp;
  const hr = i.pulse;
  return {
    respiratoryRate: rr <= 8 ? 3 : rr <= 11 ? 1 : rr <= 20 ? 0 : rr <= 24 ? 2 : 3,
    spo2: i.spo2 <= 91 ? 3 : i.spo2 <= 93 ? 2 : i.spo2 <= 95 ? 1 : 0,
    onOxygen: i.onOxygen ? 2 : 0,
    systolicBp: sbp <= 90 ? 3 : sbp <= 100 ? 2 : sbp <= 110 ? 1 : sbp <= 219 ? 0 : 3,
    pulse: hr <= 40 ? 3 : hr <= 50 ? 1 : hr <= 90 ? 0 : hr <= 110 ? 1 : hr <= 130 ? 2 : 3,
    alert: i.alert ? 0 : 3,
    temperature: t <= 35 ? 3 : t <= 36 ? 1 : t <= 38 ? 0 : t <= 39 ? 1 : 2,
  };
}

/**
 * Aggregate score and RCP clinical-risk band: ≥7 high; 5–6 medium; a single parameter scoring 3 (red score)
 * low–medium; otherwise low. FHIR qualitativeRisk: low → low, low–medium and medium → moderate (both trigger an
 * urgent response), high → high.
 */
export function news2Score(i: News2Inputs): {
  score: number;
  red: boolean;
  band: 'low' | 'low-medium' | 'medium' | 'high';
  qualitativeRisk: QualitativeRisk;
} {
  const points = Object.values(news2Points(i));
  const score = points.reduce((a, b) => a + b, 0);
  const red = points.some((p) => p === 3);
  if (score >= 7) return { score, red, band: 'high', qualitativeRisk: 'high' };
  if (score >= 5) return { score, red, band: 'medium', qualitativeRisk: 'moderate' };
  if (red) return { score, red, band: 'low-medium', qualitativeRisk: 'moderate' };
  return { score, red, band: 'low', qualitativeRisk: 'low' };
}

const RESPONSE = {
  low: 'ward-based response',
  'low-medium': 'urgent ward-based response (single red parameter)',
  medium: 'key threshold for urgent response',
  high: 'emergency response',
} as const;

function computeNews2(record: PatientRecord, { asOf }: ModelContext, params: CalculatorParams): CalculatorResult {
  const c = new InputCollector(record, asOf);
  const hours = params.recency.acuteHours;
  if (!hasAcuteVitals(c, hours)) {
    return excluded(
      `no respiratory rate, SpO2, pulse or consciousness in the last ${hours} h: NEWS2 scores an acute episode`,
    );
  }
  const d = c.demographics();
  const age = d ? c.age(d, [16, 120]) : undefined; // RCP: not validated under 16
  const recent = (spec: typeof RESPIRATORY_RATE) => c.measured(withMaxAge(spec, { hours }));
  const respiratoryRate = recent(RESPIRATORY_RATE);
  const spo2 = recent(OXYGEN_SATURATION);
  const systolicBp = recent(SYSTOLIC_BP);
  const pulse = recent(HEART_RATE);
  const temperature = recent(BODY_TEMPERATURE);
  const level = consciousness(c, hours);
  const oxygen = onOxygen(c, hours);
  if (age === undefined || respiratoryRate === undefined || spo2 === undefined || systolicBp === undefined)
    return c.result([]);
  if (pulse === undefined || temperature === undefined || !level) return c.result([]);
  const inputs: News2Inputs = {
    respiratoryRate,
    spo2,
    onOxygen: oxygen,
    systolicBp,
    pulse,
    alert: level.alert,
    temperature,
  };
  const s = news2Score(inputs);
  const pts = news2Points(inputs);
  const detail = `RR ${pts.respiratoryRate}, SpO2 ${pts.spo2}, O2 ${pts.onOxygen}, SBP ${pts.systolicBp}, pulse ${pts.pulse}, consciousness ${pts.alert}, temperature ${pts.temperature}`;
  const prediction: Prediction = {
    calculator: NEWS2_CALCULATOR_ID,
    outcome: OUTCOMES.deterioration,
    qualitativeRisk: s.qualitativeRisk,
    score: s.score,
    category: `NEWS2 ${s.score}, ${s.band} clinical risk: ${RESPONSE[s.band]}`,
    method: 'NEWS2 (Royal College of Physicians, 2017), SpO2 Scale 1; vital signs from the last ' + `${hours} h`,
    rationale: `NEWS2 aggregate ${s.score} (${detail}); ${s.band} clinical risk, ${RESPONSE[s.band]}. Current state: no probability or horizon.`,
    inputsUsed: c.used,
  };
  return c.result([prediction]);
}

/** NEWS2 from the vital signs of the last `recency.acuteHours` hours. */
export function createNews2Calculator(params: CalculatorParams = DEFAULT_PARAMS): Calculator {
  return {
    id: NEWS2_CALCULATOR_ID,
    title: 'National Early Warning Score 2 (NEWS2)',
    compute: (record, ctx) => computeNews2(record, ctx, params),
  };
}
