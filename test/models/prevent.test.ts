import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS } from '../../src/models/calculators/params.js';
import { createPreventCalculator, preventCategory } from '../../src/models/calculators/prevent.js';
import {
  PREVENT_DATA_DIR,
  parsePreventCsv,
  preventBaseTable,
} from '../../src/models/calculators/prevent-coefficients.js';
import { type PreventInputs, preventRisk } from '../../src/models/calculators/prevent-equations.js';
import { AS_OF, bpPanel, condition, medication, patient, quantity, record, smoking } from './builders.js';
import { EXAMPLE_A } from './prevent-example.js';

// Source: preventr (Mayer M, CRAN v0.12.0) tests/testthat/test-estimate_risk.R, base model, outputs rounded to
// 3 dp, quoted in docs/risk-models.md §1b "Reference examples", Example A: 50-year-old female, SBP 160 on BP
// meds, TC 200, HDL 45, no statin, diabetes, non-smoker, eGFR 90, BMI 35.
//   10-yr: total CVD 0.147, ASCVD 0.092, HF 0.081, CHD 0.044, stroke 0.054
//   30-yr: total CVD 0.530, ASCVD 0.354, HF 0.390, CHD 0.198, stroke 0.221
// Tolerance: the published values are rounded to 3 dp, so ±0.0005.
const TOLERANCE = 0.0005;
const EXPECTED = {
  10: { total_cvd: 0.147, ascvd: 0.092, heart_failure: 0.081, chd: 0.044, stroke: 0.054 },
  30: { total_cvd: 0.53, ascvd: 0.354, heart_failure: 0.39, chd: 0.198, stroke: 0.221 },
} as const;

describe('preventRisk: preventr example A', () => {
  for (const horizon of [10, 30] as const) {
    for (const [outcome, expected] of Object.entries(EXPECTED[horizon])) {
      it(`${horizon}-year ${outcome}: ${expected} ±0.0005`, () => {
        const risk = preventRisk(EXAMPLE_A, outcome as keyof (typeof EXPECTED)[10], horizon);
        expect(Math.abs(risk - expected)).toBeLessThanOrEqual(TOLERANCE);
      });
    }
  }

  it('needs BMI for heart failure only', () => {
    const noBmi = { ...EXAMPLE_A, bmi: undefined };
    expect(preventRisk(noBmi, 'total_cvd', 10)).toBeCloseTo(preventRisk(EXAMPLE_A, 'total_cvd', 10), 12);
    expect(() => preventRisk(noBmi, 'heart_failure', 10)).toThrow(/BMI/);
  });
});

describe('PREVENT coefficient files (data/prevent)', () => {
  it('reads the shipped base tables with the values of risk-models.md §1b', () => {
    const ten = preventBaseTable(10);
    // Spot checks against the base 10-yr table of risk-models.md §1b.
    expect(ten.female_total_cvd.constant).toBe(-3.307728);
    expect(ten.male_ascvd.age).toBe(0.7099847);
    expect(ten.female_heart_failure.bmiAbove30).toBe(0.2997706);
    expect(ten.male_heart_failure.nonHdl).toBe(0);
    expect(ten.female_total_cvd.ageSquared).toBe(0); // 10-year models have no age² term
    expect(preventBaseTable(30).female_total_cvd.ageSquared).toBe(-0.0928369);
    expect(Object.keys(ten)).toHaveLength(10);
  });

  it('rejects a file with an unknown term, naming it', () => {
    const text = readFileSync(join(PREVENT_DATA_DIR, 'prevent_base_10yr_coefficients.csv'), 'utf8');
    expect(() => parsePreventCsv(text.replace('Statin use', 'Statin dose'), 'x.csv')).toThrow(
      /x.csv: unknown PREVENT term "Statin dose"/,
    );
  });
});

describe('preventCategory', () => {
  it.each([
    [0.049, 10, 'low'],
    [0.05, 10, 'moderate'],
    [0.147, 10, 'moderate'],
    [0.2, 10, 'high'],
    [0.09, 30, 'low'],
    [0.29, 30, 'moderate'],
    [0.53, 30, 'high'],
  ] as const)('%f at %i y → %s', (risk, horizon, q) => {
    expect(preventCategory(risk, horizon, DEFAULT_PARAMS.prevent).qualitativeRisk).toBe(q);
  });
});

