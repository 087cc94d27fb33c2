import type { Bundle, Condition, MedicationRequest, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import {
  activeConditions,
  activeMedications,
  ageInYears,
  classifyMedication,
  DIABETES,
  everConditions,
  getDemographics,
  getSmokingStatus,
  HDL_CHOLESTEROL,
  latestObservationValue,
  PRIOR_ASCVD,
  SERUM_CREATININE,
  SYSTOLIC_BP,
  TOTAL_CHOLESTEROL,
} from '../../src/models/fhir-inputs/index.js';
import { RecordBundleError, recordFromBundle } from '../../src/models/record-from-bundle.js';

const AS_OF = new Date('2021-04-01T00:00:00Z');
const LOINC = 'http://loinc.org';
const SCT = 'http://snomed.info/sct';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

let seq = 0;
function bundle(...resources: Resource[]): Bundle {
  const patient: Patient = { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1970-05-20' };
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [patient, ...resources].map((resource) => ({ resource })),
  };
}
function obs(
  code: string,
  date: string,
  value?: number,
  unit = 'mg/dL',
  extra: Partial<Observation> = {},
): Observation {
  return {
    resourceType: 'Observation',
    id: `o${++seq}`,
    status: 'final',
    code: { coding: [{ system: LOINC, code }] },
    effectiveDateTime: date,
    ...(value !== undefined ? { valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit } } : {}),
    ...extra,
  };
}
function condition(code: string, system: string, extra: Partial<Condition> = {}): Condition {
  return {
    resourceType: 'Condition',
    id: `c${++seq}`,
    subject: { reference: 'Patient/p1' },
    code: { coding: [{ system, code }] },
    ...extra,
  };
}
function medRequest(display: string, extra: Partial<MedicationRequest> = {}, code = '000'): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id: `m${++seq}`,
    status: 'active',
    intent: 'order',
    subject: { reference: 'Patient/p1' },
    authoredOn: '2020-06-01',
    medicationCodeableConcept: { coding: [{ system: RXNORM, code, display }], text: display },
    ...extra,
  };
}

describe('demographics', () => {
  it('computes whole-year age, and refuses a partial birth date that straddles the birthday', () => {
    expect(ageInYears('1965-06-15', AS_OF)).toBe(55);
    expect(ageInYears('1965-04-01', AS_OF)).toBe(56);
    expect(ageInYears('1965-06', AS_OF)).toBe(55);
    expect(ageInYears('1965', AS_OF)).toBeUndefined();
  });

  it('reads the US Core race ombCategory (2054-5 wins over 2106-3) and deceased at as-of', () => {
    const race = (codes: string[]) => ({
      url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
      extension: codes.map((code) => ({ url: 'ombCategory', valueCoding: { code } })),
    });
    const b = (p: Partial<Patient>) =>
      ({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [{ resource: { resourceType: 'Patient', id: 'x', ...p } }],
      }) as Bundle;
    expect(getDemographics(b({ extension: [race(['2106-3', '2054-5'])] }), AS_OF)?.race).toBe('black');
    expect(getDemographics(b({ extension: [race(['2106-3'])] }), AS_OF)?.race).toBe('white');
    expect(getDemographics(b({ extension: [race(['2028-9'])] }), AS_OF)?.race).toBe('other');
    expect(getDemographics(b({}), AS_OF)?.race).toBe('unknown');
    expect(getDemographics(b({ deceasedDateTime: '2022-01-01' }), AS_OF)?.deceased).toBe(false);
    expect(getDemographics(b({ deceasedBoolean: true }), AS_OF)?.deceased).toBe(true);
  });
});

