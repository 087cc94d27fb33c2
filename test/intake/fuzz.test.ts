import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { SourceSchema } from '../../src/config/sources.js';
import { BaseUrlGuard } from '../../src/fhir/base-url-guard.js';
import { SourceRegistry } from '../../src/fhir/source-client.js';
import { ChangeEventSchema, isChangeEvent } from '../../src/intake/change-event.js';
import { NotificationError } from '../../src/intake/notification.js';
import { type IncomingNotification, parseNotification } from '../../src/intake/parse-notification.js';
import { toChangeEvents } from '../../src/intake/validate-events.js';
import { createEventsQueue, type EventsQueue } from '../../src/jobs/events-queue.js';
import { createIntakeQueue } from '../../src/jobs/intake-queue.js';
import type { RedisClient } from '../../src/jobs/redis-connection.js';
import { producerConnection, ready } from '../../src/jobs/redis-connection.js';
import { createLogger } from '../../src/util/logger.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { deletePrefix } from './helpers/harness.js';
import { hapiTransaction, observation, topicNotification } from './helpers/notifications.js';

/*
 * Property-based fuzzing of the intake: thousands of notifications mutated from valid examples of
 * every wire variant (types changed, fields dropped or duplicated, wrong resourceTypes, huge and
 * negative event numbers, foreign URLs, non-JSON bodies). The parser may only ever refuse with a
 * NotificationError (4xx); the HTTP route may only answer 200 or 4xx (Redis is up), and nothing may
 * crash or leave an unhandled rejection.
 */
const BASE = 'https://ehr.example.org/fhir/R4';
const SECRET = 'fuzz-secret-0123456789abcdef';
const HMAC = 'fuzz-hmac-secret-0123456789abc';
const guard = new BaseUrlGuard(BASE);

/** Valid notifications of variants A-H, as (method, path, headers, body). */
function seeds(): IncomingNotification[] {
  const topic = (
    variant: 'r4-backport' | 'r4b-backport' | 'r5',
    content: 'empty' | 'id-only' | 'full-resource',
    type = 'event-notification',
  ) =>
    topicNotification({
      variant,
      base: BASE,
      subscriptionId: 'sub-1',
      type: type as 'event-notification',
      content,
      eventsSinceStart: 3,
      events: [
        { eventNumber: 2, focus: 'Observation/o2', resource: observation('o2', 'p1', '2') },
        {
          eventNumber: 3,
          focus: 'Condition/c3',
          method: 'POST',
          resource: { resourceType: 'Condition', id: 'c3', subject: { reference: 'Patient/p1' } },
        },
      ],
    });
  const out: IncomingNotification[] = [
    { method: 'POST', headers: {}, body: undefined },
    { method: 'PUT', path: { resourceType: 'Observation', id: 'o1' }, headers: {}, body: observation('o1', 'p1', '4') },
    { method: 'DELETE', path: { resourceType: 'Observation', id: 'o1' }, headers: {}, body: undefined },
    { method: 'POST', headers: {}, body: hapiTransaction(BASE, [observation('o1', 'p1'), observation('o2', 'p2')]) },
    {
      method: 'POST',
      headers: { 'x-medplum-subscription': 'm1', 'x-medplum-interaction': 'update' },
      body: observation('o3', 'p3'),
    },
    {
      method: 'POST',
      headers: {
        'x-medplum-subscription': 'm1',
        'x-medplum-interaction': 'delete',
        'x-medplum-deleted-resource': 'Observation/o3',
      },
      body: {},
    },
  ];
  for (const v of ['r4-backport', 'r4b-backport', 'r5'] as const) {
    for (const c of ['empty', 'id-only', 'full-resource'] as const)
      out.push({ method: 'POST', headers: {}, body: topic(v, c) });
    for (const t of ['handshake', 'heartbeat', 'query-status', 'query-event'])
      out.push({ method: 'POST', headers: {}, body: topic(v, 'id-only', t) });
  }
  return out;
}

