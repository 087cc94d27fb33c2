import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { SourceSchema } from '../../src/config/sources.js';
import { SourceRegistry } from '../../src/fhir/source-client.js';
import { createEventsQueue, type EventsQueue } from '../../src/jobs/events-queue.js';
import type { RedisClient } from '../../src/jobs/redis-connection.js';
import { producerConnection, ready } from '../../src/jobs/redis-connection.js';
import { createLogger } from '../../src/util/logger.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';

const SECRET = 'test-secret-0123456789abcdef';
const OTHER_SECRET = 'other-ehr-secret-0123456789';
const HMAC_SECRET = 'medplum-subscription-secret-0123';

const source = (name: string, bearerSecrets: string[], hmacSecrets: string[] = []) =>
  SourceSchema.parse({ name, fhirBaseUrl: `http://${name}.test/fhir/R4`, notify: { bearerSecrets, hmacSecrets } });
const sources = new SourceRegistry([source('ehr', [SECRET]), source('other', [OTHER_SECRET], [HMAC_SECRET])]);

describe('POST /notify (real Redis)', () => {
  let redis: TestRedis;
  let conn: RedisClient;
  let queue: EventsQueue;
  let app: FastifyInstance;
  const prefix = `test-notify-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    redis = await useTestRedis();
    conn = producerConnection(redis.url);
    await ready(conn);
    queue = createEventsQueue(conn, prefix);
    app = await buildApp({
      logger: createLogger('silent'),
      bodyLimit: 64 * 1024,
      sources,
      eventsQueue: queue,
      redis: conn,
      keyPrefix: prefix,
      ready: async () => ({ ok: true, checks: {} }),
    });
  });

  afterAll(async () => {
    await app?.close();
    await queue?.obliterate({ force: true });
    await queue?.close();
    conn?.disconnect();
    await redis?.stop();
  });

  const auth = { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' };

  it('When a classic full-resource PUT arrives, Then the event is in Redis before the 200', async () => {
    const before = await queue.count();
    const res = await app.inject({
      method: 'PUT',
      url: '/notify/Observation/o1',
      headers: auth,
      payload: {
        resourceType: 'Observation',
        id: 'o1',
        meta: { versionId: '2' },
        subject: { reference: 'Patient/p1' },
      },
    });
    expect(res.statusCode).toBe(200);
    expect(await queue.count()).toBe(before + 1);
    const [job] = await queue.getJobs(['waiting'], 0, 0);
    expect(job.data).toMatchObject({
      source: 'ehr',
      resourceType: 'Observation',
      id: 'o1',
      versionId: '2',
      patientId: 'p1',
    });
    expect(JSON.stringify(job.data)).not.toContain('subject'); // references only, never the body
  });

  it('When the same version is delivered again, Then it is stored once', async () => {
    const send = () =>
      app.inject({
        method: 'PUT',
        url: '/notify/Observation/o5',
        headers: auth,
        payload: {
          resourceType: 'Observation',
          id: 'o5',
          meta: { versionId: '1' },
          subject: { reference: 'Patient/p1' },
        },
      });
    const before = await queue.count();
    expect((await send()).statusCode).toBe(200);
    expect((await send()).statusCode).toBe(200);
    expect(await queue.count()).toBe(before + 1);
  });

  it('When an empty classic ping arrives with no content type, Then it is accepted as a ping', async () => {
    const res = await app.inject({ method: 'POST', url: '/notify', headers: { authorization: `Bearer ${SECRET}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json().issue[0].diagnostics).toContain('1 event');
  });

  it('When the bearer secret is missing or wrong, Then 401 with an OperationOutcome and nothing is stored', async () => {
    const before = await queue.count();
    for (const headers of [{}, { authorization: 'Bearer nope' }]) {
      const res = await app.inject({ method: 'POST', url: '/notify', headers });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'security' }] });
    }
    expect(await queue.count()).toBe(before);
  });

  it('When two EHRs are configured, Then each is recognised by its own secret and its events carry its name', async () => {
    const res = await app.inject({
      method: 'PUT',
      url: '/notify/Condition/c9',
      headers: { authorization: `Bearer ${OTHER_SECRET}`, 'content-type': 'application/fhir+json' },
      payload: { resourceType: 'Condition', id: 'c9', meta: { versionId: '1' }, subject: { reference: 'Patient/p3' } },
    });
    expect(res.statusCode).toBe(200);
    const jobs = await queue.getJobs(['waiting'], 0, 100);
    expect(jobs.find((j) => j.data.id === 'c9')?.data.source).toBe('other');
  });

  it('When a Medplum notification is signed, Then X-Signature over the raw bytes authenticates it and a bad one is refused', async () => {
    const raw = '{"resourceType":"Observation",  "id":"m1","subject":{"reference":"Patient/p4"}}'; // odd spacing: raw bytes matter
    const sig = createHmac('sha256', HMAC_SECRET).update(raw).digest('hex');
    const headers = {
      'content-type': 'application/fhir+json',
      'x-medplum-subscription': 's1',
      'x-medplum-interaction': 'update',
    };
    const ok = await app.inject({
      method: 'POST',
      url: '/notify',
      headers: { ...headers, 'x-signature': sig },
      payload: raw,
    });
    expect(ok.statusCode).toBe(200);
    const bad = await app.inject({
      method: 'POST',
      url: '/notify',
      headers: { ...headers, 'x-signature': sig.replace(/^./, sig[0] === 'a' ? 'b' : 'a') },
      payload: raw,
    });
    expect(bad.statusCode).toBe(401);
    const reserialised = JSON.stringify(JSON.parse(raw));
    const moved = await app.inject({
      method: 'POST',
      url: '/notify',
      headers: { ...headers, 'x-signature': sig },
      payload: reserialised,
    });
    expect(moved.statusCode).toBe(401);
  });

  it('When the body is malformed, too large or of another type, Then a precise 4xx OperationOutcome', async () => {
    const bad = await app.inject({ method: 'POST', url: '/notify', headers: auth, payload: '{"resourceType":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issue[0].diagnostics).toMatch(/not valid JSON/);
    const big = await app.inject({
      method: 'POST',
      url: '/notify',
      headers: auth,
      payload: JSON.stringify({ resourceType: 'Bundle', pad: 'x'.repeat(70_000) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().resourceType).toBe('OperationOutcome');
    const xml = await app.inject({
      method: 'POST',
      url: '/notify',
      headers: { ...auth, 'content-type': 'application/xml' },
      payload: '<Bundle/>',
    });
    expect(xml.statusCode).toBe(415);
    const badPath = await app.inject({
      method: 'PUT',
      url: '/notify/observation/../../x',
      headers: auth,
      payload: '{}',
    });
    expect(badPath.statusCode).toBeGreaterThanOrEqual(400);
    expect(badPath.statusCode).toBeLessThan(500);
  });

  it('When Redis cannot take the event, Then the sender gets a 503 within seconds (never a 2xx for a lost event)', async () => {
    const broken = producerConnection('redis://127.0.0.1:1'); // nothing listens on port 1
    const brokenQueue = createEventsQueue(broken, prefix);
    const app2 = await buildApp({
      logger: createLogger('silent'),
      bodyLimit: 64 * 1024,
      sources: new SourceRegistry([source('ehr', [])]),
      eventsQueue: brokenQueue,
      redis: broken,
      keyPrefix: prefix,
      ready: async () => ({ ok: false, checks: {} }),
    });
    const res = await app2.inject({ method: 'POST', url: '/notify' });
    expect(res.statusCode).toBe(503);
    expect(res.json().issue[0]).toMatchObject({ code: 'transient' });
    expect(res.json().issue[0].diagnostics).toMatch(/not accepted, please retry/);
    await app2.close();
    await brokenQueue.close().catch(() => {});
    broken.disconnect();
  });
});
