import { compareOutputs, latestOutputs, type VersionComparison } from '../governance/compare/compare-versions.js';
import { parseModelRef } from '../governance/model-registry-store.js';
import { parse, UsageError } from './args.js';
import type { CliIo } from './backfill.js';
import { openGovernanceDb } from './governance-db.js';
import { table } from './text-table.js';

/**
 * `fhir-assess models compare ID@A ID@B [--source NAME] [--format table|json]`: the evidence a
 * governance board reads before promoting B over A, from the audit trail's latest output per patient.
 */
export async function compareCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parse(argv, { source: { type: 'string' }, format: { type: 'string' } }, true);
  if (positionals.length !== 2 || !positionals.every((p) => parseModelRef(p)))
    throw new UsageError('models compare needs two model versions: ID@A ID@B (e.g. the live one and the shadow one)');
  const format = (values.format as string | undefined) ?? 'table';
  if (format !== 'table' && format !== 'json') throw new UsageError(`--format must be table or json, got '${format}'`);
  const [a, b] = positionals;
  const source = values.source as string | undefined;
  const db = await openGovernanceDb(env, io);
  try {
    const [outA, outB] = await Promise.all([latestOutputs(db, a, source), latestOutputs(db, b, source)]);
    const cmp = compareOutputs(a, b, outA, outB);
    io.out.write(format === 'json' ? `${JSON.stringify(cmp, null, 2)}\n` : report(cmp));
    return cmp.common ? 0 : 1;
  } finally {
    await db.end();
  }
}

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(2)} pp`);
const counts = (r: Record<string, number>) =>
  Object.entries(r)
    .map(([k, v]) => `${k} (${v})`)
    .join(', ') || '-';

/** The comparison in words and one table, for a terminal or the minutes. */
export function report(c: VersionComparison): string {
  const lines = [
    `${c.a} (A) vs ${c.b} (B): ${c.common} patient(s) assessed by both; ${c.onlyA} by A only, ${c.onlyB} by B only`,
  ];
  if (!c.common) return `${lines[0]}\nnothing to compare: run both versions on the same patients (B in shadow mode)\n`;
  if (c.differentRecords)
    lines.push(`note: for ${c.differentRecords} of them the latest outputs come from different versions of the record`);
  const head = ['calculator', 'patients', 'kappa', 'mean |Δ risk|', 'max |Δ risk|', 'category changed'];
  const rows = c.calculators.map((x) => [
    x.calculator,
    String(x.patients),
    Number.isNaN(x.kappa) ? '-' : x.kappa.toFixed(3),
    pct(x.meanAbsDiff),
    pct(x.maxAbsDiff),
    String(x.changedCategory.length),
  ]);
  lines.push('', table(head, rows), '');
  for (const x of c.calculators) {
    if (x.changedCategory.length) lines.push(`${x.calculator}: category changed for ${x.changedCategory.join('; ')}`);
    if (Object.keys(x.inputsOnlyA).length || Object.keys(x.inputsOnlyB).length)
      lines.push(
        `${x.calculator}: inputs used by A only: ${counts(x.inputsOnlyA)}; by B only: ${counts(x.inputsOnlyB)}`,
      );
  }
  return `${lines.join('\n')}\n`;
}
