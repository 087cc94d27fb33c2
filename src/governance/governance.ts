import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import type { WriteBackResult } from '../writeback/write-back.js';
import type { StoppedMode, WriteGate } from '../writeback/write-gate.js';
import { purgeAudit } from './audit-retention.js';
import type { AuditEntry } from './audit-trail.js';
import { ModeResolver } from './mode-resolver.js';
import { type LifecycleMode, registerConfigured } from './model-registry-store.js';
import { versionGate } from './version-gate.js';

/** What the workers need from governance: the mode each version runs in, and the gate before each write. */
export interface Governance {
  db: Database;
  resolver: ModeResolver;
  gate(
    version: { modelId: string; version: string; configured: LifecycleMode },
    audit: (result: WriteBackResult | StoppedMode, mode: LifecycleMode) => AuditEntry,
  ): WriteGate;
  close(): Promise<void>;
}

export interface GovernanceOptions {
  redisUrl: string;
  prefix: string;
  logger: Logger;
  /** The versions this process runs, with their configured modes (registered so `models list` shows them). */
  versions: { modelId: string; version: string; mode: LifecycleMode }[];
  /** AUDIT_RETENTION_DAYS: records older than this are purged at start-up and once a day. */
  retentionDays: number;
}

/** How often a worker process runs the retention purge (ms): daily. */
const PURGE_EVERY_MS = 24 * 3600 * 1000;

/** Registers the configured versions and listens for registry changes (a worker process). */
export async function startGovernance(db: Database, opts: GovernanceOptions): Promise<Governance> {
  await registerConfigured(db, opts.versions);
  const configured = new Map(opts.versions.map((v) => [v.modelId, v.mode]));
  const resolver = new ModeResolver(db, (id) => configured.get(id) ?? 'preliminary');
  await resolver.listen(opts.redisUrl, opts.prefix, opts.logger);
  const purge = () =>
    purgeAudit(db, opts.retentionDays).then(
      (r) => r.removed && opts.logger.info({ removed: r.removed, upToSeq: r.upToSeq }, 'audit trail: retention purge'),
      (err: Error) => opts.logger.warn({ err: err.message }, 'audit trail: retention purge failed; retried tomorrow'),
    );
  void purge();
  const timer = setInterval(purge, PURGE_EVERY_MS);
  timer.unref();
  return {
    db,
    resolver,
    gate: (version, audit) => versionGate(db, version, audit),
    close: async () => {
      clearInterval(timer);
      await resolver.close();
    },
  };
}
