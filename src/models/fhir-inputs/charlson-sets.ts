import type { CodeSet } from './codes.js';

/**
 * Charlson comorbidity categories (Charlson ME et al., J Chronic Dis 1987;40:373–83 weights).
 * SNOMED CT: the mapping of docs/risk-models.md §6 plus the Synthea codes seen in the shipped data (marked).
 * ICD-10: the Quan H et al. (Med Care 2005;43:1130–9) Charlson coding algorithm. "Moderate–severe renal
 * disease" is CKD stage 3 or worse: SNOMED CKD3/CKD4/ESRD, and of Quan's N18 only N18.3–N18.6 (N18.1/N18.2 and
 * the unstaged N18.9 are left out so that mild CKD never scores 2).
 */
export interface CharlsonCategory extends CodeSet {
  key: string;
  points: 1 | 2 | 3 | 6;
  /** A category it replaces when both are present (each disease counts in its highest tier only). */
  supersedes?: string;
  /** Malignancies count only when active or diagnosed within the last 5 years. */
  malignancy?: boolean;
}

// biome-ignore format: one category per line reads like the published table
export const CHARLSON_CATEGORIES: readonly CharlsonCategory[] = [
  { key: 'mi', name: 'Myocardial infarction', points: 1, snomed: ['22298006', '399211009'], icd10Prefixes: ['I21', 'I22', 'I25.2'] },
  { key: 'chf', name: 'Congestive heart failure', points: 1, snomed: ['88805009', '84114007', '42343007'],
    icd10Prefixes: ['I09.9', 'I11.0', 'I13.0', 'I13.2', 'I25.5', 'I42.0', 'I42.5', 'I42.6', 'I42.7', 'I42.8', 'I42.9', 'I43', 'I50', 'P29.0'] },
  { key: 'pvd', name: 'Peripheral vascular disease', points: 1, snomed: ['399957001', '400047006'],
    icd10Prefixes: ['I70', 'I71', 'I73.1', 'I73.8', 'I73.9', 'I77.1', 'I79.0', 'I79.2', 'K55.1', 'K55.8', 'K55.9', 'Z95.8', 'Z95.9'] },
  { key: 'cvd', name: 'Cerebrovascular disease (CVA or TIA)', points: 1, snomed: ['230690007', '422504002', '266257000'],
    icd10Prefixes: ['G45', 'G46', 'H34.0', 'I60', 'I61', 'I62', 'I63', 'I64', 'I65', 'I66', 'I67', 'I68', 'I69'] },
  { key: 'dementia', name: 'Dementia', points: 1, snomed: ['26929004', '52448006'], icd10Prefixes: ['F00', 'F01', 'F02', 'F03', 'F05.1', 'G30', 'G31.1'] },
  { key: 'copd', name: 'Chronic pulmonary disease', points: 1, snomed: ['185086009', '87433001', '13645005', '195967001'],
    icd10Prefixes: ['I27.8', 'I27.9', 'J40', 'J41', 'J42', 'J43', 'J44', 'J45', 'J46', 'J47', 'J60', 'J61', 'J62', 'J63', 'J64', 'J65', 'J66', 'J67', 'J68.4', 'J70.1', 'J70.3'] },
  { key: 'ctd', name: 'Connective tissue disease', points: 1, snomed: ['69896004', '200936003'],
    icd10Prefixes: ['M05', 'M06', 'M31.5', 'M32', 'M33', 'M34', 'M35.1', 'M35.3', 'M36.0'] },
  { key: 'pud', name: 'Peptic ulcer disease', points: 1, snomed: ['13200003'], icd10Prefixes: ['K25', 'K26', 'K27', 'K28'] },
  { key: 'mildLiver', name: 'Mild liver disease', points: 1, snomed: ['19943007', '128302006', '61977001'],
    icd10Prefixes: ['B18', 'K70.0', 'K70.1', 'K70.2', 'K70.3', 'K70.9', 'K71.3', 'K71.4', 'K71.5', 'K71.7', 'K73', 'K74', 'K76.0', 'K76.2', 'K76.3', 'K76.4', 'K76.8', 'K76.9', 'Z94.4'] },
  { key: 'diabetes', name: 'Diabetes without end-organ damage', points: 1, snomed: ['44054006', '46635009', '73211009'],
    icd10Prefixes: ['E10.0', 'E10.1', 'E10.6', 'E10.8', 'E10.9', 'E11.0', 'E11.1', 'E11.6', 'E11.8', 'E11.9', 'E13.0', 'E13.1', 'E13.6', 'E13.8', 'E13.9', 'E14.0', 'E14.1', 'E14.6', 'E14.8', 'E14.9'] },
  { key: 'hemiplegia', name: 'Hemiplegia or paraplegia', points: 2, snomed: ['50582007', '60389000', '698754002'],
    icd10Prefixes: ['G04.1', 'G11.4', 'G80.1', 'G80.2', 'G81', 'G82', 'G83.0', 'G83.1', 'G83.2', 'G83.3', 'G83.4', 'G83.9'] },
  { key: 'renal', name: 'Moderate–severe renal disease (CKD stage 3 or worse)', points: 2, snomed: ['433144002', '431857002', '46177005'],
    icd10Prefixes: ['I12.0', 'I13.1', 'N03.2', 'N03.3', 'N03.4', 'N03.5', 'N03.6', 'N03.7', 'N05.2', 'N05.3', 'N05.4', 'N05.5', 'N05.6', 'N05.7', 'N18.3', 'N18.4', 'N18.5', 'N18.6', 'N19', 'N25.0', 'Z49', 'Z94.0', 'Z99.2'] },
  { key: 'diabetesComplicated', name: 'Diabetes with end-organ damage', points: 2, supersedes: 'diabetes',
    snomed: ['127013003', '368581000119106', '1551000119108', '90781000119102', '422034002', '1501000119109'],
    icd10Prefixes: ['E10.2', 'E10.3', 'E10.4', 'E10.5', 'E10.7', 'E11.2', 'E11.3', 'E11.4', 'E11.5', 'E11.7', 'E13.2', 'E13.3', 'E13.4', 'E13.5', 'E13.7', 'E14.2', 'E14.3', 'E14.4', 'E14.5', 'E14.7'] },
  { key: 'tumour', name: 'Solid tumour without metastasis (within 5 years)', points: 2, malignancy: true,
    snomed: ['254637007', '424132000', '363406005', '93761005', '109838007', '254837009', '126906006', '254632001'],
    icd10Prefixes: ['C0', 'C1', 'C20', 'C21', 'C22', 'C23', 'C24', 'C25', 'C26', 'C30', 'C31', 'C32', 'C33', 'C34', 'C37', 'C38', 'C39', 'C40', 'C41', 'C43', 'C45', 'C46', 'C47', 'C48', 'C49', 'C50', 'C51', 'C52', 'C53', 'C54', 'C55', 'C56', 'C57', 'C58', 'C60', 'C61', 'C62', 'C63', 'C64', 'C65', 'C66', 'C67', 'C68', 'C69', 'C70', 'C71', 'C72', 'C73', 'C74', 'C75', 'C76', 'C97'] },
  { key: 'leukaemia', name: 'Leukaemia', points: 2, malignancy: true, snomed: ['93143009', '91861009'], icd10Prefixes: ['C90', 'C91', 'C92', 'C93', 'C94', 'C95', 'C96'] },
  { key: 'lymphoma', name: 'Lymphoma', points: 2, malignancy: true, snomed: ['118600007'], icd10Prefixes: ['C81', 'C82', 'C83', 'C84', 'C85', 'C88'] },
  { key: 'severeLiver', name: 'Moderate–severe liver disease', points: 3, supersedes: 'mildLiver',
    icd10Prefixes: ['I85.0', 'I85.9', 'I86.4', 'I98.2', 'K70.4', 'K71.1', 'K72.1', 'K72.9', 'K76.5', 'K76.6', 'K76.7'] },
  { key: 'metastatic', name: 'Metastatic solid tumour', points: 6, supersedes: 'tumour', malignancy: true,
    snomed: ['94260004', '314994000', '128462008'], icd10Prefixes: ['C77', 'C78', 'C79', 'C80'] },
  { key: 'aids', name: 'AIDS / HIV disease', points: 6, snomed: ['62479008', '86406008'], icd10Prefixes: ['B20', 'B21', 'B22', 'B24'] },
];
