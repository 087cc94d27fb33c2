import type { CodeSet } from './codes.js';

/**
 * Condition and procedure code sets used by CHA2DS2-VASc, HAS-BLED, KFRE and PREVENT
 * (docs/risk-models.md §0, §2, §4). SNOMED codes marked "(Synthea)" occur in the shipped Synthea data;
 * the others come from risk-models.md or are well-known concepts not checked against a terminology server.
 */

/** Atrial fibrillation or flutter: SNOMED 49436004 (Synthea), 5370000 (flutter); ICD-10 I48. */
export const ATRIAL_FIBRILLATION: CodeSet = {
  name: 'Atrial fibrillation or flutter',
  snomed: ['49436004', '5370000'],
  icd10Prefixes: ['I48'],
};

/**
 * Heart failure / LV dysfunction: SNOMED 88805009 chronic CHF (Synthea), 84114007 heart failure, 42343007 CHF;
 * ICD-10 I50, I11.0, I13.0, I13.2.
 */
export const HEART_FAILURE: CodeSet = {
  name: 'Heart failure',
  snomed: ['88805009', '84114007', '42343007'],
  icd10Prefixes: ['I50', 'I11.0', 'I13.0', 'I13.2'],
};

/** Stroke (for HAS-BLED "S"): SNOMED 230690007 (Synthea), 422504002 ischaemic stroke; ICD-10 I60–I64, I69. */
export const STROKE: CodeSet = {
  name: 'Stroke',
  snomed: ['230690007', '422504002'],
  icd10Prefixes: ['I60', 'I61', 'I62', 'I63', 'I64', 'I69'],
};

/**
 * Stroke, TIA or thromboembolism (CHA2DS2-VASc "S2"): stroke codes plus TIA 266257000; ICD-10 I63, I64, G45
 * (TIA), I74 (arterial embolism), I69.3/I69.4 (sequelae of infarction / stroke).
 */
export const STROKE_TIA_THROMBOEMBOLISM: CodeSet = {
  name: 'Stroke, TIA or thromboembolism',
  snomed: ['230690007', '422504002', '266257000'],
  icd10Prefixes: ['I63', 'I64', 'G45', 'I74', 'I69.3', 'I69.4'],
};

/**
 * Vascular disease (CHA2DS2-VASc "V"): prior MI 22298006/399211009, PAD 399957001, peripheral vascular disease
 * 400047006, and coronary heart disease 53741008 (2020 ESC counts angiographically significant CAD);
 * ICD-10 I21, I22, I25 (chronic ischaemic heart disease incl. I25.2 old MI), I70, I73.9.
 */
export const VASCULAR_DISEASE: CodeSet = {
  name: 'Vascular disease (MI, CAD, PAD)',
  snomed: ['22298006', '399211009', '399957001', '400047006', '53741008'],
  icd10Prefixes: ['I21', 'I22', 'I25', 'I70', 'I73.9'],
};

/**
 * Kidney failure already treated or end-stage: ESRD 46177005, dialysis-dependent 105502003; ICD-10 N18.6 (ESRD),
 * Z99.2 (dependence on dialysis), Z94.0 (kidney transplant status), Z49 (dialysis care).
 */
export const KIDNEY_FAILURE: CodeSet = {
  name: 'End-stage kidney disease, dialysis or kidney transplant',
  snomed: ['46177005', '105502003'],
  icd10Prefixes: ['N18.6', 'Z99.2', 'Z94.0', 'Z49'],
};

/** Dialysis or kidney transplant procedures: 265764009 renal dialysis, 302497006 haemodialysis, 71192002 peritoneal dialysis, 70536003 kidney transplant. */
export const KIDNEY_REPLACEMENT_PROCEDURES: CodeSet = {
  name: 'Dialysis or kidney transplant procedure',
  snomed: ['265764009', '302497006', '71192002', '70536003'],
};

/** Liver cirrhosis (HAS-BLED "abnormal liver function"): SNOMED 19943007; ICD-10 K70.3, K71.7, K74.6. */
export const LIVER_CIRRHOSIS: CodeSet = {
  name: 'Cirrhosis of liver',
  snomed: ['19943007'],
  icd10Prefixes: ['K70.3', 'K71.7', 'K74.6'],
};

/**
 * Bleeding history or predisposition (HAS-BLED "B"): anaemia 271737000 (Synthea), thrombocytopenia 302215000,
 * gastrointestinal haemorrhage 74474003, intracranial haemorrhage 1386000; ICD-10 D50–D64 (anaemias),
 * D69.6 (thrombocytopenia), K92.0–K92.2 (GI bleeding), I60–I62 (intracranial haemorrhage), R58 (haemorrhage).
 */
export const BLEEDING_PREDISPOSITION: CodeSet = {
  name: 'Bleeding history or predisposition',
  snomed: ['271737000', '302215000', '74474003', '1386000'],
  icd10Prefixes: [
    'D50',
    'D51',
    'D52',
    'D53',
    'D55',
    'D56',
    'D57',
    'D58',
    'D59',
    'D60',
    'D61',
    'D62',
    'D63',
    'D64',
    'D69.6',
    'K92.0',
    'K92.1',
    'K92.2',
    'I60',
    'I61',
    'I62',
    'R58',
  ],
};

/** Alcohol use disorder (HAS-BLED "D: alcohol"): SNOMED 7200002 alcoholism (Synthea); ICD-10 F10.1, F10.2. */
export const ALCOHOL_EXCESS: CodeSet = {
  name: 'Alcohol use disorder',
  snomed: ['7200002'],
  icd10Prefixes: ['F10.1', 'F10.2'],
};

/** Acute confusion / delirium (NEWS2 "new confusion", qSOFA altered mentation): SNOMED 286933003, 2776000; ICD-10 F05, R41.0. */
export const ACUTE_CONFUSION: CodeSet = {
  name: 'New confusion or delirium',
  snomed: ['286933003', '2776000'],
  icd10Prefixes: ['F05', 'R41.0'],
};
