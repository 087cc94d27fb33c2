import { loadConfigPart } from '../config/config-part.js';
import { csvHeader, csvLine, ndjsonLine, tableLine } from '../governance/audit-export.js';
import { type AuditFilter, streamAudit } from '../governance/audit-query.js';
import { purgeAudit } from '../governance/audit-retention.js';
import { AUDIT_ACTIONS, type AuditAction } from '../governance/audit-trail.js';
import { verifyChain } from '../governance/audit-verify.js';
import { intOption, parse, UsageError } from './args.js';
import type { CliIo } from './backfill.js';
import { openGovernanceDb } from './governance-db.js';

export const AUDIT_USAGE = `fhir-assess audit [--patient Patient/ID] [--model ID[@VERSION]] [--action A,...] [--entity Type/ID]
                  [--actor REF] [--since DATE] [--until DATE] [--format table|csv|ndjson] [--limit N]
  fhir-assess audit verify                           check the hash chain (exit 1 when broken)
  fhir-assess audit purge                            remove records older than AUDIT_RETENTION_DAYS`;

const ACTIONS: readonly AuditAction[] = AUDIT_ACTIONS;

/** `fhir-assess audit ...`: read, export and check the audit trail (docs/governance.md). */
export async function auditCommand(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  io: CliIo = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const sub = argv[0] === 'verify' || argv[0] === 'purge' ? argv[0] : undefined;
  const { values } = parse(sub ? argv.slice(1) : argv, {
    patient: { type: 'string' },
    model: { type: 'string' },
    action: { type: 'string' },
    entity: { type: 'string' },
    actor: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    format: { type: 'string' },
    limit: { type: 'string' },
  });
  const filter = sub ? {} : filterOf(values);
  const format = (values.format as string | undefined) ?? 'table';
  if (!['table', 'csv', 'ndjson'].includes(format))
    throw new UsageError(`--format must be table, csv or ndjson, got '${format}'`);
  const limit = intOption(
    values.limit as string | undefined,
    'limit',
    format === 'table' ? 50 : Number.MAX_SAFE_INTEGER,
  );
  const db = await openGovernanceDb(env, io);
  try {
    if (sub === 'verify') return await verify(db, io);
    if (sub === 'purge') {
      const days = loadConfigPart(env, ['AUDIT_RETENTION_DAYS']).AUDIT_RETENTION_DAYS;
      const r = await purgeAudit(db, days);
      io.out.write(
        r.removed
          ? `removed ${r.removed} record(s) older than ${days} days (through #${r.upToSeq}); the chain continues from its hash\n`
          : `nothing older than ${days} days\n`,
      );
      return 0;
    }
    if (format === 'csv') io.out.write(csvHeader());
    let n = 0;
    for await (const row of streamAudit(db, filter)) {
      if (n++ >= limit) break;
      io.out.write(format === 'csv' ? csvLine(row) : format === 'ndjson' ? ndjsonLine(row) : `${tableLine(row)}\n`);
    }
    if (format === 'table' && n === 0) io.out.write('no audit records match\n');
    return 0;
  } finally {
    await db.end();
  }
}

async function verify(db: Parameters<typeof verifyChain>[0], io: CliIo): Promise<number> {
  const r = await verifyChain(db);
  const from = r.startsAfter ? `after the retention anchor #${r.startsAfter.seq}` : 'from the first record';
  if (r.ok) {
    io.out.write(
      `audit chain verifies: ${r.checked} record(s) ${from}; head #${r.head?.seq ?? '-'} ${r.head?.hash ?? '(empty)'}\n`,
    );
    io.out.write(
      'keep the head hash somewhere else (e.g. the governance minutes): a later verify that ends before it means records were cut off\n',
    );
    return 0;
  }
  io.out.write(
    `audit chain BROKEN at record #${r.broken?.seq}: ${r.broken?.problem} (${r.checked} record(s) before it verify)\n`,
  );
  return 1;
}

function filterOf(v: Record<string, unknown>): AuditFilter {
  const date = (x: unknown, name: string) => {
    if (x === undefined) return undefined;
    const s = String(x);
    if (Number.isNaN(Date.parse(s)))
      throw new UsageError(`--${name} must be a date or instant (e.g. 2025-01-31), got '${s}'`);
    return new Date(s).toISOString();
  };
  const actions = v.action === undefined ? undefined : String(v.action).split(',');
  const bad = actions?.filter((a) => !ACTIONS.includes(a as AuditAction));
  if (bad?.length) throw new UsageError(`--action: unknown ${bad.join(', ')}; one or more of ${ACTIONS.join(', ')}`);
  const ref = (x: unknown, name: string, type?: string) => {
    if (x === undefined) return undefined;
    const s = String(x);
    if (!/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(s) || (type && !s.startsWith(`${type}/`)))
      throw new UsageError(`--${name} must be a reference like ${type ?? 'RiskAssessment'}/123, got '${s}'`);
    return s;
  };
  return {
    patient: ref(v.patient, 'patient', 'Patient'),
    model: v.model as string | undefined,
    action: actions as AuditAction[] | undefined,
    entity: ref(v.entity, 'entity'),
    actor: v.actor as string | undefined,
    since: date(v.since, 'since'),
    until: date(v.until, 'until'),
  };
}
