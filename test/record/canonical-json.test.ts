import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/record/record-hash.js';

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
