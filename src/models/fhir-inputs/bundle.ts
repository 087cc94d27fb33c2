import type { Bundle, ExtractResource, Patient, Resource, ResourceType } from '@medplum/fhirtypes';

/** Per-bundle index by resource type; a WeakMap so calculators can share it without a separate context object. */
const indexCache = new WeakMap<Bundle, Map<string, Resource[]>>();

function indexOf(bundle: Bundle): Map<string, Resource[]> {
  let index = indexCache.get(bundle);
  if (!index) {
    index = new Map();
    for (const entry of bundle.entry ?? []) {
      const r = entry.resource;
      if (!r) continue;
      const list = index.get(r.resourceType) ?? [];
      list.push(r);
      index.set(r.resourceType, list);
    }
    indexCache.set(bundle, index);
  }
  return index;
}

/**
 * All resources of one type in a record Bundle, in bundle order. The index is built once per Bundle object,
 * so do not mutate a Bundle after reading it through these helpers.
 */
export function resourcesOf<K extends ResourceType>(bundle: Bundle, type: K): ExtractResource<K>[] {
  return (indexOf(bundle).get(type) ?? []) as ExtractResource<K>[];
}

/** The record's Patient: the first Patient resource in the Bundle. */
export function patientOf(bundle: Bundle): Patient | undefined {
  return resourcesOf(bundle, 'Patient')[0];
}

/** `Type/id` reference string of a resource (`Type/?` when it has no id). */
export function refOf(resource: Resource): string {
  return `${resource.resourceType}/${resource.id ?? '?'}`;
}
