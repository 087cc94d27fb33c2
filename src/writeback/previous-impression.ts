import type { ClinicalImpression, Reference } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import { ASSESSMENT_ID_SYSTEM, MODEL_CODE_SYSTEM } from './ai-transparency.js';

/** Page size of the search, resources: a patient has one impression per model per record change. */
const PAGE_SIZE = 100;

/**
 * The patient's most recent ClinicalImpression written by this model (any version), for
 * `ClinicalImpression.previous`. Searches by subject + our identifier system (`identifier=system|`
 * matches any value in it; R4 ClinicalImpression has no `code` search parameter), then keeps the
 * model's own (by `code`), leaves out this assessment's impression (a retry must not point at itself)
 * and takes the newest by `date`, then `meta.lastUpdated`. Sorting is done here: not every EHR sorts.
 */
export async function findPreviousImpression(
  client: FhirClient,
  patientId: string,
  modelId: string,
  ownIdentifier: string,
): Promise<Reference<ClinicalImpression> | undefined> {
  const found = await client.searchAll<ClinicalImpression>('ClinicalImpression', {
    subject: `Patient/${patientId}`,
    identifier: `${ASSESSMENT_ID_SYSTEM}|`,
    // Only what the choice needs (a server that ignores _elements sends whole resources: still correct).
    _elements: 'identifier,code,date,status',
    _count: String(PAGE_SIZE),
  });
  const candidates = found.filter(
    (ci) =>
      ci.status !== 'entered-in-error' &&
      ci.code?.coding?.some((c) => c.system === MODEL_CODE_SYSTEM && c.code === modelId) &&
      !ci.identifier?.some((i) => i.system === ASSESSMENT_ID_SYSTEM && i.value === ownIdentifier),
  );
  const newest = candidates.sort((a, b) => when(b) - when(a))[0];
  return newest?.id ? { reference: `ClinicalImpression/${newest.id}` } : undefined;
}

function when(ci: ClinicalImpression): number {
  return Date.parse(ci.date ?? ci.meta?.lastUpdated ?? '') || 0;
}