const SPECIAL: unknown[] = [
  -1,
  0,
  2 ** 53,
  1e308,
  -1e308,
  '99999999999999999999',
  '-5',
  '1.5',
  'https://evil.example.com/fhir/Observation/1',
  'https://ehr.example.org/fhir/R4/Observation/a b',
  'urn:uuid:5e4b2b32-1f5e-4f3a-9a1e-000000000000',
  'Observation/../../x',
  'Patient/',
  '',
  null,
  true,
  [],
  {},
  [null],
  'x'.repeat(300),
  'Bundle',
  'Parameters',
  'SubscriptionStatus',
  'subscription-notification',
  'history',
  'transaction',
  'event-notification',
  'handshake',
  'DELETE',
  '2020-13-45T99:99:99Z',
];
const valueArb = fc.oneof(fc.constantFrom(...SPECIAL), fc.jsonValue({ maxDepth: 2 }));

type Path = (string | number)[];

function paths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = [...prefix, Array.isArray(value) ? Number(k) : k];
      out.push(p);
      paths(v, p, out);
    }
  }
  return out;
}

interface Mutation {
  at: number;
  op: 'replace' | 'delete' | 'duplicate';
  value: unknown;
}

function mutate(body: unknown, mutations: Mutation[]): unknown {
  let root = structuredClone(body);
  for (const m of mutations) {
    const all = paths(root);
    if (!all.length) {
      root = m.value;
      continue;
    }
    const path = all[m.at % all.length];
    const parent = path.slice(0, -1).reduce<Record<string | number, unknown>>((o, k) => o[k] as never, root as never);
    const key = path.at(-1)!;
    if (m.op === 'replace') parent[key] = m.value;
    else if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (Array.isArray(parent)) parent.push(structuredClone(parent[key]));
    else parent[`${key}`] = [parent[key], parent[key]];
  }
  return root;
}

const mutationsArb = fc.array(
  fc.record({ at: fc.nat(), op: fc.constantFrom<Mutation['op']>('replace', 'delete', 'duplicate'), value: valueArb }),
  { minLength: 0, maxLength: 4 },
);
const seedArb = fc.constantFrom(...seeds());

describe('parseNotification under mutation', () => {
  it('When any of thousands of mutated notifications is parsed, Then it is accepted or refused with a precise 4xx, never a crash', () => {
    let refused = 0;
    fc.assert(
      fc.property(seedArb, mutationsArb, (seed, mutations) => {
        const n = { ...seed, body: seed.body === undefined ? undefined : mutate(seed.body, mutations) };
        try {
          const parsed = parseNotification(n, guard);
          toChangeEvents('ehr', parsed.events);
        } catch (err) {
          refused++;
          expect(err).toBeInstanceOf(NotificationError);
          const e = err as NotificationError;
          expect(e.status).toBeGreaterThanOrEqual(400);
          expect(e.status).toBeLessThan(500);
          // The catch-all ("not understood") means a parser tripped: every refusal should name the problem.
          expect(e.message).not.toBe('notification structure is not understood');
        }
      }),
      { numRuns: 4000, seed: 20_260_321 },
    );
    expect(refused).toBeGreaterThan(1000); // the mutations really do break things
  });
});

describe('isChangeEvent (the fast check intake uses) against ChangeEventSchema', () => {
  it('When arbitrary events are checked, Then the fast check accepts exactly what zod accepts', () => {
    const field = fc.oneof(
      fc.constantFrom<unknown>(
        undefined,
        'ehr',
        'Observation',
        'o-1.2',
        'update',
        'ping',
        'bogus',
        '',
        'a'.repeat(65),
        'x:y',
      ),
      fc.constantFrom<unknown>(0, 7, -1, 1.5, 2 ** 53, true, null, [], {}),
      fc.string({ maxLength: 300 }),
    );
    const keys = [
      'source',
      'via',
      'interaction',
      'resourceType',
      'id',
      'versionId',
      'lastUpdated',
      'patientId',
      'subscription',
      'eventNumber',
      'occurredAt',
      'aiAsserted',
    ];
    const eventArb = fc.record(Object.fromEntries(keys.map((k) => [k, field])), { requiredKeys: [] });
    const valid = fc.record({
      source: fc.constant('ehr'),
      via: fc.constantFrom('r4-backport', 'medplum'),
      interaction: fc.constantFrom('create', 'update', 'delete', 'ping'),
      resourceType: fc.constantFrom('Observation', 'Patient'),
      id: fc.stringMatching(/^[A-Za-z0-9\-.]{1,64}$/),
      eventNumber: fc.nat(),
    });
    fc.assert(
      fc.property(fc.oneof(eventArb, valid), (e) => {
        expect(isChangeEvent(e as Record<string, unknown>)).toBe(ChangeEventSchema.safeParse(e).success);
      }),
      { numRuns: 5000, seed: 20_260_323 },
    );
  });
});

