import { describe, expect, it } from 'vitest';
import { createKfreCalculator, kfreCategory, kfreRisk } from '../../src/models/calculators/kfre.js';
import { CalculatorParamsSchema } from '../../src/models/calculators/params.js';
import { AS_OF, condition, patient, procedure, quantity, record } from './builders.js';

// Source: lshpaner/kfre README.md and py_scripts/single_patient.py, quoted in docs/risk-models.md §2
// ("Published example", reproduced exactly): 57.28-year-old female, eGFR 15, UACR 1762.00184 mg/g,
// non-North-American calibration → 2-yr 44.66 %, 5-yr 89.89 %. Tolerance: ±0.005 pp (the values are given to 2 dp).
const EXAMPLE = { age: 57.28, male: false, egfr: 15, uacr: 1762.00184 };
const TOLERANCE_PP = 0.005;

describe('kfreRisk: kfre README example', () => {
  it('2-year risk 44.66 % (non-North-American)', () => {
    expect(Math.abs(kfreRisk(EXAMPLE, 2, 'non-north-america') * 100 - 44.66)).toBeLessThanOrEqual(TOLERANCE_PP);
  });

  it('5-year risk 89.89 % (non-North-American)', () => {
    expect(Math.abs(kfreRisk(EXAMPLE, 5, 'non-north-america') * 100 - 89.89)).toBeLessThanOrEqual(TOLERANCE_PP);
  });

  it('uses the North American baselines 0.9750 / 0.9240 when asked (higher risk)', () => {
    const lp = Math.log(1 - kfreRisk(EXAMPLE, 2, 'non-north-america')) / Math.log(0.9832);
    expect(kfreRisk(EXAMPLE, 2, 'north-america')).toBeCloseTo(1 - 0.975 ** lp, 12);
    expect(kfreRisk(EXAMPLE, 5, 'north-america')).toBeGreaterThan(kfreRisk(EXAMPLE, 5, 'non-north-america'));
  });
});

describe('kfreCategory', () => {
  it.each([
    [0.02, 5, 'low'],
    [0.04, 5, 'moderate'],
    [0.06, 5, 'high'],
    [0.08, 2, 'low'],
    [0.2, 2, 'high'],
    [0.45, 2, 'high'],
  ] as const)('%f at %i y → %s', (risk, horizon, q) => expect(kfreCategory(risk, horizon).qualitativeRisk).toBe(q));
});

describe('KFRE calculator over FHIR', () => {
  const nonNa = createKfreCalculator(CalculatorParamsSchema.parse({ kfre: { region: 'non-north-america' } }));

  it('computes 2- and 5-year risks from a CKD-EPI eGFR derived from creatinine and a UACR', () => {
    // 57-y female, Scr 3.2 mg/dL → eGFR by CKD-EPI 2021; UACR 1762 mg/g.
    const rec = record(patient(57, 'female'), quantity('38483-4', 3.2, 'mg/dL'), quantity('14959-1', 1762, 'mg/g'));
    const r = nonNa.compute(rec, { asOf: AS_OF });
    expect(r.missing).toEqual([]);
    const [two, five] = r.predictions!;
    const egfr = two.inputsUsed.find((u) => u.name === 'eGFR')!;
    expect(egfr.derivation).toMatch(/^CKD-EPI 2021/);
    expect(two).toMatchObject({ calculator: 'kfre-4v-2y', group: 'kfre-4v', horizonYears: 2 });
    expect(two.probability).toBeCloseTo(
      kfreRisk({ age: 57, male: false, egfr: egfr.value as number, uacr: 1762 }, 2, 'non-north-america'),
      12,
    );
    expect(five).toMatchObject({ calculator: 'kfre-4v-5y', horizonYears: 5, qualitativeRisk: 'high' });
    expect(five.method).toMatch(/non-North-American/);
  });

  it('accepts a reported MDRD eGFR (33914-3, as Synthea writes it) when there is no creatinine', () => {
    const rec = record(
      patient(57, 'female'),
      quantity('33914-3', 15, 'mL/min'),
      quantity('14959-1', 1762.00184, 'mg/g'),
    );
    const r = nonNa.compute(rec, { asOf: AS_OF });
    // Whole-year age 57 instead of 57.28 moves the example slightly: 2-y risk within 0.5 pp of 44.66 %.
    expect(Math.abs(r.predictions![0].probability! * 100 - 44.66)).toBeLessThan(0.5);
    expect(r.predictions![0].inputsUsed.find((u) => u.name === 'eGFR')?.derivation).toMatch(/reported/);
  });

  it('does not apply at eGFR ≥ 60, nor once kidney failure is treated', () => {
    const ok = record(patient(57, 'male'), quantity('2160-0', 0.9, 'mg/dL'), quantity('14959-1', 50, 'mg/g'));
    expect(nonNa.compute(ok, { asOf: AS_OF }).exclusion).toMatch(/≥60: KFRE is for CKD G3–G5/);
    const dialysis = record(patient(57, 'male'), quantity('2160-0', 6, 'mg/dL'), procedure('302497006', '2021-02-01'));
    expect(nonNa.compute(dialysis, { asOf: AS_OF }).exclusion).toMatch(/kidney failure already treated/);
    const eskd = record(patient(57, 'male'), condition('46177005'));
    expect(nonNa.compute(eskd, { asOf: AS_OF }).exclusion).toMatch(/End-stage|46177005|kidney failure/);
  });

  it('lists a missing UACR instead of guessing it', () => {
    const r = nonNa.compute(record(patient(57, 'female'), quantity('2160-0', 3.2, 'mg/dL')), { asOf: AS_OF });
    expect(r.predictions).toBeUndefined();
    expect(r.missing).toEqual([expect.objectContaining({ name: 'Urine albumin/creatinine ratio', reason: 'missing' })]);
  });
});
