import { readFileSync } from 'node:fs';
import type { Bundle, Resource, RiskAssessment, Subscription } from '@medplum/fhirtypes';
import { Redis } from 'ioredis';
import { type Config, loadConfig } from '../../../src/config/config.js';
import { FhirClient } from '../../../src/fhir/fhir-client.js';
import { createEmbeddedModel } from '../../../src/models/embedded-model.js';
import { type Sandbox, type SandboxOptions, startSandbox } from '../../../src/sandbox/index.js';
import { type RunningService, type ServiceRoles, startService } from '../../../src/service.js';
import { freePort } from '../../../src/util/local-redis.js';
import { createLogger } from '../../../src/util/logger.js';

export const SECRET = 'intake-test-secret-0123456789';
const GOFF_FIXTURE = new URL('../../fixtures/goff-2013-white-male.bundle.json', import.meta.url);

/** A sandbox EHR and the service wired to it over real HTTP, on a test-owned Redis prefix. */
export interface Harness {
  sandbox: Sandbox;
  service: RunningService;
  cfg: Config;
  /** A client of the sandbox (the "EHR side" of the test). */
  ehr: FhirClient;
  notifyUrl: string;
  prefix: string;
  close(): Promise<void>;
}

export interface HarnessOptions {
  redisUrl: string;
  /** Short name for the Redis prefix (unique per test file). */
  name: string;
  /** The whole Redis prefix instead (e.g. a `{hash-tag}` one on a Redis Cluster). */
  prefix?: string;
  env?: Record<string, string>;
  roles?: ServiceRoles;
  sandbox?: SandboxOptions;
  /** Reuse a running sandbox (e.g. behind a proxy); the harness then does not close it. */
  existingSandbox?: Sandbox;
  /** FHIR base the service talks to (default the sandbox's). */
  fhirBaseUrl?: string;
}

/** Starts the sandbox (unless given) and the service (HTTP + workers unless told otherwise). */
export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  const sandbox = opts.existingSandbox ?? (await startSandbox({ logger: false, ...opts.sandbox }));
  const port = await freePort();
  const prefix = opts.prefix ?? `t-${opts.name}-${process.pid}-${Date.now()}`;
  const cfg = loadConfig({
    FHIR_BASE_URL: opts.fhirBaseUrl ?? sandbox.baseUrl,
    REDIS_URL: opts.redisUrl,
    QUEUE_PREFIX: prefix,
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    NOTIFY_SECRET: SECRET,
    AS_OF: '2021-04-01',
    COALESCE_WINDOW_MS: '300',
    POLL_OVERLAP_MS: '0', // one clock (sandbox and service share it): no skew to cover
    GAP_GRACE_MS: '300',
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const logger = createLogger(process.env.INTAKE_TEST_LOG ?? 'silent');
  const service = await startService(cfg, opts.roles ?? { http: true, workers: true }, logger, [createEmbeddedModel()]);
  return {
    sandbox,
    service,
    cfg,
    ehr: new FhirClient({ baseUrl: sandbox.baseUrl }),
    notifyUrl: `http://127.0.0.1:${port}/notify`,
    prefix,
    close: async () => {
      await service.close();
      if (!opts.existingSandbox) await sandbox.close();
      // A test-owned cluster goes away with its keys; a shared Redis is cleaned.
      if (!opts.redisUrl.includes('+cluster://')) await deletePrefix(opts.redisUrl, prefix);
    },
  };
}

/** Deletes every Redis key under a test's prefix. */
export async function deletePrefix(redisUrl: string, prefix: string): Promise<void> {
  const r = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** Polls `probe` every 50 ms until it returns a value other than undefined/false, failing after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until the sandbox delivered everything and the events, assess and intake queues hold nothing
 * waiting, delayed or active, twice in a row (a finishing job may enqueue the next).
 */
export async function settle(h: Pick<Harness, 'sandbox' | 'service'>, timeoutMs = 30_000): Promise<void> {
  let quiet = 0;
  await waitFor(
    async () => {
      await h.sandbox.notifier.idle();
      const queues = [h.service.eventsQueue, h.service.assessQueue];
      const counts = await Promise.all(
        queues.map((q) => q.getJobCounts('waiting', 'delayed', 'active', 'prioritized')),
      );
      const busy = counts.some((c) => Object.values(c).some((n) => n > 0)) || h.sandbox.notifier.pending() > 0;
      quiet = busy ? 0 : quiet + 1;
      return quiet >= 3;
    },
    timeoutMs,
    'the pipeline to settle',
  );
}

/** Writes the Goff 2013 example patient (complete PCE inputs) as a new patient; returns its id. */
export async function createGoffPatient(ehr: FhirClient): Promise<string> {
  const fixture = JSON.parse(readFileSync(GOFF_FIXTURE, 'utf8')) as Bundle;
  const response = await ehr.transaction(fixture);
  return response.entry![0].response!.location!.split('/')[1];
}

/** An HDL Observation for a patient (a new fact that changes the record). */
export function hdlObservation(patientId: string, value = 45): Resource {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '2085-9' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: '2021-03-30T10:00:00Z',
    valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  } as Resource;
}

/** The calculator every Goff-style patient gets a result from: its RiskAssessments count assessments. */
const PCE = 'pce-2013';

/**
 * Our write-backs for a patient: PCE RiskAssessments (other calculators may add their own, one per
 * assessment each) and ClinicalImpressions (one per assessment). Throws if any identifier repeats.
 */
export async function outputsFor(ehr: FhirClient, patientId: string) {
  type Out = { resourceType: string; identifier?: { value?: string }[]; method?: { coding?: { code?: string }[] } };
  const [risks, impressions] = await Promise.all(
    ['RiskAssessment', 'ClinicalImpression'].map((t) =>
      ehr.searchAll<Out & Resource>(t, { subject: `Patient/${patientId}` }),
    ),
  );
  const ids = [...risks, ...impressions].flatMap((r) => (r as Out).identifier?.map((i) => i.value) ?? []);
  if (new Set(ids).size !== ids.length) throw new Error(`duplicate write-back identifiers for Patient/${patientId}`);
  const pce = risks.filter((r) => (r as Out).method?.coding?.some((c) => c.code === PCE));
  return { risks: pce.length, impressions: impressions.length };
}

/** True once a RiskAssessment for the patient lists the observation among its inputs (`basis`). */
export async function assessedWith(ehr: FhirClient, patientId: string, observationId: string): Promise<boolean> {
  const risks = await ehr.searchAll<RiskAssessment>('RiskAssessment', { subject: `Patient/${patientId}` });
  return risks.some((r) => r.basis?.some((b) => b.reference === `Observation/${observationId}`));
}

/** Our Subscriptions on the sandbox (found by endpoint, as the service does). */
export async function subscriptionsOf(h: Harness): Promise<{ id: string; criteria: string; status: string }[]> {
  const subs = await h.ehr.searchAll<Subscription>('Subscription', { url: h.notifyUrl });
  return subs.map(({ id, criteria, status }) => ({ id: id!, criteria: criteria ?? '', status }));
}
