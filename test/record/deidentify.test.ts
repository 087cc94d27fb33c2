import { readFileSync } from 'node:fs';
import type { Bundle, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import type { ModelOutput, PatientRecord } from '../../src/models/model.js';
import { recordFromBundle } from '../../src/models/record-from-bundle.js';
import { assembleRecord } from '../../src/record/assemble-record.js';
import { shiftFhirDate, yearsBetween } from '../../src/record/deid/date-shift.js';
import { deidentifyRecord } from '../../src/record/deidentify.js';
import { viewFor } from '../../src/record/model-view.js';
import { recordHash } from '../../src/record/record-hash.js';
import { relinkOutput } from '../../src/record/relink.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { hasSharedData, SHARED_DATA, SHARED_DATA_MISSING } from '../helpers/shared-data.js';
import { PHI_STRINGS, phiRecordResources } from './phi-fixture.js';

const KEY = 'test-deidentify-secret-0123456789abcdef';
const AS_OF = new Date('2021-04-01T00:00:00Z');

function record(resources: Resource[]): PatientRecord {
  return {
    patientId: resources[0].id as string,
    bundle: { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) },
    hash: recordHash(resources),
    truncated: false,
  };
}

/** Every string value (and number, as text) anywhere in a JSON value. */
function allStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'number') out.push(String(value));
  else if (Array.isArray(value)) for (const v of value) allStrings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) allStrings(v, out);
  return out;
}

describe('de-identification (HIPAA Safe Harbor)', () => {
  const input = phiRecordResources();
  const d = deidentifyRecord(record(input), AS_OF, KEY);
  const out = d.record.bundle.entry?.map((e) => e.resource as Resource) ?? [];

  it('When scanning every string of the output, Then no name, identifier, contact, address part, id, free text or real date survives', () => {
    const strings = allStrings(d.record);
    for (const phi of PHI_STRINGS) {
      const leaks = strings.filter((s) => s === phi || s.includes(phi));
      expect(leaks, `"${phi}" leaked`).toEqual([]);
    }
    expect(strings.length).toBeGreaterThan(20); // the clinical content is still there
  });

  it('keeps clinical codes, values, state and the race category; drops non-clinical resources', () => {
    expect(out.map((r) => r.resourceType)).toEqual(['Patient', 'Observation', 'Observation', 'Condition']);
    const patient = out[0] as Patient;
    expect(patient).toMatchObject({ gender: 'female', address: [{ state: 'Ohio', country: 'US' }] });
    expect(patient.name).toBeUndefined();
    // mothersMaidenName is gone; the birth place keeps only its state (Safe Harbor allows states).
    expect(patient.extension?.map((e) => e.url)).toEqual([
      'http://hl7.org/fhir/StructureDefinition/patient-birthPlace',
      'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
    ]);
    expect(patient.extension?.[0].valueAddress).toEqual({ state: 'Ohio', country: 'US' });
    expect(patient.extension?.[1].extension).toEqual([
      {
        url: 'ombCategory',
        valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2106-3', display: 'White' },
      },
    ]);
    const chol = out[1] as Observation;
    expect(chol.code.coding?.[0]).toMatchObject({
      code: '2093-3',
      display: 'Cholesterol [Mass/volume] in Serum or Plasma',
    });
    expect(chol.valueQuantity).toEqual({
      value: 213,
      unit: 'mg/dL',
      system: 'http://unitsofmeasure.org',
      code: 'mg/dL',
    });
    expect(chol.note).toBeUndefined();
    expect(chol.code.text).toBeUndefined();
    expect(d.record.deidentified).toBe(true);
    expect(d.record.patientId).not.toBe('pat-8842-real');
  });

  it('shifts every date by the same per-patient offset (precision kept) and the as-of date with them', () => {
    const shift = d.pseudonyms.shiftDays;
    expect(shift).toBeGreaterThanOrEqual(1);
    expect(shift).toBeLessThanOrEqual(365);
    const chol = out[1] as Observation;
    expect(chol.effectiveDateTime).toBe(shiftFhirDate('2021-03-01T09:15:00-05:00', -shift));
    expect(chol.effectiveDateTime?.endsWith('T09:15:00-05:00')).toBe(true);
    expect((out[2] as Observation).effectiveDateTime).toMatch(/^\d{4}-\d{2}$/);
    expect((out[0] as Patient).birthDate).toBe(shiftFhirDate('1958-07-23', -shift));
    expect(AS_OF.getTime() - d.asOf.getTime()).toBe(shift * 86_400_000);
    expect(yearsBetween((out[0] as Patient).birthDate as string, d.asOf)).toBe(yearsBetween('1958-07-23', AS_OF));
    // Same key and patient: same shift and pseudonyms; another key: different ones.
    const again = deidentifyRecord(record(input), AS_OF, KEY);
    expect(again.record.hash).toBe(d.record.hash);
    expect(deidentifyRecord(record(input), AS_OF, `${KEY}-rotated`).record.patientId).not.toBe(d.record.patientId);
  });

  it('When the patient is over 89, Then the age is shown as 90', () => {
    const old = phiRecordResources();
    (old[0] as Patient).birthDate = '1921-02-03';
    const od = deidentifyRecord(record(old), AS_OF, KEY);
    const birth = (od.record.bundle.entry?.[0]?.resource as Patient | undefined)?.birthDate as string;
    expect(yearsBetween(birth, od.asOf)).toBe(90);
    expect(allStrings(od.record).some((s) => s.includes('1921'))).toBe(false);
  });

  it('When a model answers with pseudonymous references and shifted dates, Then re-linking restores the real ones and drops unknown ones', () => {
    const pseudoObs = `Observation/${out[1].id}`;
    const shiftedDate = (out[1] as Observation).effectiveDateTime?.slice(0, 10) as string;
    const answer: ModelOutput = {
      modelId: 'hosted',
      modelVersion: '1',
      predictions: [
        {
          calculator: 'x',
          outcome: { text: 'risk' },
          probability: 0.1,
          rationale: `Based on ${pseudoObs} of ${shiftedDate}.`,
          inputsUsed: [{ name: 'Total cholesterol', value: 213, source: pseudoObs, effective: shiftedDate }],
        },
      ],
      missing: [],
      exclusions: [],
      summary: `Cholesterol ${pseudoObs}.`,
      basis: [{ reference: pseudoObs }, { reference: 'Observation/made-up-by-the-model' }],
    };
    const relinked = relinkOutput(answer, d.pseudonyms);
    expect(relinked.basis).toEqual([{ reference: 'Observation/obs-chol-20210301' }]);
    expect(relinked.predictions[0].inputsUsed[0]).toMatchObject({
      source: 'Observation/obs-chol-20210301',
      effective: '2021-03-01',
    });
    expect(relinked.predictions[0].rationale).toBe('Based on Observation/obs-chol-20210301 of 2021-03-01.');
    expect(relinked.summary).toBe('Cholesterol Observation/obs-chol-20210301.');
  });
});

