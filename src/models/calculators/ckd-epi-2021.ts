import { createHash } from 'node:crypto';
import type { Calculator, CalculatorResult } from '../calculator.js';
import {
  ageInYears,
  latestObservationValue,
  parseFhirDate,
  SERUM_CREATININE,
  URINE_ACR,
  withMaxAge,
} from '../fhir-inputs/index.js';
import type { DerivedValue, InputUsed, ModelContext, PatientRecord, Prediction } from '../model.js';
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

const EQUATION = 'CKD-EPI 2021 creatinine equation, race-free (Inker LA et al., NEJM 2021;385:1737–49)';

/**
 * The eGFR as the lab would have reported it with the creatinine: age at the draw (whole years), effective at the
 * draw, derived from that Observation. Its key depends only on those inputs, so a later assessment of the same
 * creatinine finds the Observation already written. (The prediction itself uses the age at as-of, like every
 * calculator; the two differ only when a birthday fell in between.)
 */
function derivedEgfr(
  patientId: string,
  birthDate: string | undefined,
  sex: 'male' | 'female',
  scr: number,
  creatinine: InputUsed,
): DerivedValue | undefined {
  const drawn = parseFhirDate(creatinine.effective);
  const age = drawn && ageInYears(birthDate, drawn);
  if (age === undefined || age < ADULT_AGE[0] || !creatinine.source || !creatinine.effective) return undefined;
  const value = Math.round(ckdEpi2021(scr, age, sex) * 10) / 10;
  const inputs = [patientId, creatinine.source, scr.toFixed(4), age, sex, CKD_EPI_CALCULATOR_ID];
  return {
    code: {
      code: CKD_EPI_2021_LOINC,
      display:
        'Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)',
      text: 'eGFR (CKD-EPI 2021)',
    },
    value,
    unit: 'mL/min/{1.73_m2}',
    effective: creatinine.effective,
    derivedFrom: [creatinine.source],
    method: EQUATION,
    derivation: `serum creatinine ${scr.toFixed(2)} mg/dL (${creatinine.source}), age ${age} at the draw, ${sex}`,
    key: createHash('sha256').update(inputs.join('|')).digest('hex').slice(0, 32),
  };
}

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
    method: `${EQUATION}; KDIGO 2012 GFR/albuminuria categories and prognosis heat map`,
    rationale: `eGFR ${egfr.toFixed(1)} mL/min/1.73 m² by CKD-EPI 2021 from creatinine ${scr.toFixed(2)} mg/dL; ${stage}; KDIGO prognosis ${risk}.`,
    inputsUsed: c.used,
  };
  const derived = derivedEgfr(record.patientId, d.birthDate, sex, scr, creatinine);
  if (derived) prediction.derived = [derived];
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
