import { randomUUID } from 'node:crypto';
import type { Patient, RiskAssessment } from '@medplum/fhirtypes';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assessPatient } from '../../src/assessment/assess-patient.js';
import { SourceSchema } from '../../src/config/sources.js';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { SourceRegistry } from '../../src/fhir/source-client.js';
import type { Model, ModelOutput, PatientRecord } from '../../src/models/model.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { phiRecordResources } from './phi-fixture.js';

const PREFIX = `test-deid-${randomUUID()}`;
let sb: Sandbox;
let testRedis: TestRedis;
let redis: Redis;

/** A stand-in for a hosted model outside the trust boundary: records what it was shown, cites an input. */
function hostedModel(seen: PatientRecord[]): Model {
  return {
    id: 'hosted-test',
    version: '1.0.0',
    title: 'hosted test model',
    requires: { resourceTypes: ['Patient', 'Observation', 'Condition'] },
    mayReceiveIdentifiedData: false,
    async assess(record): Promise<ModelOutput> {
      seen.push(record);
      const obs = record.bundle.entry?.find((e) => e.resource?.resourceType === 'Observation')?.resource;
      const ref = `Observation/${obs?.id}`;
      return {
        modelId: 'hosted-test',
        modelVersion: '1.0.0',
        predictions: [
          {
            calculator: 'hosted',
            outcome: { text: 'Cardiovascular event' },
            probability: 0.12,
            qualitativeRisk: 'moderate',
            horizonYears: 10,
            rationale: `Driven by ${ref}.`,
            inputsUsed: [{ name: 'Total cholesterol', value: 213, unit: 'mg/dL', source: ref }],
          },
        ],
        missing: [],
        exclusions: [],
        summary: `Estimated from ${ref}.`,
        basis: [{ reference: ref }],
      };
    },
  };
}

beforeAll(async () => {
  sb = await startSandbox({ logger: false });
  for (const r of phiRecordResources()) await sb.repo.importResource(r as Patient & { id: string });
  testRedis = await useTestRedis();
  redis = new Redis(testRedis.url);
});

afterAll(async () => {
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await testRedis?.stop();
  await sb?.close();
});

describe('assessPatient with a model outside the trust boundary', () => {
  it('When the model may not see identified data, Then it gets a de-identified record and the write-back cites the real resources', async () => {
    const seen: PatientRecord[] = [];
    const source = SourceSchema.parse({ name: 'ehr', fhirBaseUrl: sb.baseUrl });
    const result = await assessPatient(
      {
        sources: new SourceRegistry([source]),
        redis,
        models: [hostedModel(seen)],
        mode: 'preliminary',
        asOf: () => new Date('2021-04-01T00:00:00Z'),
        keyPrefix: PREFIX,
        serviceVersion: 'test',
        logger: pino({ level: 'silent' }),
        deidentifySecret: 'a-test-secret-of-at-least-32-characters!',
      },
      'ehr',
      'pat-8842-real',
    );
    expect(seen).toHaveLength(1);
    expect(seen[0].deidentified).toBe(true);
    expect(JSON.stringify(seen[0])).not.toContain('pat-8842-real');
    expect(JSON.stringify(seen[0])).not.toContain('Quixote');
    expect(result.assessments[0].created).toBeGreaterThan(0);
    const ehr = new FhirClient({ baseUrl: sb.baseUrl });
    const [ra] = await ehr.searchAll<RiskAssessment>('RiskAssessment', { subject: 'Patient/pat-8842-real' });
    expect(ra.subject.reference).toBe('Patient/pat-8842-real');
    expect(ra.basis?.map((b) => b.reference)).toContain('Observation/obs-chol-20210301');
    expect(JSON.stringify(ra)).not.toMatch(/Observation\/[0-9a-f]{24}/); // no pseudonym reached the chart
  });
});
