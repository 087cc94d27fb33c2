import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLedger, MAX_TRACKED_GAP } from '../../src/intake/event-ledger.js';
import { VersionGate } from '../../src/intake/version-gate.js';
import { createIntakeQueue, gapJobId, type IntakeQueue } from '../../src/jobs/intake-queue.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { createGoffPatient, deletePrefix, type Harness, SECRET, startHarness, waitFor } from './helpers/harness.js';
import { observation, topicNotification } from './helpers/notifications.js';

/** The event-number ledger and the version gate against real Redis (atomic Lua scripts). */
let redis: TestRedis;
let conn: Redis;
const prefix = `t-ledger-${process.pid}-${Date.now()}`;

beforeAll(async () => {
  redis = await useTestRedis();
  conn = new Redis(redis.url);
});

afterAll(async () => {
  await deletePrefix(redis.url, prefix);
  conn?.disconnect();
  await redis?.stop();
});

const numbered = (...ns: number[]) => ns.map((eventNumber) => ({ eventNumber }));
const event = (...ns: number[]) => ({
  type: 'event-notification' as const,
  numbered: numbered(...ns),
  eventsSinceStart: Math.max(...ns),
});

describe('EventLedger', () => {
  const sub = () => `s-${randomUUID().slice(0, 8)}`;

  it('When numbers arrive in order after a handshake, Then no gap is opened', async () => {
    const l = new EventLedger(conn, prefix);
    const s = sub();
    expect(await l.record('ehr', s, { type: 'handshake', eventsSinceStart: 0 })).toEqual({ opened: [], closed: [] });
    for (const n of [1, 2, 3]) expect((await l.record('ehr', s, event(n))).opened).toEqual([]);
    expect(await l.state('ehr', s)).toMatchObject({ high: 3 });
  });

  it('When 21 is followed by 23, Then the gap {22} opens with its time window, and 22 arriving late closes it', async () => {
    const l = new EventLedger(conn, prefix);
    const s = sub();
    await l.record('ehr', s, event(21), 1_000);
    const update = await l.record(
      'ehr',
      s,
      { ...event(23), numbered: [{ eventNumber: 23, timestamp: new Date(5_000).toISOString() }] },
      9_000,
    );
    expect(update.opened).toEqual([{ from: 22, until: 22, fromAt: 1_000, untilAt: 5_000, tracked: true }]);
    expect(await l.missing('ehr', s, 0, 100)).toEqual([22]);
    expect(await l.record('ehr', s, event(22))).toEqual({ opened: [], closed: [{ from: 22, until: 22 }] });
    expect(await l.openGaps('ehr', s)).toEqual([]);
    expect(await l.state('ehr', s)).toMatchObject({ high: 23 });
  });

  it('When a gap of three is filled one by one, Then it closes only with the last one', async () => {
    const l = new EventLedger(conn, prefix);
    const s = sub();
    await l.record('ehr', s, event(1));
    await l.record('ehr', s, event(5));
    expect((await l.record('ehr', s, event(3))).closed).toEqual([]);
    expect((await l.record('ehr', s, event(2))).closed).toEqual([]);
    expect((await l.record('ehr', s, event(4))).closed).toEqual([{ from: 2, until: 4 }]);
  });

  it('When a heartbeat counts more events than arrived, Then the unseen ones are a gap up to now', async () => {
    const l = new EventLedger(conn, prefix);
    const s = sub();
    await l.record('ehr', s, event(4), 1_000);
    const r = await l.record('ehr', s, { type: 'heartbeat', eventsSinceStart: 6 }, 7_000);
    expect(r.opened).toEqual([{ from: 5, until: 6, fromAt: 1_000, untilAt: 7_000, tracked: true }]);
  });

  it('When the numbers jump by more than can be tracked, Then the gap is reported untracked (recovery always runs)', async () => {
    const l = new EventLedger(conn, prefix);
    const s = sub();
    await l.record('ehr', s, event(1));
    const huge = 2 ** 52;
    const r = await l.record('ehr', s, event(huge));
    expect(r.opened).toEqual([expect.objectContaining({ from: 2, until: huge - 1, tracked: false })]);
    expect(await l.missing('ehr', s, 0, huge)).toEqual([]);
    expect(MAX_TRACKED_GAP).toBeLessThan(huge);
  });

  it('When a duplicate or an already-seen number arrives, Then nothing changes', async () => {
    const l = new EventLedger(conn, prefix);
    const s = sub();
    await l.record('ehr', s, event(1, 2, 3));
    expect(await l.record('ehr', s, event(2))).toEqual({ opened: [], closed: [] });
    expect(await l.state('ehr', s)).toMatchObject({ high: 3 });
  });

  it('When a handshake reports fewer events than the ledger holds (the numbering restarted), Then the ledger restarts', async () => {
    const l = new EventLedger(conn, prefix);
    const s = sub();
    await l.record('ehr', s, event(7));
    await l.record('ehr', s, event(9));
    await l.record('ehr', s, { type: 'handshake', eventsSinceStart: 0 });
    expect(await l.state('ehr', s)).toMatchObject({ high: 0 });
    expect(await l.openGaps('ehr', s)).toEqual([]);
    expect((await l.record('ehr', s, event(1))).opened).toEqual([]);
  });
});

