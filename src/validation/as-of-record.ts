import type { Bundle, Condition, Patient, Resource } from '@medplum/fhirtypes';
import type { PatientRecord } from '../models/model.js';
import { clinicalDate } from './clinical-date.js';

/** What the as-of filter left out of a record. */
export interface AsOfCut {
  /** Resources dated after the as-of date. */
  after: number;
  /** Resources with no clinical date (kept out: nothing shows they existed by the as-of date). */
  undated: number;
}

const ACTIVE = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] };

/** The Patient as of then: a death after the as-of date had not happened yet. */
function patientAsOf(p: Patient, asOf: Date): Patient {
  const died = p.deceasedDateTime ? Date.parse(p.deceasedDateTime) : undefined;
  if (died === undefined || died <= asOf.getTime()) return p;
  const { deceasedDateTime: _d, ...alive } = p;
  return alive;
}

/** A Condition as of then: an abatement after the as-of date had not happened (it was still active). */
function conditionAsOf(c: Condition, asOf: Date): Condition {
  const abated = c.abatementDateTime ?? c.abatementPeriod?.start;
  if (!abated || Date.parse(abated) <= asOf.getTime()) return c;
  const { abatementDateTime: _a, abatementPeriod: _p, ...open } = c;
  return { ...open, clinicalStatus: ACTIVE };
}

/**
 * The record as it stood on the as-of date, so that nothing after it leaks into a model's inputs:
 * resources whose clinical date (clinical-date.ts) is after the as-of instant are left out, and so are
 * undated ones (only the Patient is kept without a date); a death or a Condition's abatement after the
 * as-of date is removed. Statuses changed later without a date (e.g. a MedicationRequest stopped
 * afterwards) cannot be rolled back from the current record: FHIR R4 resources do not date them.
 */
export function recordAsOf(record: PatientRecord, asOf: Date): { record: PatientRecord; cut: AsOfCut } {
  const cut: AsOfCut = { after: 0, undated: 0 };
  const kept: Resource[] = [];
  for (const entry of record.bundle.entry ?? []) {
    const r = entry.resource;
    if (!r) continue;
    if (r.resourceType === 'Patient') {
      kept.push(patientAsOf(r, asOf));
      continue;
    }
    const when = clinicalDate(r);
    if (!when) cut.undated++;
    else if (when.getTime() > asOf.getTime()) cut.after++;
    else kept.push(r.resourceType === 'Condition' ? conditionAsOf(r, asOf) : r);
  }
  const bundle: Bundle = {
    ...record.bundle,
    entry: kept.map((resource) => ({ fullUrl: `${resource.resourceType}/${resource.id}`, resource })),
  };
  return { record: { ...record, bundle, hash: `as-of ${asOf.toISOString()} of ${record.hash}` }, cut };
}
