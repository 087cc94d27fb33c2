import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { recordHash } from '../../src/record/record-hash.js';

const obs = (id: string, value: number, meta?: Resource['meta']): Resource =>
  ({
    resourceType: 'Observation',
    id,
    meta,
    status: 'final',
    code: { text: 'x' },
    valueQuantity: { value },
  }) as Resource;

describe('recordHash', () => {
  it('When entries are reordered or only versionId/lastUpdated differ, Then the hash is unchanged', () => {
    const a = recordHash([obs('1', 5, { versionId: '1', lastUpdated: '2021-01-01T00:00:00Z' }), obs('2', 6)]);
    const b = recordHash([obs('2', 6), obs('1', 5, { versionId: '7', lastUpdated: '2022-01-01T00:00:00Z' })]);
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('When a clinical value changes, Then the hash changes', () => {
    expect(recordHash([obs('1', 5)])).not.toBe(recordHash([obs('1', 6)]));
  });

  it('When our own AI write-back is added to the record, Then the hash ignores it (no self-triggering)', () => {
    const ai = {
      resourceType: 'RiskAssessment',
      id: 'ra',
      meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST' }] },
      status: 'preliminary',
      subject: { reference: 'Patient/p' },
    } as Resource;
    expect(recordHash([obs('1', 5), ai])).toBe(recordHash([obs('1', 5)]));
  });
});
