import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import type {
  Bundle,
  CapabilityStatement,
  Observation,
  OperationOutcome,
  Patient,
  Subscription,
} from '@medplum/fhirtypes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PATIENT_DATA_CHANGED_TOPIC, type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { MedplumUrl } from '../../src/sandbox/quirks/medplum-rest-hook.js';
import { fhirClient } from './fhir-client.js';
import { captureLogger } from './log-capture.js';
import { type Receiver, startReceiver } from './receiver.js';

const SECRET = 'medplum-subscription-secret-0123';
const log = captureLogger();
let sb: Sandbox;
let client: ReturnType<typeof fhirClient>;
let receiver: Receiver;
let patient: string;
const subscriptions: string[] = [];

beforeAll(async () => {
  sb = await startSandbox({ behave: 'medplum', logger: log.logger, notifyRetry: { attempts: 4, baseDelayMs: 20 } });
  client = fhirClient(sb.baseUrl);
  patient = (await client.post<Patient>('Patient', { resourceType: 'Patient' })).body.id as string;
});

afterAll(async () => {
  await sb?.close();
});

afterEach(async () => {
  for (const id of subscriptions.splice(0)) await client.delete(`Subscription/${id}`);
  await sb.notifier.idle();
  await receiver?.close();
});

async function subscribe(sub: Partial<Subscription>): Promise<Subscription> {
  const res = await client.post<Subscription>('Subscription', {
    resourceType: 'Subscription',
    reason: 'test',
    status: 'active',
    criteria: 'Observation?',
    channel: { type: 'rest-hook', endpoint: receiver.url },
    ...sub,
  });
  expect(res.status).toBe(201);
  subscriptions.push(res.body.id as string);
  return res.body;
}

const observation = (): Observation => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }] },
  subject: { reference: `Patient/${patient}` },
});

const hmac = (body: string) => createHmac('sha256', SECRET).update(body).digest('hex');