describe('VersionGate', () => {
  const gate = () => new VersionGate(conn, prefix);

  it('When HAPI-style numeric versions arrive out of order, Then an older one never overrides a newer one', async () => {
    const g = gate();
    const id = randomUUID();
    expect(await g.check('ehr', 'Observation', id, '9')).toBe('newer');
    await g.commit('ehr', 'Observation', id, '9');
    expect(await g.check('ehr', 'Observation', id, '10')).toBe('newer'); // numeric, not text, order
    await g.commit('ehr', 'Observation', id, '10');
    expect(await g.check('ehr', 'Observation', id, '9')).toBe('stale');
    expect(await g.check('ehr', 'Observation', id, '10')).toBe('same');
    expect(await g.commit('ehr', 'Observation', id, '3')).toBe('stale');
    expect(await g.check('ehr', 'Observation', id, '10')).toBe('same'); // the stale commit changed nothing
  });

  it('When versions are UUIDs (Medplum), Then lastUpdated orders them', async () => {
    const g = gate();
    const id = randomUUID();
    await g.commit('ehr', 'Observation', id, 'b7c1', '2021-03-30T10:00:00.000Z');
    expect(await g.check('ehr', 'Observation', id, 'a0f2', '2021-03-30T09:59:59.000+00:00')).toBe('stale');
    expect(await g.check('ehr', 'Observation', id, 'ffff', '2021-03-30T10:00:01.000Z')).toBe('newer');
    expect(await g.check('ehr', 'Observation', id, 'cccc')).toBe('newer'); // no lastUpdated: unknown order, not dropped
  });

  it('When the same version is checked by two workers before either commits, Then both proceed (nothing lost)', async () => {
    const g = gate();
    const id = randomUUID();
    const [a, b] = await Promise.all([g.check('ehr', 'Condition', id, '1'), g.check('ehr', 'Condition', id, '1')]);
    expect([a, b]).toEqual(['newer', 'newer']);
  });
});

describe('late arrival through POST /notify and the events worker', () => {
  let h: Harness;
  let queue: IntakeQueue;
  let patient: string;

  beforeAll(async () => {
    // A long grace: the recovery stays delayed, so the test sees it created and then removed.
    h = await startHarness({ redisUrl: redis.url, name: 'late', env: { GAP_GRACE_MS: '60000' } });
    queue = createIntakeQueue(h.service.redis, h.prefix);
    patient = await createGoffPatient(h.ehr);
  });

  afterAll(async () => {
    await queue?.close();
    await h?.close();
  });

  it('When event 2 arrives after 3 but within the grace period, Then the scheduled recovery is cancelled', async () => {
    const sub = `late-${randomUUID().slice(0, 8)}`;
    const ledger = new EventLedger(h.service.redis, h.prefix);
    const post = (n: number, type: 'handshake' | 'event-notification' = 'event-notification') =>
      fetch(h.notifyUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(
          topicNotification({
            variant: 'r4-backport',
            base: h.sandbox.baseUrl,
            subscriptionId: sub,
            type,
            content: 'full-resource',
            eventsSinceStart: n,
            events:
              type === 'handshake'
                ? []
                : [{ eventNumber: n, focus: `Observation/o${n}`, resource: observation(`o${n}`, patient) }],
          }),
        ),
      }).then((r) => r.status);
    expect(await post(0, 'handshake')).toBe(200);
    expect(await post(1)).toBe(200);
    await waitFor(async () => (await ledger.state('ehr', sub)).high === 1, 10_000, 'event 1 to be recorded');
    expect(await post(3)).toBe(200);
    const job = await waitFor(() => queue.getJob(gapJobId('ehr', sub, 2, 2)), 10_000, 'the recovery of gap {2}');
    expect(await job.isDelayed()).toBe(true);
    expect(job.opts.delay).toBe(60_000);
    expect(await post(2)).toBe(200);
    await waitFor(
      async () => (await queue.getJob(gapJobId('ehr', sub, 2, 2))) === undefined,
      10_000,
      'the cancellation',
    );
    expect(await ledger.openGaps('ehr', sub)).toEqual([]);
    expect(await ledger.state('ehr', sub)).toMatchObject({ high: 3 });
  });
});
