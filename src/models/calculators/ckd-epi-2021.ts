import type { Calculator, CalculatorResult } from '../calculator.js';
import { latestObservationValue, SERUM_CREATININE, URINE_ACR, withMaxAge } from '../fhir-inputs/index.js';
import type { ModelContext, PatientRecord, Prediction } from '../model.js';
import { InputCollector } from './collect.js';
import { CREATININE_RANGE_MG_DL, ckdEpi2021 } from './egfr.js';
import { albuminuriaCategory, gfrCategory, kdigoQualitative, kdigoRisk } from './kdigo.js';
import { KFRE_RANGES } from './kfre.js';
import { OUTCOMES } from './outcomes.js';
import { type CalculatorParams, DEFAULT_PARAMS } from './params.js';

/** Calculator id; the eGFR is also what PREVENT and KFRE use as a derived input. */
export const CKD_EPI_CALCULATOR_ID = 'ckd-epi-2021';

/** LOINC of an eGFR by CKD-EPI 2021 (risk-models.md §3; "check that code on loinc.org"). */
export const CKD_EPI_2021_LOINC = '98979-8';

/** The equation is validated in adults (years). */
const ADULT_AGE = [18, 120] as const;

function computeCkdEpi(record: PatientRecord, { asOf }: ModelContext, params: CalculatorParams): CalculatorResult {
  const c = new InputCollector(record, asOf);
  const window = { years: params.recency.kidneyYears };
  const d = c.demographics();
  if (!d) return c.result([]);
  const age = c.age(d, ADULT_AGE);
  const sex = c.sex(d, 'CKD-EPI 2021 has female and male terms');
  const scr = c.measured(withMaxAge(SERUM_CREATININE, window), CREATININE_RANGE_MG_DL);
  if (age === undefined || !sex || scr === undefined) return c.result([]);
  const egfr = ckdEpi2021(scr, age, sex);
  const creatinine = c.used.find((u) => u.name === SERUM_CREATININE.name)!;
  c.use({
    name: 'eGFR',
    value: egfr,
    unit: 'mL/min/{1.73_m2}',
    source: creatinine.source,
    effective: creatinine.effective,
    derivation: `CKD-EPI 2021 from serum creatinine ${scr.toFixed(2)} mg/dL, age ${age}, ${sex} (LOINC ${CKD_EPI_2021_LOINC})`,
  });
  // Albuminuria refines the KDIGO prognosis; without it the row's A1 cell (its lowest risk) is reported, and
  // the gap is listed only below 60 mL/min/1.73 m², where it changes the CKD work-up.
  const uacr = latestObservationValue(c.bundle, withMaxAge(URINE_ACR, window), asOf);
  const acr = uacr.ok || egfr < 60 ? c.accept(uacr, KFRE_RANGES.uacr) : undefined;
  const g = gfrCategory(egfr);
  const a = acr !== undefined ? albuminuriaCategory(acr) : undefined;
  const risk = kdigoRisk(g.category, a?.category);
  const stage = `${g.category} (eGFR ${g.range})${a ? `, ${a.category} (ACR ${a.range})` : ', albuminuria unknown (A1 assumed, the lowest)'}`;
  const prediction: Prediction = {
    calculator: CKD_EPI_CALCULATOR_ID,
    outcome: OUTCOMES.ckdPrognosis,
    score: Math.round(egfr * 10) / 10,
    scoreUnit: 'mL/min/{1.73_m2}',
    qualitativeRisk: kdigoQualitative(risk),
    category: `${stage}: KDIGO ${risk} risk`,
    method:
      'CKD-EPI 2021 creatinine equation, race-free (Inker LA et al., NEJM 2021;385:1737–49); KDIGO 2012 GFR/albuminuria categories and prognosis heat map',
    rationale: `eGFR ${egfr.toFixed(1)} mL/min/1.73 m² by CKD-EPI 2021 from creatinine ${scr.toFixed(2)} mg/dL; ${stage}; KDIGO prognosis ${risk}.`,
    inputsUsed: c.used,
  };
  return c.result([prediction]);
}

/** CKD-EPI 2021 eGFR from serum creatinine (2160-0, 38483-4, 14682-9), reported with its KDIGO category. */
export function createCkdEpiCalculator(params: CalculatorParams = DEFAULT_PARAMS): Calculator {
  return {
    id: CKD_EPI_CALCULATOR_ID,
    title: 'CKD-EPI 2021 eGFR',
    compute: (record, ctx) => computeCkdEpi(record, ctx, params),
  };
}
