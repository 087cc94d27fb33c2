import { describe, expect, it } from 'vitest';
import { createCha2ds2VascCalculator } from '../../src/models/calculators/cha2ds2-vasc.js';
import { createHasBledCalculator } from '../../src/models/calculators/has-bled.js';
import { CalculatorParamsSchema } from '../../src/models/calculators/params.js';
import { AS_OF, bpPanel, condition, medication, patient, quantity, record } from './builders.js';

/** Atrial fibrillation, SNOMED 49436004 (Synthea). */
const af = () => condition('49436004', '2018-01-01');

// CHA2DS2-VASc examples: docs/risk-models.md §4 "Examples [Derived]" (exact arithmetic on the Lip 2010 points),
// annual stroke rates from the ESC 2010 Table 8 row quoted there (4.0, 9.8, 0, 3.2 %/yr). Tolerance: exact score;
// rate equal to the table value.
describe('CHA2DS2-VASc: derived examples (ESC 2010 table)', () => {
  const calc = createCha2ds2VascCalculator();
  const score = (...args: Parameters<typeof record>) => calc.compute(record(...args), { asOf: AS_OF }).predictions![0];

  it('72 y woman with hypertension and diabetes: A 1 + Sc 1 + H 1 + D 1 = 4 (4.0 %/yr)', () => {
    const p = score(patient(72, 'female'), af(), condition('38341003'), condition('44054006'));
    expect(p.score).toBe(4);
    expect(p.probability).toBe(0.04);
    expect(p).toMatchObject({ qualitativeRisk: 'high', horizonYears: 1, calculator: 'cha2ds2-vasc' });
    expect(p.method).toMatch(/2010 ESC AF guideline Table 8/);
  });

  it('80 y man with prior stroke, HF, hypertension: A2 2 + S2 2 + C 1 + H 1 = 6 (9.8 %/yr)', () => {
    const p = score(patient(80, 'male'), af(), condition('230690007'), condition('88805009'), condition('38341003'));
    expect(p.score).toBe(6);
    expect(p.probability).toBeCloseTo(0.098, 12);
  });

  it('55 y man, no risk factors: 0 (low)', () => {
    const p = score(patient(55, 'male'), af());
    expect(p).toMatchObject({ score: 0, probability: 0, qualitativeRisk: 'low' });
  });

  it('68 y woman with prior MI: A 1 + Sc 1 + V 1 = 3 (3.2 %/yr)', () => {
    const p = score(patient(68, 'female'), af(), condition('22298006', '2010-03-01'));
    expect(p.score).toBe(3);
    expect(p.probability).toBeCloseTo(0.032, 12);
    expect(p.qualitativeRisk).toBe('high');
  });

  it('counts an antihypertensive as H, but not a rate-control drug alone (verapamil)', () => {
    expect(score(patient(55, 'male'), af(), medication('Hydrochlorothiazide 25 MG')).score).toBe(1);
    expect(score(patient(55, 'male'), af(), medication('Verapamil Hydrochloride 40 MG')).score).toBe(0);
  });

  it('uses the Friberg 2012 rates when configured (score 4 → 4.8 %/yr)', () => {
    const friberg = createCha2ds2VascCalculator(
      CalculatorParamsSchema.parse({ cha2ds2vasc: { strokeRateTable: 'friberg-2012' } }),
    );
    const r = friberg.compute(record(patient(72, 'female'), af(), condition('38341003'), condition('44054006')), {
      asOf: AS_OF,
    });
    expect(r.predictions![0].probability).toBeCloseTo(0.048, 12);
    expect(r.predictions![0].method).toMatch(/Friberg 2012/);
  });

  it('does not apply without atrial fibrillation', () => {
    expect(calc.compute(record(patient(72, 'female')), { asOf: AS_OF }).exclusion).toMatch(/no atrial fibrillation/);
  });
});

/** An INR result (6301-6, unitless) `days` before as-of. */
const inr = (value: number, days: number) =>
  quantity('6301-6', value, '{INR}', new Date(AS_OF.getTime() - days * 86_400_000).toISOString().slice(0, 10));

// HAS-BLED examples: docs/risk-models.md §4 "Examples [Derived]" (Pisters 2010 points). Bleed rates per
// 100 patient-years from the Pisters 2010 row quoted there (3 → 3.74). Tolerance: exact score and table value.
describe('HAS-BLED: derived examples', () => {
  const calc = createHasBledCalculator();
  const normalLabs = () => [bpPanel(130, '2021-03-01'), quantity('2160-0', 1.0, 'mg/dL')];

  it('70 y on warfarin with labile INR, plus aspirin: E 1 + L 1 + D 1 = 3 (high)', () => {
    // 1 of 4 INRs in 2.0–3.0 in the last 180 days: time in range 25 % < 60 % → labile.
    const r = calc.compute(
      record(
        patient(70, 'male'),
        af(),
        ...normalLabs(),
        medication('Warfarin Sodium 5 MG Oral Tablet'),
        medication('Aspirin 81 MG Oral Tablet', '2021-03-01'),
        inr(1.6, 10),
        inr(3.8, 40),
        inr(2.4, 70),
        inr(1.4, 100),
      ),
      { asOf: AS_OF },
    );
    const p = r.predictions![0];
    expect(p.score).toBe(3);
    expect(p).toMatchObject({ qualitativeRisk: 'high', horizonYears: 1 });
    expect(p.probability).toBeCloseTo(0.0374, 12);
    expect(p.rationale).toMatch(/L: labile INR.*E: elderly.*D: antiplatelet or NSAID/);
    expect(r.missing).toEqual([]);
    expect(p.inputsUsed.find((u) => u.name.startsWith('INR time in range'))?.value).toBe(0.25);
  });

  it('60 y with SBP 170 and prior stroke: H 1 + S 1 = 2', () => {
    const r = calc.compute(
      record(
        patient(60, 'female'),
        af(),
        bpPanel(170),
        quantity('2160-0', 0.9, 'mg/dL'),
        condition('230690007', '2019-05-01'),
      ),
      { asOf: AS_OF },
    );
    expect(r.predictions![0]).toMatchObject({ score: 2, qualitativeRisk: 'moderate' });
    expect(r.predictions![0].probability).toBeCloseTo(0.0188, 12);
    expect(r.missing).toEqual([]);
  });

  it('counts an unassessable INR as 0 and lists it, calling the score a minimum', () => {
    const r = calc.compute(
      record(patient(70, 'male'), af(), ...normalLabs(), medication('Warfarin Sodium 5 MG Oral Tablet')),
      { asOf: AS_OF },
    );
    expect(r.predictions![0].score).toBe(1);
    expect(r.missing).toEqual([expect.objectContaining({ name: 'INR series', reason: 'missing' })]);
    expect(r.predictions![0].rationale).toMatch(/score is a minimum/);
  });

  it('scores abnormal renal function from creatinine ≥ 200 µmol/L', () => {
    const r = calc.compute(record(patient(50, 'male'), af(), bpPanel(120), quantity('14682-9', 210, 'umol/L')), {
      asOf: AS_OF,
    });
    expect(r.predictions![0].score).toBe(1);
  });
});
