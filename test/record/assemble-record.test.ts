import type { Bundle, CapabilityStatement, Observation } from '@medplum/fhirtypes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ForeignUrlError } from '../../src/fhir/base-url-guard.js';
import { FhirClient, FhirHttpError } from '../../src/fhir/fhir-client.js';
import type { PatientRecord as Rec } from '../../src/models/model.js';
import { ASSEMBLY_SYSTEM, assembleRecord, RecordAssembler } from '../../src/record/assemble-record.js';
import { RecordCache } from '../../src/record/record-cache.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type FaultProxy, type FaultRule, startFaultProxy, startForeignHost } from '../fhir/fault-proxy.js';
import { REQUIRES, seedRecords } from './record-fixture.js';

let sb: Sandbox;
let proxy: FaultProxy;
let expected: string[];
const keys = (r: Rec) => (r.bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`).sort();
const strategyOf = (r: Rec) => r.bundle.meta?.tag?.find((t) => t.system === ASSEMBLY_SYSTEM)?.code;
const client = () => new FhirClient({ baseUrl: proxy.baseUrl, retry: { baseDelayMs: 10, maxDelayMs: 50 } });
const dataRequests = () => proxy.requests.filter((r) => !r.url.endsWith('/metadata'));

/** An EHR without `$everything` (and optionally without batch): its CapabilityStatement agrees. */
function withoutFeatures(noBatch: boolean): FaultRule {
  return (req) => {
    if (req.url.endsWith('/metadata')) {
      return {
        kind: 'rewrite',
        fn: (body) => {
          const cs = JSON.parse(body) as CapabilityStatement;
          for (const r of cs.rest?.[0].resource ?? []) if (r.type === 'Patient') r.operation = [];
          if (noBatch) cs.rest![0].interaction = [{ code: 'transaction' }];
          return JSON.stringify(cs);
        },
      };
    }
    if (req.url.includes('$everything')) return { kind: 'status', status: 404 };
    if (noBatch && req.method === 'POST' && req.body.includes('"batch"')) return { kind: 'status', status: 501 };
    return undefined;
  };
}

beforeAll(async () => {
  sb = await startSandbox({ logger: false });
  ({ expected } = await seedRecords(sb.repo));
  proxy = await startFaultProxy(sb.baseUrl);
});

afterEach(() => {
  proxy.rule = () => undefined;
  proxy.requests.length = 0;
});

afterAll(async () => {
  await proxy?.close();
  await sb?.close();
});

describe('strategies', () => {
  it('When each strategy is forced with small pages, Then all give the same de-duplicated record and hash, AI write-backs left out', async () => {
    const results: Record<string, { record: Rec; requests: number }> = {};
    for (const strategy of ['everything', 'batch', 'search'] as const) {
      const c = client();
      const record = await assembleRecord(c, 'p1', { requires: REQUIRES, strategy, pageSize: 7 });
      results[strategy] = { record, requests: c.stats.requests - 1 }; // minus the CapabilityStatement
      expect(keys(record)).toEqual(expected);
      expect(record.bundle.entry?.[0].resource?.resourceType).toBe('Patient');
      expect(strategyOf(record)).toBe(strategy);
      expect(record.truncated).toBe(false);
    }
    expect(results.batch.record.hash).toBe(results.everything.record.hash);
    expect(results.search.record.hash).toBe(results.everything.record.hash);
    // 36 resources at 7 a page: $everything = 6 pages; batch = 1 + 4 more Observation pages;
    // search = Patient read + 3 first pages + 4 more Observation pages.
    expect(results.everything.requests).toBe(6);
    expect(results.batch.requests).toBe(5);
    expect(results.search.requests).toBe(8);
  });

  it('When $everything is used, Then _type is limited to what the models need and _count is set', async () => {
    await assembleRecord(client(), 'p1', { requires: REQUIRES, pageSize: 50 });
    const [first] = dataRequests();
    const url = new URL(first.url, proxy.origin);
    expect(url.pathname).toBe('/fhir/R4/Patient/p1/$everything');
    expect(url.searchParams.get('_type')).toBe('Patient,Observation,Condition,MedicationRequest');
    expect(url.searchParams.get('_count')).toBe('50');
    expect(dataRequests()).toHaveLength(1);
  });

  it('When the EHR lacks $everything, Then auto reads one batch; when it also lacks batch, Then individual searches', async () => {
    proxy.rule = withoutFeatures(false);
    const viaBatch = await assembleRecord(client(), 'p1', { requires: REQUIRES });
    expect(strategyOf(viaBatch)).toBe('batch');
    expect(keys(viaBatch)).toEqual(expected);
    expect(dataRequests().some((r) => r.url.includes('$everything'))).toBe(false); // chosen from the CapabilityStatement
    proxy.requests.length = 0;
    proxy.rule = withoutFeatures(true);
    const viaSearch = await assembleRecord(client(), 'p1', { requires: REQUIRES });
    expect(strategyOf(viaSearch)).toBe('search');
    expect(keys(viaSearch)).toEqual(expected);
    expect(dataRequests().every((r) => r.method === 'GET')).toBe(true);
  });

  it('When the CapabilityStatement claims $everything but the EHR answers 501, Then it falls back to batch and remembers', async () => {
    proxy.rule = (req) => (req.url.includes('$everything') ? { kind: 'status', status: 501 } : undefined);
    const assembler = new RecordAssembler(client(), { strategy: 'auto', pageSize: 100, maxResources: 1000 });
    expect(strategyOf(await assembler.assemble('p1', { requires: REQUIRES }))).toBe('batch');
    proxy.requests.length = 0;
    expect(strategyOf(await assembler.assemble('p1', { requires: REQUIRES }))).toBe('batch');
    expect(proxy.requests.some((r) => r.url.includes('$everything'))).toBe(false);
  });

  it('When a batch-response search lacks the next link its total calls for, Then that type is read again on its own', async () => {
    proxy.rule = (req) =>
      req.method === 'POST'
        ? { kind: 'rewrite', fn: (body) => JSON.stringify(stripLinks(JSON.parse(body) as Bundle)) }
        : undefined;
    const record = await assembleRecord(client(), 'p1', { requires: REQUIRES, strategy: 'batch', pageSize: 7 });
    expect(keys(record)).toEqual(expected);
    expect(dataRequests().filter((r) => r.url.startsWith('/fhir/R4/Observation?'))).not.toHaveLength(0);
  });

  it('When the patient does not exist, Then assembly fails with the EHR 404', async () => {
    const err = await assembleRecord(client(), 'nobody', { requires: REQUIRES }).catch((e) => e);
    expect(err).toBeInstanceOf(FhirHttpError);
    expect(err.status).toBe(404);
  });
});

describe('bounds', () => {
  it('When the models look back 3 years, Then older observations are left out but old conditions and medications stay', async () => {
    const requires = [{ ...REQUIRES[0], lookbackYears: 3 }];
    const asOf = new Date('2021-06-01T00:00:00Z');
    for (const strategy of ['everything', 'search'] as const) {
      const record = await assembleRecord(client(), 'p1', { requires, asOf, strategy });
      const obs = (record.bundle.entry ?? [])
        .map((e) => e.resource)
        .filter((r): r is Observation => r?.resourceType === 'Observation');
      expect(obs.length).toBe(9); // Jan–Mar of 2019, 2020 and 2021 (2018's are before June)
      expect(obs.every((o) => (o.effectiveDateTime ?? '') >= '2018-06-01')).toBe(true);
      expect(keys(record)).toContain('Condition/c0');
      expect(keys(record)).toContain('MedicationRequest/m0');
    }
    const search = proxy.requests.find((r) => r.url.startsWith('/fhir/R4/Observation?'));
    expect(new URL(search!.url, proxy.origin).searchParams.get('date')).toBe('ge2018-06-01');
  });

  it('When an input was last measured before the window, Then its newest value is read anyway (and only that one)', async () => {
    const lab = (id: string, code: string, when: string, value: number): Observation => ({
      resourceType: 'Observation',
      id,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code }] },
      subject: { reference: 'Patient/p3' },
      effectiveDateTime: when,
      valueQuantity: { value, unit: 'mg/dL' },
    });
    await sb.repo.importResource({ resourceType: 'Patient', id: 'p3', gender: 'female', birthDate: '1965-01-01' });
    for (const o of [
      lab('p3-tc-2013', '2093-3', '2013-05-02', 180),
      lab('p3-tc-2014', '2093-3', '2014-05-02', 212), // the newest total cholesterol: 7 years before as-of
      lab('p3-hdl-2014', '2085-9', '2014-05-02', 50), // older than the HDL inside the window: not needed
      lab('p3-hdl-2020', '2085-9', '2020-05-02', 55),
      lab('p3-other-2014', '1234-5', '2014-05-02', 1), // a code no model needs
    ])
      await sb.repo.importResource(o as Observation & { id: string });
    const requires = [{ ...REQUIRES[0], lookbackYears: 5, latestObservationCodes: ['2093-3', '2085-9'] }];
    const asOf = new Date('2021-06-01T00:00:00Z');
    for (const strategy of ['everything', 'batch', 'search'] as const) {
      const record = await assembleRecord(client(), 'p3', { requires, asOf, strategy, pageSize: 2 });
      expect(keys(record), strategy).toEqual(['Observation/p3-hdl-2020', 'Observation/p3-tc-2014', 'Patient/p3']);
    }
    const older = proxy.requests
      .map((r) => new URL(r.url, proxy.origin).searchParams)
      .find((q) => q.get('date')?.startsWith('lt'));
    expect(older?.get('date')).toBe('lt2016-06-01');
    expect(older?.get('code')).toBe('http://loinc.org|2093-3,http://loinc.org|2085-9');
  });

  it('When the record exceeds maxResources, Then it is truncated with a reason, keeping facts and the newest observations', async () => {
    const record = await assembleRecord(client(), 'p1', { requires: REQUIRES, maxResources: 10, pageSize: 5 });
    expect(record.truncated).toBe(true);
    expect(record.truncatedReason).toMatch(/^record truncated: more than 10 resources/);
    expect(record.bundle.entry).toHaveLength(10);
    expect(record.bundle.meta?.tag?.some((t) => t.code === 'truncated')).toBe(true);
    expect(keys(record)).toEqual(
      ['Patient/p1', 'Condition/c0', 'Condition/c1', 'Condition/c2', 'MedicationRequest/m0', 'MedicationRequest/m1']
        .concat(['o26', 'o27', 'o28', 'o29'].map((id) => `Observation/${id}`)) // the four newest
        .sort(),
    );
  });
});

describe('faults during assembly', () => {
  it('When a page gets 429 and the next a dropped connection, Then the record still completes', async () => {
    let pages = 0;
    proxy.rule = (req) => {
      if (!req.url.includes('$everything')) return undefined;
      pages++;
      if (pages === 2) return { kind: 'status', status: 429, headers: { 'retry-after': '0' } };
      if (pages === 4) return { kind: 'drop' };
      return undefined;
    };
    const record = await assembleRecord(client(), 'p1', { requires: REQUIRES, pageSize: 10 });
    expect(keys(record)).toEqual(expected);
  });

  it('When page 2 links to another host, Then assembly fails with ForeignUrlError and that host sees nothing', async () => {
    const foreign = await startForeignHost();
    try {
      proxy.rule = (req) =>
        req.url.includes('$everything')
          ? {
              kind: 'rewrite',
              fn: (b) =>
                b.replace(
                  /"relation":"next","url":"http:\/\/127\.0\.0\.1:\d+/,
                  `"relation":"next","url":"${foreign.origin}`,
                ),
            }
          : undefined;
      const err = await assembleRecord(client(), 'p1', { requires: REQUIRES, pageSize: 10 }).catch((e) => e);
      expect(err).toBeInstanceOf(ForeignUrlError);
      expect(foreign.hits()).toBe(0);
    } finally {
      await foreign.close();
    }
  });
});

