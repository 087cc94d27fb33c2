import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Observation, Parameters, Patient, Subscription } from '@medplum/fhirtypes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PATIENT_DATA_CHANGED_TOPIC, type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { fhirClient } from './fhir-client.js';
import { type Receiver, startReceiver, waitFor } from './receiver.js';

const BP = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
const CHOLESTEROL = 'http://loinc.org|2093-3';

let sb: Sandbox;
let client: ReturnType<typeof fhirClient>;
let receiver: Receiver;
let patient: string;
let otherPatient: string;
const subscriptions: string[] = [];

beforeAll(async () => {
  sb = await startSandbox({ logger: false, notifyRetry: { attempts: 3, baseDelayMs: 20 } });
  client = fhirClient(sb.baseUrl);
  patient = (await client.post<Patient>('Patient', { resourceType: 'Patient' })).body.id as string;
  otherPatient = (await client.post<Patient>('Patient', { resourceType: 'Patient' })).body.id as string;
});

afterAll(async () => {
  await sb?.close();
});

afterEach(async () => {
  for (const id of subscriptions.splice(0)) await client.delete(`Subscription/${id}`);
  await sb.notifier.idle();
  await receiver?.close();
});

/** Subscription fields a test sets (`_criteria`/`_payload` extensions are allowed, `reason` is filled in). */
type SubscriptionInput = Omit<Subscription, 'resourceType' | 'reason'> & { _criteria?: unknown };

async function subscribe(sub: SubscriptionInput): Promise<Subscription> {
  const res = await client.post<Subscription>('Subscription', { resourceType: 'Subscription', reason: 'test', ...sub });
  expect(res.status).toBe(201);
  subscriptions.push(res.body.id as string);
  return res.body;
}

function observation(subject: string, code = '2093-3'): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: `Patient/${subject}` },
  };
}

async function createObservation(subject: string, code?: string): Promise<Observation> {
  return (await client.post<Observation>('Observation', observation(subject, code))).body;
}

/** A Backport topic Subscription on patient-data-changed. */
function topicSubscription(content: string, filters: string[], extra: Partial<Subscription['channel']> = {}) {
  return {
    meta: { profile: [`${BP}/backport-subscription`] },
    status: 'requested' as const,
    criteria: PATIENT_DATA_CHANGED_TOPIC,
    _criteria: { extension: filters.map((valueString) => ({ url: `${BP}/backport-filter-criteria`, valueString })) },
    channel: {
      type: 'rest-hook' as const,
      endpoint: receiver.url,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: `${BP}/backport-payload-content`, valueCode: content }] },
      header: ['Authorization: Bearer topic-secret'],
      ...extra,
    },
  };
}

/** Creates a topic Subscription and waits for the handshake to activate it. */
async function activeTopicSubscription(content: string, filters: string[], extra = {}): Promise<Subscription> {
  const sub = await subscribe(topicSubscription(content, filters, extra));
  expect(sub.status).toBe('requested');
  await waitFor(async () => {
    const current = await client.get<Subscription>(`Subscription/${sub.id}`);
    return current.body.status === 'active' ? true : undefined;
  });
  return sub;
}

function bundleOf(body: string): Bundle {
  return JSON.parse(body) as Bundle;
}

function statusOf(bundle: Bundle): Parameters {
  return bundle.entry?.[0].resource as Parameters;
}

function param(p: Parameters, name: string) {
  return p.parameter?.find((x) => x.name === name);
}

function notifications(type: string) {
  return receiver.requests.map((r) => bundleOf(r.body)).filter((b) => param(statusOf(b), 'type')?.valueCode === type);
}

