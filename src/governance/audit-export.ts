import type { AuditRow } from './audit-trail.js';

/** CSV columns of `fhir-assess audit --format csv` (one row per record; lists joined with spaces). */
export const CSV_COLUMNS = [
  'seq',
  'recorded',
  'action',
  'source',
  'patient',
  'model',
  'mode',
  'actor',
  'record_hash',
  'assessment',
  'predictions',
  'inputs_used',
  'inputs_missing',
  'written',
  'job_id',
  'trace_id',
  'detail',
  'prev_hash',
  'hash',
] as const;

/** RFC 4180 field: quoted when it holds a comma, quote or line break. */
function field(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

/** One record as a CSV line: predictions as `calculator=probability/risk`, lists space-separated. */
export function csvLine(r: AuditRow): string {
  const e = r.entry;
  const predictions = (e.predictions ?? [])
    .map((p) => `${p.calculator}=${p.probability ?? p.score ?? ''}${p.risk ? `/${p.risk}` : ''}`)
    .join(' ');
  const missing = (e.inputsMissing ?? []).map((m) => `${m.calculator}:${m.name}:${m.reason}`).join(' ');
  const values = [
    r.seq,
    e.recorded,
    e.action,
    e.source,
    e.patient,
    e.model,
    e.mode,
    e.actor,
    e.recordHash,
    e.assessment,
    predictions,
    (e.inputsUsed ?? []).join(' '),
    missing,
    (e.written ?? []).join(' '),
    e.jobId,
    e.traceId,
    e.detail ? JSON.stringify(e.detail) : '',
    r.prevHash,
    r.hash,
  ];
  return `${values.map(field).join(',')}\r\n`;
}

/** One record as an NDJSON line: the hashed record plus its place in the chain. */
export function ndjsonLine(r: AuditRow): string {
  return `${JSON.stringify({ seq: r.seq, ...r.entry, prevHash: r.prevHash, hash: r.hash })}\n`;
}

/** One short line for a terminal. */
export function tableLine(r: AuditRow): string {
  const e = r.entry;
  const what =
    e.action === 'inference' || e.action === 'inference-blocked'
      ? (e.predictions ?? [])
          .map(
            (p) =>
              `${p.calculator} ${p.probability !== undefined ? `${(p.probability * 100).toFixed(1)}%` : (p.score ?? '-')}${p.risk ? ` ${p.risk}` : ''}`,
          )
          .join(', ')
      : JSON.stringify(e.detail ?? {});
  return [
    `#${r.seq}`,
    e.recorded,
    e.action,
    e.patient ?? '-',
    e.model ?? '-',
    e.mode ?? '-',
    e.actor ?? '-',
    what,
  ].join('  ');
}
