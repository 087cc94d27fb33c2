import type {
  Bundle,
  CapabilityStatement,
  Observation,
  OperationOutcome,
  Patient,
  Subscription,
} from '@medplum/fhirtypes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HAPI_SEND_DELETE_MESSAGES } from '../../src/sandbox/classic-rest-hook.js';
import { PATIENT_DATA_CHANGED_TOPIC, type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { fhirClient, idsOf } from './fhir-client.js';
import { type Receiver, startReceiver, waitFor } from './receiver.js';

const BP = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
let sb: Sandbox;
let client: ReturnType<typeof fhirClient>;
let receiver: Receiver;
let patient: string;
const observations: string[] = [];
const subscriptions: string[] = [];

beforeAll(async () => {
  sb = await startSandbox({ behave: 'hapi', logger: false, notifyRetry: { attempts: 2, baseDelayMs: 20 } });
  client = fhirClient(sb.baseUrl);
  patient = (await client.post<Patient>('Patient', { resourceType: 'Patient' })).body.id as string;
  for (let i = 0; i < 12; i++) {
    observations.push((await client.post<Observation>('Observation', observation())).body.id as string);
  }
});

afterAll(async () => {
  await sb?.close();
});

afterEach(async () => {
  for (const id of subscriptions.splice(0)) await client.delete(`Subscription/${id}`);
  await sb.notifier.idle();
  await receiver?.close();
});

function observation(): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }] },
    subject: { reference: `Patient/${patient}` },
  };
}

async function subscribe(channel: Partial<Subscription['channel']>, extra: Partial<Subscription> = {}) {
  const res = await client.post<Subscription>('Subscription', {
    resourceType: 'Subscription',
    reason: 'test',
    status: 'requested',
    criteria: 'Observation?code=http://loinc.org|2093-3',
    channel: { type: 'rest-hook', endpoint: receiver.url, ...channel },
    ...extra,
  });
  expect(res.status).toBe(201);
  subscriptions.push(res.body.id as string);
  return res.body;
}

const sendDeletes = [{ url: HAPI_SEND_DELETE_MESSAGES, valueBoolean: true }];

describe('hapi profile: classic rest-hook', () => {
  it('activates a requested Subscription itself; with a payload it PUTs {endpoint}/{Type}/{id} and sends no delete', async () => {
    receiver = await startReceiver('/hook');
    const sub = await subscribe({ payload: 'application/fhir+json', header: ['Authorization: Bearer a:b'] });
    expect(sub.status).toBe('active');
    const obs = (await client.post<Observation>('Observation', observation())).body;
    await client.delete(`Observation/${obs.id}`);
    await sb.notifier.idle();
    expect(receiver.requests.map((r) => `${r.method} ${r.url}`)).toEqual([`PUT /hook/Observation/${obs.id}`]);
    const [put] = receiver.requests;
    expect(put.headers['content-type']).toBe('application/fhir+json; charset=UTF-8');
    expect(put.headers.authorization).toBe('Bearer a:b'); // HAPI splits on the first colon only
    expect(JSON.parse(put.body)).toMatchObject({ resourceType: 'Observation', id: obs.id });
  });

  it('sends DELETE {endpoint}/{Type}/{id} only with subscription-send-delete-messages = true', async () => {
    receiver = await startReceiver('/hook');
    await subscribe({ payload: 'application/fhir+json', extension: sendDeletes });
    const obs = (await client.post<Observation>('Observation', observation())).body;
    await client.delete(`Observation/${obs.id}`);
    await sb.notifier.idle();
    expect(receiver.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `PUT /hook/Observation/${obs.id}`,
      `DELETE /hook/Observation/${obs.id}`,
    ]);
    expect(receiver.requests[1].body).toBe('');
  });

  it('without a payload POSTs an empty body to the endpoint, for deletes too when asked', async () => {
    receiver = await startReceiver('/hook');
    await subscribe({ extension: sendDeletes });
    const obs = (await client.post<Observation>('Observation', observation())).body;
    await client.delete(`Observation/${obs.id}`);
    await sb.notifier.idle();
    expect(receiver.requests.map((r) => `${r.method} ${r.url} [${r.body}]`)).toEqual([
      'POST /hook []',
      'POST /hook []',
    ]);
  });

  it('handshakes R4 Backport topic Subscriptions and advertises the topic', async () => {
    receiver = await startReceiver();
    const sub = await subscribe(
      { payload: 'application/fhir+json' },
      {
        meta: { profile: [`${BP}/backport-subscription`] },
        criteria: PATIENT_DATA_CHANGED_TOPIC,
      },
    );
    expect(sub.status).toBe('requested');
    await waitFor(async () =>
      (await client.get<Subscription>(`Subscription/${sub.id}`)).body.status === 'active' ? true : undefined,
    );
    const cs = (await client.get<CapabilityStatement>('metadata')).body;
    const subEntry = cs.rest?.[0].resource?.find((r) => r.type === 'Subscription');
    expect(subEntry?.extension?.[0].valueCanonical).toBe(PATIENT_DATA_CHANGED_TOPIC);
  });
});

