import { loadConfigPart } from '../config/config-part.js';
import type { Database } from '../db/database.js';
import { queryAudit } from '../governance/audit-query.js';
import { checkEvidence } from '../governance/evidence.js';
import { announceChange } from '../governance/mode-resolver.js';
import { type VersionCounts, versionCounts } from '../governance/model-counts.js';
import {
  changeMode,
  getVersion,
  LifecycleError,
  type LifecycleMode,
  listVersions,
  parseModelRef,
  type VersionState,
} from '../governance/model-registry-store.js';
import { producerConnection, ready } from '../jobs/redis-connection.js';
import { parse, UsageError } from './args.js';
import type { CliIo } from './backfill.js';
import { openGovernanceDb } from './governance-db.js';
import { table } from './text-table.js';

export const MODELS_USAGE = `fhir-assess models list [--format table|json]       every model version: mode, approval, evidence, counts
  fhir-assess models show ID@VERSION                 one version, with its lifecycle history
  fhir-assess models promote ID@VERSION --to shadow|preliminary|final --by WHO --reason TEXT [--evidence REPORT_ID]
  fhir-assess models retire ID@VERSION --by WHO --reason TEXT
  fhir-assess models recall ID@VERSION --by WHO --reason TEXT [--rate N/s] [--source NAME]
                                                     stop a version now and mark every output it wrote entered-in-error
  fhir-assess models compare ID@A ID@B [--source NAME] [--format table|json]
                                                     shadow vs live on the same patients (kappa, risk differences)`;

/** `fhir-assess models ...`: the model registry (docs/governance.md). */
export async function modelsCommand(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  io: CliIo = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'recall') return (await import('./models-recall.js')).recallCommand(rest, env, io);
  if (sub === 'compare') return (await import('./models-compare.js')).compareCommand(rest, env, io);
  if (!['list', 'show', 'promote', 'retire'].includes(sub ?? ''))
    throw new UsageError(`models needs list, show, promote, retire, recall or compare\n${MODELS_USAGE}`);
  const { values, positionals } = parse(
    rest,
    {
      to: { type: 'string' },
      by: { type: 'string' },
      reason: { type: 'string' },
      evidence: { type: 'string' },
      format: { type: 'string' },
    },
    true,
  );
  const db = await openGovernanceDb(env, io);
  try {
    if (sub === 'list') return await list(db, io, (values.format as string | undefined) ?? 'table');
    const ref = modelRef(positionals);
    if (sub === 'show') return await show(db, io, ref);
    const to = (sub === 'retire' ? 'retired' : values.to) as LifecycleMode | undefined;
    if (!to || !['shadow', 'preliminary', 'final', 'retired'].includes(to))
      throw new UsageError('--to must be shadow, preliminary or final (retire with `models retire`)');
    const by = required(values.by, '--by WHO (the person approving)');
    const reason = required(values.reason, '--reason TEXT');
    return await promote(db, env, io, { ...ref, to, by, reason, evidence: values.evidence as string | undefined });
  } catch (err) {
    if (!(err instanceof LifecycleError)) throw err;
    io.err.write(`error: ${err.message}\n`);
    return 1;
  } finally {
    await db.end();
  }
}

export function modelRef(positionals: string[], n = 1): { modelId: string; version: string } {
  const ref = positionals.length === n ? parseModelRef(positionals[0]) : undefined;
  if (!ref) throw new UsageError('name the model version as ID@VERSION (see `fhir-assess models list`)');
  return ref;
}

export function required(v: unknown, what: string): string {
  if (typeof v !== 'string' || !v.trim()) throw new UsageError(`missing ${what}`);
  return v.trim();
}

async function promote(
  db: Database,
  env: Record<string, string | undefined>,
  io: CliIo,
  c: { modelId: string; version: string; to: LifecycleMode; by: string; reason: string; evidence?: string },
): Promise<number> {
  if (c.evidence) {
    const found = await checkEvidence(db, c.evidence);
    if (found === 'missing') throw new LifecycleError(`no validation report '${c.evidence}' in this database`);
    if (found === 'unchecked')
      io.err.write(`note: this database keeps no validation reports; evidence '${c.evidence}' recorded unchecked\n`);
  }
  const { before, after, changed } = await changeMode(db, c);
  const ref = `${c.modelId}@${c.version}`;
  if (!changed) {
    io.out.write(
      `${ref} is already ${after.mode} (set by ${after.changedBy ?? '?'} at ${after.changedAt}); nothing changed\n`,
    );
    return 0;
  }
  await announce(env, ref);
  io.out.write(
    `${ref}: ${before.mode} → ${after.mode} by ${c.by}; running workers apply it within seconds, without a restart\n`,
  );
  return 0;
}

