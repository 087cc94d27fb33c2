import {
  HDL_CHOLESTEROL,
  type ObservationSpec,
  SERUM_CREATININE,
  SYSTOLIC_BP,
  TOTAL_CHOLESTEROL,
} from './observations.js';
import { SMOKING_STATUS_LOINC } from './smoking.js';
import {
  BILIRUBIN_UNITS,
  BMI_UNITS,
  EGFR_UNITS,
  ENZYME_UNITS,
  HEMOGLOBIN_UNITS,
  OXYGEN_FLOW_UNITS,
  PER_MINUTE_UNITS,
  PERCENT_UNITS,
  SCORE_UNITS,
  TEMPERATURE_UNITS,
  UACR_UNITS,
} from './units.js';

/**
 * LOINC specs for the inputs of the calculators beyond the PCE (docs/risk-models.md §0, §2–§6).
 * Recency windows are left unset here: each calculator applies the window from its parameters
 * (`withMaxAge`), so that a deployment can change them in the models file.
 */

/** BMI, kg/m2: LOINC 39156-5 (Synthea `encounter/vitals.json`). */
export const BODY_MASS_INDEX: ObservationSpec = { name: 'Body mass index', codes: ['39156-5'], units: BMI_UNITS };

/**
 * Urine albumin/creatinine ratio, mg/g: 9318-7 (albumin/creatinine mass ratio), 14959-1 (microalbumin/creatinine,
 * Synthea), 32294-1 (albumin/creatinine ratio), 14958-3 (microalbumin/creatinine mass ratio in 24-hour urine: HL7 CPG
 * ValueSet ckd-valueset-uacr; risk-models.md calls it molar). mg/mmol values are converted (× 8.84 → mg/g).
 */
export const URINE_ACR: ObservationSpec = {
  name: 'Urine albumin/creatinine ratio',
  codes: ['9318-7', '14959-1', '32294-1', '14958-3'],
  units: UACR_UNITS,
};

/** eGFR reported by the lab as CKD-EPI 2021 (98979-8; verified against LOINC, docs/models.md "Codes"). */
export const EGFR_CKD_EPI_2021: ObservationSpec = {
  name: 'eGFR (CKD-EPI 2021, reported)',
  codes: ['98979-8'],
  units: EGFR_UNITS,
};

/**
 * eGFR reported as "by creatinine-based formula (CKD-EPI)" (62238-1): the code does not say which CKD-EPI
 * version; many labs that switched to the race-free 2021 equation still send it.
 */
export const EGFR_CKD_EPI_UNSTATED: ObservationSpec = {
  name: 'eGFR (CKD-EPI, version not stated, reported)',
  codes: ['62238-1'],
  units: EGFR_UNITS,
};

/** eGFR by the MDRD study equation: 33914-3 (what Synthea writes), 48642-3 / 48643-1 (race-specific variants). */
export const EGFR_MDRD: ObservationSpec = {
  name: 'eGFR (MDRD, reported)',
  codes: ['33914-3', '48642-3', '48643-1'],
  units: EGFR_UNITS,
};

/**
 * Any reported creatinine-based eGFR: CKD-EPI 2021 (98979-8), CKD-EPI (62238-1), MDRD (33914-3, 48642-3,
 * 48643-1). KFRE was derived with MDRD eGFR, so it may use them all.
 */
export const EGFR_ANY: ObservationSpec = {
  name: 'eGFR (reported)',
  codes: [...EGFR_CKD_EPI_2021.codes, ...EGFR_CKD_EPI_UNSTATED.codes, ...EGFR_MDRD.codes],
  units: EGFR_UNITS,
};

/**
 * HbA1c, %: 4548-4 (Hemoglobin A1c/Hemoglobin.total in Blood; what Synthea writes) and 17856-6 (the same by
 * HPLC). NGSP % only: an IFCC mmol/mol value (59261-8) is not converted.
 */
export const HBA1C: ObservationSpec = { name: 'HbA1c', codes: ['4548-4', '17856-6'], units: PERCENT_UNITS };

/** Respiratory rate, /min: LOINC 9279-1. */
export const RESPIRATORY_RATE: ObservationSpec = {
  name: 'Respiratory rate',
  codes: ['9279-1'],
  units: PER_MINUTE_UNITS,
};

