import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';

import { pino } from 'pino';
import { buildApp } from '../api/app.js';
import { outcome } from '../api/operation-outcome.js';
import { redisForDemo } from '../cli/redis-for-demo.js';
import { SourceSchema } from '../config/sources.js';
import { SourceRegistry } from '../fhir/source-client.js';
import { createEventsQueue } from '../jobs/events-queue.js';
import { createIntakeQueue } from '../jobs/intake-queue.js';
import { producerConnection, type RedisClient, ready } from '../jobs/redis-connection.js';
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
  /**
   * Main-thread (server) busy time per request, µs, from the event loop's utilisation: what one
   * request costs the server's one thread, which the machine's other load disturbs far less than req/s.
   */
  busyUs: number;
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

/** One autocannon run against a URL, its load generated in a worker thread; `rate`: requests/s in all (else flat out). */
async function load(url: string, seconds: number, rate?: number): Promise<Measured> {
  const name = 'autocannon';
  const autocannon = (await import(name)).default as (opts: object) => Promise<{
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  }>;
  const elu = performance.eventLoopUtilization();
  const r = await autocannon({
    url: `${url}/notify`,
    connections: CONNECTIONS,
    duration: seconds,
    workers: 1,
    ...(rate ? { overallRate: rate } : {}),
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' },
    requests: [{ setupRequest: fileURLToPath(new URL('./intake-load-request.cjs', import.meta.url)) }],
  });
  const busyUs = (performance.eventLoopUtilization(elu).active * 1000) / Math.max(1, r.requests.total);
  return {
    rps: r.requests.average,
    busyUs,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Requests per second of the fixed-rate run whose latency the aim is set for (p99 < 20 ms at 1,000 req/s). */
export const FIXED_RATE = 1000;

export interface IntakeRounds {
  /** One entry per round: each route's flat-out measure. */
  rounds: Record<Route, Measured>[];
  /** The intake route at FIXED_RATE req/s, one per round. */
  fixed: Measured[];
  /** Durable events the intake route stored (one per accepted request). */
  stored: number;
}

/**
 * The intake measure of issue 13: `POST /notify` (the real app, logging at info as deployed, to
 * /dev/null) against a fastify route doing one BullMQ add of a reference-only job and a bare route,
 * same payload, same Redis; flat out (route order reversed every other round), then the intake route
 * at FIXED_RATE req/s for its latency.
 */
export async function measureIntake(opts: { seconds: number; warmup: number; rounds: number }): Promise<IntakeRounds> {
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
      logger: createLogger('info', 'fhir-assess', pino.destination({ dest: '/dev/null', sync: true })),
      bodyLimit: 5 * 1024 * 1024,
      sources: new SourceRegistry([source]),
      eventsQueue,
      redis: conn,
      keyPrefix: prefix,
      gapGraceMs: 60_000,
      ready: async () => ({ ok: true, checks: {} }),
    }),
  };
  try {
    const urls = {} as Record<Route, string>;
    for (const r of ORDER) urls[r] = await listen(apps[r]);
    for (const r of ORDER) await load(urls[r], opts.warmup);
    const rounds: IntakeRounds['rounds'] = [];
    const fixed: Measured[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      const m = {} as Record<Route, Measured>;
      for (const r of round % 2 ? [...ORDER].reverse() : ORDER) m[r] = await load(urls[r], opts.seconds);
      rounds.push(m);
      fixed.push(await load(urls.intake, opts.seconds, FIXED_RATE));
    }
    return { rounds, fixed, stored: await eventsQueue.count() };
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
}

const ORDER: Route[] = ['bare', 'bullmq', 'intake'];

export const bench: Bench = {
  name: 'intake',
  title:
    'POST /notify (full-resource Backport, durable enqueue, info logs) vs a bare fastify route and a one-add BullMQ route',
  async run(log) {
    log(`body ${BODY_BYTES} B, ${CONNECTIONS} connections, ${DURATION_S} s per route per round, ${ROUNDS} rounds`);
    const r = await measureIntake({ seconds: DURATION_S, warmup: WARMUP_S, rounds: ROUNDS });
    const m = {} as Record<Route, Measured>;
    for (const route of ORDER) {
      const xs = r.rounds.map((x) => x[route]);
      m[route] = {
        rps: median(xs.map((x) => x.rps)),
        busyUs: median(xs.map((x) => x.busyUs)),
        p50: median(xs.map((x) => x.p50)),
        p99: median(xs.map((x) => x.p99)),
        non2xx: xs.reduce((s, x) => s + x.non2xx, 0),
        errors: xs.reduce((s, x) => s + x.errors, 0),
      };
    }
    log('route                         req/s   p50 ms   p99 ms   non-2xx   errors');
    for (const route of ORDER) {
      const x = m[route];
      log(
        `${route.padEnd(26)} ${x.rps.toFixed(0).padStart(8)} ${x.p50.toFixed(1).padStart(8)} ${x.p99.toFixed(1).padStart(8)} ${String(x.non2xx).padStart(9)} ${String(x.errors).padStart(8)}`,
      );
    }
    const fixedP99 = median(r.fixed.map((x) => x.p99));
    log(`intake at ${FIXED_RATE} req/s: p50 ${median(r.fixed.map((x) => x.p50))} ms, p99 ${fixedP99} ms`);
    log(`events stored by the intake route: ${r.stored} (one durable event per request)`);
    const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
    return {
      'intake req/s': Math.round(m.intake.rps),
      'bullmq-add req/s': Math.round(m.bullmq.rps),
      'bare req/s': Math.round(m.bare.rps),
      'intake/bullmq req/s': ratio(m.intake.rps, m.bullmq.rps),
      'intake/bare req/s': ratio(m.intake.rps, m.bare.rps),
      [`intake p99 ms at ${FIXED_RATE} req/s`]: fixedP99,
      'intake non-2xx': m.intake.non2xx + m.intake.errors,
    };
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
