import type { Reference, Resource } from '@medplum/fhirtypes';
import { FHIR_ID_SOURCE } from '../fhir/fhir-id.js';

export const AIAST_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue';
export const AIAST_CODE = 'AIAST';

/** Resource types this service writes: a change to one of them never starts an assessment. */
export const OWN_OUTPUT_TYPES = new Set(['RiskAssessment', 'ClinicalImpression', 'Provenance', 'Device']);

/** True when the resource carries the AI-asserted security label (our own write-backs, or another AI's). */
export function isAiAsserted(resource: Resource): boolean {
  const security = resource.meta?.security;
  return Array.isArray(security) && security.some((c) => c?.system === AIAST_SYSTEM && c?.code === AIAST_CODE);
}

const PATIENT_REF = new RegExp(`^(?:.*\\/)?Patient\\/(${FHIR_ID_SOURCE})(?:\\/_history\\/.*)?$`);

/** Patient id from a `Patient/x` (or absolute `.../Patient/x`) reference. */
export function patientIdFromReference(ref: Reference | undefined): string | undefined {
  const m = ref?.reference ? PATIENT_REF.exec(ref.reference) : null;
  return m?.[1];
}

/** Fields that point at the patient a resource is about, in the order FHIR compartments use them. */
const PATIENT_FIELDS = ['subject', 'patient', 'beneficiary', 'individual'] as const;

/** The patient a resource concerns: itself for a Patient, else its subject/patient reference. */
export function patientIdOf(resource: Resource): string | undefined {
  if (resource.resourceType === 'Patient') return resource.id;
  const r = resource as unknown as Record<string, Reference | undefined>;
  for (const f of PATIENT_FIELDS) {
    const id = patientIdFromReference(r[f]);
    if (id) return id;
  }
  return undefined;
}
