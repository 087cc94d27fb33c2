import type { CodeableConcept, Coding } from '@medplum/fhirtypes';
import { AIAST_CODE, AIAST_SYSTEM } from '../intake/resource-facts.js';

/** HL7 AI Transparency on FHIR: resource-level label "Artificial Intelligence asserted" (standards.md §2f). */
export const AIAST: Coding = { system: AIAST_SYSTEM, code: AIAST_CODE, display: 'Artificial Intelligence asserted' };

/** AI Transparency AIDevice type, also the Provenance author agent's role. */
export const AI_DEVICE_TYPE: CodeableConcept = {
  coding: [
    {
      system: 'http://hl7.org/fhir/uv/aitransparency/CodeSystem/AIdeviceTypeCS',
      code: 'Artificial-Intelligence',
      display: 'Artificial Intelligence',
    },
  ],
};

export const PROVENANCE_AUTHOR: CodeableConcept = {
  coding: [
    { system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author', display: 'Author' },
  ],
};

export const PROVENANCE_ASSEMBLER: CodeableConcept = {
  coding: [
    {
      system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
      code: 'assembler',
      display: 'Assembler',
    },
  ],
};

export const ACTIVITY_CREATE: CodeableConcept = {
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE', display: 'create' }],
};

export const RISK_PROBABILITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/risk-probability';

/** Our identifier systems: one for assessment outputs (idempotency keys), one for model Devices. */
export const ASSESSMENT_ID_SYSTEM = 'urn:fhir-assess:assessment';
export const DEVICE_ID_SYSTEM = 'urn:fhir-assess:model';
/** Identifier system of derived Observations (e.g. eGFR); the value is a key of their inputs, not of a run. */
export const DERIVED_ID_SYSTEM = 'urn:fhir-assess:derived';
export const CALCULATOR_SYSTEM = 'http://fhir-assess.dev/CodeSystem/calculator';
/** ClinicalImpression.code system naming the model (id); chains a patient's runs through `previous`. */
export const MODEL_CODE_SYSTEM = 'http://fhir-assess.dev/CodeSystem/model';
