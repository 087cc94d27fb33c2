import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { recordHash } from '../record/record-hash.js';
import type { PatientRecord } from './model.js';

/** A Bundle that cannot be scored as one patient's record. */
export class RecordBundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordBundleError';
  }
}

/** Bundle types whose entries are plain resources (a transaction's POSTs are the resources to create). */
const ACCEPTED_TYPES = new Set(['collection', 'searchset', 'transaction', 'batch']);

/** `Type/id` for each entry's fullUrl (`urn:uuid:…` or absolute URL), so references can be made local. */
function localIds(entries: BundleEntry[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of entries) {
    const r = e.resource!;
    if (e.fullUrl) map.set(e.fullUrl, `${r.resourceType}/${r.id}`);
  }
  return map;
}

/** Rewrites every `reference` string found in `map`, in place (callers pass a clone). */
function rewriteReferences(node: unknown, map: Map<string, string>): void {
  if (Array.isArray(node)) {
    for (const item of node) rewriteReferences(item, map);
  } else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    for (const [key, value] of Object.entries(obj)) {
      if (key === 'reference' && typeof value === 'string' && map.has(value)) obj[key] = map.get(value);
      else rewriteReferences(value, map);
    }
  }
}

/** The uuid of a `urn:uuid:` fullUrl, used as the id of a transaction entry that has none. */
function idFromFullUrl(fullUrl: string | undefined): string | undefined {
  return fullUrl?.startsWith('urn:uuid:') ? fullUrl.slice('urn:uuid:'.length) : undefined;
}

/**
 * Turns an exported Bundle (collection, searchset, or a Synthea-style transaction of POSTs with `urn:uuid:`
 * fullUrls) into the `PatientRecord` shape the models read: a `collection` with the Patient first and every
 * reference rewritten to `Type/id`. The input is not modified.
 * @throws RecordBundleError when the Bundle type is not accepted or it does not hold exactly one Patient
 */
export function recordFromBundle(bundle: Bundle): PatientRecord {
  if (bundle.resourceType !== 'Bundle' || !ACCEPTED_TYPES.has(bundle.type)) {
    throw new RecordBundleError(
      `expected a collection, searchset or transaction Bundle, got ${bundle.resourceType} ${bundle.type ?? ''}`,
    );
  }
  const entries = structuredClone(bundle.entry ?? []).filter(
    (e) => e.resource && e.search?.mode !== 'outcome' && e.resource.resourceType !== 'OperationOutcome',
  );
  for (const e of entries) {
    e.resource!.id ??= idFromFullUrl(e.fullUrl);
    if (!e.resource!.id) throw new RecordBundleError(`entry ${e.fullUrl ?? '(no fullUrl)'} has no resource id`);
  }
  rewriteReferences(
    entries.map((e) => e.resource),
    localIds(entries),
  );
  const resources = entries.map((e) => e.resource as Resource);
  const patients = [...new Set(resources.filter((r) => r.resourceType === 'Patient').map((r) => r.id))];
  if (patients.length !== 1) {
    throw new RecordBundleError(`expected exactly one Patient in the Bundle, found ${patients.length}`);
  }
  const patient = resources.find((r) => r.resourceType === 'Patient')!;
  const ordered = [patient, ...resources.filter((r) => r !== patient)];
  return {
    patientId: patient.id!,
    bundle: {
      resourceType: 'Bundle',
      type: 'collection',
      entry: ordered.map((resource) => ({ fullUrl: `${resource.resourceType}/${resource.id}`, resource })),
    },
    hash: recordHash(ordered),
    truncated: false,
  };
}
