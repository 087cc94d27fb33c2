import type { CodeableConcept } from '@medplum/fhirtypes';
import { SYSTEM } from '../fhir-inputs/index.js';

/**
 * Outcome concepts of the predictions. SNOMED CT codes only where the concept is unambiguous and well known
 * (heart failure, stroke, death, end-stage renal disease); composite outcomes have text only, since no single
 * code means e.g. "ASCVD event".
 */
const snomed = (code: string, display: string, text: string): CodeableConcept => ({
  coding: [{ system: SYSTEM.snomed, code, display }],
  text,
});

export const OUTCOMES = {
  totalCvd: { text: 'Total cardiovascular disease (ASCVD or heart failure)' },
  ascvd: { text: 'ASCVD event (MI, CHD death, stroke)' },
  heartFailure: snomed('84114007', 'Heart failure', 'Heart failure'),
  kidneyFailure: snomed('46177005', 'End-stage renal disease', 'Kidney failure treated with dialysis or transplant'),
  ckdPrognosis: { text: 'Adverse outcomes of chronic kidney disease (KDIGO prognosis)' },
  stroke: snomed('230690007', 'Cerebrovascular accident', 'Stroke or systemic thromboembolism'),
  majorBleeding: { text: 'Major bleeding on anticoagulation' },
  deterioration: { text: 'Acute clinical deterioration (NEWS2)' },
  sepsisPoorOutcome: { text: 'Poor outcome of suspected infection (in-hospital death or ICU stay ≥3 days)' },
  death: snomed('419620001', 'Death', 'Death from any cause'),
} as const satisfies Record<string, CodeableConcept>;
