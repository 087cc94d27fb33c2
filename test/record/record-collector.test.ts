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
    // ... and through the cache: a collector seeded from it still reports the old value (stale, not missing).
    const seeded = new RecordCollector('p', bounds, '2016-04-01');
    seeded.seed(c.toCached('2021-04-01T00:00:00Z'));
    expect(ids(seeded)).toEqual(['p', 'tc-2015']);
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
  const record = (lines: [string, string][]) => ({
    lines: new Map(lines),
    versions: new Map<string, string>(),
    readAt: '2021-01-01T00:00:00Z',
  });

  it('evicts the least recently used entry beyond its size and stops trusting entries older than the TTL', () => {
    let now = 0;
    const cache = new RecordCache(2, 1000, () => now);
    const rec = record([]);
    cache.set('a', rec);
    cache.set('b', rec);
    expect(cache.get('a')).toBeDefined(); // a is now the most recent
    cache.set('c', rec);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    now = 1001;
    expect(cache.get('a')).toBeUndefined();
    // Past the TTL a record is not trusted for _since, but its lines are still there for re-hashing.
    expect(cache.lookup('a')).toMatchObject({ fresh: false, record: rec });
  });

  it('When records exceed the byte budget, Then the least recently used go first, and one larger than the budget is not kept', () => {
    const line = (n: number) => `Observation/${n}\u0000${'x'.repeat(1000)}`;
    const rec = (from: number) =>
      record(Array.from({ length: 10 }, (_, i) => [`Observation/${from + i}`, line(from + i)]));
    const cache = new RecordCache(100, 60_000, Date.now, 25_000); // about two records of ~11 kB
    cache.set('a', rec(0));
    cache.set('b', rec(10));
    expect(cache.size).toBe(2);
    cache.lookup('a');
    cache.set('c', rec(20));
    expect([cache.get('a'), cache.get('b'), cache.get('c')].map(Boolean)).toEqual([true, false, true]);
    expect(cache.heldBytes).toBeLessThanOrEqual(25_000);
    cache.set('big', record(Array.from({ length: 30 }, (_, i) => [`Observation/${i}`, line(i)])));
    expect(cache.get('big')).toBeUndefined();
    expect(cache.size).toBe(2);
  });
});

describe('RecordCollector with a previous read', () => {
  const bounds = boundsFor([{ resourceTypes: ['Patient', 'Observation'] }]);

  it('When a resource comes back in the same version, Then its hash line is reused; a new version is hashed again', () => {
    const first = new RecordCollector('p', bounds, undefined);
    first.add(obs('1', 1, '2021-01-01T00:00:00Z', '1'));
    first.add(obs('2', 1, '2021-01-01T00:00:00Z', '1'));
    const known = first.toCached('2021-01-02T00:00:00Z');
    // A line that differs from what hashing would give shows which lines were reused.
    (known.lines as Map<string, string>).set('Observation/1', 'reused-1');
    (known.lines as Map<string, string>).set('Observation/2', 'reused-2');
    const second = new RecordCollector('p', bounds, undefined, known);
    second.add(obs('1', 1, '2021-01-01T00:00:00Z', '1'));
    second.add(obs('2', 5, '2021-01-03T00:00:00Z', '2'));
    const lines = second.toCached('x').lines;
    expect(lines.get('Observation/1')).toBe('reused-1');
    expect(lines.get('Observation/2')?.startsWith('Observation/2\u0000')).toBe(true);
    expect(lines.get('Observation/2')).toContain(`"value":5`);
  });

  it('When seeded from a cached record, Then its resources come back without server bookkeeping and a refreshed version wins', () => {
    const first = new RecordCollector('p', bounds, undefined);
    first.add({ resourceType: 'Patient', id: 'p', meta: { versionId: '1', lastUpdated: '2021-01-01T00:00:00Z' } });
    first.add(obs('1', 1, '2021-01-01T00:00:00Z', '1'));
    const hash = first.hashOf([...first.entries().values()]);
    const seeded = new RecordCollector('p', bounds, undefined);
    seeded.seed(first.toCached('2021-01-02T00:00:00Z'));
    expect(seeded.hashOf(seeded.resources().resources)).toBe(hash);
    expect(seeded.patient).toEqual({ resourceType: 'Patient', id: 'p' });
    seeded.add(obs('1', 7, '2021-01-03T00:00:00Z', '2'));
    expect((seeded.entries().get('Observation/1') as Observation).valueQuantity?.value).toBe(7);
  });
});
