import type { Bundle, Device, Provenance } from '@medplum/fhirtypes';
import { Pacer } from '../../backfill/pacer.js';
import type { Database } from '../../db/database.js';
import { inTransaction } from '../../db/transaction.js';
import type { FhirClient } from '../../fhir/fhir-client.js';
import type { RedisClient } from '../../jobs/redis-connection.js';
import { DEVICE_ID_SYSTEM } from '../../writeback/ai-transparency.js';
import type { ShadowStore } from '../../writeback/shadow-store.js';
import { type AuditEntry, appendAudit } from '../audit-trail.js';
import { announceChange } from '../mode-resolver.js';
import { changeMode } from '../model-registry-store.js';
import { loadProgress, type SourceProgress, saveProgress } from './recall-progress-store.js';
import { type RecallInfo, type Withdrawal, withdrawAssessment } from './withdraw-assessment.js';

/** Model Provenances read per search page. */
const PAGE_SIZE = 50;

export interface RecallOptions {
  modelId: string;
  version: string;
  reason: string;
  by: string;
  serviceVersion: string;
  /** Assessments withdrawn per second, all EHRs together (0 = unpaced). */
  ratePerSecond: number;
  db: Database;
  /** Every EHR the version may have written to. */
  sources: { name: string; client: FhirClient }[];
  /** Announces the stop to running workers, and holds the shadow store. */
  redis: RedisClient;
  prefix: string;
  shadow: ShadowStore;
  onProgress?: (p: RecallProgress) => void;
  now?: () => Date;
}

export interface RecallProgress {
  source: string;
  /** Assessments found so far on this EHR (its search total when it gives one). */
  total?: number;
  assessments: number;
  withdrawn: number;
  resumed: boolean;
}

export interface RecallResult {
  /** False when the version was recalled by an earlier run (this one resumed or found it finished). */
  newlyRecalled: boolean;
  shadowDropped: number;
  perSource: SourceProgress[];
  /** Assessments processed and resources changed by every run of this recall together. */
  assessments: number;
  withdrawn: number;
}

/**
 * Recalls a model version: first stops it everywhere (the registry row becomes `recalled`, which waits
 * for write-backs in flight and is seen by every later one; running workers are told at once), drops
 * its shadow-store records, then walks every EHR's Provenances authored by the version's Device and
 * withdraws each assessment (entered-in-error + a recall Provenance), paced, with a checkpoint after
 * each one. Re-running resumes from the checkpoint; a finished recall changes nothing.
 */
export async function runRecall(o: RecallOptions): Promise<RecallResult> {
  const now = o.now ?? (() => new Date());
  const model = `${o.modelId}@${o.version}`;
  const { changed } = await changeMode(
    o.db,
    { modelId: o.modelId, version: o.version, to: 'recalled', by: o.by, reason: o.reason, now: now() },
    { recall: true },
  );
  await o.db.query(
    'INSERT INTO recalls (model_id, version, reason, requested_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
    [o.modelId, o.version, o.reason, o.by],
  );
  await announceChange(o.redis, o.prefix, model).catch(() => {}); // workers re-read within seconds anyway
  let shadowDropped = 0;
  for (const s of o.sources) shadowDropped += await o.shadow.dropVersion(s.name, o.modelId, o.version);
  const pacer = new Pacer(o.ratePerSecond);
  const info: RecallInfo = { model, reason: o.reason, by: o.by, serviceVersion: o.serviceVersion };
  const perSource: SourceProgress[] = [];
  for (const s of o.sources) perSource.push(await recallOnSource(o, s, info, pacer, now));
  const assessments = perSource.reduce((n, p) => n + p.assessments, 0);
  const withdrawn = perSource.reduce((n, p) => n + p.withdrawn, 0);
  await recordCompletion(o, model, assessments, withdrawn, now());
  return { newlyRecalled: changed, shadowDropped, perSource, assessments, withdrawn };
}