describe('medplum profile: rest-hook deliveries', () => {
  it('POSTs the bare resource with X-Medplum-* headers, an X-Signature of the exact body, and headers cut at the second colon', async () => {
    receiver = await startReceiver();
    const sub = await subscribe({
      extension: [{ url: MedplumUrl.secret, valueString: SECRET }],
      channel: {
        type: 'rest-hook',
        endpoint: receiver.url,
        header: ['Authorization: Bearer abc:def', 'X-Extra: 1'],
      },
    });
    expect(sub.status).toBe('active');
    const created = (await client.post<Observation>('Observation', observation())).body;
    await client.put(`Observation/${created.id}`, { ...created, status: 'amended' });
    await client.delete(`Observation/${created.id}`);
    await sb.notifier.idle();

    expect(receiver.requests.map((r) => `${r.method} ${r.url} ${r.headers['x-medplum-interaction']}`)).toEqual([
      'POST /notify create',
      'POST /notify update',
      'POST /notify delete',
    ]);
    const [create, update, del] = receiver.requests;
    expect(JSON.parse(create.body)).toEqual(created); // the bare resource, not a Bundle
    expect(JSON.parse(update.body)).toMatchObject({
      id: created.id,
      status: 'amended',
      meta: { versionId: expect.any(String) },
    });
    expect(del.body).toBe('{}');
    for (const req of receiver.requests) {
      expect(req.headers['content-type']).toBe('application/fhir+json');
      expect(req.headers['x-medplum-subscription']).toBe(sub.id);
      expect(req.headers['x-signature']).toBe(hmac(req.body));
      expect(req.headers.authorization).toBe('Bearer abc'); // Medplum: header.split(/:/)
      expect(req.headers['x-extra']).toBe('1');
    }
    expect(del.headers['x-medplum-deleted-resource']).toBe(`Observation/${created.id}`);
    expect(create.headers['x-medplum-deleted-resource']).toBeUndefined();
  });

  it('signs with the legacy secret URL too, and sends no X-Signature without a secret', async () => {
    receiver = await startReceiver();
    await subscribe({ extension: [{ url: MedplumUrl.legacySecret, valueString: SECRET }] });
    await client.post('Observation', observation());
    await sb.notifier.idle();
    expect(receiver.requests[0].headers['x-signature']).toBe(hmac(receiver.requests[0].body));
    await client.delete(`Subscription/${subscriptions.pop()}`);

    await subscribe({});
    await client.post('Observation', observation());
    await sb.notifier.idle();
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1].headers['x-signature']).toBeUndefined();
  });

  it('honours subscription-supported-interaction (create only)', async () => {
    receiver = await startReceiver();
    await subscribe({ extension: [{ url: MedplumUrl.supportedInteraction, valueCode: 'create' }] });
    const obs = (await client.post<Observation>('Observation', observation())).body;
    await client.put(`Observation/${obs.id}`, { ...obs, status: 'amended' });
    await client.delete(`Observation/${obs.id}`);
    await sb.notifier.idle();
    expect(receiver.requests.map((r) => r.headers['x-medplum-interaction'])).toEqual(['create']);
  });

  it('only Subscriptions stored active fire: a requested one stays requested', async () => {
    receiver = await startReceiver();
    const sub = await subscribe({ status: 'requested' });
    expect(sub.status).toBe('requested');
    await client.post('Observation', observation());
    await sb.notifier.idle();
    expect(receiver.requests).toHaveLength(0);
    expect((await client.get<Subscription>(`Subscription/${sub.id}`)).body.status).toBe('requested');
  });

  it('retries failures (4 attempts by default, subscription-max-attempts overrides), counting 3xx as success', async () => {
    receiver = await startReceiver();
    receiver.respondWith(500, 500, 500, 500, 302);
    await subscribe({});
    await client.post('Observation', observation());
    await sb.notifier.idle();
    expect(receiver.requests).toHaveLength(4); // gave up after the 4th 500
    await client.post('Observation', observation());
    await sb.notifier.idle();
    expect(receiver.requests).toHaveLength(5); // the 302 was a success
    await client.delete(`Subscription/${subscriptions.pop()}`);

    receiver.respondWith(500, 500, 500);
    await subscribe({ extension: [{ url: MedplumUrl.maxAttempts, valueInteger: 2 }] });
    await client.post('Observation', observation());
    await sb.notifier.idle();
    expect(receiver.requests).toHaveLength(7);
  });

  it('honours subscription-success-codes', async () => {
    receiver = await startReceiver();
    receiver.respondWith(404);
    await subscribe({ extension: [{ url: MedplumUrl.successCodes, valueString: '200-299, 404' }] });
    await client.post('Observation', observation());
    await sb.notifier.idle();
    expect(receiver.requests).toHaveLength(1);
  });

  it('drops a retry once the resource has a newer version, and delivers the newer version', async () => {
    receiver = await startReceiver();
    await subscribe({});
    const held = receiver.holdNext();
    const v1 = (await client.post<Observation>('Observation', observation())).body;
    await held.arrived;
    const v2 = (await client.put<Observation>(`Observation/${v1.id}`, { ...v1, status: 'amended' })).body;
    held.release(500); // attempt 1 of v1 failed; its retry must not be sent
    await sb.notifier.idle();
    expect(receiver.requests.map((r) => JSON.parse(r.body).meta.versionId)).toEqual([
      v1.meta?.versionId,
      v2.meta?.versionId,
    ]);
    expect(log.lines.some((l) => String(l.reason).includes('is not the current version'))).toBe(true);
  });

  it('sends nothing for a channel.header without a colon (Medplum’s job throws on it)', async () => {
    receiver = await startReceiver();
    await subscribe({ channel: { type: 'rest-hook', endpoint: receiver.url, header: ['NoColonHere'] } });
    const before = log.count('subscription job failed');
    await client.post('Observation', observation());
    await sb.notifier.idle();
    expect(receiver.requests).toHaveLength(0);
    expect(log.count('subscription job failed')).toBe(before + 1);
  });

  it('stores a Backport topic Subscription as error and advertises no topic', async () => {
    receiver = await startReceiver();
    const sub = await subscribe({
      meta: { profile: ['http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription'] },
      status: 'requested',
      criteria: PATIENT_DATA_CHANGED_TOPIC,
    });
    expect(sub.status).toBe('error');
    expect(sub.error).toMatch(/Topic-based Subscriptions are not supported/);
    const cs = (await client.get<CapabilityStatement>('metadata')).body;
    expect(cs.instantiates ?? []).not.toContain(
      'http://hl7.org/fhir/uv/subscriptions-backport/CapabilityStatement/backport-subscription-server-r4',
    );
    const subEntry = cs.rest?.[0].resource?.find((r) => r.type === 'Subscription');
    expect(subEntry).toBeDefined();
    expect(subEntry?.extension).toBeUndefined();
    expect(subEntry?.operation).toBeUndefined();
  });
});

