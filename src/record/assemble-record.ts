import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { DataRequirement, PatientRecord } from '../models/model.js';
import { isOwnOutput, recordHash } from './record-hash.js';

export interface AssembleOptions {
  /** Resource types the enabled models need (the Patient is always included). */
  requires: DataRequirement[];
  /** Page size for `$everything`. */
  pageSize?: number;
  /** Upper bound on resources in one record; beyond it the record is marked truncated. */
  maxResources?: number;
}

const DEFAULT_MAX_RESOURCES = 20_000;

/**
 * Reads a patient's longitudinal record with `Patient/$everything`, following every `next` link,
 * limited to the resource types the models declare. De-duplicates by type/id (newest version wins)
 * and leaves out AI write-backs (ours or another model's).
 */
export async function assembleRecord(
  client: FhirClient,
  patientId: string,
  opts: AssembleOptions,
): Promise<PatientRecord> {
  const types = new Set(['Patient', ...opts.requires.flatMap((r) => r.resourceTypes)]);
  const max = opts.maxResources ?? DEFAULT_MAX_RESOURCES;
  const byKey = new Map<string, Resource>();
  let truncated = false;
  const query = { _type: [...types].join(','), _count: String(opts.pageSize ?? 500) };
  for await (const page of client.pages(`Patient/${encodeURIComponent(patientId)}/$everything`, query)) {
    for (const entry of page.entry ?? []) {
      const r = entry.resource;
      if (!r?.id || !types.has(r.resourceType) || isOwnOutput(r)) continue;
      keepNewest(byKey, r);
    }
    if (byKey.size >= max) {
      truncated = true;
      break;
    }
  }
  const patient = byKey.get(`Patient/${patientId}`) as Patient | undefined;
  if (!patient) throw new Error(`Patient/${patientId}/$everything returned no Patient resource`);
  byKey.delete(`Patient/${patientId}`);
  const resources = [patient, ...[...byKey.values()].slice(0, max - 1)];
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    meta: {
      tag: [
        {
          system: 'http://fhir-assess.dev/CodeSystem/assembly',
          code: 'patient-everything',
          display: [...types].join(','),
        },
      ],
    },
    entry: resources.map((resource) => ({ fullUrl: `${resource.resourceType}/${resource.id}`, resource })),
  };
  return { patientId, bundle, hash: recordHash(resources), truncated };
}

function keepNewest(byKey: Map<string, Resource>, r: Resource): void {
  const key = `${r.resourceType}/${r.id}`;
  const existing = byKey.get(key);
  if (!existing || (r.meta?.lastUpdated ?? '') >= (existing.meta?.lastUpdated ?? '')) byKey.set(key, r);
}