const GETPAGES = (base: string, offset: number, count: number) =>
  new RegExp(
    `^${base.replace(/[.?]/g, '\\$&')}\\?_getpages=[0-9a-f-]{36}&_getpagesoffset=${offset}&_count=${count}&_bundletype=searchset$`,
  );

describe('hapi profile: _getpages paging links', () => {
  it('points next/previous at the base with _getpages; followed verbatim they return every result once', async () => {
    const first = await client.get<Bundle>(`Observation?subject=Patient/${patient}&_count=5`);
    const next = first.body.link?.find((l) => l.relation === 'next')?.url as string;
    expect(next).toMatch(GETPAGES(sb.baseUrl, 5, 5));
    expect(first.body.link?.find((l) => l.relation === 'self')?.url).toContain(`${sb.baseUrl}/Observation?`);
    const pages = await client.pages(`Observation?subject=Patient/${patient}&_count=5`);
    expect(pages).toHaveLength(3);
    const ids = pages.flatMap(idsOf);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual([...observations].sort());
    expect(pages[1].link?.find((l) => l.relation === 'previous')?.url).toMatch(GETPAGES(sb.baseUrl, 0, 5));
    expect(pages[1].link?.find((l) => l.relation === 'self')?.url).toMatch(GETPAGES(sb.baseUrl, 5, 5));
  });

  it('reproduces library-notes trap B: re-targeting a link at {base}/Observation gives page 1 again, forever', async () => {
    const query = `Observation?subject=Patient/${patient}&_count=5`;
    const first = await client.get<Bundle>(query);
    const next = new URL(first.body.link?.find((l) => l.relation === 'next')?.url as string);
    // What MedplumClient.searchResourcePages does: keep the query string, re-target the type path
    // (every Observation in this sandbox is the patient's, so page 1 is the same either way).
    const retargeted = await client.get<Bundle>(`Observation${next.search}`);
    expect(idsOf(retargeted.body)).toEqual(idsOf(first.body));
    const again = new URL(retargeted.body.link?.find((l) => l.relation === 'next')?.url as string);
    expect(again.searchParams.get('_getpagesoffset')).toBe('5'); // the same "next" page: a loop
    expect(idsOf((await client.get<Bundle>(next.href)).body)).not.toEqual(idsOf(first.body));
  });

  it('pages $everything and batch-entry searches the same way', async () => {
    const everything = await client.pages(`Patient/${patient}/$everything?_count=4`);
    expect(everything.flatMap(idsOf)).toHaveLength(13); // Patient + 12 Observations
    expect(everything[0].link?.find((l) => l.relation === 'next')?.url).toMatch(GETPAGES(sb.baseUrl, 4, 4));
    const batch = await client.post<Bundle>('', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ request: { method: 'GET', url: `Observation?subject=Patient/${patient}&_count=10` } }],
    });
    const searchset = batch.body.entry?.[0].resource as Bundle;
    const next = searchset.link?.find((l) => l.relation === 'next')?.url as string;
    expect(next).toMatch(GETPAGES(sb.baseUrl, 10, 10));
    expect(idsOf((await client.get<Bundle>(next)).body)).toHaveLength(2);
  });

  it('answers an unknown search id with 410 Gone', async () => {
    const res = await client.get<OperationOutcome>(
      '?_getpages=00000000-0000-4000-8000-000000000000&_getpagesoffset=5&_count=5',
    );
    expect(res.status).toBe(410);
    expect(res.body.issue[0].details?.text).toMatch(/does not exist and may have expired/);
  });
});

describe('hapi profile: other REST behaviour', () => {
  it('answers Prefer: return=minimal with entry responses but no resources, and advertises a working $everything', async () => {
    const res = await fetch(sb.baseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
      body: JSON.stringify({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }],
      }),
    });
    const bundle = (await res.json()) as Bundle;
    expect(bundle.entry?.[0].response?.status).toMatch(/^201/);
    expect(bundle.entry?.[0].resource).toBeUndefined();
    const cs = (await client.get<CapabilityStatement>('metadata')).body;
    const ops = cs.rest?.[0].resource?.find((r) => r.type === 'Patient')?.operation?.map((o) => o.name);
    expect(ops).toContain('everything');
    const typed = await client.get<Bundle>(`Patient/${patient}/$everything?_type=Patient`);
    expect(typed.status).toBe(200);
    expect(idsOf(typed.body)).toEqual([patient]);
  });
});
