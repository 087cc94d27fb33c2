import type { AddressInfo } from 'node:net';
import { FhirRouter } from '@medplum/fhir-router';
import { createLocalJWKSet } from 'jose';
import { type Logger, pino } from 'pino';
import { loadFhirDefinitions } from '../fhir/definitions.js';
import { FHIR_BASE_PATH } from './constants.js';
import type { SandboxContext } from './context.js';
import {
  EHR_PROFILE_NAMES,
  EHR_PROFILES,
  type EhrProfile,
  type EhrProfileName,
  isEhrProfileName,
  resolveQuirks,
} from './ehr-profiles.js';
import { applyEhrQuirks, type EhrQuirks, notifierBehaviour, type SmartClient } from './ehr-quirks.js';
import { addSandboxRoutes } from './fhir-routes.js';
import { createHttpServer } from './http-server.js';
import { IndexedRepository } from './indexed-repository.js';
import { LoadingGate } from './loading-gate.js';
import { TOKEN_PATH } from './quirks/smart-token-endpoint.js';
import { SubscriptionNotifier } from './subscription-notifier.js';
import { type LoadResult, SyntheaLoader } from './synthea-loader.js';

export { PATIENT_DATA_CHANGED_TOPIC, SUPPORTED_TOPICS } from './constants.js';
export {
  EHR_PROFILE_NAMES,
  EHR_PROFILES,
  type EhrProfile,
  type EhrProfileName,
  isEhrProfileName,
} from './ehr-profiles.js';
export type { EhrQuirks, SmartClient } from './ehr-quirks.js';
export { IndexedRepository, type ResourceChange } from './indexed-repository.js';
export type { LoadResult } from './synthea-loader.js';

/** Options of {@link startSandbox}. */
export interface SandboxOptions {
  /** TCP port; 0 or absent picks a free port. */
  port?: number;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /**
   * ndjson(.gz)/json(.gz) files loaded before `startSandbox` resolves. The port is bound first, and
   * every request answers 503 + Retry-After until all of them are loaded (loading-gate.ts).
   */
  dataFiles?: string[];
  /** Maximum number of bundles (patients) loaded per data file. */
  patients?: number;
  /** pino logger; `false` silences the sandbox; absent logs warnings and errors. */
  logger?: Logger | false;
  /**
   * Notification retry policy: attempts in total and the first backoff (doubling). Default: the
   * profile's (Medplum: 4 attempts from 1 s; the others 5 from 200 ms). Tests scale it down here.
   */
  notifyRetry?: { attempts: number; baseDelayMs: number };
  /** Which EHR to imitate (ehr-profiles.ts); default `generic`, the sandbox's own behaviour. */
  behave?: EhrProfileName;
  /** Single quirks on top of the profile's (ehr-quirks.ts); an explicit key replaces the profile's value. */
  quirks?: EhrQuirks;
  /** SMART Backend Services clients (id + public JWKS) the token endpoint accepts; needed by `epic`. */
  smartClients?: SmartClient[];
  /** Called once the port is bound, before the data files load (requests answer 503 meanwhile). */
  onListening?: (port: number, baseUrl: string) => void;
  /** Sees every HTTP request the sandbox answers, once answered (benchmarks count EHR round trips). */
  onResponse?: (request: SandboxRequestSeen) => void;
  /** Every request waits this long before it is handled, like a remote EHR's network and database (ms). */
  latencyMs?: number;
}

/** One answered request, as {@link SandboxOptions.onResponse} sees it. */
export interface SandboxRequestSeen {
  method: string;
  /** Path and query, e.g. `/fhir/R4/Observation?_lastUpdated=ge...`. */
  url: string;
  status: number;
  /** `Bundle.type` of a Bundle posted to the base (`batch` or `transaction`). */
  bundleType?: string;
  /** The W3C `traceparent` header the request came with, if any. */
  traceparent?: string;
  /** Time from its arrival to its answer (ms, `latencyMs` included). */
  elapsedMs: number;
}

/** Options that cannot work together (unknown profile, missing or bad SMART clients). */
export class SandboxOptionsError extends Error {}

/** A running sandbox EHR. */
export interface Sandbox {
  /** `http://127.0.0.1:PORT/fhir/R4` */
  baseUrl: string;
  port: number;
  repo: IndexedRepository;
  /** The profile it imitates. */
  profile: EhrProfile;
  /** The quirks in effect (the profile's, with `SandboxOptions.quirks` on top). */
  quirks: EhrQuirks;
  /** `http://127.0.0.1:PORT/oauth2/token` when SMART Backend Services are required. */
  tokenUrl?: string;
  /** Bulk-loads a Synthea file into the repository (no HTTP, no notifications). */
  loadFile(path: string, limit?: number): Promise<LoadResult>;
  /** Stops heartbeats and deliveries, then closes the HTTP server. */
  close(): Promise<void>;
  /** Test hooks of the subscription notifier. */
  notifier: {
    /** The next event for this Subscription consumes an event number but is not delivered. */
    skipNextEventNumber(subscriptionId: string): void;
    /** Notifications queued or in flight. */
    pending(): number;
    /** Resolves when no notification delivery is in flight or queued. */
    idle(): Promise<void>;
  };
}

