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

describe('RecordCollector: newest value before the window', () => {
  const lab = (id: string, code: string, date: string): Observation => ({
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: 'Patient/p' },
    effectiveDateTime: date,
  });
  const bounds = boundsFor([
    { resourceTypes: ['Patient', 'Observation'], lookbackYears: 5, latestObservationCodes: ['2093-3', '2085-9'] },
  ]);
  const ids = (c: RecordCollector) => c.resources().resources.map((r) => r.id);

  it('When the only values of a needed code are old, Then the newest of them is kept, whatever the arrival order', () => {
    const c = new RecordCollector('p', bounds, '2016-04-01');
    c.add({ resourceType: 'Patient', id: 'p' });
    c.add(lab('tc-2014', '2093-3', '2014-05-02'));
    c.add(lab('tc-2015', '2093-3', '2015-05-02'));
    c.add(lab('tc-2013', '2093-3', '2013-05-02'));
    c.add(lab('x-2015', '1234-5', '2015-05-02'));
    expect(ids(c)).toEqual(['p', 'tc-2015']);
    // Kept for the incremental-refresh cache too: a _since refresh would not read it again.
    expect([...c.entries().keys()]).toContain('Observation/tc-2015');
  });

  it('When the window holds a value of the code, Then no older one is added', () => {
    const c = new RecordCollector('p', bounds, '2016-04-01');
    c.add(lab('hdl-2015', '2085-9', '2015-05-02'));
    c.add(lab('hdl-2020', '2085-9', '2020-05-02'));
    expect(ids(c)).toEqual(['hdl-2020']);
  });

  it('When no lookback is set, Then no latest codes are kept in the bounds (everything is read anyway)', () => {
    expect(boundsFor([{ resourceTypes: ['Observation'], latestObservationCodes: ['2093-3'] }]).latestCodes).toBe(
      undefined,
    );
    expect(bounds.latestCodes).toEqual(['2093-3', '2085-9']);
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