/** Example A as a FHIR record; eGFR 90 reported as CKD-EPI 2021 (98979-8) so the inputs are exact. */
function exampleARecord(
  extra: Parameters<typeof record>[1][] = [],
  egfr = quantity('98979-8', 90, 'mL/min/{1.73_m2}'),
) {
  return record(
    patient(50, 'female'),
    bpPanel(160),
    quantity('2093-3', 200, 'mg/dL'),
    quantity('2085-9', 45, 'mg/dL'),
    quantity('39156-5', 35, 'kg/m2'),
    egfr,
    smoking('never'),
    condition('44054006'),
    medication('Hydrochlorothiazide 25 MG Oral Tablet'),
    ...extra,
  );
}

describe('PREVENT calculator over FHIR', () => {
  const calc = createPreventCalculator();

  it('reproduces example A from a FHIR record: six predictions with sources', () => {
    const r = calc.compute(exampleARecord(), { asOf: AS_OF });
    expect(r.missing).toEqual([]);
    const byId = Object.fromEntries((r.predictions ?? []).map((p) => [p.calculator, p]));
    expect(Object.keys(byId).sort()).toEqual(
      ['10y-ascvd', '10y-cvd', '10y-hf', '30y-ascvd', '30y-cvd', '30y-hf'].map((s) => `prevent-${s}`),
    );
    const expected: Record<string, number> = {
      '10y-cvd': 0.147,
      '10y-ascvd': 0.092,
      '10y-hf': 0.081,
      '30y-cvd': 0.53,
      '30y-ascvd': 0.354,
      '30y-hf': 0.39,
    };
    for (const [k, v] of Object.entries(expected)) {
      const p = byId[`prevent-${k}`];
      expect(Math.abs(p.probability! - v)).toBeLessThanOrEqual(TOLERANCE);
      expect(p.group).toBe('prevent');
      expect(p.horizonYears).toBe(Number(k.slice(0, 2)));
    }
    expect(byId['prevent-10y-cvd']).toMatchObject({
      qualitativeRisk: 'moderate',
      category: expect.stringMatching(/^intermediate/),
    });
    expect(byId['prevent-10y-hf'].outcome.coding?.[0].code).toBe('84114007');
    const used = Object.fromEntries(byId['prevent-10y-hf'].inputsUsed.map((u) => [u.name, u]));
    expect(used['Systolic blood pressure']).toMatchObject({
      value: 160,
      unit: 'mm[Hg]',
      source: expect.stringMatching(/^Observation\//),
    });
    expect(used.eGFR).toMatchObject({ value: 90, derivation: expect.stringContaining('reported') });
    expect(used['Treated for hypertension']).toMatchObject({
      value: true,
      source: expect.stringMatching(/^MedicationRequest\//),
    });
    // BMI enters only the heart-failure equations.
    expect(byId['prevent-10y-cvd'].inputsUsed.some((u) => u.name === 'Body mass index')).toBe(false);
  });

  it('derives eGFR from creatinine with CKD-EPI 2021 and reports the derivation', () => {
    const r = calc.compute(exampleARecord([], quantity('38483-4', 0.8, 'mg/dL')), { asOf: AS_OF });
    const egfr = r.predictions![0].inputsUsed.find((u) => u.name === 'eGFR')!;
    // 50-y female, Scr 0.8 mg/dL: 142 × (0.8/0.7)^−1.2 × 0.9938^50 × 1.012 = 89.71 (CKD-EPI 2021, Inker 2021).
    expect(egfr.value as number).toBeCloseTo(89.71, 2);
    expect(egfr.derivation).toMatch(/CKD-EPI 2021 from serum creatinine 0.80 mg\/dL/);
    expect(egfr.source).toMatch(/^Observation\//);
  });

  it('makes CVD and ASCVD but not HF predictions without BMI, and says why', () => {
    const rec = exampleARecord();
    rec.bundle.entry = rec.bundle.entry!.filter(
      (e) => (e.resource as { code?: { coding?: { code?: string }[] } }).code?.coding?.[0]?.code !== '39156-5',
    );
    const r = createPreventCalculator().compute(rec, { asOf: AS_OF });
    expect(r.predictions!.map((p) => p.calculator)).not.toContain('prevent-10y-hf');
    expect(r.predictions).toHaveLength(4);
    expect(r.missing).toEqual([expect.objectContaining({ name: 'Body mass index', reason: 'missing' })]);
  });

  it('reports SBP above 180 mmHg as out of range and makes no prediction', () => {
    const rec = record(
      patient(50, 'female'),
      bpPanel(185),
      quantity('2093-3', 200, 'mg/dL'),
      quantity('2085-9', 45, 'mg/dL'),
      quantity('98979-8', 90, 'mL/min/{1.73_m2}'),
      smoking('never'),
    );
    const r = calc.compute(rec, { asOf: AS_OF });
    expect(r.predictions).toBeUndefined();
    expect(r.missing).toContainEqual(
      expect.objectContaining({ name: 'Systolic blood pressure', reason: 'out-of-range' }),
    );
  });

  it('gives no 30-year risk at 65 (defined for 30–59) and says so', () => {
    const rec = record(
      patient(65, 'male'),
      bpPanel(130),
      quantity('2093-3', 200, 'mg/dL'),
      quantity('2085-9', 45, 'mg/dL'),
      quantity('98979-8', 80, 'mL/min/{1.73_m2}'),
      quantity('39156-5', 27, 'kg/m2'),
      smoking('former'),
    );
    const r = calc.compute(rec, { asOf: AS_OF });
    expect(r.predictions!.every((p) => p.horizonYears === 10)).toBe(true);
    expect(r.missing).toEqual([expect.objectContaining({ name: 'Age (30-year risk)', reason: 'not-applicable' })]);
  });

  it('does not apply to a patient with heart failure (known CVD)', () => {
    const r = calc.compute(exampleARecord([condition('88805009')]), { asOf: AS_OF });
    expect(r.exclusion).toMatch(/known cardiovascular disease/);
  });

  it('When only an MDRD eGFR (33914-3) is on record, Then no prediction, and the reason names the MDRD value', () => {
    const r = calc.compute(exampleARecord([], quantity('33914-3', 90, 'mL/min/{1.73_m2}')), { asOf: AS_OF });
    expect(r.predictions).toBeUndefined();
    expect(r.missing).toContainEqual(
      expect.objectContaining({
        name: 'eGFR',
        reason: 'missing',
        detail: expect.stringMatching(/MDRD eGFR 90 \(Observation\/[^,]+, 2021-03-01\) is not used/),
      }),
    );
  });

  it('When only a CKD-EPI eGFR of unstated version (62238-1) is on record, Then PREVENT runs and says so', () => {
    const r = calc.compute(exampleARecord([], quantity('62238-1', 90, 'mL/min/{1.73_m2}')), { asOf: AS_OF });
    expect(r.missing).toEqual([]);
    const cvd = r.predictions!.find((p) => p.calculator === 'prevent-10y-cvd')!;
    // preventr example A again (eGFR 90): total CVD 0.147.
    expect(Math.abs(cvd.probability! - 0.147)).toBeLessThanOrEqual(TOLERANCE);
    const egfr = cvd.inputsUsed.find((u) => u.name === 'eGFR')!;
    expect(egfr).toMatchObject({ value: 90, source: expect.stringMatching(/^Observation\//) });
    expect(egfr.derivation).toMatch(/LOINC 62238-1.*equation version not stated/);
    expect(cvd.rationale).toMatch(/without stating the equation version/);
  });
});

// preventr tests/testthat/test-prevent_equations.R, "HbA1c model works, female" (hba1c = 9.2), "UACR model works,
// female" (uacr = 92), "Full model works, female" (hba1c = 9.2, uacr = 92, zip = "14738", a decile in 1–3: see
// prevent-variants.test.ts), all on example A's inputs; 3 dp, so ±0.0005.
describe('PREVENT model types chosen from the record', () => {
  const calc = createPreventCalculator();
  const uacr92 = () => quantity('14959-1', 92, 'mg/g');
  const hba1c92 = () => quantity('4548-4', 9.2, '%');
  const cvd = (r: ReturnType<typeof calc.compute>) => r.predictions!.find((p) => p.calculator === 'prevent-10y-cvd')!;

  it('When neither UACR nor HbA1c nor SDI is usable, Then the base model runs and says why', () => {
    const p = cvd(calc.compute(exampleARecord(), { asOf: AS_OF }));
    expect(p.variant?.id).toBe('base');
    expect(p.variant?.reason).toMatch(
      /^base model: no optional predictor usable; Urine albumin.* not on record; HbA1c not on record; SDI not usable \(no postal code/,
    );
    expect(p.method).toMatch(/PREVENT equations, base model/);
  });

  it('When a UACR is on record, Then the UACR model runs: preventr 0.181 / 0.111 / 0.105', () => {
    const r = calc.compute(exampleARecord([uacr92()]), { asOf: AS_OF });
    const byId = Object.fromEntries(r.predictions!.map((p) => [p.calculator, p]));
    expect(byId['prevent-10y-cvd'].variant?.id).toBe('uacr');
    for (const [id, v] of [
      ['prevent-10y-cvd', 0.181],
      ['prevent-10y-ascvd', 0.111],
      ['prevent-10y-hf', 0.105],
      ['prevent-30y-cvd', 0.565],
    ] as const)
      expect(Math.abs(byId[id].probability! - v), id).toBeLessThanOrEqual(TOLERANCE);
    expect(byId['prevent-10y-cvd'].inputsUsed).toContainEqual(
      expect.objectContaining({ name: 'Urine albumin/creatinine ratio', value: 92, unit: 'mg/g' }),
    );
  });

  it('When an HbA1c is on record, Then the HbA1c model runs: preventr 0.165 / 0.103 / 0.107', () => {
    const r = calc.compute(exampleARecord([hba1c92()]), { asOf: AS_OF });
    const byId = Object.fromEntries(r.predictions!.map((p) => [p.calculator, p]));
    expect(byId['prevent-10y-cvd'].variant?.id).toBe('hba1c');
    for (const [id, v] of [
      ['prevent-10y-cvd', 0.165],
      ['prevent-10y-ascvd', 0.103],
      ['prevent-10y-hf', 0.107],
      ['prevent-30y-hf', 0.449],
    ] as const)
      expect(Math.abs(byId[id].probability! - v), id).toBeLessThanOrEqual(TOLERANCE);
  });

  it('When UACR and HbA1c are on record, Then the full model runs with SDI as "missing" and says so', () => {
    const rec = exampleARecord([uacr92(), hba1c92()]);
    (rec.bundle.entry![0].resource as Patient).address = [{ use: 'home', postalCode: '14738' }];
    const p = cvd(calc.compute(rec, { asOf: AS_OF }));
    expect(p.variant?.id).toBe('full');
    expect(p.variant?.reason).toMatch(
      /2 optional predictors: Urine albumin\/creatinine ratio 92 mg\/g, HbA1c 9.2 %; SDI not usable \(no ZIP→SDI table/,
    );
    // No published example has SDI missing in the full model: check against the equation with the missing term.
    const inputs: PreventInputs = { ...EXAMPLE_A, uacr: 92, hba1c: 9.2 };
    expect(p.probability).toBeCloseTo(preventRisk(inputs, 'total_cvd', 10, 'full'), 12);
    expect(p.probability).not.toBeCloseTo(preventRisk({ ...inputs, sdiDecile: 3 }, 'total_cvd', 10, 'full'), 4);
  });

  it('When a ZIP→SDI table maps the postal code, Then SDI is used: preventr full model 0.174 / 0.105 / 0.114', () => {
    const withSdi = createPreventCalculator(DEFAULT_PARAMS, (zip) => (zip === '14738' ? 3 : undefined));
    const rec = exampleARecord([uacr92(), hba1c92()]);
    (rec.bundle.entry![0].resource as Patient).address = [{ use: 'home', postalCode: '14738-1234' }];
    const byId = Object.fromEntries(withSdi.compute(rec, { asOf: AS_OF }).predictions!.map((p) => [p.calculator, p]));
    expect(byId['prevent-10y-cvd'].variant?.reason).toMatch(/3 optional predictors: .*SDI decile 3$/);
    for (const [id, v] of [
      ['prevent-10y-cvd', 0.174],
      ['prevent-10y-ascvd', 0.105],
      ['prevent-10y-hf', 0.114],
      ['prevent-30y-cvd', 0.534],
    ] as const)
      expect(Math.abs(byId[id].probability! - v), id).toBeLessThanOrEqual(TOLERANCE);
  });

  it('When the HbA1c is stale, Then it is a stale finding with its date and value, and the base model runs', () => {
    const r = calc.compute(exampleARecord([quantity('4548-4', 7.1, '%', '2017-02-03')]), { asOf: AS_OF });
    expect(cvd(r).variant?.id).toBe('base');
    expect(r.missing).toContainEqual(
      expect.objectContaining({ name: 'HbA1c', reason: 'stale', detail: expect.stringMatching(/2017-02-03.*7\.1 %/) }),
    );
  });

  it('When the HbA1c is out of range (preventr: 4.5–15 %), Then it is a finding and not used', () => {
    const r = calc.compute(exampleARecord([quantity('4548-4', 16, '%')]), { asOf: AS_OF });
    expect(cvd(r).variant?.id).toBe('base');
    expect(r.missing).toContainEqual(expect.objectContaining({ name: 'HbA1c', reason: 'out-of-range' }));
  });
});