describe('incremental refresh', () => {
  it('When a cached record exists, Then the next read asks only for changes (_since) and merges to the same hash as a full read', async () => {
    const assembler = new RecordAssembler(client(), {
      strategy: 'everything',
      pageSize: 100,
      maxResources: 1000,
      cache: new RecordCache(10, 60_000),
    });
    const first = await assembler.assemble('p1', { requires: REQUIRES });
    const o = (await sb.repo.readResource('Observation', 'o29')) as Observation;
    await new FhirClient({ baseUrl: sb.baseUrl }).update({
      ...o,
      valueQuantity: { value: 999, unit: 'mg/dL' },
    } as Observation & { id: string });
    proxy.requests.length = 0;
    const second = await assembler.assemble('p1', { requires: REQUIRES });
    const url = new URL(dataRequests()[0].url, proxy.origin);
    expect(url.searchParams.get('_since')).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(second.bundle.meta?.tag?.some((t) => t.code === 'incremental')).toBe(true);
    expect(second.hash).not.toBe(first.hash);
    const full = await assembleRecord(client(), 'p1', { requires: REQUIRES });
    expect(second.hash).toBe(full.hash);
    const updated = second.bundle.entry?.find((e) => e.resource?.id === 'o29')?.resource as Observation;
    expect(updated.valueQuantity?.value).toBe(999);
    await new FhirClient({ baseUrl: sb.baseUrl }).update(o as Observation & { id: string }); // restore for other tests
  });
});

function stripLinks(bundle: Bundle): Bundle {
  for (const e of bundle.entry ?? []) if (e.resource?.resourceType === 'Bundle') delete (e.resource as Bundle).link;
  return bundle;
}
