import type { AddressInfo } from 'node:net';
import { FhirRouter } from '@medplum/fhir-router';
import { type Logger, pino } from 'pino';
import { loadFhirDefinitions } from '../fhir/definitions.js';
import { DEFAULT_NOTIFY_RETRY, FHIR_BASE_PATH } from './constants.js';
import type { SandboxContext } from './context.js';
import { applyEhrQuirks, type EhrQuirks } from './ehr-quirks.js';
import { addSandboxRoutes } from './fhir-routes.js';
import { createHttpServer } from './http-server.js';
import { IndexedRepository } from './indexed-repository.js';
import { SubscriptionNotifier } from './subscription-notifier.js';
import { type LoadResult, SyntheaLoader } from './synthea-loader.js';

export { PATIENT_DATA_CHANGED_TOPIC, SUPPORTED_TOPICS } from './constants.js';
export { IndexedRepository, type ResourceChange } from './indexed-repository.js';
export type { LoadResult } from './synthea-loader.js';

/** Options of {@link startSandbox}. */
export interface SandboxOptions {
  /** TCP port; 0 or absent picks a free port. */
  port?: number;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** ndjson(.gz)/json(.gz) files loaded before `startSandbox` resolves. */
  dataFiles?: string[];
  /** Maximum number of bundles (patients) loaded per data file. */
  patients?: number;
  /** pino logger; `false` silences the sandbox; absent logs warnings and errors. */
  logger?: Logger | false;
  /** Notification retry policy; default 5 attempts, 200 ms base delay (doubling). */
  notifyRetry?: { attempts: number; baseDelayMs: number };
  /** Imitate real EHR behaviours (no transactions, non-atomic conditional create); see ehr-quirks.ts. */
  quirks?: EhrQuirks;
}

/** A running sandbox EHR. */
export interface Sandbox {
  /** `http://127.0.0.1:PORT/fhir/R4` */
  baseUrl: string;
  port: number;
  repo: IndexedRepository;
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
 * rest-hook Subscriptions (R4 classic and R4 Backport topic-based).
 */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  loadFhirDefinitions();
  const logger = opts.logger === false ? pino({ level: 'silent' }) : (opts.logger ?? pino({ level: 'warn' }));
  const ctx: SandboxContext = { repo: new IndexedRepository(), baseUrl: '', logger };
  const router = new FhirRouter();
  const notifier = new SubscriptionNotifier(
    ctx,
    opts.notifyRetry ?? DEFAULT_NOTIFY_RETRY,
    opts.quirks?.subscriptionActivation ?? 'standard',
  );
  addSandboxRoutes(router, ctx, notifier);
  const app = createHttpServer(ctx, router);
  applyEhrQuirks(app, ctx.repo, opts.quirks ?? {});
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 0, host });
  const port = (app.server.address() as AddressInfo).port;
  ctx.baseUrl = `http://${urlHost(host)}:${port}${FHIR_BASE_PATH}`;
  const loader = new SyntheaLoader(ctx.repo);
  const sandbox: Sandbox = {
    baseUrl: ctx.baseUrl,
    port,
    repo: ctx.repo,
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
    for (const file of opts.dataFiles ?? []) await sandbox.loadFile(file, opts.patients);
  } catch (err) {
    await sandbox.close();
    throw err;
  }
  return sandbox;
}

/** Host part of the base URL: wildcard addresses become loopback, IPv6 gets brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
