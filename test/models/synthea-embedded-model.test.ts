import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Bundle } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { ageInYears } from '../../src/models/fhir-inputs/index.js';
import type { ModelOutput } from '../../src/models/model.js';
import { recordFromBundle } from '../../src/models/record-from-bundle.js';
import { SHARED_DATA } from '../helpers/shared-data.js';

// Data: /work/shared/data/synthea (see its README.md): 80 Synthea v2.4 patients from smart-on-fhir/generated-sample-data
// (Apache-2.0), one transaction Bundle per line; the manifest flags which inputs each patient has. Clinical dates
// end 2021-03-31, hence the fixed as-of date.
const DATA = `${SHARED_DATA}/synthea/patients-80.ndjson.gz`;
const MANIFEST = `${SHARED_DATA}/synthea/patients-80.manifest.json`;
const AS_OF = new Date('2021-04-01T00:00:00Z');

interface ManifestPatient {
  line: number;
  patientId: string;
  birthDate: string;
  flags: Record<string, boolean>;
  extraFlags: Record<string, boolean>;
}

const available = existsSync(DATA) && existsSync(MANIFEST);

describe.skipIf(!available)(`embedded model over the 80 Synthea patients (skipped: ${DATA} not found)`, () => {
  const results: { patient: ManifestPatient; bundle: Bundle; output: ModelOutput }[] = [];

  beforeAll(async () => {
    const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { patients: ManifestPatient[] };
    const lines = gunzipSync(readFileSync(DATA)).toString('utf8').split('\n').filter(Boolean);
    const model = createEmbeddedModel();
    for (const patient of manifest.patients) {
      const record = recordFromBundle(JSON.parse(lines[patient.line]) as Bundle);
      expect(record.patientId).toBe(patient.patientId);
      results.push({ patient, bundle: record.bundle, output: await model.assess(record, { asOf: AS_OF }) });
    }
  });

  it('assesses every patient without throwing, and accounts for PCE in each output', () => {
    expect(results).toHaveLength(80);
    for (const { output } of results) {
      const pce = {
        predicted: output.predictions.some((p) => p.calculator === 'pce-2013'),
        excluded: output.exclusions.some((e) => e.calculator === 'pce-2013'),
        missing: output.missing.some((m) => m.calculator === 'pce-2013'),
      };
      // Exactly one of: a prediction, an exclusion, or a list of missing inputs.
      expect(Number(pce.predicted) + Number(pce.excluded) + Number(pce.missing)).toBe(1);
      expect(output.summary.length).toBeGreaterThan(0);
    }
  });

  it('gives probabilities in 0–1 whose basis references resolve inside the record', () => {
    for (const { bundle, output } of results) {
      const ids = new Set(bundle.entry!.map((e) => `${e.resource!.resourceType}/${e.resource!.id}`));
      for (const p of output.predictions) {
        expect(p.probability).toBeGreaterThan(0);
        expect(p.probability).toBeLessThan(1);
      }
      for (const b of output.basis) expect(ids.has(b.reference!)).toBe(true);
    }
  });

  it('computes PCE for manifest-eligible patients (SBP, TC, HDL, age 40–79, no ASCVD), with a reason for each miss', () => {
    const eligible = results.filter(({ patient: p }) => {
      const age = ageInYears(p.birthDate, AS_OF) ?? -1;
      const ascvd = p.extraFlags.hasStroke || p.extraFlags.hasMI || p.extraFlags.hasCHD;
      return p.flags.hasSBP && p.flags.hasTotalChol && p.flags.hasHDL && age >= 40 && age <= 79 && !ascvd;
    });
    const computed = eligible.filter(({ output }) => output.predictions.some((p) => p.calculator === 'pce-2013'));
    expect(computed.length).toBeGreaterThan(0);
    for (const { output } of eligible.filter((r) => !computed.includes(r))) {
      const reasons = [
        ...output.exclusions.filter((e) => e.calculator === 'pce-2013').map((e) => e.reason),
        ...output.missing.filter((m) => m.calculator === 'pce-2013').map((m) => `${m.name} ${m.reason}: ${m.detail}`),
      ];
      expect(reasons.length).toBeGreaterThan(0);
      for (const r of reasons) expect(r).toMatch(/\S{3,}/);
    }
  });
});