describe('medplum profile: REST behaviour', () => {
  it('does not advertise $everything; answers it without _type, and 400 "types.push is not a function" with any _type', async () => {
    const cs = (await client.get<CapabilityStatement>('metadata')).body;
    const ops = cs.rest?.[0].resource?.find((r) => r.type === 'Patient')?.operation?.map((o) => o.name);
    expect(ops).not.toContain('everything');
    expect(ops).toContain('export');
    const plain = await client.get<Bundle>(`Patient/${patient}/$everything`);
    expect(plain.status).toBe(200);
    expect(plain.body.entry?.[0].resource?.id).toBe(patient);
    const typed = await client.get<OperationOutcome>(`Patient/${patient}/$everything?_type=Observation`);
    expect(typed.status).toBe(400);
    expect(typed.body.issue[0].details?.text).toBe('types.push is not a function');
    const posted = await client.post<OperationOutcome>(`Patient/${patient}/$everything`, {
      resourceType: 'Parameters',
      parameter: [{ name: '_type', valueString: 'Condition' }],
    });
    expect(posted.status).toBe(400);
  });

  it('refuses request bodies over 1 MiB with 400 "File too large", whether Content-Length says so or the body is chunked', async () => {
    const before = sb.repo.count('Patient');
    const big = {
      resourceType: 'Patient',
      text: { status: 'generated', div: `<div>${'x'.repeat(1024 * 1024)}</div>` },
    };
    const res = await client.post<OperationOutcome>('Patient', big);
    expect(res.status).toBe(400);
    expect(res.body.issue[0].details?.text).toBe('File too large');
    const chunked = await postChunked(`${sb.baseUrl}/Patient`, JSON.stringify(big));
    expect(chunked.status).toBe(400);
    expect(JSON.parse(chunked.body).issue[0].details.text).toBe('File too large');
    expect(sb.repo.count('Patient')).toBe(before);
    const small = { ...big, text: { status: 'generated', div: `<div>${'x'.repeat(1000 * 1000)}</div>` } };
    expect((await client.post('Patient', small)).status).toBe(201);
  });

  it('answers a Prefer: return=minimal transaction with 200 and an empty body', async () => {
    const res = await fetch(sb.baseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
      body: JSON.stringify({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }],
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('runs concurrent transactions one at a time, logging "Retrying transaction"', async () => {
    const slow = await startSandbox({ behave: 'medplum', logger: log.logger, quirks: { createDelayMs: 40 } });
    try {
      const before = log.count('Retrying transaction');
      const tx = (n: number): Bundle => ({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [1, 2, 3].map(() => ({
          resource: { resourceType: 'Patient', identifier: [{ system: 'urn:tx', value: `${n}` }] },
          request: { method: 'POST', url: 'Patient' },
        })),
      });
      const results = await Promise.all(
        [1, 2, 3].map((n) =>
          fetch(slow.baseUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/fhir+json' },
            body: JSON.stringify(tx(n)),
          }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
      // Serialised: each transaction's creates are contiguous in insertion order.
      const order = [...slow.repo.resourcesOf('Patient')].map((p) => (p as Patient).identifier?.[0].value);
      expect(order).toHaveLength(9);
      for (let i = 0; i < 9; i += 3) expect(new Set(order.slice(i, i + 3)).size).toBe(1);
      expect(log.count('Retrying transaction')).toBeGreaterThan(before);
    } finally {
      await slow.close();
    }
  });

  it('logs "Unknown profile referenced" until the StructureDefinition is stored', async () => {
    const url = 'http://fhir-assess.dev/StructureDefinition/test-profile';
    const warned = () => log.lines.filter((l) => l.msg === 'Unknown profile referenced' && l.profile === url).length;
    const obs = { ...observation(), meta: { profile: [url] } };
    expect((await client.post('Observation', obs)).status).toBe(201);
    expect(warned()).toBe(1);
    await client.post('StructureDefinition', {
      resourceType: 'StructureDefinition',
      url,
      name: 'TestProfile',
      status: 'active',
      kind: 'resource',
      abstract: false,
      type: 'Observation',
    });
    await client.post('Observation', obs);
    expect(warned()).toBe(1);
  });
});

/** POST with `Transfer-Encoding: chunked` (no Content-Length). */
function postChunked(url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/fhir+json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.slice(i, i + 64 * 1024));
    req.end();
  });
}