async function recallOnSource(
  o: RecallOptions,
  s: { name: string; client: FhirClient },
  info: RecallInfo,
  pacer: Pacer,
  now: () => Date,
): Promise<SourceProgress> {
  const version = { modelId: o.modelId, version: o.version };
  const p = await loadProgress(o.db, version, s.name);
  if (p.done) return p;
  const resumed = p.assessments > 0 || !!p.pageUrl;
  const device = await modelDevice(s.client, info.model);
  let url: string | undefined =
    p.pageUrl ?? (device ? `Provenance?agent=Device/${device}&_count=${PAGE_SIZE}` : undefined);
  let total: number | undefined;
  while (url) {
    const page: Bundle = await s.client.get<Bundle>(url);
    total ??= page.total;
    const provenances = (page.entry ?? [])
      .map((e) => e.resource)
      .filter((r): r is Provenance => r?.resourceType === 'Provenance');
    for (let i = p.pageUrl === url ? p.pageIndex : 0; i < provenances.length; i++) {
      await pacer.next();
      const w = await withdrawAssessment(s.client, provenances[i], info, now());
      // Counted from the EHR's state (every output withdrawn by this recall), so a crash does not lose any.
      p.withdrawn += w.targets.length;
      p.assessments++;
      Object.assign(p, { pageUrl: url, pageIndex: i + 1 });
      await checkpoint(o.db, version, p, w.targets.length ? withdrawalEntry(info, s.name, w, now()) : undefined);
      o.onProgress?.({ source: s.name, total, assessments: p.assessments, withdrawn: p.withdrawn, resumed });
    }
    url = page.link?.find((l) => l.relation === 'next')?.url;
    Object.assign(p, { pageUrl: url, pageIndex: 0 });
    await saveProgress(o.db, version, p);
  }
  p.done = true;
  await saveProgress(o.db, version, p);
  o.onProgress?.({ source: s.name, total: p.assessments, assessments: p.assessments, withdrawn: p.withdrawn, resumed });
  return p;
}

/**
 * The checkpoint and the assessment's audit record in one transaction: a crash before it commits
 * redoes the assessment (idempotent in the EHR) and records it then, so each is audited once.
 */
async function checkpoint(
  db: Database,
  version: { modelId: string; version: string },
  p: SourceProgress,
  entry?: AuditEntry,
): Promise<void> {
  await inTransaction(db, async (client) => {
    if (entry) await appendAudit(client, entry);
    await saveProgress(client, version, p);
  });
}

function withdrawalEntry(info: RecallInfo, source: string, w: Withdrawal, at: Date): AuditEntry {
  return {
    action: 'recall',
    recorded: at.toISOString(),
    source,
    patient: w.patient,
    model: info.model,
    mode: 'recalled',
    written: w.targets,
    actor: info.by,
    detail: { changed: w.changed, reason: info.reason },
  };
}

/** The id of the version's Device on this EHR; undefined when it never wrote there. */
async function modelDevice(client: FhirClient, model: string): Promise<string | undefined> {
  const found = await client.searchAll<Device>('Device', { identifier: `${DEVICE_ID_SYSTEM}|${model}` });
  return found.find((d) => d.identifier?.some((i) => i.system === DEVICE_ID_SYSTEM && i.value === model))?.id;
}

/** Marks the recall finished and audits it, once (a later re-run finds `finished_at` set). */
async function recordCompletion(o: RecallOptions, model: string, assessments: number, withdrawn: number, at: Date) {
  await inTransaction(o.db, async (client) => {
    const r = await client.query(
      'UPDATE recalls SET finished_at = $3 WHERE model_id = $1 AND version = $2 AND finished_at IS NULL',
      [o.modelId, o.version, at.toISOString()],
    );
    if (r.rowCount)
      await appendAudit(client, {
        action: 'recall-completed',
        recorded: at.toISOString(),
        model,
        mode: 'recalled',
        actor: o.by,
        detail: { assessments, withdrawn, sources: o.sources.map((s) => s.name), reason: o.reason },
      });
  });
}
