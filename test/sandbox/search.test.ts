import { parseSearchRequest } from '@medplum/core';
import type { Bundle, CapabilityStatement, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATIENT_DATA_CHANGED_TOPIC, type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { fhirClient, idsOf } from './fhir-client.js';
import { conditionalPatientTransaction, fixtureTransaction } from './fixtures.js';
import { waitFor } from './receiver.js';

let sb: Sandbox;
let client: ReturnType<typeof fhirClient>;
let patientA: string;
let patientB: string;

async function patientByMrn(mrn: string): Promise<string> {
  const res = await client.get<Bundle<Patient>>(`Patient?identifier=urn:mrn|${mrn}`);
  expect(res.body.total).toBe(1);
  return res.body.entry?.[0].resource?.id as string;
}

beforeAll(async () => {
  sb = await startSandbox({ logger: false });
  client = fhirClient(sb.baseUrl);
  const res = await client.post<Bundle>('', fixtureTransaction());
  expect(res.status).toBe(200);
  expect(res.body.type).toBe('transaction-response');
  patientA = await patientByMrn('A');
  patientB = await patientByMrn('B');
});

afterAll(async () => {
  await sb?.close();
});

describe('transaction and conditional create', () => {
  it('rewrites urn:uuid references to the created ids', async () => {
    const res = await client.get<Bundle>(`Encounter?subject=Patient/${patientA}`);
    expect(res.body.total).toBe(1);
    const encounter = res.body.entry?.[0].resource as { subject?: { reference?: string } } | undefined;
    expect(encounter?.subject?.reference).toBe(`Patient/${patientA}`);
  });

  it('resolves ifNoneExist to the existing patient instead of creating one', async () => {
    const before = sb.repo.count('Patient');
    const res = await client.post<Bundle>('', conditionalPatientTransaction());
    expect(res.status).toBe(200);
    expect(res.body.entry?.[0].response?.status).toBe('200');
    expect(sb.repo.count('Patient')).toBe(before);
    const obs = res.body.entry?.[1].response?.location as string;
    const created = await client.get<Resource & { subject: { reference: string } }>(obs.replace(/\/_history\/.*$/, ''));
    expect(created.body.subject.reference).toBe(`Patient/${patientA}`);
    await client.delete(`Observation/${created.body.id}`); // keep the fixture counts below exact
  });

  it('honours the If-None-Exist header and sets Location/ETag on create', async () => {
    const body = { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'C' }] };
    const first = await fetch(`${sb.baseUrl}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', 'if-none-exist': 'identifier=urn:mrn|C' },
      body: JSON.stringify(body),
    });
    const created = (await first.json()) as Patient;
    expect(first.status).toBe(201);
    expect(first.headers.get('location')).toBe(
      `${sb.baseUrl}/Patient/${created.id}/_history/${created.meta?.versionId}`,
    );
    expect(first.headers.get('etag')).toBe(`W/"${created.meta?.versionId}"`);
    const again = await fetch(`${sb.baseUrl}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', 'if-none-exist': 'identifier=urn:mrn|C' },
      body: JSON.stringify(body),
    });
    expect(again.status).toBe(200);
    expect(((await again.json()) as Patient).id).toBe(created.id);
    await client.delete(`Patient/${created.id}`);
  });

  it('answers bad JSON with a 400 OperationOutcome', async () => {
    const res = await fetch(`${sb.baseUrl}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: '{"resourceType": ',
    });
    const outcome = (await res.json()) as OperationOutcome;
    expect(res.status).toBe(400);
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue?.[0].details?.text).toMatch(/Invalid JSON/);
  });
});

describe('patient-scoped search', () => {
  const queries = (a: string, b: string) => [
    `Observation?patient=Patient/${a}`,
    `Observation?subject=Patient/${a}`,
    `Observation?patient=Patient/${a}&code=http://loinc.org|2093-3`,
    `Observation?patient=Patient/${a}&code=8480-6&date=ge2020-01-10`,
    `Observation?patient=Patient/${b}`,
    `Observation?performer=Patient/${a}&patient=Patient/${b}`,
    `Condition?patient=Patient/${a}`,
    `Encounter?patient=Patient/${b}`,
  ];

  it('returns exactly what the unindexed MemoryRepository search returns', async () => {
    for (const q of queries(patientA, patientB)) {
      const indexed = await sb.repo.search(parseSearchRequest(`${q}&_count=1000`));
      const base = await sb.repo.searchUnindexed(parseSearchRequest(`${q}&_count=1000`));
      expect(idsOf(indexed).sort(), q).toEqual(idsOf(base).sort());
      expect(indexed.total, q).toBe(base.total);
    }
  });

  it('counts only the patient param matches (B observation with performer A is excluded)', async () => {
    const res = await client.get<Bundle>(`Observation?patient=Patient/${patientA}&_summary=count`);
    expect(res.body.total).toBe(25);
    expect(res.body.entry).toBeUndefined();
    expect(res.body.link?.map((l) => l.relation)).toEqual(['self']);
    const byPerformer = await client.get<Bundle>(`Observation?performer=Patient/${patientA}`);
    expect(byPerformer.body.total).toBe(1);
  });

  it('accepts a bare id for patient= (MemoryRepository alone returns nothing)', async () => {
    const bare = await client.get<Bundle>(`Observation?patient=${patientA}&_count=100`);
    const full = await client.get<Bundle>(`Observation?patient=Patient/${patientA}&_count=100`);
    expect(bare.body.total).toBe(25);
    expect(idsOf(bare.body)).toEqual(idsOf(full.body));
  });

  it('sorts like the base search', async () => {
    const q = `Observation?patient=Patient/${patientA}&_sort=-date&_count=1000`;
    const indexed = await sb.repo.search(parseSearchRequest(q));
    const dates = (indexed.entry ?? []).map((e) => (e.resource as { effectiveDateTime: string }).effectiveDateTime);
    expect(dates).toEqual([...dates].sort().reverse());
  });
});

