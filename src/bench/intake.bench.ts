import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildApp } from '../api/app.js';
import { outcome } from '../api/operation-outcome.js';
import { redisForDemo } from '../cli/redis-for-demo.js';
import { SourceSchema } from '../config/sources.js';
import { SourceRegistry } from '../fhir/source-client.js';
import { createEventsQueue } from '../jobs/events-queue.js';
import { createIntakeQueue } from '../jobs/intake-queue.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import { producerConnection, ready } from '../jobs/redis-connection.js';
import { createLogger } from '../util/logger.js';
import type { Bench } from './bench.js';
import setupRequest from './intake-load-request.cjs';

const { fhirBase: BENCH_FHIR_BASE, bodyBytes: BODY_BYTES } = setupRequest;

/** Seconds of load per route per round; every run is bounded by it. */
const DURATION_S = 4;
/** Warm-up seconds per route before the first round (JIT, connection pools, Redis scripts). */
const WARMUP_S = 1;
/** Rounds; the route order is reversed every other round so neither end of a round is favoured. */
const ROUNDS = 3;
/** Concurrent HTTP connections from the load generator (each one an EHR subscription in order). */
const CONNECTIONS = 16;
const SECRET = 'bench-notify-secret-0123456789';
const JSON_TYPES = ['application/fhir+json', 'application/json'];

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

type Route = 'bare' | 'bullmq' | 'intake';

/** A fastify app that parses the JSON body once, as the intake does, and runs `handle`. */
async function referenceApp(handle: (body: unknown) => Promise<void>): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  const reply = outcome('information', 'informational', 'accepted event-notification with 1 event(s)');
  app.post('/notify', async (req, res) => {
    await handle(req.body);
    return res.code(200).type('application/fhir+json').send(reply);
  });
  return app;
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** One autocannon run against a URL, its load generated in a worker thread. */
async function load(url: string, seconds: number): Promise<Measured> {
  const name = 'autocannon';
  const autocannon = (await import(name)).default as (opts: object) => Promise<{
    requests: { average: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  }>;
  const r = await autocannon({
    url: `${url}/notify`,
    connections: CONNECTIONS,
    duration: seconds,
    workers: 1,
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' },
    requests: [{ setupRequest: fileURLToPath(new URL('./intake-load-request.cjs', import.meta.url)) }],
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export const bench: Bench = {
  name: 'intake',
  title: 'POST /notify (full-resource Backport, durable enqueue) vs a bare fastify route and a one-add BullMQ route',
  async run(log) {
    const redis = await redisForDemo();
    const prefix = `bench-intake-${process.pid}-${Date.now()}`;
    const conn: RedisClient = producerConnection(redis.url);
    await ready(conn);
    const eventsQueue = createEventsQueue(conn, prefix);
    const refQueue = createEventsQueue(conn, `${prefix}-ref`);
    const source = SourceSchema.parse({
      name: 'bench',
      fhirBaseUrl: BENCH_FHIR_BASE,
      notify: { bearerSecrets: [SECRET] },
    });
    const apps: Record<Route, FastifyInstance> = {
      bare: await referenceApp(async () => {}),
      bullmq: await referenceApp(async (body) => {
        // The limit of this stack: one BullMQ add of a reference-only job.
        const obs = (body as { entry: { resource: { id: string; meta: { versionId: string } } }[] }).entry[1].resource;
        await refQueue.add('update', {
          source: 'bench',
          via: 'r4-backport',
          interaction: 'update',
          resourceType: 'Observation',
          id: obs.id,
          versionId: obs.meta.versionId,
        });
      }),
      intake: await buildApp({
        logger: createLogger('silent'),
        bodyLimit: 5 * 1024 * 1024,
        sources: new SourceRegistry([source]),
        eventsQueue,
        redis: conn,
        keyPrefix: prefix,
        gapGraceMs: 60_000,
        ready: async () => ({ ok: true, checks: {} }),
      }),
    };
    const urls = {} as Record<Route, string>;
    for (const r of Object.keys(apps) as Route[]) urls[r] = await listen(apps[r]);
    try {
      log(
        `body ${BODY_BYTES} B, ${CONNECTIONS} connections, ${DURATION_S} s per route per round, ${ROUNDS} rounds, Redis: ${redis.how}`,
      );
      const order: Route[] = ['bare', 'bullmq', 'intake'];
      for (const r of order) await load(urls[r], WARMUP_S);
      const runs: Record<Route, Measured[]> = { bare: [], bullmq: [], intake: [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const r of round % 2 ? [...order].reverse() : order) runs[r].push(await load(urls[r], DURATION_S));
      }
      const m = {} as Record<Route, Measured>;
      for (const r of order) {
        const xs = runs[r];
        m[r] = {
          rps: median(xs.map((x) => x.rps)),
          p50: median(xs.map((x) => x.p50)),
          p99: median(xs.map((x) => x.p99)),
          non2xx: xs.reduce((s, x) => s + x.non2xx, 0),
          errors: xs.reduce((s, x) => s + x.errors, 0),
        };
      }
      log('route                         req/s   p50 ms   p99 ms   non-2xx   errors');
      for (const r of order) {
        const x = m[r];
        log(
          `${r.padEnd(26)} ${x.rps.toFixed(0).padStart(8)} ${x.p50.toFixed(1).padStart(8)} ${x.p99.toFixed(1).padStart(8)} ${String(x.non2xx).padStart(9)} ${String(x.errors).padStart(8)}`,
        );
      }
      const stored = await eventsQueue.count();
      log(`events stored by the intake route: ${stored} (one durable event per request)`);
      const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
      return {
        'intake req/s': Math.round(m.intake.rps),
        'bullmq-add req/s': Math.round(m.bullmq.rps),
        'bare req/s': Math.round(m.bare.rps),
        'intake/bullmq req/s': ratio(m.intake.rps, m.bullmq.rps),
        'intake/bare req/s': ratio(m.intake.rps, m.bare.rps),
        'intake p50/p99 ms': `${m.intake.p50}/${m.intake.p99}`,
        'bullmq-add p50/p99 ms': `${m.bullmq.p50}/${m.bullmq.p99}`,
        'bare p50/p99 ms': `${m.bare.p50}/${m.bare.p99}`,
        'intake non-2xx': m.intake.non2xx + m.intake.errors,
      };
    } finally {
      for (const app of Object.values(apps)) await app.close();
      const intakeQueue = createIntakeQueue(conn, prefix);
      for (const q of [eventsQueue, refQueue, intakeQueue]) {
        await q.obliterate({ force: true }).catch(() => {});
        await q.close();
      }
      await deleteKeys(conn, prefix);
      conn.disconnect();
      await redis.stop();
    }
  },
};

/** Deletes the benchmark's keys (ledger, versions) left beside its queues. */
async function deleteKeys(conn: RedisClient, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await conn.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await conn.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
