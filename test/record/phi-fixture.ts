import type { Bundle, Resource } from '@medplum/fhirtypes';

/** A small record full of identifiers, as an EHR would return it. Every value here is invented. */
export function phiRecordResources(): Resource[] {
  return [
    {
      resourceType: 'Patient',
      id: 'pat-8842-real',
      meta: { versionId: '7', lastUpdated: '2021-03-30T08:00:00Z', source: 'https://ehr.example.org/a7' },
      text: {
        status: 'generated',
        div: '<div xmlns="http://www.w3.org/1999/xhtml">Mrs Zelda Quixote-Hart, MRN 99887766</div>',
      },
      identifier: [
        { system: 'urn:oid:2.16.840.1.113883.4.1', value: '999-12-3456' },
        { system: 'https://ehr.example.org/mrn', value: 'MRN99887766', type: { text: 'Medical record number' } },
      ],
      name: [
        {
          use: 'official',
          family: 'Quixote-Hart',
          given: ['Zelda', 'Marigold'],
          prefix: ['Mrs.'],
          text: 'Zelda Quixote-Hart',
        },
      ],
      telecom: [
        { system: 'phone', value: '555-867-5309', use: 'home' },
        { system: 'email', value: 'zelda.qh@example.net' },
      ],
      gender: 'female',
      birthDate: '1958-07-23',
      address: [
        {
          line: ['1428 Elm Street', 'Apt 3B'],
          city: 'Springwood',
          district: 'Lakeshore County',
          state: 'Ohio',
          postalCode: '43210',
          country: 'US',
          extension: [
            {
              url: 'http://hl7.org/fhir/StructureDefinition/geolocation',
              extension: [
                { url: 'latitude', valueDecimal: 41.123456 },
                { url: 'longitude', valueDecimal: -81.654321 },
              ],
            },
          ],
        },
      ],
      photo: [{ contentType: 'image/png', data: 'aGVsbG8gcGhvdG8=' }],
      contact: [
        { name: { family: 'Quixote', given: ['Bartholomew'] }, telecom: [{ system: 'phone', value: '555-111-2222' }] },
      ],
      extension: [
        { url: 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName', valueString: 'Featherstonehaugh' },
        {
          url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace',
          valueAddress: { city: 'Gotham Falls', state: 'Ohio', country: 'US' },
        },
        {
          url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
          extension: [
            {
              url: 'ombCategory',
              valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2106-3', display: 'White' },
            },
            { url: 'text', valueString: 'White, per Zelda' },
          ],
        },
      ],
      generalPractitioner: [{ reference: 'Practitioner/dr-ogilvy-551', display: 'Dr. Fenwick Ogilvy' }],
    },
    {
      resourceType: 'Observation',
      id: 'obs-chol-20210301',
      identifier: [{ system: 'https://lab.example.org/accession', value: 'ACC-7731-Q' }],
      text: { status: 'generated', div: '<div>Cholesterol for Zelda Quixote-Hart</div>' },
      status: 'final',
      category: [
        { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] },
      ],
      code: {
        coding: [
          { system: 'http://loinc.org', code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma' },
        ],
        text: 'Chol (drawn at Springwood clinic)',
      },
      subject: { reference: 'Patient/pat-8842-real', display: 'Zelda Quixote-Hart' },
      performer: [{ reference: 'Practitioner/dr-ogilvy-551', display: 'Dr. Fenwick Ogilvy' }],
      effectiveDateTime: '2021-03-01T09:15:00-05:00',
      issued: '2021-03-01T14:00:00Z',
      valueQuantity: { value: 213, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
      note: [{ text: 'Patient Zelda called from 555-867-5309 about results' }],
    },
    {
      resourceType: 'Observation',
      id: 'obs-free-text',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8689-2' }] },
      subject: { reference: 'Patient/pat-8842-real' },
      effectiveDateTime: '2020-11',
      valueString: 'Lives with husband Bartholomew at 1428 Elm Street',
      derivedFrom: [{ reference: 'Observation/obs-chol-20210301' }],
    },
    {
      resourceType: 'Condition',
      id: 'cond-htn-1',
      clinicalStatus: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
      },
      code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003', display: 'Hypertensive disorder' }] },
      subject: { reference: 'Patient/pat-8842-real' },
      onsetDateTime: '2015-06-10',
      recorder: { reference: 'Practitioner/dr-ogilvy-551' },
      note: [{ text: 'Dx by Dr. Ogilvy at Springwood' }],
    },
    {
      resourceType: 'DocumentReference',
      id: 'doc-1',
      status: 'current',
      subject: { reference: 'Patient/pat-8842-real' },
      content: [
        { attachment: { contentType: 'text/plain', data: 'WmVsZGEgbm90ZXM=', url: 'https://ehr.example.org/docs/1' } },
      ],
    } as Resource,
    { resourceType: 'Practitioner', id: 'dr-ogilvy-551', name: [{ family: 'Ogilvy', given: ['Fenwick'] }] },
  ];
}

/** The PHI strings of the fixture that must not survive de-identification (names, identifiers, contact, address, ids, free text). */
export const PHI_STRINGS = [
  'pat-8842-real',
  'obs-chol-20210301',
  'obs-free-text',
  'cond-htn-1',
  'doc-1',
  'dr-ogilvy-551',
  '999-12-3456',
  'MRN99887766',
  'ACC-7731-Q',
  'Quixote-Hart',
  'Quixote',
  'Zelda',
  'Marigold',
  'Bartholomew',
  'Featherstonehaugh',
  'Ogilvy',
  'Fenwick',
  '555-867-5309',
  '555-111-2222',
  'zelda.qh@example.net',
  '1428 Elm Street',
  'Apt 3B',
  'Springwood',
  'Lakeshore County',
  '43210',
  'Gotham Falls',
  '41.123456',
  '-81.654321',
  'aGVsbG8gcGhvdG8=',
  'WmVsZGEgbm90ZXM=',
  'https://ehr.example.org/docs/1',
  '1958-07-23',
  '2021-03-01',
  '2015-06-10',
];

export function asCollection(resources: Resource[]): Bundle {
  return { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) };
}
