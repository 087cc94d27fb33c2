import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFeedback } from '../../src/api/cds-feedback.js';
import { CheckpointStore, ZERO_COUNTS } from '../../src/backfill/checkpoint.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { EventLedger } from '../../src/intake/event-ledger.js';
import { patientOfResource, rememberPatientOf } from '../../src/intake/patient-of-resource.js';
import { advanceWatermark } from '../../src/intake/poll-changes.js';
import { withRedisLock } from '../../src/intake/redis-lock.js';
import { ActivationMemory } from '../../src/intake/subscription-activation.js';
import { SubscriptionStates } from '../../src/intake/subscription-states.js';
import { VersionGate } from '../../src/intake/version-gate.js';
import { AssessRequests } from '../../src/jobs/assess-requests.js';
import { watermarkKey } from '../../src/jobs/catch-up.js';
import { RateLimiter } from '../../src/jobs/rate-limiter.js';
import { fullReadDone, pendingFullRead, requireFullRead } from '../../src/jobs/record-full-read.js';
import { producerConnection, type RedisClient, ready } from '../../src/jobs/redis-connection.js';
import { WriteBackKeys } from '../../src/writeback/redis-keys.js';
import { acquireLock, withLock } from '../../src/writeback/redis-lock.js';
import { ShadowStore } from '../../src/writeback/shadow-store.js';
import { hasRedisServer, NO_REDIS_SERVER, startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js';
import {
  createGoffPatient,
  type Harness,
  outputsFor,
  SECRET,
  startHarness,
  waitFor,
} from '../intake/helpers/harness.js';
import { SlotMonitor } from './slot-monitor.js';

/*
 * Issue 14: the service on a Redis Cluster of three masters. BullMQ and our own Lua scripts and
 * transactions are multi-key, and a cluster refuses (CROSSSLOT) or cannot run atomically any unit
 * whose keys live in different slots. Every key starts with QUEUE_PREFIX, so a `{hash-tag}` prefix
 * puts them all in one slot. The proof: the whole notify -> assess -> write-back path and every
 * script of ours run on the cluster, while MONITOR on every master records each script (with the
 * keys its commands touched) and each MULTI/EXEC, and CLUSTER KEYSLOT places every key.
 */
if (!hasRedisServer) console.warn(NO_REDIS_SERVER);

describe.skipIf(!hasRedisServer)('Redis Cluster (three masters)', () => {
  const tag = `t-cluster-${process.pid}-${Date.now()}`;
  const prefix = `{${tag}}`;
  let cluster: TestCluster;
  let monitor: SlotMonitor;
  let redis: RedisClient;
  let h: Harness | undefined;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    monitor = new SlotMonitor();
    for (const port of cluster.ports) await monitor.watch(cluster.node(port));
    redis = producerConnection(cluster.url);
    await ready(redis);
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    redis?.disconnect();
    await monitor?.stop();
    await cluster?.stop();
  });

  it('When REDIS_URL names a cluster without a {hash-tag} prefix, Then start-up refuses and says which prefix to use', () => {
    const env = { FHIR_BASE_URL: 'http://127.0.0.1:1/fhir', REDIS_URL: cluster.url, QUEUE_PREFIX: 'fhir-assess' };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(
      /QUEUE_PREFIX: on a Redis Cluster it must contain a \{hash-tag\}, e\.g\. \{fhir-assess\}/,
    );
    const nodes = cluster.ports.map((p) => `127.0.0.1:${p}`).join(',');
    const cfg = loadConfig({ ...env, REDIS_URL: undefined, REDIS_CLUSTER_NODES: nodes, QUEUE_PREFIX: prefix });
    expect(cfg.REDIS_URL).toBe(`redis+cluster://${nodes}`);
  });

  it('When a notification arrives, Then the service on the cluster assesses the patient and writes back once', async () => {
    h = await startHarness({ redisUrl: cluster.url, name: 'cluster', prefix, env: { COALESCE_WINDOW_MS: '100' } });
    const patient = await createGoffPatient(h.ehr);
    const [obs] = await h.ehr.searchAll<Resource>('Observation', { subject: `Patient/${patient}`, _count: '1' });
    const res = await fetch(`${h.notifyUrl}/Observation/${obs.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(obs),
    });
    expect(res.status).toBe(200);
    await waitFor(async () => (await outputsFor(h!.ehr, patient)).risks === 1, 30_000, 'the write-back');
    expect(await outputsFor(h.ehr, patient)).toEqual({ risks: 1, impressions: 1 });
    // The same notification again (a retrying EHR): found, nothing written twice.
    await fetch(`${h.notifyUrl}/Observation/${obs.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(obs),
    });
    await waitFor(
      async () => (await h!.service.assessQueue.getJobCounts('completed')).completed >= 1,
      30_000,
      'the assessment job to complete',
    );
    expect(await outputsFor(h.ehr, patient)).toEqual({ risks: 1, impressions: 1 });
  }, 60_000);

  it('When every Redis script and transaction of ours runs on the cluster, Then each gives its single-Redis answer', async () => {
    const ledger = new EventLedger(redis, prefix);
    const opened = await ledger.record('ehr', 'sub-1', {
      type: 'event-notification',
      numbered: [{ eventNumber: 1 }, { eventNumber: 4 }],
    });
    expect(opened.opened.map(({ from, until }) => [from, until])).toEqual([[2, 3]]);
    const closed = await ledger.record('ehr', 'sub-1', {
      type: 'event-notification',
      numbered: [{ eventNumber: 2 }, { eventNumber: 3 }],
    });
    expect(closed.closed).toEqual([{ from: 2, until: 3 }]);
    await ledger.resolve('ehr', 'sub-1', 2, 3);
    expect(await ledger.openGaps('ehr', 'sub-1')).toEqual([]);

    const limiter = new RateLimiter(redis, prefix);
    const waits = [];
    for (let i = 0; i < 3; i++) waits.push(await limiter.take('ehr:ehr', { rate: 1, burst: 2 }));
    expect(waits.slice(0, 2)).toEqual([0, 0]);
    expect(waits[2]).toBeGreaterThan(0);
    await limiter.coolDown('ehr:ehr', 5000);
    expect(await limiter.take('ehr:ehr', { rate: 0, burst: 1 })).toBeGreaterThan(0);

    const shadow = new ShadowStore(redis, prefix, 1);
    const rec = {
      key: 'k1',
      source: 'ehr',
      patientId: 'p1',
      modelId: 'm',
      modelVersion: '1',
      createdAt: new Date().toISOString(),
    };
    expect(await shadow.save({ ...rec, bundle: { resourceType: 'Bundle', type: 'transaction' } })).toBe(true);
    expect(await shadow.save({ ...rec, bundle: { resourceType: 'Bundle', type: 'transaction' } })).toBe(false);
    expect((await shadow.list({ source: 'ehr', patientId: 'p1' })).map((s) => s.key)).toEqual(['k1']);

    const keys = new WriteBackKeys(prefix, 'http://ehr.example/fhir');
    const lock = await acquireLock(redis, keys.patientModelLock('p1', 'm'));
    await expect(acquireLock(redis, keys.patientModelLock('p1', 'm'), { waitMs: 100 })).rejects.toThrow(/still held/);
    await lock.release();
    expect(await withLock(redis, keys.deviceLock('d'), async () => 'locked')).toBe('locked');
    expect(await withRedisLock(redis, `${prefix}:lock:start`, 1000, async () => 'once')).toBe('once');

    const gate = new VersionGate(redis, prefix);
    expect(await gate.commit('ehr', 'Observation', 'o1', '2')).toBe('newer');
    expect(await gate.check('ehr', 'Observation', 'o1', '1')).toBe('stale');

    expect(await rememberPatientOf(redis, prefix, 'ehr', { resourceType: 'Observation', id: 'o1' }, 'p1')).toBe(true);
    expect(await patientOfResource(redis, prefix, 'ehr', { resourceType: 'Observation', id: 'o1' })).toBe('p1');

    await requireFullRead(redis, prefix, 'ehr', 'p1');
    const token = await pendingFullRead(redis, prefix, 'ehr', 'p1');
    await fullReadDone(redis, prefix, 'ehr', 'p1', token!);
    expect(await pendingFullRead(redis, prefix, 'ehr', 'p1')).toBeUndefined();

    await advanceWatermark(redis, watermarkKey(prefix, 'other'), '2021-04-01T00:00:00Z');
    await advanceWatermark(redis, watermarkKey(prefix, 'other'), '2020-01-01T00:00:00Z');
    expect(await redis.get(watermarkKey(prefix, 'other'))).toBe('2021-04-01T00:00:00Z');

    const checkpoints = new CheckpointStore(redis, prefix);
    const now = new Date().toISOString();
    await checkpoints.save({ runId: 'r1', state: 'running', started: now, updated: now, ...ZERO_COUNTS });
    await checkpoints.enqueued('r1', 'p1', 'j1');
    await checkpoints.finished('r1', ['j1'], ['j1']);
    await checkpoints.unfail('r1', ['j1']);
    expect(await checkpoints.pending('r1')).toEqual(['j1']);
    await checkpoints.clear('r1');

    const requests = new AssessRequests(redis, prefix);
    const request = {
      id: AssessRequests.newId(),
      level: 'group' as const,
      source: 'ehr',
      target: 'Group/g',
      total: 1,
      owner: 'o',
      created: now,
    };
    await requests.create(request, ['j1']);
    expect((await requests.get(request.id))?.target).toBe('Group/g');

    await recordFeedback(redis, prefix, 'svc', [{ card: 'c1', outcome: 'accepted', outcomeTimestamp: now }]);
    await new SubscriptionStates(redis, prefix).save('ehr', [{ id: 's1', status: 'active' }]);
    await new ActivationMemory(redis, prefix).set('ehr', 'ehr');
  });

  it("Then every key, every script (with the keys its commands touched) and every MULTI/EXEC stays in the hash tag's slot", async () => {
    const node = cluster.node(cluster.ports[0]);
    const tagSlot = Number(await node.cluster('KEYSLOT', tag));
    const keys = [...monitor.keys];
    const slots = await Promise.all(keys.map(async (k) => Number(await node.cluster('KEYSLOT', k))));
    const slotOf = new Map(keys.map((k, i) => [k, slots[i]]));
    expect(keys.filter((k) => !k.startsWith(`${prefix}:`))).toEqual([]); // nothing outside the prefix
    expect(keys.filter((k) => slotOf.get(k) !== tagSlot)).toEqual([]);
    const crossSlot = monitor.units.filter((u) => new Set(u.keys.map((k) => slotOf.get(k))).size > 1);
    expect(crossSlot).toEqual([]);

    // The run covered BullMQ's scripts and each of ours (their keys name the module), and transactions.
    const scripted = monitor.units.filter((u) => u.kind === 'script').flatMap((u) => u.keys);
    for (const part of [
      ':events:',
      ':assess:',
      ':ledger:',
      ':ratelimit:',
      ':shadow:',
      ':writeback:',
      ':version:',
      ':patient-of:',
      ':full-read:',
      ':watermark:',
      ':lock:',
    ]) {
      expect(
        scripted.some((k) => k.includes(part)),
        `a script touching ${part} keys`,
      ).toBe(true);
    }
    const transactions = monitor.units.filter((u) => u.kind === 'multi' && u.keys.length > 1);
    expect(transactions.length).toBeGreaterThan(0);
    expect(monitor.units.filter((u) => u.kind === 'script').length).toBeGreaterThan(20);
  });
});
