import { randomBytes } from 'node:crypto';
import type { Bundle, Patient, Resource } from '@medplum/fhirtypes';
import type { PatientRecord } from '../models/model.js';
import { shiftDate, shiftFhirDate, yearsBetween } from './deid/date-shift.js';
import { Pseudonymizer } from './deid/pseudonyms.js';
import { deidentifyResource } from './deid/safe-harbor.js';
import { recordHash } from './record-hash.js';

/** Safe Harbor groups every age above 89 into one category: "90 or older". */
const AGE_CAP_YEARS = 90;
/** Tag marking a record (and the Patient) as de-identified. */
export const DEIDENTIFIED_TAG = {
  system: 'http://fhir-assess.dev/CodeSystem/assembly',
  code: 'deidentified',
  display: 'HIPAA Safe Harbor; ids pseudonymised, dates shifted per patient, ages over 89 shown as 90',
};

/** A de-identified record with what is needed to map a model's answer back (kept in memory only). */
export interface DeidentifiedRecord {
  record: PatientRecord;
  /** The as-of date moved by the same shift as the record's dates, so ages and recency stay exact. */
  asOf: Date;
  pseudonyms: Pseudonymizer;
}

let processKey: Buffer | undefined;

/** DEIDENTIFY_SECRET when configured, else a random key for this process's lifetime. */
export function deidentifyKey(secret?: string): string | Buffer {
  if (secret) return secret;
  processKey ??= randomBytes(32);
  return processKey;
}

/**
 * De-identifies a record for a model outside the trust boundary (HIPAA Safe Harbor, with per-patient
 * date shifting instead of year-only dates so that intervals stay meaningful): see
 * deid/safe-harbor.ts for the element rules and docs/ehr-client.md for the policy.
 * @param key - secret for pseudonyms and the date shift (DEIDENTIFY_SECRET)
 */
export function deidentifyRecord(record: PatientRecord, asOf: Date, key: string | Buffer): DeidentifiedRecord {
  const pseudonyms = new Pseudonymizer(key, record.patientId);
  const shiftedAsOf = shiftDate(asOf, -pseudonyms.shiftDays);
  const resources: Resource[] = [];
  for (const entry of record.bundle.entry ?? []) {
    const r = entry.resource && deidentifyResource(entry.resource, pseudonyms);
    if (!r) continue;
    if (r.resourceType === 'Patient') capAge(r, entry.resource as Patient, asOf, shiftedAsOf);
    resources.push(r);
  }
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    meta: { tag: [...(record.bundle.meta?.tag ?? []), DEIDENTIFIED_TAG] },
    entry: resources.map((resource) => ({ fullUrl: `${resource.resourceType}/${resource.id}`, resource })),
  };
  return {
    record: {
      patientId: pseudonyms.id('Patient', record.patientId),
      bundle,
      hash: recordHash(resources),
      truncated: record.truncated,
      ...(record.truncatedReason ? { truncatedReason: record.truncatedReason } : {}),
      deidentified: true,
    },
    asOf: shiftedAsOf,
    pseudonyms,
  };
}

/** Patients 90 or older get the birth date of someone exactly 90 on the (shifted) as-of date. */
function capAge(out: Resource, real: Patient, asOf: Date, shiftedAsOf: Date): void {
  const patient = out as Patient;
  if (!real.birthDate || yearsBetween(real.birthDate, asOf) < AGE_CAP_YEARS) return;
  const d = new Date(shiftedAsOf);
  d.setUTCFullYear(d.getUTCFullYear() - AGE_CAP_YEARS);
  patient.birthDate = shiftFhirDate(d.toISOString().slice(0, 10), -1); // one day past the 90th birthday
  patient.meta = { ...patient.meta, tag: [...(patient.meta?.tag ?? []), DEIDENTIFIED_TAG] };
}