describe('latestObservationValue', () => {
  it('takes the newest usable value on or before as-of, skipping later, preliminary and cancelled ones', () => {
    const b = bundle(
      obs('2093-3', '2019-01-01', 180),
      obs('2093-3', '2020-01-01', 190),
      obs('2093-3', '2020-06-01', 300, 'mg/dL', { status: 'preliminary' }),
      obs('2093-3', '2020-07-01', 310, 'mg/dL', { status: 'cancelled' }),
      obs('2093-3', '2021-05-01', 250),
    );
    expect(latestObservationValue(b, TOTAL_CHOLESTEROL, AS_OF)).toMatchObject({
      ok: true,
      value: 190,
      effective: '2020-01-01',
    });
  });

  it('finds systolic BP inside 55284-4 and 85354-9 panels and at top level', () => {
    const panel = (code: string, date: string, sbp: number) =>
      obs(code, date, undefined, '', {
        component: [
          { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: sbp, unit: 'mm[Hg]' } },
        ],
      });
    expect(latestObservationValue(bundle(panel('55284-4', '2020-01-01', 131)), SYSTOLIC_BP, AS_OF)).toMatchObject({
      value: 131,
    });
    expect(latestObservationValue(bundle(panel('85354-9', '2020-01-01', 132)), SYSTOLIC_BP, AS_OF)).toMatchObject({
      value: 132,
    });
    expect(
      latestObservationValue(bundle(obs('8480-6', '2020-01-01', 133, 'mm[Hg]')), SYSTOLIC_BP, AS_OF),
    ).toMatchObject({
      value: 133,
    });
  });

  it('converts mmol/L cholesterol (× 38.67) and µmol/L creatinine (÷ 88.4) to mg/dL', () => {
    const hdl = latestObservationValue(bundle(obs('2085-9', '2020-01-01', 1.5, 'mmol/L')), HDL_CHOLESTEROL, AS_OF);
    expect(hdl).toMatchObject({ ok: true, unit: 'mg/dL' });
    expect(hdl.ok && hdl.value).toBeCloseTo(58.005, 6);
    const cr = latestObservationValue(bundle(obs('2160-0', '2020-06-01', 88.4, 'µmol/L')), SERUM_CREATININE, AS_OF);
    expect(cr.ok && cr.value).toBeCloseTo(1, 10);
  });

  it('skips values in unknown units, and says so when nothing usable is left', () => {
    const b = bundle(obs('2093-3', '2020-01-01', 200), obs('2093-3', '2020-06-01', 5, 'g/L'));
    expect(latestObservationValue(b, TOTAL_CHOLESTEROL, AS_OF)).toMatchObject({ ok: true, value: 200 });
    const only = latestObservationValue(bundle(obs('2093-3', '2020-06-01', 5, 'g/L')), TOTAL_CHOLESTEROL, AS_OF);
    expect(only).toMatchObject({ ok: false, reason: 'missing' });
    expect(!only.ok && only.detail).toMatch(/unsupported unit "g\/L"/);
  });

  it('reports stale when the newest value is outside the window (lipids 5 y)', () => {
    const r = latestObservationValue(bundle(obs('2093-3', '2015-01-01', 200)), TOTAL_CHOLESTEROL, AS_OF);
    expect(r).toMatchObject({ ok: false, reason: 'stale' });
  });
});

describe('getSmokingStatus', () => {
  // SNOMED lists: docs/risk-models.md §0 "Smoking status (Observation 72166-2)".
  const smoking = (code: string, date = '2020-01-01') =>
    ({ ...obs('72166-2', date), valueCodeableConcept: { coding: [{ system: SCT, code }] } }) as Observation;
  it.each([
    ['449868002', 'current'],
    ['428041000124106', 'current'],
    ['8517006', 'former'],
    ['266919005', 'never'],
    ['266927001', 'unknown'],
  ])('%s → %s', (code, status) => {
    expect(getSmokingStatus(bundle(smoking(code)), AS_OF)).toMatchObject({ ok: true, status });
  });
  it('is stale after 2 years and missing when absent', () => {
    expect(getSmokingStatus(bundle(smoking('266919005', '2018-01-01')), AS_OF)).toMatchObject({
      ok: false,
      reason: 'stale',
    });
    expect(getSmokingStatus(bundle(), AS_OF)).toMatchObject({ ok: false, reason: 'missing' });
  });
});

