import type { ModelOutput } from '../../src/models/model.js';
import type { WriteBackInput } from '../../src/writeback/write-back.js';

/**
 * A ModelOutput shaped like the embedded model's answer for the Goff 2013 worked example (5.38 %),
 * with references to the given input resources. For tests that need no EHR (profiles, validation).
 */
export function goffLikeOutput(inputs: { tc: string; hdl: string; sbp: string; patient: string }): ModelOutput {
  return {
    modelId: 'fhir-assess-risk-equations',
    modelVersion: '0.1.0',
    predictions: [
      {
        calculator: 'pce-2013',
        outcome: { text: 'Hard ASCVD (first nonfatal MI, CHD death, or stroke)' },
        probability: 0.0538,
        qualitativeRisk: 'moderate',
        horizonYears: 10,
        rationale: '10-year risk 5.38 % (Pooled Cohort Equations 2013)',
        category: 'borderline (5–<7.5 %)',
        inputsUsed: [
          { name: 'total cholesterol', value: 213, unit: 'mg/dL', source: inputs.tc },
          { name: 'HDL cholesterol', value: 50, unit: 'mg/dL', source: inputs.hdl },
          { name: 'systolic BP', value: 120, unit: 'mm[Hg]', source: inputs.sbp },
          { name: 'age', value: 55, source: inputs.patient },
        ],
      },
    ],
    missing: [{ calculator: 'prevent-2023', name: 'eGFR', reason: 'missing' }],
    exclusions: [],
    summary: '10-year risk of hard ASCVD 5.38 %, borderline, by the Pooled Cohort Equations.',
    basis: [inputs.tc, inputs.hdl, inputs.sbp, inputs.patient].map((reference) => ({ reference })),
  };
}

/** A preliminary write-back input for that output (fixed clock, so resources are deterministic). */
export function inputFor(patientId: string, key: string, output: ModelOutput, over: Partial<WriteBackInput> = {}) {
  const input: WriteBackInput = {
    patientId,
    key,
    output,
    modelTitle: 'fhir-assess published clinical risk equations',
    mode: 'preliminary',
    asOf: new Date('2021-04-01T00:00:00Z'),
    serviceVersion: '0.1.0',
    ...over,
  };
  return input;
}
