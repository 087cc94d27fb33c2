import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { CALCULATOR_IDS } from '../../src/models/calculators/index.js';
import { createEmbeddedModel, EMBEDDED_MODEL_VERSION } from '../../src/models/embedded-model.js';
import { formatTable, offlineRegistryFromFile, scoreBundle } from '../../src/models/score.js';

// Fixture: preventr example A (docs/risk-models.md §1b) as a Synthea-style transaction Bundle: 50-year-old
// woman (born 1970-06-15, as-of 2021-04-01), SBP 160 on hydrochlorothiazide, TC 200, HDL 45, diabetes,
// never smoker, eGFR 90 reported as CKD-EPI 2021 (98979-8), BMI 35. Expected 10-yr total CVD 0.147,
// ASCVD 0.092, HF 0.081; 30-yr 0.530 / 0.354 / 0.390 (±0.0005, 3-dp rounding).
const FIXTURE = 'test/fixtures/prevent-example-a.bundle.json';
const AS_OF = new Date('2021-04-01T00:00:00Z');
const fixture = () => JSON.parse(readFileSync(FIXTURE, 'utf8')) as Bundle;

describe('scoreBundle with the whole library (fhir-assess score)', () => {
  it('runs every calculator by default and reproduces example A through the FHIR path', async () => {
    const [out] = await scoreBundle(fixture(), { asOf: AS_OF });
    expect(out.modelVersion).toBe(EMBEDDED_MODEL_VERSION);
    const risk = (id: string) => out.predictions.find((p) => p.calculator === id)?.probability ?? Number.NaN;
    const expected = {
      '10y-cvd': 0.147,
      '10y-ascvd': 0.092,
      '10y-hf': 0.081,
      '30y-cvd': 0.53,
      '30y-ascvd': 0.354,
      '30y-hf': 0.39,
    };
    for (const [k, v] of Object.entries(expected))
      expect(Math.abs(risk(`prevent-${k}`) - v), k).toBeLessThanOrEqual(0.0005);
    // Every calculator is accounted for: computed, excluded or not computed with reasons.
    for (const calc of CALCULATOR_IDS) {
      const seen =
        out.predictions.some((p) => (p.group ?? p.calculator) === calc) ||
        out.exclusions.some((e) => e.calculator === calc) ||
        out.missing.some((m) => m.calculator === calc);
      expect(seen, calc).toBe(true);
    }
    // No AF; eGFR 90 is above KFRE's CKD G3–G5 population; no acute episode for NEWS2/qSOFA.
    expect(out.exclusions.map((e) => e.calculator).sort()).toEqual([
      'cha2ds2-vasc',
      'has-bled',
      'kfre-4v',
      'news2',
      'qsofa',
    ]);
    expect(out.missing.find((m) => m.calculator === 'ckd-epi-2021')).toMatchObject({
      name: 'Serum creatinine',
      reason: 'missing',
    });
    // Charlson: diabetes 1 + age 50 → 1 = 2 → 90.1 % 10-year survival (risk-models.md §6 table).
    expect(out.predictions.find((p) => p.calculator === 'charlson-age-adjusted')).toMatchObject({ score: 2 });
    expect(new Set(out.predictions.map((p) => p.calculator)).size).toBe(out.predictions.length);
    expect(out.summary).toMatch(/10-year risk of total cardiovascular disease .*14\.7 %/);
    expect(out.summary).toMatch(/CKD-EPI 2021 eGFR not computed: Serum creatinine missing/);
  });

  it('accepts calculator ids in --models and prints one inputs table per calculator', async () => {
    const outputs = await scoreBundle(fixture(), { asOf: AS_OF, models: ['prevent', 'charlson-age-adjusted'] });
    expect(outputs).toHaveLength(1);
    expect(outputs[0].predictions.map((p) => p.group ?? p.calculator)).toEqual([
      ...Array(6).fill('prevent'),
      'charlson-age-adjusted',
    ]);
    const text = formatTable(outputs);
    expect(text.match(/Inputs used by prevent:/g)).toHaveLength(1);
    expect(text).toContain('14.68 %');
    expect(text).toContain('2 (9.85 %)'); // Charlson score with its 10-year mortality (1 − 0.983^(e^1.8))
    await expect(scoreBundle(fixture(), { models: ['framingham'] })).rejects.toThrow(
      /Unknown model or calculator id\(s\): framingham/,
    );
  });

  it('runs the embedded models of a models file, with their parameters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'score-models-'));
    try {
      const path = join(dir, 'models.json');
      writeFileSync(
        path,
        JSON.stringify([
          {
            type: 'embedded',
            id: 'cardio',
            calculators: ['prevent-base'],
            parameters: { prevent: { tenYearBands: [0.05, 0.075, 0.1] } },
          },
        ]),
      );
      const [out] = await scoreBundle(fixture(), { asOf: AS_OF, registry: offlineRegistryFromFile(path) });
      expect(out.modelId).toBe('cardio');
      expect(out.predictions.find((p) => p.calculator === 'prevent-10y-cvd')?.qualitativeRisk).toBe('high'); // 14.7 % ≥ 10 %
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('createEmbeddedModel', () => {
  it('keeps the walking skeleton by default: PCE only, version 0.1.0', () => {
    const m = createEmbeddedModel();
    expect(m.version).toBe('0.1.0');
    expect(m.requires.resourceTypes).toEqual(['Patient', 'Observation', 'Condition', 'MedicationRequest']);
  });

  it('says which calculators computed only partly', async () => {
    const b = fixture();
    b.entry = b.entry!.filter(
      (e) => (e.resource as { code?: { coding?: { code?: string }[] } }).code?.coding?.[0]?.code !== '39156-5',
    );
    const [out] = await scoreBundle(b, { asOf: AS_OF, models: ['prevent-base'] });
    expect(out.summary).toMatch(/AHA PREVENT equations computed without: Body mass index missing\./);
  });
});
