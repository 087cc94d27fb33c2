import { type Filter, Operator, parseSearchRequest } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, RiskAssessment } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadFhirDefinitions } from '../../src/fhir/definitions.js';
import { IndexedRepository, type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { tokenFilterParts } from '../../src/sandbox/search-match.js';
import { TokenIndex } from '../../src/sandbox/token-index.js';
import { fhirClient } from './fhir-client.js';

// Search parameters must be indexed before the first evaluation (search-match caches parsed expressions).
loadFhirDefinitions();

const SYS = 'urn:fhir-assess:assessment';

function riskAssessment(id: string, identifiers: [string | undefined, string][], tags: [string, string][] = []) {
  return {
    resourceType: 'RiskAssessment',
    id,
    status: 'preliminary',
    subject: { reference: 'Patient/p1' },
    identifier: identifiers.map(([system, value]) => ({ ...(system ? { system } : {}), value })),
    ...(tags.length ? { meta: { tag: tags.map(([system, code]) => ({ system, code })) } } : {}),
  } as RiskAssessment;
}

const eq = (code: string, value: string): Filter => ({ code, operator: Operator.EQUALS, value });

describe('TokenIndex', () => {
  it('narrows by value, by system only, and across comma-separated values', () => {
    const index = new TokenIndex();
    index.update(undefined, riskAssessment('a', [[SYS, 'k1']]));
    index.update(undefined, riskAssessment('b', [['urn:other', 'K1']]));
    index.update(undefined, riskAssessment('c', [[SYS, 'k2']], [['urn:tag', 't']]));
    expect([...(index.candidates('RiskAssessment', eq('identifier', `${SYS}|k1`)) ?? [])]).toEqual(['a', 'b']);
    expect([...(index.candidates('RiskAssessment', eq('identifier', `${SYS}|`)) ?? [])]).toEqual(['a', 'c']);
    expect([...(index.candidates('RiskAssessment', eq('identifier', 'k1,k2')) ?? [])]).toEqual(['a', 'b', 'c']);
    expect([...(index.candidates('RiskAssessment', eq('_tag', 'urn:tag|t')) ?? [])]).toEqual(['c']);
    expect(index.candidates('Observation', eq('identifier', 'k1'))?.size).toBe(0);
  });

  it('cannot answer other codes, other operators or an empty token', () => {
    const index = new TokenIndex();
    expect(index.candidates('RiskAssessment', eq('status', 'final'))).toBeUndefined();
    expect(index.candidates('RiskAssessment', { ...eq('identifier', 'k1'), operator: Operator.NOT })).toBeUndefined();
    expect(index.candidates('RiskAssessment', eq('identifier', '|'))).toBeUndefined();
  });

  it('moves a resource between keys on update and forgets it on delete', () => {
    const index = new TokenIndex();
    const v1 = riskAssessment('a', [[SYS, 'k1']], [['urn:tag', 'old']]);
    const v2 = riskAssessment('a', [[SYS, 'k1']], [['urn:tag', 'new']]);
    index.update(undefined, v1);
    index.update(v1, v2);
    expect(index.candidates('RiskAssessment', eq('_tag', 'urn:tag|old'))?.size).toBe(0);
    expect([...(index.candidates('RiskAssessment', eq('_tag', 'urn:tag|new')) ?? [])]).toEqual(['a']);
    index.update(v2, undefined);
    expect(index.candidates('RiskAssessment', eq('identifier', 'k1'))?.size).toBe(0);
  });

  it('splits a token filter as Medplum does (what follows a second bar is ignored)', () => {
    expect(tokenFilterParts('S|v|extra')).toEqual({ system: 's', value: 'v', anySystem: false });
    expect(tokenFilterParts('|v')).toEqual({ system: undefined, value: 'v', anySystem: false });
    expect(tokenFilterParts('V')).toEqual({ value: 'v', anySystem: true });
  });
});

describe('IndexedRepository searches by identifier and _tag', () => {
  afterEach(() => vi.restoreAllMocks());

  it('answers exactly as the linear scan does (fast-check: random resources, writes and queries)', async () => {
    const systems = [undefined, SYS, 'urn:Other'];
    const values = ['k1', 'K1', 'k2', 'k3'];
    const token = fc.tuple(fc.constantFrom(...systems), fc.constantFrom(...values));
    const resource = fc.record({
      id: fc.constantFrom('r1', 'r2', 'r3', 'r4', 'r5'),
      identifiers: fc.array(token, { maxLength: 2 }),
      tags: fc.array(fc.tuple(fc.constantFrom(SYS, 'urn:Other'), fc.constantFrom(...values)), { maxLength: 2 }),
      remove: fc.boolean(),
    });
    const part = fc.oneof(
      fc.constantFrom(...values),
      fc.tuple(fc.constantFrom('', SYS, 'urn:other'), fc.constantFrom('', ...values)).map(([s, v]) => `${s}|${v}`),
    );
    const query = fc.record({
      code: fc.constantFrom('identifier', '_tag'),
      parts: fc.array(part, { minLength: 1, maxLength: 2 }),
      status: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(resource, { maxLength: 12 }),
        fc.array(query, { minLength: 1, maxLength: 5 }),
        async (writes, queries) => {
          const repo = new IndexedRepository();
          for (const w of writes) {
            const tags = w.tags.map(([s, v]) => [s, v] as [string, string]);
            if (w.remove && repo.peek('RiskAssessment', w.id)) await repo.deleteResource('RiskAssessment', w.id);
            else await repo.updateResource(riskAssessment(w.id, w.identifiers, tags));
          }
          for (const q of queries) {
            const url = `RiskAssessment?${q.code}=${encodeURIComponent(q.parts.join(','))}${q.status ? '&status=preliminary' : ''}`;
            const req = parseSearchRequest(url);
            const indexed = await repo.search(req);
            const scanned = await repo.searchUnindexed(req);
            const ids = (b: Bundle) => (b.entry ?? []).map((e) => e.resource?.id).sort();
            expect(ids(indexed), url).toEqual(ids(scanned));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('does not scan the stored resources for an identifier search', async () => {
    const repo = new IndexedRepository();
    for (let i = 0; i < 50; i++) await repo.createResource(riskAssessment(`r${i}`, [[SYS, `k${i}`]]));
    const scan = vi.spyOn(MemoryRepository.prototype, 'search');
    const hit = await repo.search(parseSearchRequest(`RiskAssessment?identifier=${SYS}|k7`));
    expect(hit.entry?.map((e) => e.resource?.id)).toEqual(['r7']);
    expect(scan).not.toHaveBeenCalled();
    await repo.search(parseSearchRequest('RiskAssessment?status=preliminary'));
    expect(scan).toHaveBeenCalledTimes(1);
  });
});

describe('conditional creates in a transaction use the index', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ logger: false });
  });
  afterAll(async () => {
    await sb?.close();
  });

  it('creates once, then answers 200 with the existing resource, REST and in a transaction', async () => {
    const client = fhirClient(sb.baseUrl);
    const entry = (key: string) => ({
      resource: { ...riskAssessment('ignored', [[SYS, key]]), id: undefined },
      request: {
        method: 'POST',
        url: 'RiskAssessment',
        ifNoneExist: `identifier=${encodeURIComponent(`${SYS}|${key}`)}`,
      },
    });
    const tx = (keys: string[]) => ({ resourceType: 'Bundle', type: 'transaction', entry: keys.map(entry) });
    const scan = vi.spyOn(MemoryRepository.prototype, 'search');
    const first = await client.post<Bundle>('', tx(['a', 'b']));
    expect(first.body.entry?.map((e) => e.response?.status)).toEqual(['201', '201']);
    const again = await client.post<Bundle>('', tx(['a', 'b', 'c']));
    expect(again.body.entry?.map((e) => e.response?.status)).toEqual(['200', '200', '201']);
    const rest = await fetch(`${sb.baseUrl}/RiskAssessment`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', 'if-none-exist': `identifier=${SYS}|c` },
      body: JSON.stringify(entry('c').resource),
    });
    expect(rest.status).toBe(200);
    expect(sb.repo.count('RiskAssessment')).toBe(3);
    expect(scan).not.toHaveBeenCalled();
    scan.mockRestore();
  });
});
