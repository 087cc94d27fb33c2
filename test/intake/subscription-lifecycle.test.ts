import type { Bundle, Subscription } from '@medplum/fhirtypes';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscriptionsCommand } from '../../src/cli/subscriptions.js';
import { SourceSchema } from '../../src/config/sources.js';
import { createSourceClient } from '../../src/fhir/source-client.js';
import { ensureSourceSubscriptions } from '../../src/intake/ensure-subscriptions.js';
import { stateOf } from '../../src/intake/our-subscriptions.js';
import { ActivationMemory } from '../../src/intake/subscription-activation.js';
import { SubscriptionStates } from '../../src/intake/subscription-states.js';
import { execIntakeJob } from '../../src/jobs/intake-worker.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { capture } from '../helpers/capture.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { type Harness, SECRET, startHarness, waitFor } from './helpers/harness.js';

/*
 * The Subscription lifecycle on servers that activate Subscriptions differently (issue 10): Medplum
 * never activates a `requested` one (the client must set `active`), HAPI activates classic ones
 * itself, Backport servers after a handshake. Whatever the server, the service ends with active
 * Subscriptions, never writes `requested` over a working one, and reports the real state.
 */
const WATCHED = createEmbeddedModel().requires.resourceTypes;
const ENDPOINT = 'http://127.0.0.1:9/notify'; // ensure* only writes it into the Subscriptions

let redis: TestRedis;
let conn: Redis;
const sandboxes: Sandbox[] = [];

beforeAll(async () => {
  redis = await useTestRedis();
  conn = new Redis(redis.url);
});

afterAll(async () => {
  for (const sb of sandboxes) await sb.close();
  conn?.disconnect();
  await redis?.stop();
});

async function sandbox(activation: 'standard' | 'client-set'): Promise<Sandbox> {
  const sb = await startSandbox({ logger: false, quirks: { subscriptionActivation: activation } });
  sandboxes.push(sb);
  return sb;
}

function ensurer(sb: Sandbox, prefix: string, kind: 'classic' | 'backport' = 'classic') {
  const source = SourceSchema.parse({
    name: 'ehr',
    fhirBaseUrl: sb.baseUrl,
    notify: { bearerSecrets: [SECRET] },
    subscription: { manage: true, kind },
  });
  const client = createSourceClient(source);
  const run = () =>
    ensureSourceSubscriptions({
      client,
      source,
      endpoint: ENDPOINT,
      watchedTypes: WATCHED,
      redis: conn,
      prefix,
      activationWaitMs: 400,
    });
  return { run, client };
}

/** The statuses a Subscription went through, oldest first (its `_history`). */
async function statusHistory(sb: Sandbox, id: string): Promise<string[]> {
  const res = await fetch(`${sb.baseUrl}/Subscription/${id}/_history`);
  const bundle = (await res.json()) as Bundle<Subscription>;
  return (bundle.entry ?? []).map((e) => e.resource?.status ?? 'deleted').reverse();
}

describe('on a server that never activates a requested Subscription (Medplum)', () => {
  let sb: Sandbox;
  const prefix = `t-lifecycle-client-${process.pid}`;

  beforeAll(async () => {
    sb = await sandbox('client-set');
  });

  it('creates them requested (per the spec), then activates them itself and remembers that this EHR needs it', async () => {
    const { run } = ensurer(sb, prefix);
    const r = await run();
    expect(r.subscriptions).toHaveLength(WATCHED.length);
    for (const s of r.subscriptions) {
      expect(s).toMatchObject({ action: 'created', status: 'active', activatedBy: 'client' });
      expect(await statusHistory(sb, s.id!)).toEqual(['requested', 'active']);
    }
    expect(await new ActivationMemory(conn, prefix).get('ehr')).toBe('client');
  });

  it('a restart writes nothing: active Subscriptions are left as they are', async () => {
    const { run, client } = ensurer(sb, prefix);
    const before = await client.searchAll<Subscription>('Subscription', { url: ENDPOINT });
    const r = await run();
    expect(r.subscriptions.every((s) => s.action === 'unchanged' && s.status === 'active')).toBe(true);
    const after = await client.searchAll<Subscription>('Subscription', { url: ENDPOINT });
    expect(after.map((s) => s.meta?.versionId).sort()).toEqual(before.map((s) => s.meta?.versionId).sort());
  });

  it('one switched off is repaired straight to active: never requested, which would stop it for good', async () => {
    const { run, client } = ensurer(sb, prefix);
    const [sub] = await client.searchAll<Subscription>('Subscription', { url: ENDPOINT, criteria: 'Observation?' });
    await client.update({ ...sub, id: sub.id!, status: 'off' });
    const r = await run();
    expect(r.subscriptions.find((s) => s.id === sub.id)).toMatchObject({ action: 'reactivated', status: 'active' });
    expect(await statusHistory(sb, sub.id!)).toEqual(['requested', 'active', 'off', 'active']);
  });
});