describe('R4 classic rest-hook', () => {
  it('activates at once and POSTs an empty body, with channel headers split on the first colon', async () => {
    receiver = await startReceiver();
    const sub = await subscribe({
      status: 'requested',
      criteria: `Observation?code=${CHOLESTEROL}`,
      channel: { type: 'rest-hook', endpoint: receiver.url, header: ['Authorization: Bearer a:b', 'X-Extra: 1'] },
    });
    expect(sub.status).toBe('active');
    await createObservation(patient, '8480-6'); // does not match the criteria
    await createObservation(patient);
    await sb.notifier.idle();
    expect(receiver.requests).toHaveLength(1);
    const [req] = receiver.requests;
    expect(req).toMatchObject({ method: 'POST', url: '/notify', body: '' });
    expect(req.headers.authorization).toBe('Bearer a:b');
    expect(req.headers['x-extra']).toBe('1');
  });

  it('PUTs the resource to {endpoint}/{Type}/{id} with a payload, and DELETEs on delete', async () => {
    receiver = await startReceiver('/fhir');
    await subscribe({
      status: 'requested',
      criteria: `Observation?code=${CHOLESTEROL}`,
      channel: { type: 'rest-hook', endpoint: receiver.url, payload: 'application/fhir+json' },
    });
    const obs = await createObservation(patient);
    await client.delete(`Observation/${obs.id}`);
    await sb.notifier.idle();
    expect(receiver.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `PUT /fhir/Observation/${obs.id}`,
      `DELETE /fhir/Observation/${obs.id}`,
    ]);
    expect(receiver.requests[0].headers['content-type']).toBe('application/fhir+json');
    expect(JSON.parse(receiver.requests[0].body)).toMatchObject({ resourceType: 'Observation', id: obs.id });
  });

  it('retries after a receiver 500 with the same request', async () => {
    receiver = await startReceiver();
    receiver.respondWith(500);
    await subscribe({
      status: 'active',
      criteria: `Observation?patient=Patient/${patient}`,
      channel: { type: 'rest-hook', endpoint: receiver.url, payload: 'application/fhir+json' },
    });
    await createObservation(patient);
    expect(sb.notifier.pending()).toBe(1);
    await sb.notifier.idle();
    expect(sb.notifier.pending()).toBe(0);
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1].body).toBe(receiver.requests[0].body);
  });

  it('stores an unusable Subscription as error', async () => {
    receiver = await startReceiver();
    const sub = await subscribe({ status: 'requested', criteria: 'Observation', channel: { type: 'email' } });
    expect(sub.status).toBe('error');
    expect(sub.error).toMatch(/Unsupported channel type/);
  });
});

