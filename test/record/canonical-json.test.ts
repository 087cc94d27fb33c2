import { createHash } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { canonicalJson, recordHash } from '../../src/record/record-hash.js';

/** The reference definition: keys sorted by hand at every level, undefined properties left out. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(obj[k])}`).join(',')}}`;
}

describe('canonicalJson', () => {
  it('gives the same text as sorting keys by hand, for nested FHIR-shaped values', () => {
    const samples: unknown[] = [
      {
        resourceType: 'Observation',
        id: 'x',
        valueQuantity: { value: 1.5, unit: 'mg/dL' },
        code: { coding: [{ system: 's', code: 'c' }] },
      },
      { b: [1, undefined, null, 'é"\\\n'], a: { d: undefined, c: true, _birthDate: { extension: [] } } },
      [3, { z: 1, y: [{ x: 0 }] }],
      'plain',
      42,
      null,
    ];
    for (const s of samples) expect(canonicalJson(s)).toBe(reference(s));
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });
});

/** The first implementation of recordHash: digests must not change (write-back keys derive from them). */
function referenceHash(resources: Resource[]): string {
  const strip = (r: Resource) => {
    const { meta, text: _text, ...rest } = r as Resource & { text?: unknown };
    const kept = meta ? { profile: meta.profile, security: meta.security, tag: meta.tag } : undefined;
    return kept && (kept.profile || kept.security || kept.tag) ? { ...rest, meta: kept } : rest;
  };
  const lines = resources.map((r) => `${r.resourceType}/${r.id}\u0000${reference(strip(r))}`).sort();
  const h = createHash('sha256');
  for (const line of lines) h.update(line).update('\n');
  return h.digest('hex');
}

describe('recordHash', () => {
  it('gives the same digests as the first implementation', () => {
    const resources = [
      {
        resourceType: 'Patient',
        id: 'p',
        meta: { versionId: '3', lastUpdated: '2021-01-01T00:00:00Z' },
        gender: 'male',
        text: { status: 'generated', div: '<div/>' },
      },
      {
        resourceType: 'Observation',
        id: 'o',
        meta: { tag: [{ code: 't' }], source: 'x' },
        status: 'final',
        code: { text: 'c' },
        valueQuantity: { value: 1 },
      },
      {
        resourceType: 'Condition',
        id: 'c',
        subject: { reference: 'Patient/p' },
        code: { coding: [{ code: '1', system: 's' }] },
      },
    ] as Resource[];
    expect(recordHash(resources)).toBe(referenceHash(resources));
    expect(recordHash([])).toBe(referenceHash([]));
  });
});
