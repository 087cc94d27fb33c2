import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { CALCULATOR_IDS } from '../../src/models/calculators/index.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { ageInYears } from '../../src/models/fhir-inputs/index.js';
import type { ModelOutput } from '../../src/models/model.js';
import { recordFromBundle } from '../../src/models/record-from-bundle.js';
import { planWriteBack } from '../../src/writeback/plan.js';
import { validateOne } from '../../src/writeback/validate.js';
import { SHARED_DATA, SHARED_DATA_MISSING } from '../helpers/shared-data.js';

// The whole calculator library over the 80 curated Synthea patients (../shared/data/synthea, see its README.md)
// at as-of 2021-04-01 (their clinical dates end 2021-03-31). For each calculator: no crash, every patient
// accounted for (computed, excluded, or the missing inputs named), and the calculator computes for the
// patients the manifest says have its inputs.
const DATA = `${SHARED_DATA}/synthea/patients-80.ndjson.gz`;
const MANIFEST = `${SHARED_DATA}/synthea/patients-80.manifest.json`;
const AS_OF = new Date('2021-04-01T00:00:00Z');
const available = existsSync(DATA) && existsSync(MANIFEST);

interface ManifestPatient {
  line: number;
  patientId: string;
  birthDate: string;
  deceasedDateTime: string | null;
  flags: Record<string, boolean>;
  extraFlags: Record<string, boolean>;
}

type Status = 'computed' | 'excluded' | 'not computed';

function statusOf(out: ModelOutput, calc: string): Status | undefined {
  if (out.predictions.some((p) => (p.group ?? p.calculator) === calc)) return 'computed';
  if (out.exclusions.some((e) => e.calculator === calc)) return 'excluded';
  return out.missing.some((m) => m.calculator === calc) ? 'not computed' : undefined;
}

const TITLE = available ? 'full calculator library over the 80 Synthea patients' : SHARED_DATA_MISSING;

/** Which living patients the manifest says have each calculator's inputs (ages at as-of). */
const ELIGIBLE: Record<string, (r: { p: ManifestPatient; age: number }) => boolean> = {
  'pce-2013': (r) => r.age >= 40 && r.age <= 79 && r.p.flags.hasSBP && r.p.flags.hasTotalChol && r.p.flags.hasHDL,
  prevent: (r) => r.age >= 30 && r.age <= 79 && r.p.flags.hasSBP && r.p.flags.hasTotalChol && r.p.flags.hasCreatinine,
  'ckd-epi-2021': (r) => r.age >= 18 && r.p.flags.hasCreatinine,
  'kfre-4v': (r) => r.age >= 18 && r.p.extraFlags.hasUACR && (r.p.flags.hasCreatinine || r.p.extraFlags.hasEGFR),
  'cha2ds2-vasc': (r) => r.age >= 18 && r.p.flags.hasAFib,
  'has-bled': (r) => r.age >= 18 && r.p.flags.hasAFib,
  news2: (r) => r.p.extraFlags.hasRespRate && r.p.extraFlags.hasSpO2,
  qsofa: (r) => r.p.extraFlags.hasRespRate,
  'charlson-age-adjusted': (r) => r.age >= 18,
};

