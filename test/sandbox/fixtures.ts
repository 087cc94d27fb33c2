import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';

const LOINC = 'http://loinc.org';

/** urn:uuid placeholders for the fixture transaction. */
const A = 'urn:uuid:0b1c7a40-0000-4000-8000-00000000000a';
const B = 'urn:uuid:0b1c7a40-0000-4000-8000-00000000000b';

function post(resource: Resource, fullUrl?: string, ifNoneExist?: string): BundleEntry {
  return { fullUrl, resource, request: { method: 'POST', url: resource.resourceType, ifNoneExist } };
}

function observation(subject: string, i: number, code: string, performer?: string): Resource {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: LOINC, code }] },
    subject: { reference: subject },
    performer: performer ? [{ reference: performer }] : undefined,
    effectiveDateTime: `2020-01-${String((i % 28) + 1).padStart(2, '0')}T10:00:00Z`,
    valueQuantity: { value: 100 + i, unit: 'mg/dL' },
  };
}

/**
 * A transaction with two patients: A has 25 Observations (10 of LOINC 2093-3), 3 Conditions and an
 * Encounter; B has 5 Observations, one of which names A as performer (so it is in A's compartment,
 * but does not match `Observation?patient=A`).
 */
export function fixtureTransaction(): Bundle {
  const entry: BundleEntry[] = [
    post({ resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'A' }], name: [{ family: 'Alpha' }] }, A),
    post({ resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'B' }], name: [{ family: 'Beta' }] }, B),
  ];
  for (let i = 0; i < 25; i++) entry.push(post(observation(A, i, i < 10 ? '2093-3' : '8480-6')));
  for (let i = 0; i < 5; i++) entry.push(post(observation(B, i, '2093-3', i === 0 ? A : undefined)));
  for (let i = 0; i < 3; i++) {
    entry.push(post({ resourceType: 'Condition', subject: { reference: A }, code: { text: `condition ${i}` } }));
  }
  entry.push(
    post({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject: { reference: A } }),
  );
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

/** A transaction that conditionally creates patient A again (must resolve to the existing one). */
export function conditionalPatientTransaction(): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      post(
        { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'A' }], name: [{ family: 'Alpha2' }] },
        A,
        'identifier=urn:mrn|A',
      ),
      post(observation(A, 99, '2093-3')),
    ],
  };
}