describe('POST/PUT/DELETE /notify under mutation (real Redis)', () => {
  let redis: TestRedis;
  let conn: RedisClient;
  let queue: EventsQueue;
  let app: FastifyInstance;
  const prefix = `t-fuzz-${process.pid}-${Date.now()}`;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    redis = await useTestRedis();
    conn = producerConnection(redis.url);
    await ready(conn);
    queue = createEventsQueue(conn, prefix);
    const source = SourceSchema.parse({
      name: 'ehr',
      fhirBaseUrl: BASE,
      notify: { bearerSecrets: [SECRET], hmacSecrets: [HMAC] },
    });
    app = await buildApp({
      logger: createLogger('silent'),
      bodyLimit: 256 * 1024,
      sources: new SourceRegistry([source]),
      eventsQueue: queue,
      redis: conn,
      keyPrefix: prefix,
      gapGraceMs: 600_000, // no worker here: recoveries just stay delayed
      ready: async () => ({ ok: true, checks: {} }),
    });
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await app?.close();
    await queue?.obliterate({ force: true });
    const intake = createIntakeQueue(conn, prefix);
    await intake.obliterate({ force: true });
    await intake.close();
    await queue?.close();
    await deletePrefix(redis.url, prefix);
    conn?.disconnect();
    await redis?.stop();
  });

  /** `arb` one time in eight, else undefined. */
  const rarely = <T>(arb: fc.Arbitrary<T>) =>
    fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
  const jsonType = fc.constantFrom('application/fhir+json', 'application/json', 'application/fhir+json; charset=utf-8');
  const requestArb = fc.record({
    seed: seedArb,
    mutations: mutationsArb,
    raw: rarely(
      fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('{"resourceType":', 'null', '[]', '"x"', '1e999', '{}')),
    ),
    contentType: fc.oneof(
      { weight: 8, arbitrary: jsonType },
      { weight: 1, arbitrary: fc.constantFrom('text/plain', undefined) },
    ),
    auth: fc.oneof(
      { weight: 8, arbitrary: fc.constant('bearer') },
      { weight: 2, arbitrary: fc.constantFrom('hmac', 'none', 'wrong') },
    ),
    /** A wrong path now and then (lower-case type, long or encoded id, POST to a resource path). */
    path: rarely(
      fc.constantFrom('/Observation/o1', '/observation/o1', `/Observation/${'x'.repeat(80)}`, '/Observation/a%2Fb'),
    ),
  });

  it('When thousands of mutated notifications are sent, Then every answer is 200 or a 4xx OperationOutcome, and nothing crashes', async () => {
    const statuses = new Map<number, number>();
    const messages = new Set<string>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (r) => {
        const body = r.raw ?? (r.seed.body === undefined ? '' : JSON.stringify(mutate(r.seed.body, r.mutations)));
        const method = r.seed.method;
        const url = `/notify${r.path ?? (r.seed.path ? `/${r.seed.path.resourceType}/${r.seed.path.id}` : '')}`;
        const headers: Record<string, string> = { ...(r.seed.headers as Record<string, string>) };
        if (r.contentType && body) headers['content-type'] = r.contentType;
        if (r.auth === 'bearer') headers.authorization = `Bearer ${SECRET}`;
        if (r.auth === 'wrong') headers.authorization = 'Bearer nope-nope-nope-nope';
        if (r.auth === 'hmac') headers['x-signature'] = createHmac('sha256', HMAC).update(body).digest('hex');
        const res = await app.inject({ method: method as 'POST', url, headers, payload: body || undefined });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (process.env.FUZZ_DEBUG && res.statusCode !== 200)
          messages.add(`${res.statusCode} ${res.json().issue?.[0]?.diagnostics}`);
        expect(res.statusCode === 200 || (res.statusCode >= 400 && res.statusCode < 500)).toBe(true);
        if (res.statusCode !== 200 || res.body) expect(res.json().resourceType).toBe('OperationOutcome');
      }),
      { numRuns: 2500, seed: 20_260_322 },
    );
    if (process.env.FUZZ_DEBUG) console.log(statuses, [...messages].slice(0, 80));
    expect(unhandled).toEqual([]);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(250); // many mutations stay valid and are stored
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
  });
});
