import type { ClinicalImpression, Reference } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import { ASSESSMENT_ID_SYSTEM, MODEL_CODE_SYSTEM } from './ai-transparency.js';

/** Page size of the search, resources: a patient has one impression per model per record change. */
const PAGE_SIZE = 100;

/**
 * The patient's ClinicalImpressions written by this model (any version), entered-in-error ones left
 * out: the input both of `ClinicalImpression.previous` and of superseding. Searches by subject + our
 * identifier system (`identifier=system|` matches any value in it; R4 ClinicalImpression has no
 * `code` search parameter), then keeps the model's own by `code`.
 */
export async function findModelImpressions(
  client: FhirClient,
  patientId: string,
  modelId: string,
): Promise<ClinicalImpression[]> {
  const found = await client.searchAll<ClinicalImpression>('ClinicalImpression', {
    subject: `Patient/${patientId}`,
    identifier: `${ASSESSMENT_ID_SYSTEM}|`,
    // Only what the choices need (a server that ignores _elements sends whole resources: still correct).
    _elements: 'identifier,code,date,status,prognosisReference,meta',
    _count: String(PAGE_SIZE),
  });
  return found.filter(
    (ci) =>
      ci.status !== 'entered-in-error' &&
      ci.code?.coding?.some((c) => c.system === MODEL_CODE_SYSTEM && c.code === modelId),
  );
}

/** True for the impression whose identifier value is `identifier` (one assessment's own). */
export const hasIdentifier = (ci: ClinicalImpression, identifier: string): boolean =>
  !!ci.identifier?.some((i) => i.system === ASSESSMENT_ID_SYSTEM && i.value === identifier);

/**
 * The newest of the model's impressions other than this assessment's own (a retry must not point at
 * itself), by `date`, then `meta.lastUpdated`. Sorting is done here: not every EHR sorts.
 */
export function previousImpression(
  impressions: ClinicalImpression[],
  ownIdentifier: string,
): Reference<ClinicalImpression> | undefined {
  const newest = impressions.filter((ci) => !hasIdentifier(ci, ownIdentifier)).sort((a, b) => when(b) - when(a))[0];
  return newest?.id ? { reference: `ClinicalImpression/${newest.id}` } : undefined;
}

/** {@link previousImpression} from a fresh search. */
export async function findPreviousImpression(
  client: FhirClient,
  patientId: string,
  modelId: string,
  ownIdentifier: string,
): Promise<Reference<ClinicalImpression> | undefined> {
  return previousImpression(await findModelImpressions(client, patientId, modelId), ownIdentifier);
}

/** When an impression was made: `date`, else `meta.lastUpdated`, as ms (0 when neither parses). */
export function when(ci: ClinicalImpression): number {
  return Date.parse(ci.date ?? ci.meta?.lastUpdated ?? '') || 0;
}