/**
 * Starts the sandbox EHR: a FHIR R4 server (Medplum FhirRouter over an {@link IndexedRepository})
 * on fastify, with paging links, `$everything`, a CapabilityStatement, a Synthea loader and
 * rest-hook Subscriptions (R4 classic and R4 Backport topic-based), behaving like the EHR named by
 * `behave`. Resolves once the data files are loaded.
 */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const behave = opts.behave ?? 'generic';
  if (!isEhrProfileName(behave)) {
    throw new SandboxOptionsError(`Unknown sandbox profile '${behave}': use one of ${EHR_PROFILE_NAMES.join(', ')}`);
  }
  const profile = EHR_PROFILES[behave];
  const quirks = resolveQuirks(behave, opts.quirks);
  checkSmartClients(behave, quirks, opts.smartClients);
  loadFhirDefinitions();
  const logger = opts.logger === false ? pino({ level: 'silent' }) : (opts.logger ?? pino({ level: 'warn' }));
  const ctx: SandboxContext = { repo: new IndexedRepository(), baseUrl: '', logger, capabilityEdits: [] };
  const router = new FhirRouter();
  const notifier = new SubscriptionNotifier(ctx, opts.notifyRetry ?? profile.notifyRetry, notifierBehaviour(quirks));
  addSandboxRoutes(router, ctx, notifier, quirks.everything);
  const app = createHttpServer(ctx, router, { bulkExport: { requiresAccessToken: !!quirks.smartBackendAuth } });
  const gate = new LoadingGate();
  gate.install(app); // first hook: nothing answers before the data is loaded
  applyEhrQuirks(app, ctx, quirks, { smartClients: opts.smartClients });
  const onResponse = opts.onResponse;
  if (onResponse) {
    app.addHook('onResponse', async (req, reply) => {
      const body = req.body as { resourceType?: string; type?: string } | undefined;
      const bundleType = body?.resourceType === 'Bundle' ? body.type : undefined;
      const traceparent = typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined;
      const elapsedMs = reply.elapsedTime;
      onResponse({ method: req.method, url: req.url, status: reply.statusCode, bundleType, traceparent, elapsedMs });
    });
  }
  const latencyMs = opts.latencyMs ?? 0;
  if (latencyMs > 0) app.addHook('onRequest', (_req, _reply, done) => void setTimeout(done, latencyMs));
  const dataFiles = opts.dataFiles ?? [];
  if (dataFiles.length) gate.start(dataFiles.length);
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 0, host });
  const port = (app.server.address() as AddressInfo).port;
  ctx.baseUrl = `http://${urlHost(host)}:${port}${FHIR_BASE_PATH}`;
  opts.onListening?.(port, ctx.baseUrl);
  const loader = new SyntheaLoader(ctx.repo);
  const sandbox: Sandbox = {
    baseUrl: ctx.baseUrl,
    port,
    repo: ctx.repo,
    profile,
    quirks,
    tokenUrl: quirks.smartBackendAuth ? `http://${urlHost(host)}:${port}${TOKEN_PATH}` : undefined,
    loadFile: (path, limit) => loader.loadFile(path, limit),
    close: async () => {
      notifier.close();
      await app.close();
    },
    notifier: {
      skipNextEventNumber: (id) => notifier.skipNextEventNumber(id),
      pending: () => notifier.pending(),
      idle: () => notifier.idle(),
    },
  };
  try {
    let patients = 0;
    for (const [i, file] of dataFiles.entries()) {
      gate.update(i + 1, patients);
      patients += (await sandbox.loadFile(file, opts.patients)).patients;
    }
  } catch (err) {
    await sandbox.close();
    throw err;
  }
  gate.open();
  return sandbox;
}

/**
 * SMART Backend Services needs registered clients, and clients need the quirk; a public JWKS only
 * (a private key here would mean the client's secret was copied to the server).
 */
function checkSmartClients(behave: string, quirks: EhrQuirks, clients: SmartClient[] | undefined): void {
  if (quirks.smartBackendAuth && !clients?.length) {
    throw new SandboxOptionsError(
      `The ${behave} profile requires SMART Backend Services: pass smartClients: [{ clientId, jwks }] (CLI: --smart-client-id ID --smart-jwks FILE)`,
    );
  }
  if (!quirks.smartBackendAuth && clients?.length) {
    throw new SandboxOptionsError(
      `smartClients need SMART Backend Services, which the ${behave} profile does not require (use behave: epic, or quirks.smartBackendAuth)`,
    );
  }
  for (const client of clients ?? []) {
    const keys = client.jwks?.keys;
    if (!client.clientId || !Array.isArray(keys) || keys.length === 0) {
      throw new SandboxOptionsError(
        'Each SMART client needs a clientId and a JWKS with at least one key ({ "keys": [...] })',
      );
    }
    if (keys.some((k) => 'd' in k)) {
      throw new SandboxOptionsError(
        `The JWKS of client ${client.clientId} contains a private key: register the public keys only`,
      );
    }
    if (keys.some((k) => !k.kid))
      throw new SandboxOptionsError(`Every key in the JWKS of client ${client.clientId} needs a kid`);
    try {
      createLocalJWKSet(client.jwks);
    } catch (err) {
      throw new SandboxOptionsError(`The JWKS of client ${client.clientId} is malformed: ${(err as Error).message}`);
    }
  }
}

/** Host part of the base URL: wildcard addresses become loopback, IPv6 gets brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
