import type { Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { createNews2Calculator } from '../../src/models/calculators/news2.js';
import { createQsofaCalculator } from '../../src/models/calculators/qsofa.js';
import { AS_OF, hoursBefore, LOINC, patient, quantity, record } from './builders.js';

/** The shipped Synthea data has no RR, SpO2, pulse or consciousness: these tests build the Observations. */
const AN_HOUR_AGO = hoursBefore(1);
const vital = (code: string, value: number, unit: string, when = AN_HOUR_AGO) => quantity(code, value, unit, when);

/** An ACVPU assessment (LOINC 67775-7) answered with text, e.g. "Alert", "Voice", "New confusion". */
function avpu(text: string, when = AN_HOUR_AGO): Observation {
  return {
    resourceType: 'Observation',
    id: `avpu-${text}`,
    status: 'final',
    code: { coding: [{ system: LOINC, code: '67775-7' }] },
    effectiveDateTime: when,
    valueCodeableConcept: { text },
  };
}

interface Vitals {
  rr: number;
  spo2: number;
  o2?: number;
  sbp: number;
  hr: number;
  consciousness: Observation;
  temp: number;
}

function vitals(v: Vitals) {
  return [
    vital('9279-1', v.rr, '/min'),
    vital('59408-5', v.spo2, '%'),
    ...(v.o2 !== undefined ? [vital('3151-8', v.o2, 'L/min')] : []),
    vital('8480-6', v.sbp, 'mm[Hg]'),
    vital('8867-4', v.hr, '/min'),
    v.consciousness,
    vital('8310-5', v.temp, 'Cel'),
  ];
}

const gcs = (score: number) => vital('9269-2', score, '{score}');

// NEWS2 examples: docs/risk-models.md §5 "Examples [Derived]" (exact points from the RCP 2017 chart).
// Tolerance: exact aggregate and band.
describe('NEWS2: derived examples, built as FHIR Observations', () => {
  const calc = createNews2Calculator();
  const news2 = (v: Vitals) => calc.compute(record(patient(60, 'female'), ...vitals(v)), { asOf: AS_OF });

  it('RR 24, SpO2 95 % on air, SBP 105, HR 115, Alert, T 38.5 → 7, high', () => {
    const r = news2({ rr: 24, spo2: 95, sbp: 105, hr: 115, consciousness: gcs(15), temp: 38.5 });
    expect(r.missing).toEqual([]);
    expect(r.predictions![0]).toMatchObject({ score: 7, qualitativeRisk: 'high', calculator: 'news2' });
    expect(r.predictions![0].category).toMatch(/high clinical risk: emergency response/);
    expect(r.predictions![0].probability).toBeUndefined();
    expect(r.predictions![0].horizonYears).toBeUndefined();
  });

  it('all normal (RR 16, SpO2 98 %, air, SBP 125, HR 72, Alert, 37.0) → 0, low', () => {
    const r = news2({ rr: 16, spo2: 98, sbp: 125, hr: 72, consciousness: avpu('Alert'), temp: 37.0 });
    expect(r.predictions![0]).toMatchObject({ score: 0, qualitativeRisk: 'low' });
  });

  it('RR 18, SpO2 97 %, air, SBP 130, HR 80, new confusion, T 37.2 → 3 with a red parameter: low–medium', () => {
    const r = news2({ rr: 18, spo2: 97, sbp: 130, hr: 80, consciousness: avpu('New confusion'), temp: 37.2 });
    expect(r.predictions![0]).toMatchObject({ score: 3, qualitativeRisk: 'moderate' });
    expect(r.predictions![0].category).toMatch(/low-medium clinical risk: urgent ward-based response/);
  });

  it('RR 28, SpO2 90 % on O2, SBP 88, HR 135, Voice, T 35.0 → 20 (the maximum)', () => {
    const r = news2({ rr: 28, spo2: 90, o2: 2, sbp: 88, hr: 135, consciousness: avpu('Voice'), temp: 35.0 });
    expect(r.predictions![0]).toMatchObject({ score: 20, qualitativeRisk: 'high' });
    expect(r.predictions![0].inputsUsed.find((u) => u.name === 'Supplemental oxygen')).toMatchObject({ value: true });
  });

  it('reads a temperature in °F ((F − 32) × 5/9)', () => {
    const v = vitals({ rr: 16, spo2: 98, sbp: 125, hr: 72, consciousness: gcs(15), temp: 0 });
    v[v.length - 1] = vital('8310-5', 101.3, '[degF]'); // 38.5 °C → 1 point
    const r = calc.compute(record(patient(60, 'male'), ...v), { asOf: AS_OF });
    expect(r.predictions![0].score).toBe(1);
  });

  it('does not apply to a record with no acute vital sign in 24 h (an outpatient BP is not an episode)', () => {
    const r = calc.compute(record(patient(60, 'male'), vital('8480-6', 125, 'mm[Hg]')), { asOf: AS_OF });
    expect(r.exclusion).toMatch(/no respiratory rate, SpO2, pulse or consciousness in the last 24 h/);
    expect(r.missing).toEqual([]);
  });

  it('lists vital signs older than 24 h as stale instead of scoring them', () => {
    const old = vitals({ rr: 16, spo2: 98, sbp: 125, hr: 72, consciousness: gcs(15), temp: 37 });
    old[0] = vital('9279-1', 16, '/min', hoursBefore(30));
    const r = calc.compute(record(patient(60, 'male'), ...old), { asOf: AS_OF });
    expect(r.predictions).toBeUndefined();
    expect(r.missing).toEqual([expect.objectContaining({ name: 'Respiratory rate', reason: 'stale' })]);
  });
});

// qSOFA examples: docs/risk-models.md §5 "Examples [Derived]" (Seymour 2016 rule). Tolerance: exact score.
describe('qSOFA: derived examples', () => {
  const calc = createQsofaCalculator();
  const qsofa = (rr: number, gcsScore: number, sbp: number) =>
    calc.compute(
      record(patient(60, 'male'), vital('9279-1', rr, '/min'), gcs(gcsScore), vital('8480-6', sbp, 'mm[Hg]')),
      { asOf: AS_OF },
    );

  it('RR 24, GCS 14, SBP 95 → 3 (high)', () => {
    expect(qsofa(24, 14, 95).predictions![0]).toMatchObject({ score: 3, qualitativeRisk: 'high', calculator: 'qsofa' });
  });

  it('RR 22, GCS 15, SBP 120 → 1', () => {
    expect(qsofa(22, 15, 120).predictions![0]).toMatchObject({ score: 1, qualitativeRisk: 'low' });
  });

  it('RR 20, GCS 15, SBP 100 → 1 (SBP 100 counts: the rule is ≤ 100)', () => {
    expect(qsofa(20, 15, 100).predictions![0].score).toBe(1);
  });

  it('names a missing mentation assessment instead of assuming alert', () => {
    const r = calc.compute(record(patient(60, 'male'), vital('9279-1', 24, '/min'), vital('8480-6', 95, 'mm[Hg]')), {
      asOf: AS_OF,
    });
    expect(r.predictions).toBeUndefined();
    expect(r.missing).toEqual([expect.objectContaining({ name: 'Consciousness', reason: 'missing' })]);
  });
});