describe('on servers that activate Subscriptions themselves', () => {
  it('HAPI-like classic: the EHR activates them, and the service writes nothing more', async () => {
    const sb = await sandbox('standard');
    const prefix = `t-lifecycle-std-${process.pid}`;
    const r = await ensurer(sb, prefix).run();
    for (const s of r.subscriptions) {
      expect(s).toMatchObject({ action: 'created', status: 'active', activatedBy: 'ehr' });
      expect(await statusHistory(sb, s.id!)).toEqual(['active']);
    }
    expect(await new ActivationMemory(conn, prefix).get('ehr')).toBe('ehr');
  });

  it('Backport: a failed handshake leaves it in error, reported as such and never forced active', async () => {
    const sb = await sandbox('standard');
    const prefix = `t-lifecycle-bp-${process.pid}`;
    // Nothing listens at ENDPOINT, so the handshake fails and the EHR sets the Subscription to error.
    const r = await ensurer(sb, prefix, 'backport').run();
    expect(r.subscriptions).toHaveLength(1);
    const [s] = r.subscriptions;
    expect(s.status).not.toBe('active');
    await waitFor(async () => (await statusHistory(sb, s.id!)).includes('error'), 15_000, 'the failed handshake');
    expect(await statusHistory(sb, s.id!)).not.toContain('active');
  });
});

describe('the service: /readyz, the watchdog and `fhir-assess subscriptions` report and repair the real state', () => {
  let h: Harness;
  const env = () => cliEnv;
  let cliEnv: Record<string, string>;

  beforeAll(async () => {
    h = await startHarness({
      redisUrl: redis.url,
      name: 'lifecycle-svc',
      env: { SUBSCRIBE_ON_START: 'true', SUBSCRIPTION_KIND: 'classic' },
      sandbox: { quirks: { subscriptionActivation: 'client-set' } },
    });
    cliEnv = {
      FHIR_BASE_URL: h.sandbox.baseUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: h.prefix,
      PUBLIC_URL: h.cfg.PUBLIC_URL!,
      NOTIFY_SECRET: SECRET,
      SUBSCRIBE_ON_START: 'true',
      SUBSCRIPTION_KIND: 'classic',
      LOG_LEVEL: 'silent',
    };
  });
  afterAll(async () => {
    await h?.close();
  });

  async function readyz(): Promise<{ status: string; degraded: string[]; subscriptions: Record<string, unknown> }> {
    return (await fetch(`${h.service.url}/readyz`)).json() as never;
  }

  it('start-up leaves every managed Subscription active on a Medplum-like EHR, and /readyz says ready', async () => {
    const body = await readyz();
    expect(body.status).toBe('ready');
    const states = body.subscriptions.ehr as { subscriptions: { status: string }[] };
    expect(states.subscriptions).toHaveLength(WATCHED.length);
    expect(states.subscriptions.every((s) => s.status === 'active')).toBe(true);
  });

  it('a Subscription the EHR switched off: the CLI exits 1 naming it, /readyz says degraded after the watchdog looked, and the watchdog repairs it', async () => {
    const [sub] = await h.ehr.searchAll<Subscription>('Subscription', { url: h.notifyUrl, criteria: 'Condition?' });
    await h.ehr.update({ ...sub, id: sub.id!, status: 'off', error: 'disabled after repeated failures' });

    const out = capture();
    const err = capture();
    expect(await subscriptionsCommand([], env(), { out, err })).toBe(1);
    expect(out.text()).toMatch(
      new RegExp(`Subscription/${sub.id}\\s+classic\\s+Condition\\?\\s+off\\s+disabled after`),
    );
    expect(err.text()).toMatch(/does not deliver: run `fhir-assess subscriptions --repair`/);

    // What the watchdog records when it finds it off: /readyz reports the source degraded (still 200,
    // so the EHR can keep reaching /notify), naming it.
    const off = await h.ehr.searchAll<Subscription>('Subscription', { url: h.notifyUrl });
    await new SubscriptionStates(conn, h.prefix).save('ehr', off.map(stateOf));
    const res = await fetch(`${h.service.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'degraded', degraded: ['subscriptions:ehr'] });

    // The watchdog's run (every <= 60 s) looks at the EHR again and repairs it.
    await execIntakeJob(h.service.intake.deps, { kind: 'watchdog', source: 'ehr' });
    expect((await h.ehr.read<Subscription>('Subscription', sub.id!)).status).toBe('active');
    expect((await readyz()).status).toBe('ready');
  });

  it('--repair brings back a deleted one, and the CLI then exits 0', async () => {
    const [sub] = await h.ehr.searchAll<Subscription>('Subscription', { url: h.notifyUrl, criteria: 'Patient?' });
    await h.ehr.request('DELETE', `Subscription/${sub.id}`);
    const out = capture();
    expect(await subscriptionsCommand(['--repair'], env(), { out, err: capture() })).toBe(0);
    expect(out.text()).toMatch(/ehr: Subscription\/\S+ created/);
    const now = await h.ehr.searchAll<Subscription>('Subscription', { url: h.notifyUrl, criteria: 'Patient?' });
    expect(now.map((s) => s.status)).toEqual(['active']);
    expect((await readyz()).status).toBe('ready');
  });
});
