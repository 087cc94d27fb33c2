import type { Resource } from '@medplum/fhirtypes';
import type { IndexedRepository } from '../../src/sandbox/index.js';

const AIAST = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST' };

/**
 * Patient `p1`: 30 Observations (3 a year, 2012–2021, laboratory and vital-signs), 3 Conditions (one
 * from 2005), 2 MedicationRequests, an Encounter, and an AI-labelled Observation (never part of a
 * record). Patient `p2`: 5 Observations that must never leak into p1's record.
 */
export async function seedRecords(repo: IndexedRepository): Promise<{ expected: string[] }> {
  const resources: Resource[] = [
    { resourceType: 'Patient', id: 'p1', gender: 'male', birthDate: '1960-04-02' },
    { resourceType: 'Patient', id: 'p2', gender: 'female', birthDate: '1970-01-01' },
  ];
  for (let i = 0; i < 30; i++) {
    const year = 2012 + Math.floor(i / 3);
    resources.push(
      observation(`o${i}`, 'p1', `${year}-0${(i % 3) + 1}-15T09:00:00Z`, i % 2 ? 'vital-signs' : 'laboratory', i),
    );
  }
  for (let i = 0; i < 5; i++) resources.push(observation(`q${i}`, 'p2', '2020-05-01T09:00:00Z', 'laboratory', i));
  for (const [id, onset] of [
    ['c0', '2005-06-01'],
    ['c1', '2015-03-01'],
    ['c2', '2020-11-11'],
  ]) {
    resources.push({
      resourceType: 'Condition',
      id,
      subject: { reference: 'Patient/p1' },
      code: { text: id },
      onsetDateTime: onset,
    });
  }
  for (const id of ['m0', 'm1']) {
    resources.push({
      resourceType: 'MedicationRequest',
      id,
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/p1' },
      medicationCodeableConcept: { text: id },
      authoredOn: '2010-01-01',
    });
  }
  resources.push({
    resourceType: 'Encounter',
    id: 'e0',
    status: 'finished',
    class: { code: 'AMB' },
    subject: { reference: 'Patient/p1' },
  });
  resources.push({
    ...observation('ai0', 'p1', '2021-01-01T00:00:00Z', 'laboratory', 0),
    meta: { security: [AIAST] },
  } as Resource);
  for (const r of resources) await repo.importResource(r as Resource & { id: string });
  const expected = [
    'Patient/p1',
    ...Array.from({ length: 30 }, (_, i) => `Observation/o${i}`),
    'Condition/c0',
    'Condition/c1',
    'Condition/c2',
    'MedicationRequest/m0',
    'MedicationRequest/m1',
  ].sort();
  return { expected };
}

/** What the embedded-style model asks for. */
export const REQUIRES = [{ resourceTypes: ['Patient', 'Observation', 'Condition', 'MedicationRequest'] }];

function observation(id: string, patient: string, when: string, category: string, value: number): Resource {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: category }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: when,
    valueQuantity: { value: 150 + value, unit: 'mg/dL' },
  };
}