describe('R4 Backport topic subscriptions', () => {
  it('sends a handshake, then becomes active', async () => {
    receiver = await startReceiver();
    const sub = await activeTopicSubscription('id-only', []);
    const [handshake] = notifications('handshake');
    const status = statusOf(handshake);
    expect(handshake.type).toBe('history');
    expect(param(status, 'status')?.valueCode).toBe('requested');
    expect(param(status, 'events-since-subscription-start')?.valueString).toBe('0');
    expect(param(status, 'notification-event')).toBeUndefined();
    expect(handshake.entry).toHaveLength(1);
    expect(receiver.requests[0].headers.authorization).toBe('Bearer topic-secret');
    expect(receiver.requests[0].headers['content-type']).toBe('application/fhir+json');
    expect(sub.id).toBeDefined();
  });

  it('moves to error when the handshake keeps failing', async () => {
    receiver = await startReceiver();
    receiver.respondWith(500, 500, 500);
    const sub = await subscribe(topicSubscription('id-only', []));
    const errored = await waitFor(async () => {
      const current = await client.get<Subscription>(`Subscription/${sub.id}`);
      return current.body.status === 'error' ? current.body : undefined;
    });
    expect(errored.error).toMatch(/Handshake failed/);
    expect(receiver.requests).toHaveLength(3);
  });

  it('delivers id-only notifications with the exact Parameters structure and incrementing numbers', async () => {
    receiver = await startReceiver();
    const sub = await activeTopicSubscription('id-only', [`Observation?patient=Patient/${patient}`]);
    const obs = await createObservation(patient);
    await client.put(`Observation/${obs.id}`, { ...obs, status: 'amended' });
    await createObservation(otherPatient); // filtered out: other patient
    await client.post('Condition', { resourceType: 'Condition', subject: { reference: `Patient/${patient}` } }); // other type
    await sb.notifier.idle();
    const events = notifications('event-notification');
    expect(events).toHaveLength(2);
    const [first, second] = events;
    expect(first.meta?.profile).toEqual([`${BP}/backport-subscription-notification-r4`]);
    expect(first.type).toBe('history');
    const status = statusOf(first);
    expect(status.meta?.profile).toEqual([`${BP}/backport-subscription-status-r4`]);
    const timestamp = param(status, 'notification-event')?.part?.[1].valueInstant;
    expect(status.parameter).toEqual([
      { name: 'subscription', valueReference: { reference: `${sb.baseUrl}/Subscription/${sub.id}` } },
      { name: 'topic', valueCanonical: PATIENT_DATA_CHANGED_TOPIC },
      { name: 'status', valueCode: 'active' },
      { name: 'type', valueCode: 'event-notification' },
      { name: 'events-since-subscription-start', valueString: '1' },
      {
        name: 'notification-event',
        part: [
          { name: 'event-number', valueString: '1' },
          { name: 'timestamp', valueInstant: timestamp },
          { name: 'focus', valueReference: { reference: `${sb.baseUrl}/Observation/${obs.id}` } },
        ],
      },
    ]);
    expect(Number.isNaN(Date.parse(timestamp as string))).toBe(false);
    expect(first.entry?.[0]).toMatchObject({
      request: { method: 'GET', url: `${sb.baseUrl}/Subscription/${sub.id}/$status` },
      response: { status: '200' },
    });
    expect(first.entry?.[1]).toEqual({
      fullUrl: `${sb.baseUrl}/Observation/${obs.id}`,
      request: { method: 'POST', url: `Observation/${obs.id}` },
      response: { status: '201' },
    });
    expect(param(statusOf(second), 'events-since-subscription-start')?.valueString).toBe('2');
    expect(param(statusOf(second), 'notification-event')?.part?.[0].valueString).toBe('2');
    expect(second.entry?.[1].request).toEqual({ method: 'PUT', url: `Observation/${obs.id}` });
  });

  it('includes the resource for full-resource, and not for deletes', async () => {
    receiver = await startReceiver();
    await activeTopicSubscription('full-resource', [`Observation?code=${CHOLESTEROL}`]);
    const obs = await createObservation(patient);
    await client.delete(`Observation/${obs.id}`);
    await sb.notifier.idle();
    const [created, deleted] = notifications('event-notification');
    expect(created.entry?.[1].resource).toMatchObject({ resourceType: 'Observation', id: obs.id, status: 'final' });
    expect(created.entry?.[1].fullUrl).toBe(`${sb.baseUrl}/Observation/${obs.id}`);
    expect(deleted.entry?.[1]).toEqual({
      fullUrl: `${sb.baseUrl}/Observation/${obs.id}`,
      request: { method: 'DELETE', url: `Observation/${obs.id}` },
      response: { status: '204' },
    });
  });

  it('applies type-less patient filters to every type, and sends empty notifications without focus', async () => {
    receiver = await startReceiver();
    await activeTopicSubscription('empty', [`patient=Patient/${patient}`]);
    await client.post('Condition', { resourceType: 'Condition', subject: { reference: `Patient/${patient}` } });
    await client.post('Condition', { resourceType: 'Condition', subject: { reference: `Patient/${otherPatient}` } });
    await sb.notifier.idle();
    const events = notifications('event-notification');
    expect(events).toHaveLength(1);
    const status = statusOf(events[0]);
    expect(events[0].entry).toHaveLength(1);
    expect(param(status, 'topic')).toBeUndefined();
    expect(param(status, 'notification-event')?.part?.map((p) => p.name)).toEqual(['event-number', 'timestamp']);
  });

  it('skipNextEventNumber leaves a gap that $events can fill; $status reports the count', async () => {
    receiver = await startReceiver();
    const sub = await activeTopicSubscription('id-only', [`Observation?patient=Patient/${patient}`]);
    sb.notifier.skipNextEventNumber(sub.id as string);
    const lost = await createObservation(patient);
    const kept = await createObservation(patient);
    await sb.notifier.idle();
    const events = notifications('event-notification');
    expect(events).toHaveLength(1);
    expect(param(statusOf(events[0]), 'notification-event')?.part?.[0].valueString).toBe('2');
    expect(events[0].entry?.[1].fullUrl).toBe(`${sb.baseUrl}/Observation/${kept.id}`);

    const replay = await client.get<Bundle>(`Subscription/${sub.id}/$events?eventsSinceNumber=1&eventsUntilNumber=1`);
    expect(replay.status).toBe(200);
    expect(param(statusOf(replay.body), 'type')?.valueCode).toBe('query-event');
    expect(param(statusOf(replay.body), 'notification-event')?.part?.[0].valueString).toBe('1');
    expect(replay.body.entry?.[1].fullUrl).toBe(`${sb.baseUrl}/Observation/${lost.id}`);

    const status = await client.get<Bundle>(`Subscription/${sub.id}/$status`);
    expect(param(statusOf(status.body), 'type')?.valueCode).toBe('query-status');
    expect(param(statusOf(status.body), 'events-since-subscription-start')?.valueString).toBe('2');
    expect(param(statusOf(status.body), 'status')?.valueCode).toBe('active');
  });

  it('sends heartbeats at the requested period', async () => {
    receiver = await startReceiver();
    const heartbeat = { extension: [{ url: `${BP}/backport-heartbeat-period`, valueUnsignedInt: 1 }] };
    await activeTopicSubscription('id-only', [], heartbeat);
    await receiver.waitFor(() => notifications('heartbeat').length > 0, 3000);
    const status = statusOf(notifications('heartbeat')[0]);
    expect(param(status, 'status')?.valueCode).toBe('active');
    expect(param(status, 'events-since-subscription-start')?.valueString).toBe('0');
  });

  it('does not notify while bulk-loading a file', async () => {
    receiver = await startReceiver();
    await activeTopicSubscription('id-only', []);
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-notify-'));
    const file = join(dir, 'one.ndjson');
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: observation(patient), request: { method: 'POST', url: 'Observation' } }],
    };
    await writeFile(file, JSON.stringify(bundle));
    expect(await sb.loadFile(file)).toMatchObject({ resources: 1, written: 1 });
    await sb.notifier.idle();
    expect(notifications('event-notification')).toHaveLength(0);
    await rm(dir, { recursive: true, force: true });
  });
});
