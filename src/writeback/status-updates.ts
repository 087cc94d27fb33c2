import type { Bundle, Provenance, Resource } from '@medplum/fhirtypes';
import { type FhirClient, FhirHttpError } from '../fhir/fhir-client.js';
import { createOne } from './create-one.js';
import { entryStatus, readTransactionReply } from './reply-entries.js';
import { preferenceFor, type ReturnPolicy } from './return-preference.js';
import { isTooLarge, isTransactionRefused, markTransactionsRefused, supportsTransactions } from './send.js';

/** A resource to PUT with the version it was read at (`If-Match`). */
export interface StatusUpdate {
  resource: Resource & { id: string };
  versionId?: string;
}

/** True for the answers to a write made against a version that has moved on (someone else changed it). */
export const isConflict = (err: unknown) => err instanceof FhirHttpError && (err.status === 412 || err.status === 409);

/** Reads by reference: one batch of reads when the EHR takes batches, else one read each. Gone ones are left out. */
export async function readCurrent(client: FhirClient, refs: string[]): Promise<Resource[]> {
  if (!refs.length) return [];
  const caps = await client.capabilities().catch(() => undefined);
  if (caps?.known && caps.batch) {
    const batch: Bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: refs.map((url) => ({ request: { method: 'GET', url } })),
    };
    const reply = await client.request<Bundle | undefined>('POST', '', batch);
    if (reply?.resourceType === 'Bundle' && reply.entry?.length === refs.length) {
      return reply.entry.flatMap((e) => {
        const status = entryStatus(e.response?.status) ?? 200;
        if (status >= 300 || !e.resource?.id) return [];
        // The entry's ETag is the version when the resource carries none.
        const etag = /"([^"]+)"/.exec(e.response?.etag ?? '')?.[1];
        return [etag && !e.resource.meta?.versionId ? withVersion(e.resource, etag) : e.resource];
      });
    }
  }
  const read = async (ref: string): Promise<Resource[]> => {
    const [type, id] = ref.split('/');
    const reply = await client.exchange<Resource>('GET', `${type}/${encodeURIComponent(id)}`).catch((err) => {
      if (err instanceof FhirHttpError && (err.status === 404 || err.status === 410)) return undefined;
      throw err;
    });
    if (!reply?.body?.id) return [];
    const etag = /"([^"]+)"/.exec(reply.etag ?? '')?.[1];
    return [etag && !reply.body.meta?.versionId ? withVersion(reply.body, etag) : reply.body];
  };
  return (await Promise.all(refs.map(read))).flat();
}

const withVersion = (r: Resource, versionId: string): Resource => ({ ...r, meta: { ...r.meta, versionId } });

/**
 * Updates resources (each `If-Match` the version read, so a concurrent change wins and the caller
 * reads again) and creates the Provenance recording why, conditionally on `ifNoneExist`: one
 * transaction when the EHR takes them (all or nothing), else single PUTs in order and the
 * Provenance last, so a crash in between leaves it to the next attempt, which finds what is done.
 * With no updates left, only the Provenance is (conditionally) created: a re-run completes a crashed one.
 */
export async function sendUpdates(
  client: FhirClient,
  updates: StatusUpdate[],
  provenance: Provenance,
  ifNoneExist: string,
  policy?: ReturnPolicy,
  /** False: in a transaction the Provenance is created unconditionally (it commits exactly with the updates). */
  conditionalInTransaction = true,
): Promise<void> {
  const targets = updates.map((u) => `${u.resource.resourceType}/${u.resource.id}`);
  if (updates.length && (await supportsTransactions(client))) {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        ...updates.map((u, i) => ({
          resource: u.resource,
          request: { method: 'PUT' as const, url: targets[i], ifMatch: ifMatch(u) },
        })),
        {
          resource: provenance,
          request: { method: 'POST' as const, url: 'Provenance', ...(conditionalInTransaction && { ifNoneExist }) },
        },
      ],
    };
    try {
      // The learned preference: an EHR that answers return=minimal with nothing gets asked for the entries.
      const prefer = preferenceFor(client, 'transaction', policy);
      const reply = await client.exchange<Bundle>('POST', '', bundle, { Prefer: `return=${prefer}` });
      const sent = (bundle.entry ?? []).map((e) => ({
        fullUrl: '',
        ifNoneExist: '',
        resource: e.resource as Resource,
      }));
      readTransactionReply(reply.body, sent); // throws on an entry that failed (e.g. 412)
      return;
    } catch (err) {
      if (!isTooLarge(err)) {
        if (!isTransactionRefused(err)) throw err;
        markTransactionsRefused(client);
      }
    }
  }
  for (const u of updates) {
    const headers: Record<string, string> = { Prefer: 'return=minimal' };
    const match = ifMatch(u);
    if (match) headers['If-Match'] = match;
    await client.exchange(
      'PUT',
      `${u.resource.resourceType}/${encodeURIComponent(u.resource.id)}`,
      u.resource,
      headers,
    );
  }
  await createOne(client, { resource: provenance, ifNoneExist }, policy);
}

/** `W/"<version>"`; without a version (an EHR that does not version) the update cannot be conditional. */
const ifMatch = (u: StatusUpdate) => (u.versionId ? `W/"${u.versionId}"` : undefined);

/** A resource's update with the version it was read at. */
export const updateOf = (resource: Resource): StatusUpdate => ({
  resource: resource as Resource & { id: string },
  versionId: resource.meta?.versionId,
});
