import type { Observation, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { boundsFor, lookbackStart } from '../../src/record/record-bounds.js';
import { RecordCache } from '../../src/record/record-cache.js';
import { RecordCollector } from '../../src/record/record-collector.js';

const obs = (id: string, value: number, lastUpdated?: string, versionId?: string): Observation => ({
  resourceType: 'Observation',
  id,
  meta: { lastUpdated, versionId },
  status: 'final',
  code: { text: 'x' },
  subject: { reference: 'Patient/p' },
  valueQuantity: { value },
});

describe('RecordCollector', () => {
  const bounds = boundsFor([{ resourceTypes: ['Patient', 'Observation'] }]);

  it('When a resource arrives twice, Then the newest version wins whatever the order (lastUpdated, then numeric versionId)', () => {
    const c = new RecordCollector('p', bounds, undefined);
    c.add(obs('1', 2, '2021-01-02T00:00:00Z'));
    c.add(obs('1', 1, '2021-01-01T00:00:00Z'));
    c.add(obs('2', 1, '2021-01-01T00:00:00Z', '9'));
    c.add(obs('2', 2, '2021-01-01T00:00:00Z', '10'));
    c.add(obs('3', 1, '2021-01-01T05:00:00+05:00')); // = 00:00Z
    c.add(obs('3', 2, '2021-01-01T01:00:00Z'));
    const values = Object.fromEntries([...c.entries()].map(([k, r]) => [k, (r as Observation).valueQuantity?.value]));
    expect(values).toEqual({ 'Observation/1': 2, 'Observation/2': 2, 'Observation/3': 2 });
  });

  it('When given other types, resources without ids or AI outputs, Then it keeps none of them', () => {
    const c = new RecordCollector('p', bounds, undefined);
    c.add({ resourceType: 'Condition', id: 'c', subject: { reference: 'Patient/p' } } as Resource);
    c.add({ ...obs('x', 1), id: undefined } as Resource);
    c.add({
      ...obs('ai', 1),
      meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST' }] },
    });
    expect(c.size).toBe(0);
  });

  it('combines model requirements: union of types, longest lookback, declared maximum and categories', () => {
    const b = boundsFor(
      [
        { resourceTypes: ['Observation'], lookbackYears: 2, maxResources: 500, observationCategories: ['laboratory'] },
        {
          resourceTypes: ['Observation', 'Condition'],
          lookbackYears: 5,
          maxResources: 800,
          observationCategories: ['vital-signs'],
        },
      ],
      1000,
    );
    expect(b).toEqual({
      types: ['Patient', 'Observation', 'Condition'],
      lookbackYears: 5,
      maxResources: 800,
      observationCategories: ['laboratory', 'vital-signs'],
    });
    expect(lookbackStart(b, new Date('2021-04-01T12:00:00Z'))).toBe('2016-04-01');
    expect(
      boundsFor([{ resourceTypes: ['Observation'], lookbackYears: 2 }, { resourceTypes: ['Condition'] }]).lookbackYears,
    ).toBeUndefined();
  });
});

describe('RecordCache', () => {
  it('evicts the least recently used entry beyond its size and forgets entries older than the TTL', () => {
    let now = 0;
    const cache = new RecordCache(2, 1000, () => now);
    const rec = { resources: new Map(), lines: new Map(), readAt: '2021-01-01T00:00:00Z' };
    cache.set('a', rec);
    cache.set('b', rec);
    expect(cache.get('a')).toBeDefined(); // a is now the most recent
    cache.set('c', rec);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    now = 1001;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(1);
  });
});
