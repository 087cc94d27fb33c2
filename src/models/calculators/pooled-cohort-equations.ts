import type { CodeableConcept } from '@medplum/fhirtypes';
import type { Calculator, CalculatorResult } from '../calculator.js';
import {
  activeConditions,
  activeMedications,
  DIABETES,
  everConditions,
  getDemographics,
  getSmokingStatus,
  HDL_CHOLESTEROL,
  latestObservationValue,
  PRIOR_ASCVD,
  SYSTOLIC_BP,
  TOTAL_CHOLESTEROL,
  withMaxAge,
} from '../fhir-inputs/index.js';
import { formatPercent } from '../format.js';
import type { InputMissing, InputUsed, ModelContext, PatientRecord, Prediction, QualitativeRisk } from '../model.js';
import { type CalculatorParams, DEFAULT_PARAMS, type Recency } from './params.js';

/**
 * 2013 ACC/AHA Pooled Cohort Equations (Goff DC Jr et al., Circulation 2014;129(25 Suppl 2):S49–S73,
 * Table A): 10-year risk of a first hard ASCVD event. Coefficients as in docs/risk-models.md §1, which match
 * vcastro/CVrisk `data-raw/score_coef.R` and preventr.
 */

export type PceSex = 'female' | 'male';
/** `other` uses the white equations, as the guideline advises. */
export type PceRace = 'white' | 'african-american' | 'other';

export interface PceInputs {
  /** Years. */
  age: number;
  sex: PceSex;
  race: PceRace;
  /** mg/dL. */
  totalCholesterol: number;
  /** mg/dL. */
  hdl: number;
  /** mmHg. */
  systolicBp: number;
  treatedBp: boolean;
  currentSmoker: boolean;
  diabetes: boolean;
}

/** Columns of `PCE_TABLE`, in the order of Goff 2013 Table A. */
export const PCE_GROUPS = ['white-female', 'african-american-female', 'white-male', 'african-american-male'] as const;
export type PceGroup = (typeof PCE_GROUPS)[number];

/**
 * Goff 2013 Table A, row for row as in docs/risk-models.md §1 (0 where the table has "–").
 * Columns: white female, African American female, white male, African American male.
 */
// biome-ignore format: keep the table aligned with the published one
export const PCE_TABLE = {
  lnAge:               [-29.799, 17.114, 12.344, 2.469],
  lnAgeSq:             [4.884, 0, 0, 0],
  lnTc:                [13.54, 0.94, 11.853, 0.302],
  lnAgeLnTc:           [-3.114, 0, -2.664, 0],
  lnHdl:               [-13.578, -18.92, -7.99, -0.307],
  lnAgeLnHdl:          [3.149, 4.475, 1.769, 0],
  lnTreatedSbp:        [2.019, 29.291, 1.797, 1.916],
  lnAgeLnTreatedSbp:   [0, -6.432, 0, 0],
  lnUntreatedSbp:      [1.957, 27.82, 1.764, 1.809],
  lnAgeLnUntreatedSbp: [0, -6.087, 0, 0],
  smoker:              [7.574, 0.691, 7.837, 0.549],
  lnAgeSmoker:         [-1.665, 0, -1.795, 0],
  diabetes:            [0.661, 0.874, 0.658, 0.645],
  /** Mean of coefficient × value in the derivation cohort. */
  meanSum:             [-29.18, 86.61, 61.18, 19.54],
  /** Baseline 10-year survival S₀(10). */
  baselineSurvival:    [0.9665, 0.9533, 0.9144, 0.8954],
} as const satisfies Record<string, readonly [number, number, number, number]>;

type PceCoefficients = { [K in keyof typeof PCE_TABLE]: number };

/** The coefficient column for one group; `other` race uses the white equations. */
export function pceCoefficients(race: PceRace, sex: PceSex): PceCoefficients {
  const group: PceGroup = `${race === 'african-american' ? 'african-american' : 'white'}-${sex}`;
  const col = PCE_GROUPS.indexOf(group);
  return Object.fromEntries(Object.entries(PCE_TABLE).map(([k, v]) => [k, v[col]])) as PceCoefficients;
}

