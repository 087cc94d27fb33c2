import type {
  Bundle,
  Condition,
  MedicationRequest,
  Observation,
  Patient,
  Procedure,
  Resource,
} from '@medplum/fhirtypes';
import type { PatientRecord } from '../../src/models/model.js';
import { recordFromBundle } from '../../src/models/record-from-bundle.js';

/** Builders for small FHIR records in calculator tests (real resource shapes, Synthea-like coding). */

export const AS_OF = new Date('2021-04-01T00:00:00Z');
export const LOINC = 'http://loinc.org';
export const SCT = 'http://snomed.info/sct';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';

let seq = 0;
const nextId = (prefix: string) => `${prefix}-${++seq}`;

/** A birth date giving `age` whole years at AS_OF (birthday mid-year, so never on the as-of day). */
export function bornYearsAgo(age: number): string {
  return `${AS_OF.getUTCFullYear() - age - 1}-06-15`;
}

export function patient(age: number, gender: Patient['gender'], extra: Partial<Patient> = {}): Patient {
  return { resourceType: 'Patient', id: nextId('p'), gender, birthDate: bornYearsAgo(age), ...extra };
}

/** A final Observation with a quantity value (UCUM unit). */
export function quantity(
  code: string,
  value: number,
  unit: string,
  date = '2021-03-01',
  extra: Partial<Observation> = {},
): Observation {
  return {
    resourceType: 'Observation',
    id: nextId('o'),
    status: 'final',
    code: { coding: [{ system: LOINC, code }] },
    effectiveDateTime: date,
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
    ...extra,
  };
}

/** A blood-pressure panel (LOINC 55284-4, as Synthea writes it) with SBP/DBP components. */
export function bpPanel(systolic: number, date = '2021-03-01', diastolic = 80): Observation {
  const comp = (code: string, value: number) => ({
    code: { coding: [{ system: LOINC, code }] },
    valueQuantity: { value, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
  });
  return {
    resourceType: 'Observation',
    id: nextId('bp'),
    status: 'final',
    code: { coding: [{ system: LOINC, code: '55284-4' }] },
    effectiveDateTime: date,
    component: [comp('8462-4', diastolic), comp('8480-6', systolic)],
  };
}

/** Smoking status 72166-2: never 266919005, former 8517006, current 449868002. */
export function smoking(status: 'never' | 'former' | 'current', date = '2021-03-01'): Observation {
  const code = { never: '266919005', former: '8517006', current: '449868002' }[status];
  return {
    resourceType: 'Observation',
    id: nextId('smk'),
    status: 'final',
    code: { coding: [{ system: LOINC, code: '72166-2' }] },
    effectiveDateTime: date,
    valueCodeableConcept: { coding: [{ system: SCT, code }] },
  };
}

export function condition(code: string, onset = '2015-01-01', system = SCT, extra: Partial<Condition> = {}): Condition {
  return {
    resourceType: 'Condition',
    id: nextId('c'),
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
    },
    code: { coding: [{ system, code }] },
    subject: { reference: 'Patient/x' },
    onsetDateTime: onset,
    ...extra,
  };
}

/** An active MedicationRequest for a clinical drug named like RxNorm (e.g. "Warfarin Sodium 5 MG Oral Tablet"). */
export function medication(
  display: string,
  authoredOn = '2020-06-01',
  status: MedicationRequest['status'] = 'active',
): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id: nextId('m'),
    status,
    intent: 'order',
    subject: { reference: 'Patient/x' },
    authoredOn,
    medicationCodeableConcept: { coding: [{ system: RXNORM, code: '000000', display }], text: display },
  };
}

export function procedure(code: string, date = '2021-01-01'): Procedure {
  return {
    resourceType: 'Procedure',
    id: nextId('proc'),
    status: 'completed',
    subject: { reference: 'Patient/x' },
    code: { coding: [{ system: SCT, code }] },
    performedDateTime: date,
  };
}

/** A record (collection Bundle, Patient first) as the models read it. */
export function record(p: Patient, ...resources: Resource[]): PatientRecord {
  const subject = { reference: `Patient/${p.id}` };
  const withSubject = resources.map((r) => ('subject' in r ? { ...r, subject } : r) as Resource);
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [p, ...withSubject].map((resource) => ({ resource })),
  };
  return recordFromBundle(bundle);
}

/** An instant `hours` before AS_OF, for acute vital signs. */
export function hoursBefore(hours: number): string {
  return new Date(AS_OF.getTime() - hours * 3_600_000).toISOString();
}
