import type { CodeSet } from './codes.js';

/**
 * Diabetes mellitus (for PCE/PREVENT "diabetes: yes").
 * SNOMED 44054006 type 2, 46635009 type 1, 73211009 diabetes mellitus (docs/risk-models.md §1), plus the
 * Synthea diabetic-complication codes that imply diabetes (§0 and Synthea output). ICD-10 E08–E14.
 */
export const DIABETES: CodeSet = {
  name: 'Diabetes mellitus',
  snomed: [
    '44054006',
    '46635009',
    '73211009',
    '127013003', // diabetic renal disease
    '368581000119106', // neuropathy due to type 2 diabetes
    '1551000119108', // non-proliferative diabetic retinopathy due to T2DM
    '422034002', // diabetic retinopathy associated with T2DM
    '1501000119109', // proliferative diabetic retinopathy due to T2DM
    '90781000119102', // microalbuminuria due to T2DM
  ],
  icd10Prefixes: ['E08', 'E09', 'E10', 'E11', 'E13', 'E14'],
};

/**
 * Prior clinical ASCVD: the PCE apply to primary prevention only (Goff 2013). The 2018 guideline definition
 * covers ACS/MI, angina, revascularisation, stroke, TIA and atherosclerotic PAD including aortic aneurysm.
 * SNOMED: MI 22298006, history of MI 399211009, CHD 53741008, stroke 230690007, TIA 266257000,
 * PAD 399957001 and peripheral vascular disease 400047006 (DICOM CID 3756).
 * ICD-10: I20–I25 (ischaemic heart disease incl. I25.2 old MI), I63/I64 (ischaemic/unspecified stroke),
 * I69.3 (sequelae of cerebral infarction), G45 (TIA), I70–I72 (atherosclerosis, aortic and other aneurysm),
 * I73.8/I73.9 (other/unspecified PVD), Z95.1/Z95.5 (CABG graft / coronary stent present).
 * I73.0 (Raynaud) and I73.1 (thromboangiitis obliterans) are left out on purpose: they are not atherosclerotic.
 */
export const PRIOR_ASCVD: CodeSet = {
  name: 'Clinical ASCVD',
  snomed: ['22298006', '399211009', '53741008', '230690007', '266257000', '399957001', '400047006'],
  icd10Prefixes: [
    'I20',
    'I21',
    'I22',
    'I23',
    'I24',
    'I25',
    'I63',
    'I64',
    'I69.3',
    'G45',
    'I70',
    'I71',
    'I72',
    'I73.8',
    'I73.9',
    'Z95.1',
    'Z95.5',
  ],
};

/** Hypertension: Synthea v2.x uses 38341003, newer releases 59621000 (docs/shared/data/README.md); ICD-10 I10–I16. */
export const HYPERTENSION: CodeSet = {
  name: 'Hypertension',
  snomed: ['38341003', '59621000'],
  icd10Prefixes: ['I10', 'I11', 'I12', 'I13', 'I15', 'I16'],
};