/** Valid input ranges of the guideline / ACC Risk Estimator Plus (inclusive): years, mg/dL, mg/dL, mmHg. */
export const PCE_RANGES = {
  age: [40, 79],
  totalCholesterol: [130, 320],
  hdl: [20, 100],
  systolicBp: [90, 200],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * The PCE arithmetic: IndSum = Σ coefficient × term, risk = 1 − S₀(10)^exp(IndSum − MeanSum).
 * No range checks here: callers validate against `PCE_RANGES` first.
 * @param inputs - ages in years, lipids in mg/dL, SBP in mmHg
 * @returns risk on the 0–1 scale and the individual sum
 */
export function pooledCohortRisk(inputs: PceInputs): { risk: number; indSum: number } {
  const c = pceCoefficients(inputs.race, inputs.sex);
  const lnAge = Math.log(inputs.age);
  const lnTc = Math.log(inputs.totalCholesterol);
  const lnHdl = Math.log(inputs.hdl);
  const lnSbp = Math.log(inputs.systolicBp);
  const sbpTerm = inputs.treatedBp
    ? c.lnTreatedSbp * lnSbp + c.lnAgeLnTreatedSbp * lnAge * lnSbp
    : c.lnUntreatedSbp * lnSbp + c.lnAgeLnUntreatedSbp * lnAge * lnSbp;
  const indSum =
    c.lnAge * lnAge +
    c.lnAgeSq * lnAge * lnAge +
    c.lnTc * lnTc +
    c.lnAgeLnTc * lnAge * lnTc +
    c.lnHdl * lnHdl +
    c.lnAgeLnHdl * lnAge * lnHdl +
    sbpTerm +
    (inputs.currentSmoker ? c.smoker + c.lnAgeSmoker * lnAge : 0) +
    (inputs.diabetes ? c.diabetes : 0);
  return { risk: 1 - c.baselineSurvival ** Math.exp(indSum - c.meanSum), indSum };
}

/** Guideline category of a 10-year ASCVD risk and our FHIR qualitativeRisk mapping. */
export interface PceCategory {
  label: 'low' | 'borderline' | 'intermediate' | 'high';
  /** e.g. "borderline (5–<7.5 %)". */
  category: string;
  qualitativeRisk: QualitativeRisk;
}

/**
 * 2018 AHA/ACC cholesterol / 2019 primary-prevention categories. FHIR's risk-probability codes have no
 * "borderline" or "intermediate", so both map to `moderate`; `high` is kept for the guideline's ≥20 % band
 * so that the code never claims more than the guideline does. The guideline band stays in `category`.
 */
export function pceCategory(risk: number): PceCategory {
  if (risk < 0.05) return { label: 'low', category: 'low (<5 %)', qualitativeRisk: 'low' };
  if (risk < 0.075) return { label: 'borderline', category: 'borderline (5–<7.5 %)', qualitativeRisk: 'moderate' };
  if (risk < 0.2) return { label: 'intermediate', category: 'intermediate (7.5–<20 %)', qualitativeRisk: 'moderate' };
  return { label: 'high', category: 'high (≥20 %)', qualitativeRisk: 'high' };
}

/** Outcome of the PCE prediction. Text only: no SNOMED concept for "hard ASCVD" could be verified. */
export const PCE_OUTCOME: CodeableConcept = {
  text: 'Hard ASCVD event (nonfatal MI, CHD death, fatal or nonfatal stroke)',
};

/** `Prediction.calculator` of PCE results. */
export const PCE_CALCULATOR_ID = 'pce-2013';

/** What the FHIR extraction found: the equation inputs, or what stopped them. */
interface Gathered {
  used: InputUsed[];
  missing: InputMissing[];
  basis: Set<string>;
}

function use(acc: Gathered, input: InputUsed): void {
  acc.used.push(input);
  if (input.source) acc.basis.add(input.source);
}

/** A lab/vital value within `range`, or undefined with the reason recorded in `acc.missing`. */
function measured(
  acc: Gathered,
  value: ReturnType<typeof latestObservationValue>,
  range: readonly [number, number],
): number | undefined {
  if (!value.ok) {
    acc.missing.push({
      name: value.name,
      reason: value.reason,
      detail: value.detail,
      ...(value.last && { last: value.last }),
    });
    return undefined;
  }
  const [lo, hi] = range;
  if (value.value < lo || value.value > hi) {
    const detail = `${value.value.toFixed(1)} ${value.unit} on ${value.effective} (${value.source}) is outside ${lo}–${hi}`;
    const last = { value: value.value, unit: value.unit, effective: value.effective, source: value.source };
    acc.missing.push({ name: value.name, reason: 'out-of-range', detail, last });
    return undefined;
  }
  use(acc, {
    name: value.name,
    value: value.value,
    unit: value.unit,
    source: value.source,
    effective: value.effective,
  });
  return value.value;
}

/** Age, sex and race from the Patient; age outside 40–79 or a non-binary sex means no PCE estimate. */
function demographicInputs(
  acc: Gathered,
  record: PatientRecord,
  asOf: Date,
): Pick<PceInputs, 'age' | 'sex' | 'race'> | undefined {
  const d = getDemographics(record.bundle, asOf);
  if (!d) {
    acc.missing.push({ name: 'Patient', reason: 'missing', detail: 'the record holds no Patient' });
    return undefined;
  }
  const [lo, hi] = PCE_RANGES.age;
  let age: number | undefined;
  if (d.ageYears === undefined) {
    acc.missing.push({ name: 'Age', reason: 'missing', detail: `birthDate "${d.birthDate ?? ''}" gives no whole age` });
  } else if (d.ageYears < lo || d.ageYears > hi) {
    acc.missing.push({ name: 'Age', reason: 'out-of-range', detail: `${d.ageYears} y is outside ${lo}–${hi}` });
  } else {
    age = d.ageYears;
    use(acc, { name: 'Age', value: age, unit: 'a', source: d.source });
  }
  const sex = d.sex === 'male' || d.sex === 'female' ? d.sex : undefined;
  if (sex) {
    use(acc, { name: 'Sex', value: sex, source: d.source });
  } else {
    acc.missing.push({
      name: 'Sex',
      reason: d.sex ? 'not-applicable' : 'missing',
      detail: 'the PCE need male or female',
    });
  }
  const race: PceRace = d.race === 'black' ? 'african-american' : d.race === 'white' ? 'white' : 'other';
  const raceText = {
    black: 'African American',
    white: 'white',
    other: 'other (white equations)',
    unknown: 'not recorded (white equations)',
  };
  use(acc, { name: 'Race', value: raceText[d.race], source: d.source });
  return age !== undefined && sex ? { age, sex, race } : undefined;
}

/** Smoking, diabetes and antihypertensive treatment; only smoking can be missing (absence of a diagnosis or drug is "no"). */
function riskFactorInputs(
  acc: Gathered,
  record: PatientRecord,
  asOf: Date,
  recency: Recency,
): Pick<PceInputs, 'currentSmoker' | 'diabetes' | 'treatedBp'> | undefined {
  const smoking = getSmokingStatus(record.bundle, asOf, recency.smokingYears);
  let currentSmoker: boolean | undefined;
  if (!smoking.ok) {
    const { reason, detail, last } = smoking;
    acc.missing.push({ name: 'Smoking status', reason, detail, ...(last && { last }) });
  } else if (smoking.status === 'unknown') {
    acc.missing.push({ name: 'Smoking status', reason: 'missing', detail: `recorded as unknown (${smoking.source})` });
  } else {
    currentSmoker = smoking.status === 'current';
    use(acc, { name: 'Current smoker', value: currentSmoker, source: smoking.source, effective: smoking.effective });
  }
  const diabetes = activeConditions(record.bundle, DIABETES, asOf);
  use(acc, {
    name: 'Diabetes',
    value: diabetes.length > 0,
    source: diabetes[0]?.source,
    effective: diabetes[0]?.onset,
  });
  const meds = activeMedications(record.bundle, 'antihypertensive', asOf, recency.medicationDays);
  use(acc, {
    name: 'Treated for hypertension',
    value: meds.length > 0,
    source: meds[0]?.source,
    effective: meds[0]?.authoredOn,
  });
  for (const m of [...diabetes, ...meds]) acc.basis.add(m.source);
  return currentSmoker === undefined
    ? undefined
    : { currentSmoker, diabetes: diabetes.length > 0, treatedBp: meds.length > 0 };
}

function groupLabel(inputs: PceInputs): string {
  const race = inputs.race === 'african-american' ? 'African American' : 'white';
  return `${race} ${inputs.sex}${inputs.race === 'other' ? ' (other race: white equation)' : ''}`;
}

/** Extracts the inputs, applies the exclusion and range rules, and runs the equation. */
function computePce(record: PatientRecord, { asOf }: ModelContext, { recency }: CalculatorParams): CalculatorResult {
  const prior = everConditions(record.bundle, PRIOR_ASCVD, asOf);
  if (prior.length > 0) {
    const found = prior.map((p) => `${p.label} (${p.source}${p.onset ? `, ${p.onset}` : ''})`).join('; ');
    return {
      missing: [],
      basis: [],
      exclusion: `prior clinical ASCVD: ${found}; the PCE are for primary prevention only`,
    };
  }
  const acc: Gathered = { used: [], missing: [], basis: new Set() };
  const demo = demographicInputs(acc, record, asOf);
  const latest = (spec: typeof TOTAL_CHOLESTEROL, years: number) =>
    latestObservationValue(record.bundle, withMaxAge(spec, { years }), asOf);
  const totalCholesterol = measured(acc, latest(TOTAL_CHOLESTEROL, recency.lipidsYears), PCE_RANGES.totalCholesterol);
  const hdl = measured(acc, latest(HDL_CHOLESTEROL, recency.lipidsYears), PCE_RANGES.hdl);
  const systolicBp = measured(acc, latest(SYSTOLIC_BP, recency.vitalsYears), PCE_RANGES.systolicBp);
  const factors = riskFactorInputs(acc, record, asOf, recency);
  if (!demo || !factors || totalCholesterol === undefined || hdl === undefined || systolicBp === undefined) {
    return { missing: acc.missing, basis: [] };
  }
  const inputs: PceInputs = { ...demo, ...factors, totalCholesterol, hdl, systolicBp };
  const { risk, indSum } = pooledCohortRisk(inputs);
  const cat = pceCategory(risk);
  const prediction: Prediction = {
    calculator: PCE_CALCULATOR_ID,
    outcome: PCE_OUTCOME,
    probability: risk,
    qualitativeRisk: cat.qualitativeRisk,
    horizonYears: 10,
    category: cat.category,
    method:
      '2013 ACC/AHA Pooled Cohort Equations (Goff DC Jr et al., Circulation 2014;129(25 Suppl 2):S49–S73, Table A)',
    rationale:
      `10-year risk of a first hard ASCVD event ${formatPercent(risk, 1)} (${risk.toFixed(4)}), ${cat.category} ` +
      `in the 2018/2019 ACC/AHA bands; ${groupLabel(inputs)} equation, IndSum ${indSum.toFixed(3)}` +
      `${inputs.treatedBp ? ', treated SBP terms' : ''}.`,
    inputsUsed: acc.used,
  };
  return { prediction, missing: [], basis: [...acc.basis] };
}

/** The 2013 ACC/AHA Pooled Cohort Equations as a calculator over a FHIR record, with the given recency windows. */
export function createPceCalculator(params: CalculatorParams = DEFAULT_PARAMS): Calculator {
  return {
    id: PCE_CALCULATOR_ID,
    title: '2013 ACC/AHA Pooled Cohort Equations',
    compute: (record, ctx) => computePce(record, ctx, params),
  };
}

/** The PCE calculator with default parameters. */
export const pceCalculator: Calculator = createPceCalculator();
