import { describe, expect, it } from 'vitest';
import {
  charlsonAgePoints,
  charlsonTenYearSurvival,
  createCharlsonCalculator,
} from '../../src/models/calculators/charlson.js';
import { AS_OF, condition, ICD10, patient, record } from './builders.js';

// Source: docs/risk-models.md §6. Survival 0.983^(e^(0.9 × CCI)) as used by MDCalc; the doc's table of estimated
// 10-year survival (CCI 0–6: 98.3, 95.9, 90.1, 77.5, 53.4, 21.4, 2.2 %) is marked [checked]. Tolerance ±0.05 pp
// (one decimal shown).
describe('charlsonTenYearSurvival: the checked survival table', () => {
  const table = [98.3, 95.9, 90.1, 77.5, 53.4, 21.4, 2.2];
  table.forEach((pct, cci) => {
    it(`CCI ${cci} → ${pct} %`, () =>
      expect(Math.abs(charlsonTenYearSurvival(cci) * 100 - pct)).toBeLessThanOrEqual(0.05));
  });

  it('age points: <50 → 0, 50–59 → 1, 60–69 → 2, 70–79 → 3, ≥80 → 4', () => {
    expect([49, 50, 59, 60, 72, 80, 95].map(charlsonAgePoints)).toEqual([0, 1, 1, 2, 3, 4, 4]);
  });
});

// Examples: docs/risk-models.md §6 "Examples [Derived]". Probability = 1 − 10-year survival (10-year mortality).
describe('age-adjusted Charlson: derived examples over FHIR', () => {
  const calc = createCharlsonCalculator();
  const cci = (...args: Parameters<typeof record>) => calc.compute(record(...args), { asOf: AS_OF }).predictions![0];

  it('72 y with type 2 diabetes (uncomplicated) + CHF: 1 + 1 + age 3 = 5 → 21.4 % survival', () => {
    const p = cci(patient(72, 'male'), condition('44054006'), condition('88805009'));
    expect(p.score).toBe(5);
    expect(Math.abs((1 - p.probability!) * 100 - 21.4)).toBeLessThanOrEqual(0.05);
    expect(p).toMatchObject({ horizonYears: 10, qualitativeRisk: 'high', calculator: 'charlson-age-adjusted' });
    expect(p.outcome.coding?.[0].code).toBe('419620001');
  });

  it('45 y with no conditions: 0 → 98.3 % survival (low mortality)', () => {
    const p = cci(patient(45, 'female'));
    expect(p.score).toBe(0);
    expect(Math.abs((1 - p.probability!) * 100 - 98.3)).toBeLessThanOrEqual(0.05);
    expect(p.qualitativeRisk).toBe('low');
  });

  it('65 y with metastatic colon cancer: metastatic 6 + age 2 = 8 → ~0 %, without the primary tumour points', () => {
    const p = cci(patient(65, 'male'), condition('363406005', '2020-01-01'), condition('94260004', '2020-06-01'));
    expect(p.score).toBe(8);
    expect(1 - p.probability!).toBeLessThan(0.001);
  });

  it('55 y with COPD: 1 + 1 = 2 → 90.1 %', () => {
    const p = cci(patient(55, 'female'), condition('185086009'));
    expect(p.score).toBe(2);
    expect(Math.abs((1 - p.probability!) * 100 - 90.1)).toBeLessThanOrEqual(0.05);
  });

  it('maps ICD-10 by Quan 2005 (E11.2 complicated diabetes scores 2, not 1 + 2) and drops tumours older than 5 years', () => {
    const p = cci(
      patient(45, 'male'),
      condition('E11.21', '2015-01-01', ICD10),
      condition('E11.9', '2014-01-01', ICD10),
      condition('C18.7', '2010-01-01', ICD10, {
        clinicalStatus: { coding: [{ code: 'resolved' }] },
        abatementDateTime: '2011-01-01',
      }),
    );
    expect(p.score).toBe(2);
  });
});