describe('a model outside the trust boundary', () => {
  it('When the embedded model runs on the de-identified view, Then it gives the same risk, and re-linked inputs equal the identified run', async () => {
    const bundle = JSON.parse(readFileSync('test/fixtures/goff-2013-white-male.bundle.json', 'utf8')) as Bundle;
    const identified = recordFromBundle(bundle);
    const model = createEmbeddedModel();
    const direct = await model.assess(identified, { asOf: AS_OF });
    const view = viewFor({ mayReceiveIdentifiedData: false }, identified, AS_OF, KEY);
    expect(view.record.deidentified).toBe(true);
    const raw = await model.assess(view.record, { asOf: view.asOf });
    const relinked = view.relink(raw);
    expect(direct.predictions[0].probability).toBeCloseTo(0.0538, 3);
    expect(relinked.predictions[0].probability).toBe(direct.predictions[0].probability);
    expect(relinked.basis.map((b) => b.reference).sort()).toEqual(direct.basis.map((b) => b.reference).sort());
    const simplify = (o: ModelOutput) =>
      o.predictions[0].inputsUsed.map(({ name, value, source, effective }) => ({ name, value, source, effective }));
    expect(simplify(relinked)).toEqual(simplify(direct));
    // What the model saw referenced nothing real.
    expect(raw.basis.some((b) => direct.basis.some((r) => r.reference === b.reference))).toBe(false);
  });

  it('When the model may see identified data, Then it gets the record unchanged', () => {
    const r = record(phiRecordResources());
    const view = viewFor({ mayReceiveIdentifiedData: true }, r, AS_OF, KEY);
    expect(view.record).toBe(r);
    expect(view.asOf).toBe(AS_OF);
  });
});

if (!hasSharedData) console.warn(SHARED_DATA_MISSING);

describe.skipIf(!hasSharedData)('de-identification of real Synthea records', () => {
  it('When 4 Synthea patients are read from the sandbox and de-identified, Then none of their identifying strings survive', async () => {
    const sb = await startSandbox({ logger: false });
    try {
      await sb.loadFile(`${SHARED_DATA}/synthea/patients-80.ndjson.gz`, 4);
      const client = new FhirClient({ baseUrl: sb.baseUrl });
      const patients = await client.searchAll<Patient>('Patient', { _count: '10' });
      expect(patients).toHaveLength(4);
      const types = [
        'Patient',
        'Observation',
        'Condition',
        'MedicationRequest',
        'Encounter',
        'Procedure',
        'Immunization',
      ];
      for (const p of patients) {
        const rec = await assembleRecord(client, p.id as string, { requires: [{ resourceTypes: types }], asOf: AS_OF });
        const d = deidentifyRecord(rec, AS_OF, KEY);
        const outStrings = allStrings(d.record);
        const phi = identifyingStrings(rec.bundle.entry?.map((e) => e.resource as Resource) ?? []);
        expect(phi.size).toBeGreaterThan(rec.bundle.entry?.length ?? 0); // every id at least, plus names etc.
        const leaks = outStrings.filter((s) => phi.has(s) || [...phi].some((x) => x.length >= 6 && s.includes(x)));
        expect(leaks).toEqual([]);
        expect(d.record.bundle.entry?.length).toBe(rec.bundle.entry?.length); // clinical types all kept
      }
    } finally {
      await sb.close();
    }
  });
});

/** Ids, references, identifiers, names, telecom, address parts below state and extension strings of a record. */
function identifyingStrings(resources: Resource[]): Set<string> {
  const out = new Set<string>();
  const add = (v: unknown) => {
    for (const s of allStrings(v)) if (s.length >= 3) out.add(s);
  };
  for (const r of resources) {
    const any = r as unknown as Record<string, unknown>;
    add(r.id);
    add(any.identifier);
    add(any.name);
    add(any.telecom);
    for (const a of (any.address as Record<string, unknown>[] | undefined) ?? [])
      add([a.line, a.city, a.postalCode, a.district, a.extension]);
    for (const e of (any.extension as Record<string, unknown>[] | undefined) ?? [])
      add([e.valueString, (e.valueAddress as { city?: string })?.city]);
    add(JSON.stringify(any.text ?? ''));
    if ((r as Patient).birthDate) add((r as Patient).birthDate);
  }
  for (const r of resources) for (const s of allStrings(r)) if (/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]+$/.test(s)) out.add(s);
  return out;
}
