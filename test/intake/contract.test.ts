import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/intake/change-event.js';
import { EventLedger } from '../../src/intake/event-ledger.js';
import { createIntakeQueue, gapJobId, type IntakeQueue } from '../../src/jobs/intake-queue.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { type Harness, SECRET, startHarness } from './helpers/harness.js';
import {
  type Content,
  hapiTransaction,
  medplumHeaders,
  type NotificationType,
  observation,
  topicNotification,
  type Variant,
} from './helpers/notifications.js';

/*
 * One contract test per wire variant (standards.md §0, A-H), notification type and payload content,
 * sent over real HTTP to the running service (HTTP role only, so the stored events stay in the queue
 * for inspection). Each asserts the exact ChangeEvents stored and what the subscription ledger saw.
 */
const HMAC = 'medplum-subscription-secret-0123456789';
const BEARER = { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' };

let redis: TestRedis;
let h: Harness;
let base: string;
let intakeQueue: IntakeQueue;

beforeAll(async () => {
  redis = await useTestRedis();
  h = await startHarness({
    redisUrl: redis.url,
    name: 'contract',
    roles: { http: true, workers: false },
    env: { NOTIFY_HMAC_SECRET: HMAC },
  });
  base = h.sandbox.baseUrl;
  intakeQueue = createIntakeQueue(h.service.redis, h.prefix);
});

afterAll(async () => {
  await intakeQueue?.close();
  await h?.close();
  await redis?.stop();
});

async function send(method: string, body: unknown, headers: Record<string, string> = BEARER, path = '') {
  const res = await fetch(`${h.notifyUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as { resourceType: string; issue: { code: string; diagnostics: string }[] },
  };
}

/** Stored events naming one of `ids` (every test uses fresh ids). */
async function storedFor(...ids: string[]): Promise<ChangeEvent[]> {
  const jobs = (await h.service.eventsQueue.getJobs(
    ['waiting', 'delayed', 'prioritized'],
    0,
    10_000,
  )) as Job<ChangeEvent>[];
  return jobs
    .map((j) => j.data)
    .filter((d) => (d.id && ids.includes(d.id)) || (d.subscription && ids.some((i) => d.subscription!.endsWith(i))));
}

const ledger = () => new EventLedger(h.service.redis, h.prefix);

describe('classic and vendor variants (A-E)', () => {
  it('A: When HAPI POSTs an empty body (no payload), Then one ping is stored to catch up by query', async () => {
    const pings = async () =>
      (await h.service.eventsQueue.getJobs(['waiting'], 0, 10_000)).filter((j) => j.data.via === 'r4-classic-empty');
    const before = (await pings()).length;
    const res = await fetch(h.notifyUrl, { method: 'POST', headers: { authorization: `Bearer ${SECRET}` } });
    expect(res.status).toBe(200);
    const after = await pings();
    expect(after).toHaveLength(before + 1);
    expect(after[0].data).toEqual({ source: 'ehr', via: 'r4-classic-empty', interaction: 'ping' });
  });

  it('B: When HAPI PUTs the resource to /notify/{type}/{id} with a charset, Then its reference, version and patient are stored', async () => {
    const id = randomUUID();
    const res = await send(
      'PUT',
      observation(id, 'p-b', '7'),
      { ...BEARER, 'content-type': 'application/fhir+json; charset=UTF-8' },
      `/Observation/${id}`,
    );
    expect(res.status).toBe(200);
    expect(await storedFor(id)).toEqual([
      expect.objectContaining({
        via: 'r4-classic-payload',
        interaction: 'update',
        resourceType: 'Observation',
        id,
        versionId: '7',
        patientId: 'p-b',
      }),
    ]);
    expect(JSON.stringify(await storedFor(id))).not.toContain('2093-3'); // references only, never the body
  });

  it('C: When HAPI sends DELETE /notify/{type}/{id}, Then a delete event is stored', async () => {
    const id = randomUUID();
    expect((await send('DELETE', undefined, { authorization: `Bearer ${SECRET}` }, `/Condition/${id}`)).status).toBe(
      200,
    );
    expect(await storedFor(id)).toEqual([
      { source: 'ehr', via: 'r4-classic-delete', interaction: 'delete', resourceType: 'Condition', id },
    ]);
  });

  it('D: When HAPI posts a payload-search-criteria transaction Bundle, Then one event per entry', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const res = await send('POST', hapiTransaction(base, [observation(a, 'p-d', '2'), observation(b, 'p-d', '5')]));
    expect(res.status).toBe(200);
    expect((await storedFor(a, b)).map((e) => [e.via, e.id, e.versionId, e.patientId]).sort()).toEqual(
      [
        ['hapi-transaction', a, '2', 'p-d'],
        ['hapi-transaction', b, '5', 'p-d'],
      ].sort(),
    );
  });

  it('E: When Medplum posts a signed bare resource (no bearer), Then the signature authenticates it and the event names its subscription', async () => {
    const id = randomUUID();
    const sub = `mp-${randomUUID()}`;
    const body = JSON.stringify(observation(id, 'p-e', '3'));
    const res = await send(
      'POST',
      body,
      medplumHeaders(body, { subscription: sub, interaction: 'create', secret: HMAC }),
    );
    expect(res.status).toBe(200);
    expect(await storedFor(id)).toEqual([
      expect.objectContaining({
        via: 'medplum',
        interaction: 'create',
        id,
        versionId: '3',
        patientId: 'p-e',
        subscription: sub,
      }),
    ]);
    expect((await ledger().state('ehr', sub)).seenAt).toBeUndefined(); // the events worker records it
  });

  it('E: When Medplum notifies a delete ({} body, X-Medplum-Deleted-Resource), Then a delete event is stored', async () => {
    const id = randomUUID();
    const res = await send(
      'POST',
      '{}',
      medplumHeaders('{}', {
        subscription: 'mp-del',
        interaction: 'delete',
        deleted: `Observation/${id}`,
        secret: HMAC,
      }),
    );
    expect(res.status).toBe(200);
    expect(await storedFor(id)).toEqual([
      expect.objectContaining({ via: 'medplum', interaction: 'delete', resourceType: 'Observation', id }),
    ]);
  });

  it('E: When the Medplum signature does not match the raw bytes, Then 401 and nothing is stored', async () => {
    const id = randomUUID();
    const body = JSON.stringify(observation(id, 'p-e', '1'));
    const headers = medplumHeaders(body, {
      subscription: 'mp-x',
      interaction: 'update',
      secret: 'wrong-secret-0123456789abcdef',
    });
    const res = await send('POST', body, headers);
    expect(res.status).toBe(401);
    expect(res.body.issue[0].code).toBe('security');
    expect(await storedFor(id)).toEqual([]);
  });
});

const VARIANTS: Variant[] = ['r4-backport', 'r4b-backport', 'r5'];
const CONTENTS: Content[] = ['empty', 'id-only', 'full-resource'];

describe.each(VARIANTS)('topic-based %s (F, G, H)', (variant) => {
  const notify = (
    type: NotificationType,
    content: Content,
    sub: string,
    since: number,
    events: { n: number; id: string }[] = [],
  ) =>
    topicNotification({
      variant,
      base,
      subscriptionId: sub,
      type,
      content,
      eventsSinceStart: since,
      events: events.map((e) => ({
        eventNumber: e.n,
        focus: `Observation/${e.id}`,
        resource: observation(e.id, 'p-t', '4'),
      })),
    });

  it('handshake: answered 200, no events, the ledger starts at events-since-subscription-start', async () => {
    const sub = `s-${randomUUID().slice(0, 8)}`;
    const res = await send('POST', notify('handshake', 'id-only', sub, 0));
    expect(res.status).toBe(200);
    expect(res.body.issue[0].diagnostics).toBe('accepted handshake with 0 event(s)');
    expect(await storedFor(sub)).toEqual([]);
    expect(await ledger().state('ehr', sub)).toMatchObject({ high: 0, seenAt: expect.any(Number) });
  });

  it('heartbeat: answered 200 and recorded; one counting more events than received opens a gap', async () => {
    const sub = `s-${randomUUID().slice(0, 8)}`;
    await send('POST', notify('handshake', 'id-only', sub, 0));
    const res = await send('POST', notify('heartbeat', 'id-only', sub, 2));
    expect(res.status).toBe(200);
    expect(res.body.issue[0].diagnostics).toBe('accepted heartbeat with 0 event(s)');
    expect(await ledger().openGaps('ehr', sub)).toEqual([
      expect.objectContaining({ from: 1, until: 2, tracked: true }),
    ]);
    const job = await intakeQueue.getJob(gapJobId('ehr', sub, 1, 2));
    expect(job?.data).toMatchObject({ kind: 'recover-gap', source: 'ehr', subscriptionId: sub, from: 1, until: 2 });
    expect(await job?.isDelayed()).toBe(true); // recovery waits out the grace period
    expect(await ledger().missing('ehr', sub, 1, 2)).toEqual([1, 2]);
  });

  it('query-status: answered 200 with no events', async () => {
    const sub = `s-${randomUUID().slice(0, 8)}`;
    const res = await send('POST', notify('query-status', 'id-only', sub, 5));
    expect(res.status).toBe(200);
    expect(res.body.issue[0].diagnostics).toBe('accepted query-status with 0 event(s)');
    expect((await ledger().state('ehr', sub)).high).toBe(5);
  });

  it.each(CONTENTS)(
    'event-notification, content %s: the event (or a ping for empty) is stored with its number',
    async (content) => {
      const sub = `s-${randomUUID().slice(0, 8)}`;
      const id = randomUUID();
      await send('POST', notify('handshake', content, sub, 0));
      const res = await send('POST', notify('event-notification', content, sub, 1, [{ n: 1, id }]));
      expect(res.status).toBe(200);
      const stored = await storedFor(id, sub);
      if (content === 'empty') {
        expect(stored).toEqual([expect.objectContaining({ via: variant, interaction: 'ping', eventNumber: 1 })]);
      } else {
        expect(stored).toEqual([
          expect.objectContaining({
            via: variant,
            interaction: 'update',
            resourceType: 'Observation',
            id,
            eventNumber: 1,
            occurredAt: '2020-05-29T16:44:13.188Z',
            ...(content === 'full-resource' ? { versionId: '4', patientId: 'p-t' } : {}),
          }),
        ]);
        if (content === 'id-only') expect(stored[0].patientId).toBeUndefined(); // read later by the worker
      }
      // `empty` names no focus, so the request records the number itself; otherwise the number travels
      // in the stored event and the events worker records it (one Redis call per request).
      expect(await ledger().state('ehr', sub)).toMatchObject({ high: content === 'empty' ? 1 : 0 });
      if (content !== 'empty') expect(stored[0].subscription).toBe(sub); // by logical id, whatever the URL form
      expect(await ledger().openGaps('ehr', sub)).toEqual([]);
    },
  );

  it.each(CONTENTS)('query-event, content %s: every event of the answer is stored', async (content) => {
    const sub = `s-${randomUUID().slice(0, 8)}`;
    const [a, b] = [randomUUID(), randomUUID()];
    const res = await send(
      'POST',
      notify('query-event', content, sub, 9, [
        { n: 3, id: a },
        { n: 4, id: b },
      ]),
    );
    expect(res.status).toBe(200);
    const stored = await storedFor(a, b, sub);
    if (content === 'empty')
      expect(stored).toEqual([]); // nothing named and no "event-notification": nothing to do
    else
      expect(stored.map((e) => [e.id, e.eventNumber]).sort()).toEqual(
        [
          [a, 3],
          [b, 4],
        ].sort(),
      );
  });
});

describe('hostile and malformed notifications (4xx over HTTP, nothing stored)', () => {
  const idOnly = (subBase = base) =>
    topicNotification({
      variant: 'r4-backport',
      base: subBase,
      subscriptionId: 'hostile',
      type: 'event-notification',
      content: 'id-only',
      eventsSinceStart: 1,
      events: [{ eventNumber: 1, focus: 'Observation/x1' }],
    }) as {
      entry: {
        resource: { parameter: { name: string; part?: { name: string; valueReference?: { reference: string } }[] }[] };
      }[];
    } & Record<string, unknown>;

  it('When a focus references another server, Then 422 naming it and nothing stored', async () => {
    const b = idOnly();
    const ev = b.entry[0].resource.parameter.find((p) => p.name === 'notification-event')!;
    ev.part!.find((p) => p.name === 'focus')!.valueReference = {
      reference: 'https://evil.example.com/fhir/Observation/x1',
    };
    const res = await send('POST', b);
    expect(res.status).toBe(422);
    expect(res.body.issue[0].diagnostics).toMatch(/outside the configured FHIR base URL/);
    expect(await storedFor('x1')).toEqual([]);
  });

  it('When the subscription reference is on another server, Then 422', async () => {
    const res = await send('POST', idOnly('https://evil.example.com/fhir'));
    expect(res.status).toBe(422);
    expect(res.body.issue[0].diagnostics).toMatch(/subscription reference is outside/);
  });

  it('When a HAPI transaction entry points at another server, Then 422', async () => {
    const res = await send('POST', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ request: { method: 'PUT', url: 'https://evil.example.com/fhir/Observation/1' } }],
    });
    expect(res.status).toBe(422);
  });

  it('When a Bundle carries thousands of entries, Then 413 too-costly', async () => {
    const entry = Array.from({ length: 3000 }, (_, i) => ({ request: { method: 'PUT', url: `Observation/o${i}` } }));
    const res = await send('POST', { resourceType: 'Bundle', type: 'transaction', entry });
    expect(res.status).toBe(413);
    expect(res.body.issue[0]).toMatchObject({
      code: 'too-costly',
      diagnostics: expect.stringMatching(/3000 entries; at most 1000/),
    });
  });

  it('When ids, event numbers or structure are wrong, Then a 400 names the element', async () => {
    const badId = await send('PUT', { ...observation('x', 'p'), id: 'x' }, BEARER, '/Observation/x');
    expect(badId.status).toBe(200); // control: a valid one is fine
    const longId = 'a'.repeat(65);
    const bundle = hapiTransaction(base, [{ ...observation('y', 'p'), id: longId }]);
    const r1 = await send('POST', bundle);
    expect(r1.status).toBe(400);
    expect(r1.body.issue[0].diagnostics).toMatch(/event 1 \(Observation\): id:/);
    const r2 = await send('POST', { resourceType: 'Bundle', type: 'transaction', entry: 'nope' });
    expect(r2.status).toBe(400);
    expect(r2.body.issue[0].diagnostics).toMatch(/notification Bundle is malformed: entry: /);
    const neg = topicNotification({
      variant: 'r4b-backport',
      base,
      subscriptionId: 'n',
      type: 'event-notification',
      content: 'id-only',
      eventsSinceStart: -3,
      events: [],
    });
    const r3 = await send('POST', neg);
    expect(r3.status).toBe(400);
    expect(r3.body.issue[0].diagnostics).toMatch(/event number is not a non-negative integer/);
  });
});
