import { randomBytes } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningTracing, startTracing } from '../../src/observability/tracing.js';
import type { SandboxRequestSeen } from '../../src/sandbox/index.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import {
  createGoffPatient,
  type Harness,
  outputsFor,
  SECRET,
  startHarness,
  waitFor,
} from '../intake/helpers/harness.js';
import {
  type CompiledCli,
  compileCli,
  startWorkerProcess,
  type WorkerProcess,
} from '../intake/helpers/worker-process.js';
import { OtlpReceiver } from './otlp-receiver.js';

/*
 * Issue 14: one OpenTelemetry trace from the EHR's change to the written assessment, across two
 * processes. This process runs `serve` (HTTP intake only) with an in-memory exporter; a real
 * `fhir-assess worker` child process exports over OTLP/HTTP (configured only by OTEL_* variables) to
 * a local receiver. The EHR's notification carries a W3C `traceparent`; every span of both processes
 * for this change, every EHR request the worker makes (as the sandbox EHR received it) and the
 * worker's log lines carry that trace id.
 */
describe('tracing: one trace from /notify to the write-back, across processes', () => {
  let redis: TestRedis;
  let cli: CompiledCli;
  let h: Harness;
  let worker: WorkerProcess | undefined;
  let tracing: RunningTracing;
  const memory = new InMemorySpanExporter();
  const receiver = new OtlpReceiver();
  const ehrSaw: SandboxRequestSeen[] = [];
  const tid = (r: SandboxRequestSeen) => r.traceparent?.split('-')[1];
  /** Traces of this process's own EHR requests (the test's reads, the serve role's discovery). */
  const testTraces = () =>
    new Set(
      memory
        .getFinishedSpans()
        .filter((s) => s.name.startsWith('FHIR '))
        .map((s) => s.spanContext().traceId),
    );

  beforeAll(async () => {
    [redis, cli] = await Promise.all([useTestRedis(), compileCli()]);
    tracing = startTracing({}, { exporter: memory, role: 'serve' }); // before the queues exist
    h = await startHarness({
      redisUrl: redis.url,
      name: 'trace',
      roles: { http: true, workers: false },
      env: { COALESCE_WINDOW_MS: '100' },
      sandbox: { onResponse: (r) => ehrSaw.push(r) },
    });
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await h?.close();
    await tracing?.shutdown();
    await receiver.close();
    await redis?.stop();
    cli?.remove();
  });

  it('When the EHR notifies with a traceparent, Then intake, both jobs, every EHR request, the model and the write-back share its trace id', async () => {
    const otlpUrl = await receiver.start();
    worker = startWorkerProcess(cli.cliPath, {
      FHIR_BASE_URL: h.sandbox.baseUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: h.prefix,
      AS_OF: '2021-04-01',
      COALESCE_WINDOW_MS: '100',
      POLL_OVERLAP_MS: '0',
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpUrl,
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
    });
    const patient = await createGoffPatient(h.ehr); // no Subscription: the sandbox stays silent
    const [obs] = await h.ehr.searchAll<Resource>('Observation', { subject: `Patient/${patient}`, _count: '1' });
    const traceId = randomBytes(16).toString('hex');
    const ehrSpanId = randomBytes(8).toString('hex');
    // The worker's start-up discovery (GET metadata, a trace of its own) happens before the change.
    await waitFor(
      () => ehrSaw.some((r) => r.url.endsWith('/metadata') && r.traceparent && !testTraces().has(tid(r)!)),
      30_000,
      "the worker's start-up discovery",
    );
    const sawBefore = ehrSaw.length;
    const res = await fetch(`${h.notifyUrl}/Observation/${obs.id}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${SECRET}`,
        'content-type': 'application/fhir+json',
        traceparent: `00-${traceId}-${ehrSpanId}-01`,
      },
      body: JSON.stringify(obs),
    });
    expect(res.status).toBe(200);
    await waitFor(async () => (await outputsFor(h.ehr, patient)).risks === 1, 60_000, 'the write-back');
    const written = await waitFor(
      () => receiver.spans.find((s) => s.name.startsWith('process assess')) && receiver.spans,
      20_000,
      'the worker to export its spans',
    );

    // The serve process: the notification's SERVER span continues the EHR's trace and parents the enqueue.
    const served = memory.getFinishedSpans();
    const notify = served.find((s) => s.kind === SpanKind.SERVER && s.name === 'PUT /notify/:type/:id');
    expect(notify?.spanContext().traceId).toBe(traceId);
    expect(notify?.parentSpanContext?.spanId).toBe(ehrSpanId);
    const enqueued = served.find((s) => s.kind === SpanKind.PRODUCER && s.name.startsWith('add events'));
    expect(enqueued?.spanContext().traceId).toBe(traceId);

    // The worker process: every stage of this change, in the same trace.
    const ours = written.filter((s) => s.traceId === traceId);
    const names = ours.map((s) => s.name);
    for (const name of ['process events', 'add assess', 'process assess', 'record', 'model ', 'write-back ']) {
      expect(
        names.some((n) => n.startsWith(name)),
        `a worker span '${name}...' in the trace`,
      ).toBe(true);
    }
    expect(names).toContain('FHIR POST (base)'); // the write-back transaction
    expect(ours.every((s) => s.resource['service.name'] === 'fhir-assess')).toBe(true);
    expect(ours[0].resource['fhir_assess.role']).toBe('worker');
    expect(ours[0].resource['deployment.environment']).toBe('test');
    // One tree: each worker span's parent is a span of this trace (in either process), up to /notify.
    const known = new Set([...ours.map((s) => s.spanId), ...served.map((s) => s.spanContext().spanId), ehrSpanId]);
    expect(ours.filter((s) => !s.parentSpanId || !known.has(s.parentSpanId))).toEqual([]);

    // The EHR saw our trace on every request the worker made for this change, the transaction included.
    // (This test's own reads of the sandbox are traced too, each as its own root trace: left out.)
    const forChange = ehrSaw.slice(sawBefore).filter((r) => r.traceparent && !testTraces().has(tid(r)!));
    expect(forChange.length).toBeGreaterThan(1);
    expect(forChange.filter((r) => tid(r) !== traceId)).toEqual([]);
    expect(forChange.some((r) => r.method === 'POST' && r.bundleType === 'transaction')).toBe(true);
    const fhirSpans = ours.filter((s) => s.name.startsWith('FHIR ')).length;
    expect(forChange.length).toBe(fhirSpans);

    // Log lines written while assessing carry the trace id.
    const logs = worker
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; trace_id?: string });
    const writtenLog = logs.find((l) => l.msg === 'assessment written');
    expect(writtenLog?.trace_id).toBe(traceId);
  }, 120_000);
});
