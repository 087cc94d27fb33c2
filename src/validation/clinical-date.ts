import type { Resource } from '@medplum/fhirtypes';
import { parseFhirDate } from '../models/fhir-inputs/dates.js';

type Any = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const periodStart = (v: unknown): string | undefined => str((v as { start?: unknown } | undefined)?.start);

/**
 * Where each resource type keeps the date it became clinically true (the first element present
 * wins). Why not `meta.lastUpdated`: that is when the EHR stored the resource (a migration, a load),
 * not when it happened, so it can neither keep the future out nor date an outcome.
 */
const DATE_OF: Record<string, (r: Any) => string | undefined> = {
  Observation: (r) =>
    str(r.effectiveDateTime) ?? str(r.effectiveInstant) ?? periodStart(r.effectivePeriod) ?? str(r.issued),
  Condition: (r) => str(r.onsetDateTime) ?? periodStart(r.onsetPeriod) ?? str(r.recordedDate),
  Procedure: (r) => str(r.performedDateTime) ?? periodStart(r.performedPeriod),
  MedicationRequest: (r) => str(r.authoredOn),
  MedicationStatement: (r) => str(r.effectiveDateTime) ?? periodStart(r.effectivePeriod) ?? str(r.dateAsserted),
  Encounter: (r) => periodStart(r.period),
  DiagnosticReport: (r) => str(r.effectiveDateTime) ?? periodStart(r.effectivePeriod) ?? str(r.issued),
  Immunization: (r) => str(r.occurrenceDateTime) ?? str(r.recorded),
  AllergyIntolerance: (r) => str(r.onsetDateTime) ?? str(r.recordedDate),
  CarePlan: (r) => periodStart(r.period) ?? str(r.created),
  Claim: (r) => periodStart(r.billablePeriod) ?? str(r.created),
  ExplanationOfBenefit: (r) => periodStart(r.billablePeriod) ?? str(r.created),
  ImagingStudy: (r) => str(r.started),
  Goal: (r) => str(r.startDate) ?? str(r.statusDate),
};

/** The instant a resource became clinically true, or undefined when it carries no clinical date. */
export function clinicalDate(resource: Resource): Date | undefined {
  return parseFhirDate(DATE_OF[resource.resourceType]?.(resource as unknown as Any));
}

/** The latest instant a resource records (an Encounter's end, else its clinical date): "last contact". */
export function latestDate(resource: Resource): Date | undefined {
  const r = resource as unknown as Any;
  const end = str((r.period as { end?: unknown } | undefined)?.end);
  return parseFhirDate(end) ?? clinicalDate(resource);
}
