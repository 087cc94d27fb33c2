import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { enqueueAssessment } from '../../src/jobs/assess-queue.js';
import { ASSESS_QUEUE } from '../../src/jobs/queue-names.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { DEFAULT_PATIENTS_FILE } from '../../src/paths.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { startService } from '../../src/service.js';
import { createLogger } from '../../src/util/logger.js';
import { poll } from '../api/api-fixture.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';

/**
 * A worker process that takes one assess job and hangs on it, holding the job's lock (renewed every
 * 500 ms) until it is SIGKILLed: a crash mid-job. Plain BullMQ, so the child needs no TypeScript.
 * It skips stalled checks: its own check would throttle everyone's (BullMQ's shared stalled-check key
 * lives for the checking worker's stalledInterval, 30 s by default).
 */
const CRASHING_WORKER = `
const { createRequire } = await import('node:module');
const { Worker } = createRequire(process.argv[2])('bullmq');
const [, , , host, port, prefix, queue] = process.argv;
new Worker(queue, async (job) => {
  process.stdout.write('active ' + job.id + '\\n');
  await new Promise(() => {});
}, { connection: { host, port: Number(port), maxRetriesPerRequest: null }, prefix, lockDuration: 1000, skipStalledCheck: true });
`;

describe('stalled jobs: a worker killed mid-job', () => {
  let redis: TestRedis;
  let sandbox: Sandbox;
  let dir: string;
  let child: ChildProcess | undefined;
  const prefix = `t-stalled-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    redis = await useTestRedis();
    sandbox = await startSandbox({ dataFiles: [DEFAULT_PATIENTS_FILE], patients: 3, logger: false });
    dir = mkdtempSync(join(tmpdir(), 'stalled-'));
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    const q = new Queue(ASSESS_QUEUE, { connection: { url: redis.url }, prefix });
    await q.obliterate({ force: true }).catch(() => {});
    await q.close();
    rmSync(dir, { recursive: true, force: true });
    await sandbox?.close();
    await redis?.stop();
  });

  it('When the worker holding a job is SIGKILLed, Then another worker recovers the job after its lock expires and completes it once', async () => {
    const ehr = new FhirClient({ baseUrl: sandbox.baseUrl });
    const [patient] = await ehr.searchAll<{ resourceType: 'Patient'; id: string }>('Patient', { _count: '1' });
    const script = join(dir, 'crashing-worker.mjs');
    writeFileSync(script, CRASHING_WORKER);
    const url = new URL(redis.url);
    const resolveFrom = join(process.cwd(), 'package.json'); // the child resolves bullmq from the project
    child = spawn(process.execPath, [script, resolveFrom, url.hostname, url.port || '6379', prefix, ASSESS_QUEUE], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const active = new Promise<string>((resolve, reject) => {
      child!.stdout!.on('data', (d: Buffer) => resolve(String(d).trim()));
      child!.once('exit', (code) => reject(new Error(`the crashing worker exited early (code ${code})`)));
      setTimeout(() => reject(new Error('the crashing worker took no job within 20 s')), 20_000).unref();
    });

    const producer = new Queue(ASSESS_QUEUE, { connection: { url: redis.url }, prefix });
    const job = await enqueueAssessment(
      producer as never,
      { source: 'ehr', patientId: patient.id, trigger: 'api', priority: 'api' },
      0,
    );
    expect(await active).toBe(`active ${job.id}`);
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(await job.getState()).toBe('active'); // still marked active: nobody released it

    // A fresh worker process (ours, with short lock/stall timings) recovers it.
    const cfg = loadConfig({
      FHIR_BASE_URL: sandbox.baseUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      AS_OF: '2021-04-01',
      JOB_LOCK_MS: '1000',
      EHR_RATE_LIMIT: '0',
      LOG_LEVEL: 'silent',
    });
    const service = await startService(cfg, { http: false, workers: true }, createLogger('silent'), [
      createEmbeddedModel(),
    ]);
    try {
      await poll(
        async () => ((await job.getState()) === 'completed' ? true : undefined),
        30_000,
        'the stalled job to be recovered',
      );
      const done = await producer.getJob(String(job.id));
      expect(done!.stalledCounter).toBe(1);
      expect(done!.attemptsMade).toBe(1); // a stall is not a failed attempt
      expect(await ehr.searchAll('ClinicalImpression', { subject: `Patient/${patient.id}` })).toHaveLength(1);
    } finally {
      await service.close();
      await producer.close();
    }
  });
});