/** Tells running workers at once (they also re-read within 5 s if the notice is lost). */
export async function announce(env: Record<string, string | undefined>, ref: string): Promise<void> {
  const cfg = loadConfigPart(env, ['REDIS_URL', 'QUEUE_PREFIX']);
  const redis = producerConnection(cfg.REDIS_URL);
  try {
    await ready(redis);
    await announceChange(redis, cfg.QUEUE_PREFIX, ref);
  } catch {
    // The registry is the authority; workers re-read it within MODE_CACHE_TTL_MS anyway.
  } finally {
    redis.disconnect();
  }
}

async function list(db: Database, io: CliIo, format: string): Promise<number> {
  if (format !== 'table' && format !== 'json') throw new UsageError(`--format must be table or json, got '${format}'`);
  const [versions, counts] = await Promise.all([listVersions(db), versionCounts(db)]);
  const rows = versions.map((v) => ({ ...v, counts: counts.get(`${v.modelId}@${v.version}`) ?? zero() }));
  if (format === 'json') {
    io.out.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (!rows.length) {
    io.out.write('no model versions yet: they are registered when a worker first runs them\n');
    return 0;
  }
  const head = [
    'model@version',
    'mode',
    'set by',
    'when',
    'evidence',
    'assessments',
    'confirmed',
    'amended',
    'rejected',
  ];
  const cells = rows.map((r) => [
    `${r.modelId}@${r.version}`,
    r.explicit ? r.mode : `${r.mode} (config)`,
    r.explicit ? (r.changedBy ?? '-') : '-',
    r.explicit ? r.changedAt.slice(0, 19).replace('T', ' ') : '-',
    r.evidence ?? '-',
    ...countCells(r.counts),
  ]);
  io.out.write(`${table(head, cells)}\n`);
  return 0;
}

async function show(db: Database, io: CliIo, ref: { modelId: string; version: string }): Promise<number> {
  const v = await getVersion(db, ref.modelId, ref.version);
  const name = `${ref.modelId}@${ref.version}`;
  if (!v) {
    io.err.write(`no version ${name} has run here (see \`fhir-assess models list\`)\n`);
    return 1;
  }
  const counts = (await versionCounts(db)).get(name) ?? zero();
  const history = await queryAudit(db, { model: name, action: ['promotion', 'recall', 'recall-completed'] }, 1000);
  io.out.write(describe(v, counts));
  io.out.write('\nlifecycle history (audit trail):\n');
  if (!history.length) io.out.write('  (no explicit act yet: the configured mode applies)\n');
  // The recall's start (from → to) and end; its per-assessment withdrawals are in `fhir-assess audit --model`.
  for (const h of history.filter((x) => x.entry.action !== 'recall' || x.entry.detail?.to)) {
    const d = h.entry.detail ?? {};
    const what =
      h.entry.action === 'recall-completed'
        ? `recall finished: ${d.withdrawn} output(s) withdrawn`
        : `${d.from} → ${d.to}`;
    io.out.write(
      `  #${h.seq} ${h.entry.recorded}  ${what}  by ${h.entry.actor ?? '-'}${d.evidence ? `  evidence ${d.evidence}` : ''}  reason: ${d.reason ?? '-'}\n`,
    );
  }
  return 0;
}

function describe(v: VersionState, c: VersionCounts): string {
  return [
    `${v.modelId}@${v.version}`,
    `  mode:        ${v.mode}${v.explicit ? '' : ' (from configuration: no explicit act yet)'}`,
    `  set by:      ${v.explicit ? `${v.changedBy ?? '-'} at ${v.changedAt}` : '-'}`,
    `  evidence:    ${v.evidence ?? '-'}`,
    `  reason:      ${v.reason ?? '-'}`,
    `  first run:   ${v.firstSeen}`,
    `  assessments: ${c.assessments} (blocked after a stop: ${c.blocked})`,
    `  reviews:     ${c.confirmed} confirmed, ${c.amended} amended, ${c.rejected} rejected`,
    '',
  ].join('\n');
}

const zero = (): VersionCounts => ({ assessments: 0, blocked: 0, confirmed: 0, amended: 0, rejected: 0 });
const countCells = (c: VersionCounts) => [c.assessments, c.confirmed, c.amended, c.rejected].map(String);
