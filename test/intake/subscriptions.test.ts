import type { CapabilityStatement, Subscription } from '@medplum/fhirtypes';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceSchema } from '../../src/config/sources.js';
import { createSourceClient } from '../../src/fhir/source-client.js';
import { ensureSourceSubscriptions } from '../../src/intake/ensure-subscriptions.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { type Harness, SECRET, startHarness, subscriptionsOf, waitFor } from './helpers/harness.js';

/*
 * Subscription management at start-up: `auto` picks the Backport topic when the EHR advertises it,
 * else one classic Subscription per watched type; existing ones are found by endpoint (restarts) under
 * a Redis lock (replicas); ones the EHR set to error/off are re-activated.
 */
const TOPIC = 'http://fhir-assess.dev/SubscriptionTopic/patient-data-changed';
const WATCHED = createEmbeddedModel().requires.resourceTypes;

let redis: TestRedis;
let conn: Redis;
let h: Harness;

beforeAll(async () => {
  redis = await useTestRedis();
  conn = new Redis(redis.url);
  h = await startHarness({ redisUrl: redis.url, name: 'subs', env: { SUBSCRIBE_ON_START: 'true' } });
});

afterAll(async () => {
  conn?.disconnect();
  await h?.close();
  await redis?.stop();
});

const source = (kind: 'auto' | 'backport' | 'classic' = 'auto') =>
  SourceSchema.parse({
    name: 'ehr',
    fhirBaseUrl: h.sandbox.baseUrl,
    notify: { bearerSecrets: [SECRET] },
    subscription: { manage: true, kind },
  });

const ensure = (kind?: 'auto' | 'backport' | 'classic', fetchImpl?: typeof fetch) => {
  const s = source(kind);
  return ensureSourceSubscriptions({
    client: createSourceClient(s, fetchImpl),
    source: s,
    endpoint: h.notifyUrl,
    watchedTypes: WATCHED,
    redis: conn,
    prefix: h.prefix,
  });
};

/** An EHR like Medplum or a plain R4 server: same data, but its CapabilityStatement names no topics. */
const withoutTopics: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  if (!String(input instanceof Request ? input.url : input).endsWith('/metadata')) return res;
  const cs = (await res.json()) as CapabilityStatement;
  for (const r of cs.rest?.[0].resource ?? []) if (r.type === 'Subscription') r.extension = [];
  return new Response(JSON.stringify(cs), { status: 200, headers: { 'content-type': 'application/fhir+json' } });
};

describe('ensureSourceSubscriptions', () => {
  it('When the EHR advertises our topic (sandbox), Then start-up created one Backport Subscription and its handshake made it active', async () => {
    await waitFor(async () => (await subscriptionsOf(h)).every((s) => s.status === 'active'), 10_000, 'the handshake');
    expect(await subscriptionsOf(h)).toEqual([{ id: expect.any(String), criteria: TOPIC, status: 'active' }]);
    const [sub] = await h.ehr.searchAll<Subscription>('Subscription', { url: h.notifyUrl });
    expect(sub.channel.header).toEqual([`Authorization: Bearer ${SECRET}`]);
  });

  it('When the service restarts, or two replicas start at once, Then no second Subscription is created', async () => {
    const [a, b, c] = await Promise.all([ensure(), ensure(), ensure()]);
    for (const r of [a, b, c])
      expect(r).toEqual({
        kind: 'backport',
        subscriptions: [expect.objectContaining({ criteria: TOPIC, action: 'unchanged' })],
      });
    expect(await subscriptionsOf(h)).toHaveLength(1);
  });

  it('When the EHR set our Subscription to off, Then it is re-activated (handshake again) and stays the only one', async () => {
    const [sub] = await h.ehr.searchAll<Subscription>('Subscription', { url: h.notifyUrl, criteria: TOPIC });
    await h.ehr.update({ ...sub, id: sub.id!, status: 'off' });
    const r = await ensure();
    expect(r.subscriptions).toEqual([expect.objectContaining({ id: sub.id, criteria: TOPIC, action: 'reactivated' })]);
    await waitFor(
      async () => (await h.ehr.read<Subscription>('Subscription', sub.id!)).status === 'active',
      10_000,
      'the re-handshake',
    );
    expect(await subscriptionsOf(h)).toHaveLength(1);
  });

  it('When the EHR does not advertise the topic, Then auto creates one classic `{Type}?` Subscription per watched type, concurrently safe', async () => {
    const runs = await Promise.all([ensure('auto', withoutTopics), ensure('auto', withoutTopics)]);
    expect(runs.map((r) => r.kind)).toEqual(['classic', 'classic']);
    const classic = (await subscriptionsOf(h)).filter((s) => s.criteria !== TOPIC);
    expect(classic.map((s) => s.criteria).sort()).toEqual(WATCHED.map((t) => `${t}?`).sort());
    expect(classic.every((s) => s.status === 'active')).toBe(true); // classic R4 has no handshake
    const created = runs.flatMap((r) => r.subscriptions).filter((s) => s.action === 'created');
    expect(created).toHaveLength(WATCHED.length); // each created exactly once across both "replicas"
    const [obs] = await h.ehr.searchAll<Subscription>('Subscription', { url: h.notifyUrl, criteria: 'Observation?' });
    expect(obs.channel.payload).toBe('application/fhir+json'); // id-only maps to full-resource PUTs in classic R4
    for (const s of classic) await h.ehr.request('DELETE', `Subscription/${s.id}`);
  });
});