describe.skipIf(!available)(TITLE, () => {
  const rows: { p: ManifestPatient; age: number; alive: boolean; out: ModelOutput }[] = [];
  const counts: Record<string, Record<Status, number>> = {};

  beforeAll(async () => {
    const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { patients: ManifestPatient[] };
    const lines = gunzipSync(readFileSync(DATA)).toString('utf8').split('\n').filter(Boolean);
    const model = createEmbeddedModel({ calculators: 'all' });
    for (const p of manifest.patients) {
      const rec = recordFromBundle(JSON.parse(lines[p.line]) as Bundle);
      const alive = !p.deceasedDateTime || new Date(p.deceasedDateTime) > AS_OF;
      rows.push({ p, age: ageInYears(p.birthDate, AS_OF) ?? -1, alive, out: await model.assess(rec, { asOf: AS_OF }) });
    }
    for (const calc of CALCULATOR_IDS) {
      counts[calc] = { computed: 0, excluded: 0, 'not computed': 0 };
      for (const r of rows) {
        const s = statusOf(r.out, calc);
        if (s) counts[calc][s]++;
      }
    }
    const eligibility = Object.fromEntries(
      CALCULATOR_IDS.map((calc) => {
        const withInputs = rows.filter((r) => r.alive && ELIGIBLE[calc](r));
        const computed = withInputs.filter((r) => statusOf(r.out, calc) === 'computed').length;
        return [calc, { 'manifest has inputs (alive)': withInputs.length, 'computed of those': computed }];
      }),
    );
    console.table(counts);
    console.table(eligibility);
  }, 120_000);

  it('assesses all 80 without throwing and accounts for every calculator for every patient', () => {
    expect(rows).toHaveLength(80);
    for (const { out } of rows) {
      for (const calc of CALCULATOR_IDS) expect(statusOf(out, calc), `${calc}`).toBeDefined();
      for (const m of out.missing) expect(m.detail ?? m.reason).toMatch(/\S{3,}/);
      const ids = out.predictions.map((p) => p.calculator);
      expect(new Set(ids).size).toBe(ids.length); // one RiskAssessment per prediction: ids must be unique
      for (const p of out.predictions) {
        if (p.probability !== undefined) expect(p.probability).toBeGreaterThanOrEqual(0);
        if (p.probability !== undefined) expect(p.probability).toBeLessThanOrEqual(1);
        expect(p.qualitativeRisk).toMatch(/^(negligible|low|moderate|high|certain)$/);
        expect(p.outcome.text).toBeTruthy();
      }
    }
  });

  it('excludes every patient who died before the as-of date from every calculator (18 in the manifest)', () => {
    const dead = rows.filter((r) => !r.alive);
    expect(dead).toHaveLength(18);
    for (const r of dead) expect(r.out.predictions).toEqual([]);
  });

  it('computes Charlson for every living adult, CHA2DS2-VASc and HAS-BLED for every living adult with AF', () => {
    const adults = rows.filter((r) => r.alive && r.age >= 18);
    expect(counts['charlson-age-adjusted'].computed).toBe(adults.length);
    const af = adults.filter((r) => r.p.flags.hasAFib);
    expect(af.length).toBeGreaterThan(0);
    for (const calc of ['cha2ds2-vasc', 'has-bled']) {
      expect(counts[calc].computed).toBe(af.length);
      for (const r of af) expect(statusOf(r.out, calc)).toBe('computed');
    }
  });

  it('computes CKD-EPI, PCE and PREVENT for patients with the inputs, and names a stale or out-of-range one otherwise', () => {
    const alive = rows.filter((r) => r.alive);
    for (const calc of ['ckd-epi-2021', 'pce-2013', 'prevent']) {
      const withInputs = alive.filter(ELIGIBLE[calc]);
      const computed = withInputs.filter((r) => statusOf(r.out, calc) === 'computed');
      expect(computed.length, calc).toBeGreaterThan(0);
      for (const r of withInputs.filter((x) => !computed.includes(x))) {
        const why = [
          ...r.out.exclusions.filter((e) => e.calculator === calc),
          ...r.out.missing.filter((m) => m.calculator === calc && m.reason !== 'missing'),
          ...r.out.missing.filter((m) => m.calculator === calc && /smoking|eGFR|Body mass/i.test(m.name)),
        ];
        expect(why.length, `${calc} ${r.p.patientId}`).toBeGreaterThan(0);
      }
    }
  });

  it('computes KFRE only for CKD G3–G5 with a UACR, and NEWS2/qSOFA for nobody (no acute vital signs)', () => {
    const kfre = rows.filter((r) => statusOf(r.out, 'kfre-4v') === 'computed');
    for (const r of kfre) {
      expect(r.p.extraFlags.hasUACR).toBe(true);
      const egfr = r.out.predictions.find((p) => p.group === 'kfre-4v')!.inputsUsed.find((u) => u.name === 'eGFR')!;
      expect(egfr.value as number).toBeLessThan(60);
    }
    for (const r of rows.filter((x) => x.alive && ELIGIBLE['kfre-4v'](x) && !kfre.includes(x))) {
      const why = [
        ...r.out.exclusions.filter((e) => e.calculator === 'kfre-4v' && /≥60|kidney failure/.test(e.reason)),
        ...r.out.missing.filter((m) => m.calculator === 'kfre-4v'),
      ];
      expect(why.length, r.p.patientId).toBeGreaterThan(0);
    }
    // No acute vital signs in this data: NEWS2 and qSOFA do not apply to anyone (and say why).
    for (const calc of ['news2', 'qsofa']) {
      expect(counts[calc]).toEqual({ computed: 0, excluded: 80, 'not computed': 0 });
    }
    for (const r of rows.filter((x) => x.alive)) {
      expect(r.out.exclusions).toContainEqual({ calculator: 'news2', reason: expect.stringMatching(/acute episode/) });
    }
  });

  it('gives outputs the write-back can map and validate: one RiskAssessment per prediction, unique identifiers', () => {
    for (const { p, out } of rows.filter((r) => r.out.predictions.length > 0)) {
      const plan = planWriteBack({
        patientId: p.patientId,
        key: `bench-${p.line}`,
        output: out,
        modelTitle: 'fhir-assess published clinical risk equations',
        mode: 'preliminary',
        asOf: AS_OF,
        serviceVersion: 'test',
        now: AS_OF,
      });
      const risks = plan.filter((e) => e.resource.resourceType === 'RiskAssessment');
      expect(risks).toHaveLength(out.predictions.length);
      expect(new Set(risks.map((e) => e.ifNoneExist)).size).toBe(risks.length);
      // Validated as sent on the wire: every error fails this test (qualitative-only predictions included).
      for (const e of plan) {
        const resource = JSON.parse(JSON.stringify(e.resource)) as Resource;
        const errors = validateOne(resource, 'preliminary').filter(
          (i) => i.severity === 'error' || i.severity === 'fatal',
        );
        expect(errors, `${p.patientId} ${resource.resourceType}`).toEqual([]);
      }
    }
  }, 120_000);
});
