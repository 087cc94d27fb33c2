import type { CodeSet } from '../../models/fhir-inputs/index.js';

/**
 * Code lists of the outcomes that validation looks for after the as-of date. SNOMED codes marked
 * (Synthea) are what the shipped Synthea data writes (checked in ../shared/data/synthea/population:
 * Conditions and the "Cause of Death" Observations); the others are the usual concepts for the same
 * outcome, cited where they come from. ICD-10 prefixes match ICD-10-CM and WHO ICD-10 (codes.ts).
 */

/**
 * Myocardial infarction. SNOMED 22298006 "Myocardial infarction" (Synthea; UMLS C0027051), 57054005 acute MI,
 * 401303003 acute STEMI, 401314000 acute NSTEMI. ICD-10 I21 (acute MI), I22 (subsequent MI).
 * Goff 2013 (PCE) and Khan 2024 (PREVENT) count nonfatal MI in hard ASCVD.
 */
export const MYOCARDIAL_INFARCTION: CodeSet = {
  name: 'Myocardial infarction',
  snomed: ['22298006', '57054005', '401303003', '401314000'],
  icd10Prefixes: ['I21', 'I22'],
};

/**
 * Stroke, fatal or nonfatal. SNOMED 230690007 "Cerebrovascular accident" (Synthea "Stroke"; DICOM CID 3755),
 * 422504002 ischaemic stroke, 274100004 cerebral haemorrhage. ICD-10 I60 (subarachnoid), I61 (intracerebral),
 * I63 (infarction), I64 (not specified). TIA (G45) is not a stroke in the PCE outcome.
 */
export const STROKE_EVENT: CodeSet = {
  name: 'Stroke',
  snomed: ['230690007', '422504002', '274100004'],
  icd10Prefixes: ['I60', 'I61', 'I63', 'I64'],
};

/**
 * Coronary (CHD) death, as a recorded cause of death. SNOMED 22298006 MI, 95281009 "Sudden cardiac death"
 * (Synthea), 410429000 "Cardiac arrest" (Synthea), 53741008 coronary heart disease, 414545008 ischaemic
 * heart disease. ICD-10 I20–I25 (ischaemic heart diseases), I46 (cardiac arrest).
 */
export const CORONARY_DEATH_CAUSES: CodeSet = {
  name: 'Coronary heart disease death',
  snomed: ['22298006', '95281009', '410429000', '53741008', '414545008'],
  icd10Prefixes: ['I20', 'I21', 'I22', 'I23', 'I24', 'I25', 'I46'],
};

/**
 * New heart failure. SNOMED 88805009 chronic congestive heart failure (Synthea), 84114007 heart failure,
 * 42343007 congestive heart failure (DICOM CID 3755). ICD-10 I50, I11.0, I13.0, I13.2 (hypertensive heart
 * disease with heart failure). PREVENT counts incident heart failure (Khan et al., Circulation 2024;149:430).
 */
export const HEART_FAILURE_EVENT: CodeSet = {
  name: 'Heart failure',
  snomed: ['88805009', '84114007', '42343007'],
  icd10Prefixes: ['I50', 'I11.0', 'I13.0', 'I13.2'],
};

/**
 * Kidney failure. Tangri 2011 (KFRE) counts treated kidney failure: dialysis or pre-emptive transplant.
 * Conditions: SNOMED 46177005 end-stage renal disease, 433146000 CKD stage 5, 714152005 CKD 5 on dialysis,
 * 105502003 dependence on renal dialysis; ICD-10 N18.5, N18.6, Z99.2 (dialysis), Z94.0 (kidney transplant).
 * Procedures: SNOMED 265764009 renal dialysis, 302497006 haemodialysis, 71192002 peritoneal dialysis,
 * 70536003 kidney transplant (the KFRE exclusion list, clinical-sets.ts).
 */
export const KIDNEY_FAILURE_EVENT: CodeSet = {
  name: 'Kidney failure',
  snomed: ['46177005', '433146000', '714152005', '105502003'],
  icd10Prefixes: ['N18.5', 'N18.6', 'Z99.2', 'Z94.0'],
};
export const KIDNEY_REPLACEMENT: CodeSet = {
  name: 'Dialysis or kidney transplant',
  snomed: ['265764009', '302497006', '71192002', '70536003'],
};

/**
 * Systemic embolism (with stroke, the CHA2DS2-VASc outcome; Lip 2010). SNOMED 709687000 arterial embolism
 * is not used by Synthea; ICD-10 I74 (arterial embolism and thrombosis).
 */
export const SYSTEMIC_EMBOLISM: CodeSet = {
  name: 'Systemic embolism',
  snomed: ['709687000'],
  icd10Prefixes: ['I74'],
};

/**
 * Major bleeding (HAS-BLED outcome; Pisters 2010 used ISTH-like major bleeding). Intracranial haemorrhage
 * SNOMED 274100004 / 1386000, gastrointestinal haemorrhage 74474003, haemorrhage 131148009; ICD-10 I60–I62
 * (intracranial), K92.0–K92.2 (GI bleeding), K25.0/K25.4 (bleeding ulcer), R58 (haemorrhage NOS).
 * A coded bleed is taken as major: the severity (ISTH criteria) is not in the record.
 */
export const MAJOR_BLEEDING: CodeSet = {
  name: 'Major bleeding',
  snomed: ['274100004', '1386000', '74474003', '131148009'],
  icd10Prefixes: ['I60', 'I61', 'I62', 'K92.0', 'K92.1', 'K92.2', 'K25.0', 'K25.4', 'R58'],
};

/** LOINC 69453-9 "Cause of death [US Standard Certificate of Death]" (Synthea writes it at death). */
export const CAUSE_OF_DEATH_LOINC = '69453-9';

/** eGFR codes for "eGFR < 15": the reported creatinine-based eGFRs the models read (observation-specs.ts EGFR_ANY). */
export const EGFR_LOINC = ['98979-8', '62238-1', '33914-3', '48642-3', '48643-1'];
