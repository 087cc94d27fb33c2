import { readFileSync } from 'node:fs';
import type { Bundle, BundleEntry, Condition, MedicationRequest, Observation, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { pooledCohortRisk } from '../../src/models/calculators/pooled-cohort-equations.js';
import { formatTable, scoreBundle } from '../../src/models/score.js';

// Fixture: the Goff 2013 worked example as a FHIR transaction Bundle (Synthea style: POSTs, urn:uuid refs).
// Source of the numbers: Goff DC Jr et al., Circulation 2014;129(25 Suppl 2):S49–S73, Table A; white male,
// 55 y, TC 213 mg/dL, HDL 50 mg/dL, SBP 120 mmHg untreated, non-smoker, no diabetes → 5.38 % at full precision
// (docs/risk-models.md §1). Birth date 1965-06-15 gives age 55 at the as-of date 2021-04-01.
const FIXTURE = 'test/fixtures/goff-2013-white-male.bundle.json';
const AS_OF = new Date('2021-04-01T00:00:00Z');
const EXPECTED_PCT = 5.38;
/** ±0.01 percentage points (docs/risk-models.md §1 acceptance tolerance). */
const TOLERANCE_PP = 0.01;

function fixture(): Bundle {
  return JSON.parse(readFileSync(FIXTURE, 'utf8')) as Bundle;
}

function byLoinc(bundle: Bundle, code: string): Observation {
  const entry = bundle.entry!.find(
    (e) => e.resource?.resourceType === 'Observation' && e.resource.code.coding?.[0]?.code === code,
  );
  return entry!.resource as Observation;
}

function add(bundle: Bundle, resource: Resource): Bundle {
  const patientUrl = bundle.entry![0].fullUrl!;
  const withSubject = { ...resource, subject: { reference: patientUrl } } as Resource;
  const entry: BundleEntry = {
    fullUrl: `urn:uuid:${resource.id}`,
    resource: withSubject,
    request: { method: 'POST', url: resource.resourceType },
  };
  bundle.entry!.push(entry);
  return bundle;
}

async function score(bundle: Bundle, asOf = AS_OF) {
  const [output] = await scoreBundle(bundle, { asOf, models: ['pce-2013'] });
  return output;
}

describe('scoreBundle on the Goff 2013 white-male fixture', () => {
  it('gives 5.38 % ±0.01 pp, borderline / moderate, with every input sourced', async () => {
    const out = await score(fixture());
    expect(out.predictions).toHaveLength(1);
    const p = out.predictions[0];
    expect(Math.abs(p.probability! * 100 - EXPECTED_PCT)).toBeLessThanOrEqual(TOLERANCE_PP);
    expect(p).toMatchObject({ calculator: 'pce-2013', horizonYears: 10, qualitativeRisk: 'moderate' });
    expect(p.category).toMatch(/^borderline/);
    expect(p.rationale).toContain('5.4 %');
    const used = Object.fromEntries(p.inputsUsed.map((u) => [u.name, u]));
    expect(used['Age'].value).toBe(55);
    expect(used['Race'].value).toBe('white');
    expect(used['Systolic blood pressure']).toMatchObject({ value: 120, unit: 'mm[Hg]', effective: '2021-03-01' });
    expect(used['Current smoker'].value).toBe(false);
    expect(used['Treated for hypertension'].value).toBe(false);
    expect(used['Diabetes'].value).toBe(false);
    // urn:uuid references were rewritten: every basis entry is Type/id.
    expect(out.basis.map((b) => b.reference)).toContain(`Observation/${byLoinc(fixture(), '55284-4').id}`);
    for (const b of out.basis) expect(b.reference).toMatch(/^(Patient|Observation)\/[0-9a-f-]+$/);
    expect(out.missing).toEqual([]);
    expect(out.summary).toMatch(/5\.4 %, borderline/);
    expect(formatTable([out])).toContain('5.38 %');
  });

  it('gives the same result from a collection Bundle with Type/id references', async () => {
    const b = fixture();
    const collection: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: b.entry!.map((e) => ({
        resource: JSON.parse(JSON.stringify(e.resource).replaceAll('urn:uuid:', 'Patient/')),
      })),
    };
    const out = await score(collection);
    expect(Math.abs(out.predictions[0].probability! * 100 - EXPECTED_PCT)).toBeLessThanOrEqual(TOLERANCE_PP);
  });

  it('gives the same result with lipids in mmol/L (× 38.67 → mg/dL)', async () => {
    // 213 mg/dL ÷ 38.67 = 5.508 mmol/L; 50 mg/dL ÷ 38.67 = 1.293 mmol/L (3 dp keeps the round trip within 0.01 pp).
    const b = fixture();
    byLoinc(b, '2093-3').valueQuantity = {
      value: 5.508,
      unit: 'mmol/L',
      system: 'http://unitsofmeasure.org',
      code: 'mmol/L',
    };
    byLoinc(b, '2085-9').valueQuantity = {
      value: 1.293,
      unit: 'mmol/L',
      system: 'http://unitsofmeasure.org',
      code: 'mmol/L',
    };
    const out = await score(b);
    expect(Math.abs(out.predictions[0].probability! * 100 - EXPECTED_PCT)).toBeLessThanOrEqual(TOLERANCE_PP);
    expect(out.predictions[0].inputsUsed.find((u) => u.name === 'Total cholesterol')?.unit).toBe('mg/dL');
  });

  it('makes no prediction without HDL and names HDL in `missing`', async () => {
    const b = fixture();
    b.entry = b.entry!.filter((e) => e.resource !== byLoinc(b, '2085-9'));
    const out = await score(b);
    expect(out.predictions).toEqual([]);
    expect(out.missing).toEqual([
      expect.objectContaining({ calculator: 'pce-2013', name: 'HDL cholesterol', reason: 'missing' }),
    ]);
    expect(out.basis).toEqual([]);
    expect(out.summary).toMatch(/not computed: HDL cholesterol missing/);
  });

  it('ignores a preliminary HDL result', async () => {
    const b = fixture();
    byLoinc(b, '2085-9').status = 'preliminary';
    const out = await score(b);
    expect(out.missing.map((m) => m.name)).toEqual(['HDL cholesterol']);
  });

  it('reports a blood pressure older than 2 years as stale', async () => {
    const b = fixture();
    byLoinc(b, '55284-4').effectiveDateTime = '2018-12-01T09:00:00+00:00';
    const out = await score(b);
    expect(out.missing).toEqual([expect.objectContaining({ name: 'Systolic blood pressure', reason: 'stale' })]);
  });

  it('reports SBP above 200 mmHg as out of range rather than clamping it', async () => {
    const b = fixture();
    byLoinc(b, '55284-4').component![1].valueQuantity!.value = 210;
    const out = await score(b);
    expect(out.predictions).toEqual([]);
    expect(out.missing).toEqual([expect.objectContaining({ name: 'Systolic blood pressure', reason: 'out-of-range' })]);
  });

  it('reports age outside 40–79 as out of range', async () => {
    const out = await score(fixture(), new Date('2050-01-01T00:00:00Z'));
    expect(out.missing.find((m) => m.name === 'Age')).toMatchObject({ reason: 'out-of-range' });
  });

  const priorMi: Condition = {
    resourceType: 'Condition',
    id: '00000000-0000-4000-8000-0000000000a1',
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved' }],
    },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '22298006', display: 'Myocardial infarction' }] },
    subject: { reference: 'placeholder' },
    onsetDateTime: '2015-05-01',
    abatementDateTime: '2015-06-01',
  };

  it('excludes a patient with a prior MI (even resolved) instead of predicting', async () => {
    const out = await score(add(fixture(), priorMi));
    expect(out.predictions).toEqual([]);
    expect(out.missing).toEqual([]);
    expect(out.exclusions).toEqual([
      { calculator: 'pce-2013', reason: expect.stringContaining(`Condition/${priorMi.id}`) },
    ]);
    expect(out.summary).toMatch(/not applicable: prior clinical ASCVD/);
  });

  it('excludes on an ICD-10 code in I20–I25 too, but not on an MI after the as-of date', async () => {
    const icd = { ...priorMi, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'I25.2' }] } };
    expect((await score(add(fixture(), icd))).exclusions).toHaveLength(1);
    const later = { ...priorMi, onsetDateTime: '2022-01-01', abatementDateTime: undefined };
    expect((await score(add(fixture(), later))).predictions).toHaveLength(1);
  });

  it('uses the treated-SBP terms when an active lisinopril clinical-drug order is present', async () => {
    const lisinopril: MedicationRequest = {
      resourceType: 'MedicationRequest',
      id: '00000000-0000-4000-8000-0000000000b1',
      status: 'active',
      intent: 'order',
      subject: { reference: 'placeholder' },
      authoredOn: '2020-02-01',
      medicationCodeableConcept: {
        coding: [
          {
            system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
            code: '314076',
            display: 'lisinopril 10 MG Oral Tablet',
          },
        ],
      },
    };
    const out = await score(add(fixture(), lisinopril));
    const expected = pooledCohortRisk({
      age: 55,
      sex: 'male',
      race: 'white',
      totalCholesterol: 213,
      hdl: 50,
      systolicBp: 120,
      treatedBp: true,
      currentSmoker: false,
      diabetes: false,
    });
    expect(out.predictions[0].probability).toBeCloseTo(expected.risk, 12);
    expect(out.basis.map((b) => b.reference)).toContain(`MedicationRequest/${lisinopril.id}`);
  });

  it('excludes a patient who died before the as-of date', async () => {
    const b = fixture();
    (b.entry![0].resource as { deceasedDateTime?: string }).deceasedDateTime = '2021-03-15';
    const out = await score(b);
    expect(out.predictions).toEqual([]);
    expect(out.exclusions[0].reason).toMatch(/deceased on 2021-03-15/);
  });
});
