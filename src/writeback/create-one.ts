import type { Resource } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import { findByConditions } from './find-written.js';
import type { PlannedEntry } from './plan.js';
import { referenceOf } from './reply-entries.js';
import { learnFromReply, preferenceFor, type ReturnPolicy } from './return-preference.js';
import { createdNow } from './run-time.js';

/** One resource the EHR holds after a write-back step. */
export interface WrittenEntry {
  /** `Type/id` */
  reference: string;
  /** True: created now; false: found (an earlier attempt or a racing worker wrote it); undefined: not known. */
  created?: boolean;
}

/**
 * One conditional create (`If-None-Exist`), correct on every reply FHIR allows: the resource back
 * (return=representation), an empty body with a `Location` (return=minimal), an OperationOutcome,
 * or nothing at all; what the reply does not say is looked up by the condition (and, under the
 * adaptive policy, makes later creates to this EHR ask for the representation). 201 means created,
 * 200 found; without a usable status the run timestamp decides.
 */
export async function createOne(
  client: FhirClient,
  entry: Pick<PlannedEntry, 'resource' | 'ifNoneExist'>,
  policy?: ReturnPolicy,
): Promise<WrittenEntry> {
  const type = entry.resource.resourceType;
  const prefer = preferenceFor(client, 'create', policy);
  const headers = { 'If-None-Exist': entry.ifNoneExist, Prefer: `return=${prefer}` };
  const reply = await client.exchange<Resource>('POST', type, entry.resource, headers);
  const body = reply.body?.resourceType === type && reply.body.id ? reply.body : undefined;
  const byStatus = reply.status === 201 ? true : reply.status === 200 ? false : undefined;
  const located = reply.location ? referenceOf(reply.location, type) : undefined;
  learnFromReply(client, 'create', prefer, !!(body || located), policy);
  if (body) return { reference: `${type}/${body.id}`, created: byStatus ?? createdNow(entry.resource, body) };
  if (located) return { reference: located, created: byStatus };
  const [found] = await findByConditions(client, [{ ...entry, fullUrl: '' }]);
  if (!found) {
    throw new Error(
      `EHR answered ${reply.status} to the create of a ${type} but ${entry.ifNoneExist} finds nothing; will retry`,
    );
  }
  return { reference: `${type}/${found.id}`, created: byStatus ?? createdNow(entry.resource, found) };
}
