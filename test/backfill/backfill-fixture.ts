import type { Patient } from '@medplum/fhirtypes';
import type { BackfillDeps } from '../../src/backfill/run-backfill.js';
import { type Config, loadConfig } from '../../src/config/config.js';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { DEFAULT_PATIENTS_FILE } from '../../src/paths.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningService, startService } from '../../src/service.js';
import { createLogger } from '../../src/util/logger.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';

export interface BackfillFixture {
  redis: TestRedis;
  sandbox: Sandbox;
  service: RunningService;
  cfg: Config;
  env: Record<string, string>;
  ehr: FhirClient;
  deps: BackfillDeps;
  patientIds: string[];
  close(): Promise<void>;
}

/**
 * The sandbox EHR with the 16 shipped Synthea patients, real Redis, and the workers (one assessment
 * at a time, so priorities are observable), with the deps `runBackfill` needs.
 */
export async function startBackfillFixture(
  name: string,
  /** Extra settings, given the sandbox's base URL (e.g. to put a proxy in front of it). */
  extraEnv: (sandboxBaseUrl: string) => Promise<Record<string, string>> | Record<string, string> = () => ({}),
): Promise<BackfillFixture> {
  const redis = await useTestRedis();
  const sandbox = await startSandbox({ dataFiles: [DEFAULT_PATIENTS_FILE], logger: false });
  const env: Record<string, string> = {
    FHIR_BASE_URL: sandbox.baseUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `t-${name}-${process.pid}-${Date.now()}`,
    AS_OF: '2021-04-01',
    COALESCE_WINDOW_MS: '0',
    ASSESS_CONCURRENCY: '1',
    EHR_RATE_LIMIT: '0',
    LOG_LEVEL: 'silent',
    ...(await extraEnv(sandbox.baseUrl)),
  };
  const cfg = loadConfig(env);
  const models = [createEmbeddedModel()];
  const service = await startService(cfg, { http: false, workers: true }, createLogger('silent'), models);
  const ehr = new FhirClient({ baseUrl: sandbox.baseUrl }); // direct, never through a test proxy
  const patientIds = (await ehr.searchAll<Patient>('Patient', { _count: '100' })).map((p) => p.id as string).sort();
  const deps: BackfillDeps = {
    sources: service.sources,
    assessQueue: service.assessQueue,
    redis: service.redis,
    prefix: cfg.QUEUE_PREFIX,
    redisUrl: cfg.REDIS_URL,
    modelTypes: [...new Set(models.flatMap((m) => m.requires.resourceTypes))],
  };
  return {
    redis,
    sandbox,
    service,
    cfg,
    env,
    ehr,
    deps,
    patientIds,
    close: async () => {
      await service.assessQueue.obliterate({ force: true }).catch(() => {});
      await service.eventsQueue.obliterate({ force: true }).catch(() => {});
      const keys = await service.redis.keys(`${cfg.QUEUE_PREFIX}:*`).catch(() => [] as string[]);
      if (keys.length) await service.redis.del(...keys).catch(() => {});
      await service.close();
      await sandbox.close();
      await redis.stop();
    },
  };
}
