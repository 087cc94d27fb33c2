import type { Encounter, Observation, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { recordAsOf } from '../../src/validation/as-of-record.js';
import { evaluatePatient } from '../../src/validation/evaluate-patient.js';
import { followUp } from '../../src/validation/outcomes/follow-up.js';
import { outcomeFor } from '../../src/validation/outcomes/outcome-definitions.js';
import { targetFor } from '../../src/validation/targets.js';
import { bpPanel, condition, LOINC, patient, quantity, record, SCT, smoking } from '../models/builders.js';

const AS_OF = new Date('2011-01-01T00:00:00Z');
const ASCVD = outcomeFor('pce-2013')!;
const DEATH = outcomeFor('charlson-age-adjusted')!;

const encounter = (start: string): Encounter => ({
  resourceType: 'Encounter',
  id: `e-${start}`,
  status: 'finished',
  class: { code: 'AMB' },
  period: { start, end: start },
});
const causeOfDeath = (code: string, date: string): Observation => ({
  resourceType: 'Observation',
  id: `cod-${code}`,
  status: 'final',
  code: { coding: [{ system: LOINC, code: '69453-9' }] },
  effectiveDateTime: date,
  valueCodeableConcept: { coding: [{ system: SCT, code }] },
});

describe('the record as it stood on the as-of date', () => {
  it('When data, a death and an abatement come after the as-of date, Then none of them reaches the model', () => {
    const p: Patient = { ...patient(60, 'male'), deceasedDateTime: '2015-03-01' };
    const hf = condition('88805009', '2009-01-01', SCT, {
      abatementDateTime: '2013-01-01',
      clinicalStatus: { coding: [{ code: 'resolved' }] },
    });
    const later = quantity('2093-3', 250, 'mg/dL', '2012-05-01');
    const before = quantity('2093-3', 190, 'mg/dL', '2010-05-01');
    const undated = { ...quantity('2085-9', 50, 'mg/dL'), effectiveDateTime: undefined };
    const { record: r, cut } = recordAsOf(record(p, hf, later, before, undated), AS_OF);
    const kept = (r.bundle.entry ?? []).map((e) => e.resource!);
    expect(kept.map((x) => x.id)).toEqual([p.id, hf.id, before.id]);
    expect(cut).toEqual({ after: 1, undated: 1 });
    expect((kept[0] as Patient).deceasedDateTime).toBeUndefined();
    const asOfHf = kept[1] as typeof hf;
    expect(asOfHf.abatementDateTime).toBeUndefined();
    expect(asOfHf.clinicalStatus?.coding?.[0].code).toBe('active');
  });
});

describe('follow-up after the as-of date', () => {
  it('When an MI is recorded 3 years after the as-of date, Then it is the event at ~3 y', () => {
    const p = patient(60, 'male');
    const f = followUp(
      record(p, condition('22298006', '2014-01-01'), encounter('2021-02-01')).bundle,
      ASCVD,
      AS_OF,
      10,
    );
    expect(f).toMatchObject({ event: true, end: 'outcome' });
    expect('time' in f && f.time).toBeCloseTo(3, 1);
  });

  it('When an MI was before the as-of date, Then it is not an outcome (the model saw it as history)', () => {
    const p = patient(60, 'male');
    const f = followUp(
      record(p, condition('22298006', '2005-01-01'), encounter('2021-02-01')).bundle,
      ASCVD,
      AS_OF,
      10,
    );
    expect(f).toEqual({ time: 10, event: false, end: 'horizon' });
  });

  it('When the patient dies of sudden cardiac death, Then the death is a hard ASCVD event; of cancer, follow-up is censored', () => {
    const cardiac = { ...patient(60, 'male'), deceasedDateTime: '2016-01-01' };
    const f1 = followUp(record(cardiac, causeOfDeath('95281009', '2016-01-01')).bundle, ASCVD, AS_OF, 10);
    expect(f1).toMatchObject({ event: true, end: 'outcome' });
    const cancer = { ...patient(60, 'male'), deceasedDateTime: '2016-01-01' };
    const f2 = followUp(record(cancer, causeOfDeath('363406005', '2016-01-01')).bundle, ASCVD, AS_OF, 10);
    expect(f2).toMatchObject({ event: false, end: 'death-other-cause' });
    expect('time' in f2 && f2.time).toBeCloseTo(5, 1);
    const unknown = { ...patient(60, 'male'), deceasedDateTime: '2016-01-01' };
    expect(followUp(record(unknown).bundle, ASCVD, AS_OF, 10)).toMatchObject({ end: 'death-unknown-cause' });
    expect(followUp(record(unknown).bundle, DEATH, AS_OF, 10)).toMatchObject({ event: true, end: 'outcome' });
  });

  it('When the record stops before the horizon, Then follow-up ends at the last contact; with none after the as-of date the patient is excluded', () => {
    const p = patient(60, 'male');
    const f = followUp(record(p, encounter('2016-07-01')).bundle, ASCVD, AS_OF, 10);
    expect(f).toMatchObject({ event: false, end: 'end-of-record' });
    expect('time' in f && f.time).toBeCloseTo(5.5, 1);
    expect(followUp(record(p, encounter('2009-07-01')).bundle, ASCVD, AS_OF, 10)).toEqual({
      excluded: 'no contact recorded after the as-of date',
    });
  });

  it('When eGFR falls below 15 after the as-of date, Then KFRE’s kidney failure outcome is found', () => {
    const p = patient(70, 'female');
    const egfr = quantity('33914-3', 12, 'mL/min/{1.73_m2}', '2012-06-01');
    const f = followUp(record(p, egfr, encounter('2021-01-01')).bundle, outcomeFor('kfre-4v-2y')!, AS_OF, 2);
    expect(f).toMatchObject({ event: true, end: 'outcome', evidence: `Observation/${egfr.id}` });
  });
});

describe('one patient evaluated end to end', () => {
  it('When the newest lipids are after the as-of date, Then the PCE use the older ones and the later MI is the outcome', async () => {
    // Goff 2013 worked example inputs (white male 55, TC 213, HDL 50, SBP 120 untreated, non-smoker, no diabetes),
    // measured in 2010; a later panel with other values must not be used.
    const p = { ...patient(0, 'male'), birthDate: '1955-06-15' };
    const r = record(
      p,
      quantity('2093-3', 213, 'mg/dL', '2010-06-01'),
      quantity('2085-9', 50, 'mg/dL', '2010-06-01'),
      bpPanel(120, '2010-06-01'),
      smoking('never', '2010-06-01'),
      quantity('2093-3', 300, 'mg/dL', '2012-06-01'),
      condition('22298006', '2015-02-01'),
      encounter('2020-12-01'),
    );
    const [row] = await evaluatePatient(createEmbeddedModel({ calculators: 'all' }), r, { asOf: AS_OF }, [
      targetFor('pce-2013'),
    ]);
    expect(row.excluded).toBeUndefined();
    expect(row.inputs?.['Total cholesterol']).toBe(213);
    expect(row.age).toBe(55);
    expect(row.risk).toBeGreaterThan(0.04);
    expect(row).toMatchObject({ event: true, end: 'outcome', sex: 'male' });
  });

  it('When a horizon other than the prediction’s is asked for, Then the target is refused with the right one named', () => {
    expect(() => targetFor('pce-2013', 5)).toThrow(/predicts a 10-year risk.*a horizon of 10y/);
    expect(() => targetFor('news2')).toThrow(/no outcome definition for 'news2'/);
    expect(targetFor('kfre-4v-5y')).toMatchObject({ calculator: 'kfre-4v', horizonYears: 5 });
    // PREVENT predictions as the calculator names them since 0.3.0 (the variant is chosen per record).
    expect(targetFor('prevent-10y-cvd')).toMatchObject({ calculator: 'prevent', horizonYears: 10 });
    expect(targetFor('prevent-30y-hf')).toMatchObject({ calculator: 'prevent', horizonYears: 30 });
  });
});
