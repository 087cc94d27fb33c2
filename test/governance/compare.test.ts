import { describe, expect, it } from 'vitest';
import type { AuditedPrediction } from '../../src/governance/audit-trail.js';
import { compareOutputs, type PatientOutput } from '../../src/governance/compare/compare-versions.js';
import { cohensKappa } from '../../src/governance/compare/kappa.js';

const pairs = (spec: [string, string, number][]) =>
  spec.flatMap(([a, b, n]) => Array.from({ length: n }, () => [a, b] as const));

describe("Cohen's kappa", () => {
  it('When two raters agree on 35 of 50 items with marginals 25/25 and 30/20, Then kappa is 0.4 (Wikipedia "Cohen\'s kappa", worked example)', () => {
    // yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o = 0.7, p_e = 0.5·0.6 + 0.5·0.4 = 0.5, kappa = 0.4.
    expect(
      cohensKappa(
        pairs([
          ['yes', 'yes', 20],
          ['yes', 'no', 5],
          ['no', 'yes', 10],
          ['no', 'no', 15],
        ]),
      ),
    ).toBeCloseTo(0.4, 10);
  });

  it('When agreement is perfect, at chance, or there is nothing to compare, Then kappa is 1, 0 or undefined', () => {
    expect(
      cohensKappa(
        pairs([
          ['low', 'low', 3],
          ['high', 'high', 2],
        ]),
      ),
    ).toBe(1);
    expect(cohensKappa(pairs([['low', 'low', 4]]))).toBe(1);
    expect(
      cohensKappa(
        pairs([
          ['a', 'a', 1],
          ['a', 'b', 1],
          ['b', 'a', 1],
          ['b', 'b', 1],
        ]),
      ),
    ).toBeCloseTo(0, 10);
    expect(cohensKappa([])).toBeNaN();
  });
});

describe('compareOutputs (models compare)', () => {
  const out = (patient: string, hash: string, ...preds: AuditedPrediction[]): [string, PatientOutput] => [
    patient,
    { patient, recordHash: hash, predictions: new Map(preds.map((p) => [p.calculator, p])) },
  ];
  const pce = (probability: number, risk: string, inputs = ['age', 'HDL cholesterol']): AuditedPrediction => ({
    calculator: 'pce-2013',
    probability,
    risk,
    inputs,
  });

  it('When two versions assessed overlapping patients, Then it reports agreement, risk differences, category changes and input differences on the common ones', () => {
    const a = new Map([
      out('Patient/1', 'h1', pce(0.04, 'low')),
      out('Patient/2', 'h2', pce(0.1, 'moderate')),
      out('Patient/3', 'h3', pce(0.25, 'high')),
      out('Patient/4', 'h4', pce(0.3, 'high')),
    ]);
    const b = new Map([
      out('Patient/1', 'h1', pce(0.05, 'moderate', ['age', 'HDL cholesterol', 'eGFR'])),
      out('Patient/2', 'h2', pce(0.12, 'moderate', ['age', 'HDL cholesterol', 'eGFR'])),
      out('Patient/3', 'h3-new', pce(0.22, 'high', ['age'])),
      out('Patient/5', 'h5', pce(0.3, 'high')),
    ]);
    const c = compareOutputs('m@1', 'm@2', a, b);
    expect(c).toMatchObject({ common: 3, onlyA: 1, onlyB: 1, differentRecords: 1 });
    const [pceRow] = c.calculators;
    expect(pceRow.patients).toBe(3);
    // categories (A, B): (low, moderate), (moderate, moderate), (high, high): p_o = 2/3;
    // p_e = low 1/3·0 + moderate 1/3·2/3 + high 1/3·1/3 = 1/3; kappa = (2/3 - 1/3) / (1 - 1/3) = 0.5.
    expect(pceRow.kappa).toBeCloseTo(0.5, 10);
    expect(pceRow.meanAbsDiff).toBeCloseTo((0.01 + 0.02 + 0.03) / 3, 10);
    expect(pceRow.maxAbsDiff).toBeCloseTo(0.03, 10);
    expect(pceRow.changedCategory).toEqual(['Patient/1: low → moderate']);
    expect(pceRow.inputsOnlyA).toEqual({ 'HDL cholesterol': 1 });
    expect(pceRow.inputsOnlyB).toEqual({ eGFR: 2 });
  });
});
