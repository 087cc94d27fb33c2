import { describe, expect, it } from 'vitest';
import {
  type PceInputs,
  pceCategory,
  pceCoefficients,
  pooledCohortRisk,
} from '../../src/models/calculators/pooled-cohort-equations.js';

/** ±0.01 percentage points, the acceptance tolerance of docs/risk-models.md §1. */
const TOLERANCE_PP = 0.01;

const base: Omit<PceInputs, 'sex' | 'race'> = {
  age: 55,
  totalCholesterol: 213,
  hdl: 50,
  systolicBp: 120,
  treatedBp: false,
  currentSmoker: false,
  diabetes: false,
};

describe('pooledCohortRisk: Goff 2013 worked example', () => {
  // Source: Goff DC Jr et al., 2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk,
  // Circulation 2014;129(25 Suppl 2):S49–S73, Table A worked example (55 y, TC 213 mg/dL, HDL 50 mg/dL,
  // SBP 120 mmHg untreated, non-smoker, no diabetes). Paper IndSums and full-precision risks as re-computed in
  // docs/risk-models.md §1 ("Published example"): the paper's 5.3 % for white men comes from its rounded
  // IndSum 60.69; full precision gives 5.38 %.
  const cases = [
    { sex: 'female', race: 'white', paperIndSum: -29.67, indSum: -29.677, riskPct: 2.05 },
    { sex: 'female', race: 'african-american', paperIndSum: 86.16, indSum: 86.168, riskPct: 3.03 },
    { sex: 'male', race: 'white', paperIndSum: 60.69, indSum: 60.7, riskPct: 5.38 },
    { sex: 'male', race: 'african-american', paperIndSum: 18.97, indSum: 18.973, riskPct: 6.07 },
  ] as const;

  for (const c of cases) {
    it(`${c.race} ${c.sex}: risk ${c.riskPct} % ±0.01 pp, IndSum ${c.paperIndSum} (paper, 2 dp)`, () => {
      const { risk, indSum } = pooledCohortRisk({ ...base, sex: c.sex, race: c.race });
      expect(Math.abs(risk * 100 - c.riskPct)).toBeLessThanOrEqual(TOLERANCE_PP);
      // The paper prints IndSum to 2 dp (white male: 60.69 vs 60.6995 unrounded), so allow one unit in the 2nd dp.
      expect(Math.abs(indSum - c.paperIndSum)).toBeLessThanOrEqual(0.011);
      // The 3-dp full-precision IndSums of risk-models.md §1.
      expect(Math.abs(indSum - c.indSum)).toBeLessThanOrEqual(0.0006);
    });
  }
});

describe('pooledCohortRisk: vcastro/CVrisk SBP-140 set', () => {
  // Source: vcastro/CVrisk tests/testthat/test-ascvd_10y_accaha.R (results rounded to 2 dp), quoted in
  // docs/risk-models.md §1 "Second example set": 55 y, TC 213, HDL 50, SBP 140 untreated, non-smoker, no diabetes.
  const cases = [
    { sex: 'male', race: 'african-american', riskPct: 7.95 },
    { sex: 'female', race: 'african-american', riskPct: 5.08 },
    { sex: 'female', race: 'white', riskPct: 2.76 },
    { sex: 'male', race: 'white', riskPct: 7.01 },
    { sex: 'male', race: 'other', riskPct: 7.01 },
  ] as const;

  for (const c of cases) {
    it(`${c.race} ${c.sex}: ${c.riskPct} % ±0.01 pp`, () => {
      const { risk } = pooledCohortRisk({ ...base, systolicBp: 140, sex: c.sex, race: c.race });
      expect(Math.abs(risk * 100 - c.riskPct)).toBeLessThanOrEqual(TOLERANCE_PP);
    });
  }
});

describe('pooledCohortRisk: structure', () => {
  it('uses the treated-SBP terms, not both, when on BP medication', () => {
    // Goff 2013 Table A: treated and untreated ln SBP carry different coefficients (white male 1.797 vs 1.764).
    const untreated = pooledCohortRisk({ ...base, sex: 'male', race: 'white' });
    const treated = pooledCohortRisk({ ...base, sex: 'male', race: 'white', treatedBp: true });
    expect(treated.indSum - untreated.indSum).toBeCloseTo((1.797 - 1.764) * Math.log(120), 10);
  });

  it('adds smoking (with its age interaction) and diabetes terms', () => {
    const plain = pooledCohortRisk({ ...base, sex: 'male', race: 'white' });
    const smoker = pooledCohortRisk({ ...base, sex: 'male', race: 'white', currentSmoker: true });
    const diabetic = pooledCohortRisk({ ...base, sex: 'male', race: 'white', diabetes: true });
    expect(smoker.indSum - plain.indSum).toBeCloseTo(7.837 - 1.795 * Math.log(55), 10);
    expect(diabetic.indSum - plain.indSum).toBeCloseTo(0.658, 10);
  });

  it('maps "other" race to the white coefficients', () => {
    expect(pceCoefficients('other', 'female')).toEqual(pceCoefficients('white', 'female'));
  });
});

describe('pceCategory', () => {
  // 2018 AHA/ACC cholesterol guideline bands (docs/risk-models.md §1 "Interpretation"); our qualitativeRisk mapping:
  // low → low, borderline and intermediate → moderate, high → high.
  it.each([
    [0.0499, 'low', 'low'],
    [0.05, 'borderline', 'moderate'],
    [0.0749, 'borderline', 'moderate'],
    [0.075, 'intermediate', 'moderate'],
    [0.1999, 'intermediate', 'moderate'],
    [0.2, 'high', 'high'],
  ])('%f → %s / %s', (risk, label, qualitative) => {
    const c = pceCategory(risk);
    expect(c.label).toBe(label);
    expect(c.qualitativeRisk).toBe(qualitative);
  });
});
