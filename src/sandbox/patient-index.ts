import type { Resource } from '@medplum/fhirtypes';

/** Matches `Patient/<id>` and `Patient/<id>/_history/<vid>` (also at the end of an absolute URL). */
const PATIENT_REF = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/**
 * Returns the ids of every Patient a resource belongs to: a Patient belongs to itself, and any
 * resource belongs to each Patient it references anywhere (subject, patient, beneficiary, ...).
 * This is a superset of the FHIR Patient compartment, which is what we want for a cheap
 * pre-filter: exact search semantics are re-checked afterwards.
 */
export function patientIdsOf(resource: Resource): string[] {
  const ids = new Set<string>();
  if (resource.resourceType === 'Patient' && resource.id) {
    ids.add(resource.id);
  }
  collectPatientRefs(resource, ids);
  return [...ids];
}

function collectPatientRefs(value: unknown, out: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectPatientRefs(item, out);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value)) {
    if (key === 'reference' && typeof child === 'string') {
      const match = PATIENT_REF.exec(child);
      if (match) out.add(match[1]);
    } else if (typeof child === 'object') {
      collectPatientRefs(child, out);
    }
  }
}

/**
 * In-memory index patientId -> resourceType -> ids of the resources that reference that Patient.
 * Insertion order is kept, so compartment listings are stable between pages.
 */
export class PatientIndex {
  private readonly byPatient = new Map<string, Map<string, Set<string>>>();

  /** Replaces the entries of one resource: removes it from `before` patients, adds it to `after` ones. */
  update(resourceType: string, id: string, before: readonly string[], after: readonly string[]): void {
    for (const pid of before) {
      if (!after.includes(pid)) this.remove(pid, resourceType, id);
    }
    for (const pid of after) {
      this.add(pid, resourceType, id);
    }
  }

  /** Ids of the given type in the patient's compartment (empty when unknown). */
  idsOf(patientId: string, resourceType: string): ReadonlySet<string> {
    return this.byPatient.get(patientId)?.get(resourceType) ?? EMPTY;
  }

  /** Resource types present in the patient's compartment, in first-seen order. */
  typesOf(patientId: string): string[] {
    return [...(this.byPatient.get(patientId)?.keys() ?? [])];
  }

  /** Number of resources in the patient's compartment. */
  sizeOf(patientId: string): number {
    let n = 0;
    for (const ids of this.byPatient.get(patientId)?.values() ?? []) n += ids.size;
    return n;
  }

  /** Number of patients that have at least one indexed resource. */
  get patientCount(): number {
    return this.byPatient.size;
  }

  clear(): void {
    this.byPatient.clear();
  }

  private add(patientId: string, resourceType: string, id: string): void {
    let types = this.byPatient.get(patientId);
    if (!types) {
      types = new Map();
      this.byPatient.set(patientId, types);
    }
    let ids = types.get(resourceType);
    if (!ids) {
      ids = new Set();
      types.set(resourceType, ids);
    }
    ids.add(id);
  }

  private remove(patientId: string, resourceType: string, id: string): void {
    const types = this.byPatient.get(patientId);
    const ids = types?.get(resourceType);
    if (!types || !ids) return;
    ids.delete(id);
    if (ids.size === 0) types.delete(resourceType);
    if (types.size === 0) this.byPatient.delete(patientId);
  }
}

const EMPTY: ReadonlySet<string> = new Set();