describe('paging', () => {
  it('follows next links until exhausted, without duplicates', async () => {
    const pages = await client.pages(`Observation?patient=Patient/${patientA}&_count=7`);
    expect(pages.map((p) => p.entry?.length)).toEqual([7, 7, 7, 4]);
    const ids = pages.flatMap(idsOf);
    expect(new Set(ids).size).toBe(25);
    expect(pages[0].link?.find((l) => l.relation === 'self')?.url).toBe(
      `${sb.baseUrl}/Observation?patient=Patient%2F${patientA}&_count=7`,
    );
    expect(pages[0].link?.find((l) => l.relation === 'next')?.url).toContain('_offset=7');
    expect(pages[3].link?.some((l) => l.relation === 'next')).toBe(false);
    expect(pages[0].entry?.[0].fullUrl).toBe(`${sb.baseUrl}/Observation/${ids[0]}`);
  });

  it('defaults _count to 20 and caps it at 1000', async () => {
    const dflt = await client.get<Bundle>(`Observation?patient=Patient/${patientA}`);
    expect(dflt.body.entry?.length).toBe(20);
    expect(dflt.body.link?.find((l) => l.relation === 'next')?.url).toContain('_offset=20');
    const big = await client.get<Bundle>(`Observation?patient=Patient/${patientA}&_count=5000`);
    expect(big.body.entry?.length).toBe(25);
    expect(big.body.link?.find((l) => l.relation === 'self')?.url).toContain('_count=1000');
  });

  it('pages unindexed searches too', async () => {
    const pages = await client.pages('Observation?code=http://loinc.org|2093-3&_count=4');
    expect(pages.flatMap(idsOf)).toHaveLength(15); // 10 for A + 5 for B
  });
});

