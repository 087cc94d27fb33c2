import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from '@medplum/fhirtypes';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { type Config, loadConfig } from '../config/config.js';
import type { FhirClient } from '../fhir/fhir-client.js';
import { buildModelRegistry } from '../models/registry.js';
import { DEFAULT_PATIENTS_FILE } from '../paths.js';
import type { EhrProfileName } from '../sandbox/ehr-profiles.js';
import { type Sandbox, type SandboxOptions, startSandbox } from '../sandbox/index.js';
import { type RunningService, startService } from '../service.js';
import { freePort } from '../util/local-redis.js';
import { createLogger } from '../util/logger.js';
import { DEMO_AS_OF } from './demo-data.js';

/** The SMART client the Epic-like sandbox registers for the demo (its key pair is made per run). */
const SMART_CLIENT_ID = 'fhir-assess-demo';
/** How often the demo polls an EHR that cannot push (ms); the smallest POLL_INTERVAL_MS allowed. */
const DEMO_POLL_INTERVAL_MS = 1000;

export interface DemoStackOptions {
  behave: EhrProfileName;
  redisUrl: string;
  logLevel: string;
  /** Synthea files the sandbox loads; default the shipped subset. */
  dataFiles?: string[];
  /** Extra settings (e.g. an API key for tests); they win over the demo's own. */
  env?: Record<string, string>;
  /** Sees every request the sandbox EHR answers (src/bench counts round trips with it). */
  onEhrResponse?: SandboxOptions['onResponse'];
}

/** A sandbox EHR in one profile and the whole service connected to it the way that EHR needs. */
export interface DemoStack {
  sandbox: Sandbox;
  service: RunningService;
  cfg: Config;
  /** The environment the service was configured from (reuse it for `backfill` in the same stack). */
  env: Record<string, string>;
  /** The service's own client of the EHR (authenticated as the service is). */
  ehr: FhirClient;
  /** How changes reach the service, one line for the demo's output. */
  intake: string;
  close(): Promise<void>;
}

/**
 * Starts the sandbox EHR in the given profile and connects the service as a hospital would connect
 * it to that EHR: push EHRs get Subscriptions the service manages itself (SUBSCRIBE_ON_START: a
 * Backport topic where the EHR advertises it, classic criteria otherwise, with the Medplum
 * `X-Signature` secret on Medplum); the Epic-like EHR, which cannot push, is polled, with SMART
 * Backend Services auth (a key pair made for this run, its public JWKS registered with the sandbox).
 */
export async function startDemoStack(opts: DemoStackOptions): Promise<DemoStack> {
  const dir = mkdtempSync(join(tmpdir(), 'fhir-assess-demo-'));
  const smart = opts.behave === 'epic' ? await smartKeyPair() : undefined;
  const sandbox = await startSandbox({
    behave: opts.behave,
    dataFiles: opts.dataFiles ?? [DEFAULT_PATIENTS_FILE],
    logger: false,
    smartClients: smart ? [{ clientId: SMART_CLIENT_ID, jwks: smart.jwks }] : undefined,
    onResponse: opts.onEhrResponse,
  });
  const port = await freePort();
  const env: Record<string, string> = {
    REDIS_URL: opts.redisUrl,
    QUEUE_PREFIX: `demo-${randomBytes(4).toString('hex')}`,
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    AS_OF: DEMO_AS_OF,
    COALESCE_WINDOW_MS: '1000',
    // The demo writes a lipid panel and a blood pressure as three creates and prints the assessment of
    // all three: wait the window instead of also charting a leading assessment of the first one.
    COALESCE_MODE: 'trailing',
    POLL_OVERLAP_MS: '1000',
    LOG_LEVEL: opts.logLevel,
    ...(smart
      ? { SOURCES_FILE: writePollSource(dir, sandbox.baseUrl, smart.privateKeyPem) }
      : pushEnv(opts.behave, sandbox)),
    ...opts.env,
  };
  let service: RunningService | undefined;
  try {
    const cfg = loadConfig(env);
    service = await startService(
      cfg,
      { http: true, workers: true },
      createLogger(cfg.LOG_LEVEL),
      buildModelRegistry(cfg),
    );
    const ehr = service.sources.client(cfg.sources[0].name);
    const intake = smart
      ? `polling every ${DEMO_POLL_INTERVAL_MS / 1000} s (the EHR has no Subscriptions), SMART Backend Services auth`
      : await activeSubscriptions(ehr, `${cfg.PUBLIC_URL}/notify`);
    const owned = service;
    return {
      sandbox,
      service: owned,
      cfg,
      env,
      ehr,
      intake,
      close: async () => {
        await owned.close();
        await sandbox.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await service?.close();
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Push EHRs: one source from the environment, Subscriptions managed by the service. */
function pushEnv(behave: EhrProfileName, sandbox: Sandbox): Record<string, string> {
  return {
    FHIR_BASE_URL: sandbox.baseUrl,
    NOTIFY_SECRET: randomBytes(24).toString('hex'),
    SUBSCRIBE_ON_START: 'true',
    // Medplum signs every notification with the Subscription's secret; verify it.
    ...(behave === 'medplum' ? { NOTIFY_HMAC_SECRET: randomBytes(24).toString('hex') } : {}),
  };
}

/** The Epic-like EHR: a SOURCES_FILE with SMART Backend Services auth and polling. */
function writePollSource(dir: string, baseUrl: string, privateKeyPem: string): string {
  const file = join(dir, 'sources.json');
  const source = {
    name: 'ehr',
    fhirBaseUrl: baseUrl,
    auth: {
      type: 'smart-backend',
      clientId: SMART_CLIENT_ID,
      keyId: 'demo-1',
      alg: 'RS384',
      privateKey: privateKeyPem,
    },
    intake: { mode: 'poll', pollIntervalMs: DEMO_POLL_INTERVAL_MS },
  };
  writeFileSync(file, JSON.stringify([source], null, 2), { mode: 0o600 });
  return file;
}

async function smartKeyPair(): Promise<{ jwks: { keys: object[] }; privateKeyPem: string }> {
  const { publicKey, privateKey } = await generateKeyPair('RS384', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'demo-1', alg: 'RS384', use: 'sig' };
  return { jwks: { keys: [jwk] }, privateKeyPem: await exportPKCS8(privateKey) };
}

/**
 * The Subscriptions the service manages on the EHR, once every one of them is active (the service
 * confirms or sets activation at start-up; this waits for the EHR to say so).
 */
async function activeSubscriptions(ehr: FhirClient, endpoint: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const subs = (await ehr.searchAll<Subscription>('Subscription', { url: endpoint })).filter(
      (s) => s.channel?.endpoint === endpoint,
    );
    if (subs.length && subs.every((s) => s.status === 'active')) {
      const kinds = new Set(
        subs.map((s) => (s.criteria?.startsWith('http') ? 'R4 Backport topic' : 'classic criteria')),
      );
      return `${subs.length} Subscription(s) managed by the service (${[...kinds].join(', ')}), all active`;
    }
    if (Date.now() > deadline) {
      const states = subs.map((s) => `Subscription/${s.id} ${s.status}${s.error ? ` (${s.error})` : ''}`).join(', ');
      throw new Error(
        `the service's Subscriptions did not become active within 15 s: ${states || 'none found'}; run with --log-level info`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