describe('conditions', () => {
  const resolved = { system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved' };
  it('active: clinical status, onset and abatement relative to as-of; ICD-10 prefixes', () => {
    const b = bundle(
      condition('44054006', SCT, { onsetDateTime: '2010-01-01' }),
      condition('E11.9', 'http://hl7.org/fhir/sid/icd-10-cm', { onsetDateTime: '2010-01-01' }),
      condition('44054006', SCT, { onsetDateTime: '2022-01-01' }),
      condition('46635009', SCT, { clinicalStatus: { coding: [resolved] }, abatementDateTime: '2015-01-01' }),
      condition('73211009', SCT, { verificationStatus: { coding: [{ code: 'refuted' }] } }),
    );
    expect(activeConditions(b, DIABETES, AS_OF).map((c) => c.label)).toEqual(['44054006', 'E11.9']);
    // A condition resolved after a past as-of date was active at that date.
    expect(activeConditions(b, DIABETES, new Date('2014-01-01')).map((c) => c.label)).toContain('46635009');
  });

  it('ever: counts resolved history (prior MI, stroke) but leaves out Raynaud (I73.0)', () => {
    const b = bundle(
      condition('22298006', SCT, {
        clinicalStatus: { coding: [resolved] },
        abatementDateTime: '2015-01-01',
        onsetDateTime: '2014-12-01',
      }),
      condition('I73.0', 'http://hl7.org/fhir/sid/icd-10-cm'),
      condition('I63.9', 'http://hl7.org/fhir/sid/icd-10'),
    );
    expect(everConditions(b, PRIOR_ASCVD, AS_OF).map((c) => c.label)).toEqual(['22298006', 'I63.9']);
  });
});

describe('medications', () => {
  // Ingredient tables: docs/risk-models.md §0 "Antihypertensive and statin flags".
  it('classifies by ingredient RxCUI, else by ingredient name in a clinical-drug display', () => {
    const byCode = { coding: [{ system: RXNORM, code: '29046', display: 'x' }] };
    expect(classifyMedication(byCode, 'antihypertensive')).toMatchObject({
      matchedBy: 'rxcui',
      ingredient: { name: 'lisinopril' },
    });
    const scd = { coding: [{ system: RXNORM, code: '314076', display: 'lisinopril 10 MG Oral Tablet' }] };
    expect(classifyMedication(scd, 'antihypertensive')).toMatchObject({
      matchedBy: 'name',
      ingredient: { drugClass: 'ace-inhibitor' },
    });
    // Synthea v2.4 writes "Simvistatin 10 MG" (sic) for RxCUI 316672.
    expect(classifyMedication({ text: 'Simvistatin 10 MG' }, 'statin')?.ingredient.name).toBe('simvastatin');
    expect(classifyMedication({ text: 'Lasix 40mg' }, 'antihypertensive')?.ingredient.name).toBe('furosemide');
    expect(classifyMedication({ text: 'Acetaminophen 325 MG Oral Tablet' }, 'antihypertensive')).toBeUndefined();
    expect(classifyMedication({ text: 'Hydrochlorothiazide 25 MG' }, 'statin')).toBeUndefined();
  });

  it('counts active orders and recent completed ones, never stopped or future ones', () => {
    const b = bundle(
      medRequest('Amlodipine 5 MG Oral Tablet'),
      medRequest('Hydrochlorothiazide 25 MG', { status: 'stopped' }),
      medRequest('Metoprolol succinate 100 MG', { status: 'completed', authoredOn: '2020-10-01' }),
      medRequest('Atenolol 50 MG Oral Tablet', { status: 'completed', authoredOn: '2018-10-01' }),
      medRequest('Losartan 50 MG Oral Tablet', { authoredOn: '2021-06-01' }),
    );
    expect(activeMedications(b, 'antihypertensive', AS_OF).map((m) => m.ingredient)).toEqual([
      'amlodipine',
      'metoprolol',
    ]);
  });
});

describe('recordFromBundle', () => {
  it('rewrites urn:uuid references to Type/id and puts the Patient first', () => {
    const r = recordFromBundle({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:o-1',
          resource: { ...obs('2093-3', '2020-01-01', 200), id: undefined, subject: { reference: 'urn:uuid:p-1' } },
        },
        { fullUrl: 'urn:uuid:p-1', resource: { resourceType: 'Patient', id: 'p-1' } },
      ],
    });
    expect(r.patientId).toBe('p-1');
    expect(r.bundle.type).toBe('collection');
    expect(r.bundle.entry![0].resource?.resourceType).toBe('Patient');
    expect(r.bundle.entry![1].resource).toMatchObject({ id: 'o-1', subject: { reference: 'Patient/p-1' } });
    expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects bundles without exactly one Patient', () => {
    const two: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [{ resource: { resourceType: 'Patient', id: 'a' } }, { resource: { resourceType: 'Patient', id: 'b' } }],
    };
    expect(() => recordFromBundle(two)).toThrow(RecordBundleError);
    expect(() => recordFromBundle({ resourceType: 'Bundle', type: 'collection', entry: [] })).toThrow(
      /exactly one Patient/,
    );
  });
});