describe('Patient/$everything', () => {
  it('returns the compartment with Patient first, paged', async () => {
    const pages = await client.pages(`Patient/${patientA}/$everything?_count=10`);
    const resources = pages.flatMap((p) => (p.entry ?? []).map((e) => e.resource as Resource));
    expect(pages[0].total).toBe(31); // Patient + 25 Obs + 3 Cond + 1 Enc + B's Obs performed by A
    expect(resources).toHaveLength(31);
    expect(resources[0]).toMatchObject({ resourceType: 'Patient', id: patientA });
    expect(new Set(resources.map((r) => `${r.resourceType}/${r.id}`)).size).toBe(31);
  });

  it('filters by _type (GET and POST Parameters)', async () => {
    const get = await client.get<Bundle>(`Patient/${patientA}/$everything?_type=Condition,Encounter`);
    expect(get.body.entry?.map((e) => e.resource?.resourceType).sort()).toEqual([
      'Condition',
      'Condition',
      'Condition',
      'Encounter',
    ]);
    const post = await client.post<Bundle>(`Patient/${patientA}/$everything`, {
      resourceType: 'Parameters',
      parameter: [{ name: '_type', valueString: 'Patient,Encounter' }],
    });
    expect(post.body.entry?.map((e) => e.resource?.resourceType)).toEqual(['Patient', 'Encounter']);
  });

  it('filters by _since (meta.lastUpdated >= since)', async () => {
    const all = await client.get<Bundle>(`Patient/${patientA}/$everything?_count=100`);
    const newest = Math.max(...(all.body.entry ?? []).map((e) => Date.parse(e.resource?.meta?.lastUpdated as string)));
    await waitFor(() => (Date.now() > newest + 1 ? true : undefined), 1000);
    const since = new Date().toISOString();
    const cond = (all.body.entry ?? []).find((e) => e.resource?.resourceType === 'Condition')?.resource as Resource;
    await client.put(`Condition/${cond.id}`, { ...cond, note: [{ text: 'updated' }] });
    const res = await client.get<Bundle>(`Patient/${patientA}/$everything?_since=${encodeURIComponent(since)}`);
    expect(idsOf(res.body)).toEqual([cond.id]);
  });

  it('returns 404 for an unknown patient and 400 for a bad _since', async () => {
    const missing = await client.get<OperationOutcome>('Patient/does-not-exist/$everything');
    expect(missing.status).toBe(404);
    expect(missing.body.resourceType).toBe('OperationOutcome');
    const bad = await client.get<OperationOutcome>(`Patient/${patientA}/$everything?_since=yesterday`);
    expect(bad.status).toBe(400);
  });
});

describe('metadata', () => {
  it('serves a CapabilityStatement with interactions, search params, operations and topics', async () => {
    const res = await client.get<CapabilityStatement>('metadata');
    expect(res.status).toBe(200);
    const cs = res.body;
    expect(cs).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1', kind: 'instance' });
    const rest = cs.rest?.[0];
    expect(rest?.mode).toBe('server');
    expect(rest?.interaction?.map((i) => i.code)).toEqual(['batch', 'transaction']);
    const byType = new Map(rest?.resource?.map((r) => [r.type, r]));
    const obs = byType.get('Observation');
    expect(obs?.interaction?.map((i) => i.code)).toEqual([
      'read',
      'vread',
      'update',
      'create',
      'delete',
      'search-type',
      'history-instance',
    ]);
    const params = obs?.searchParam?.map((p) => p.name) ?? [];
    for (const name of ['patient', 'subject', '_lastUpdated', 'code', 'date']) expect(params).toContain(name);
    expect(byType.get('Patient')?.operation?.map((o) => o.name)).toContain('everything');
    expect(byType.get('Subscription')?.extension).toEqual([
      {
        url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical',
        valueCanonical: PATIENT_DATA_CHANGED_TOPIC,
      },
    ]);
  });
});

describe('index maintenance and write hooks', () => {
  it('moves a resource between compartments on update, drops it on delete, and emits each write', async () => {
    const changes: string[] = [];
    const off = sb.repo.onChange((c) =>
      changes.push(`${c.interaction}:${c.resource.resourceType}:${c.patientIds.join(',')}`),
    );
    const created = await client.post<Resource>('Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'moving' },
      subject: { reference: `Patient/${patientA}` },
    });
    const id = created.body.id as string;
    const inA = async () => idsOf((await client.get<Bundle>(`Observation?patient=${patientA}&_count=100`)).body);
    const inB = async () => idsOf((await client.get<Bundle>(`Observation?patient=${patientB}&_count=100`)).body);
    expect(await inA()).toContain(id);

    await client.put(`Observation/${id}`, { ...created.body, subject: { reference: `Patient/${patientB}` } });
    expect(await inA()).not.toContain(id);
    expect(await inB()).toContain(id);

    await client.delete(`Observation/${id}`);
    expect(await inB()).not.toContain(id);
    const everything = await client.get<Bundle>(`Patient/${patientB}/$everything?_type=Observation`);
    expect(idsOf(everything.body)).not.toContain(id);
    off();
    expect(changes).toEqual([
      `create:Observation:${patientA}`,
      `update:Observation:${patientB}`,
      `delete:Observation:${patientB}`,
    ]);
  });
});