/** Oxygen saturation, %: 59408-5 (pulse oximetry) or 2708-6 (arterial). */
export const OXYGEN_SATURATION: ObservationSpec = {
  name: 'Oxygen saturation',
  codes: ['59408-5', '2708-6'],
  units: PERCENT_UNITS,
};

/** Heart rate, /min: LOINC 8867-4. */
export const HEART_RATE: ObservationSpec = { name: 'Pulse', codes: ['8867-4'], units: PER_MINUTE_UNITS };

/** Body temperature, Cel: 8310-5 (body temperature) or 8331-1 (oral; what this Synthea data writes). */
export const BODY_TEMPERATURE: ObservationSpec = {
  name: 'Temperature',
  codes: ['8310-5', '8331-1'],
  units: TEMPERATURE_UNITS,
};

/** Glasgow coma scale total: LOINC 9269-2 (3–15). */
export const GCS_TOTAL: ObservationSpec = { name: 'Glasgow coma score', codes: ['9269-2'], units: SCORE_UNITS };

/** Inhaled oxygen flow rate, L/min: LOINC 3151-8. Any flow above 0 means supplemental oxygen. */
export const OXYGEN_FLOW: ObservationSpec = {
  name: 'Inhaled oxygen flow rate',
  codes: ['3151-8'],
  units: OXYGEN_FLOW_UNITS,
};

/** Inhaled oxygen concentration (FiO2), %: 3150-0 or 19996-8. Above 21 % means supplemental oxygen. */
export const INHALED_OXYGEN_CONCENTRATION: ObservationSpec = {
  name: 'Inhaled oxygen concentration',
  codes: ['3150-0', '19996-8'],
  units: PERCENT_UNITS,
};

/** INR: 6301-6 (INR in platelet-poor plasma by coagulation assay) or 34714-6 (INR in blood). */
export const INR: ObservationSpec = { name: 'INR', codes: ['6301-6', '34714-6'], units: SCORE_UNITS };

/** Haemoglobin, g/dL: LOINC 718-7. */
export const HEMOGLOBIN: ObservationSpec = { name: 'Haemoglobin', codes: ['718-7'], units: HEMOGLOBIN_UNITS };

/** Total bilirubin, mg/dL: LOINC 1975-2. */
export const BILIRUBIN: ObservationSpec = { name: 'Total bilirubin', codes: ['1975-2'], units: BILIRUBIN_UNITS };

/** AST, U/L: LOINC 1920-8. */
export const AST: ObservationSpec = { name: 'AST', codes: ['1920-8'], units: ENZYME_UNITS };

/** ALT, U/L: LOINC 1742-6. */
export const ALT: ObservationSpec = { name: 'ALT', codes: ['1742-6'], units: ENZYME_UNITS };

/** Alkaline phosphatase, U/L: LOINC 6768-6. */
export const ALKALINE_PHOSPHATASE: ObservationSpec = {
  name: 'Alkaline phosphatase',
  codes: ['6768-6'],
  units: ENZYME_UNITS,
};

/** Left ventricular ejection fraction, %: LOINC 10230-1. */
export const LV_EJECTION_FRACTION: ObservationSpec = {
  name: 'LV ejection fraction',
  codes: ['10230-1'],
  units: PERCENT_UNITS,
};

/**
 * Observations the calculators judge by a multi-year recency window: the record must hold the newest of each
 * whatever its date, so that an old one is reported as stale (with its date and value), not as missing.
 * Acute vital signs (24 h windows) are left out: their history is long and an old one says nothing.
 */
export const LATEST_VALUE_SPECS: readonly Pick<ObservationSpec, 'codes' | 'panelCodes'>[] = [
  TOTAL_CHOLESTEROL,
  HDL_CHOLESTEROL,
  SYSTOLIC_BP,
  SERUM_CREATININE,
  { codes: [SMOKING_STATUS_LOINC] },
  BODY_MASS_INDEX,
  URINE_ACR,
  EGFR_ANY,
  HBA1C,
  HEMOGLOBIN,
  BILIRUBIN,
  AST,
  ALT,
  ALKALINE_PHOSPHATASE,
];

/** The LOINC codes of {@link LATEST_VALUE_SPECS} (panels included), for `DataRequirement.latestObservationCodes`. */
export const LATEST_VALUE_CODES: readonly string[] = [
  ...new Set(LATEST_VALUE_SPECS.flatMap((s) => [...s.codes, ...(s.panelCodes ?? [])])),
];
