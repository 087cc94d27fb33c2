import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { line, progressReporter } from '../backfill/progress-bar.js';
import { backfillRateCap } from '../backfill/rate-cap.js';
import { type BackfillOptions, type BackfillProgress, runBackfill, type Selection } from '../backfill/run-backfill.js';
import { type Config, loadConfig } from '../config/config.js';
import { FHIR_ID } from '../fhir/fhir-id.js';
import { SourceRegistry } from '../fhir/source-client.js';
import { createAssessQueue } from '../jobs/assess-queue.js';
import { producerConnection, ready } from '../jobs/redis-connection.js';
import { createEmbeddedModel } from '../models/embedded-model.js';
import type { Model } from '../models/model.js';
import { parse, UsageError } from './args.js';

/** Exit code of a backfill that ran to its end but in which assessments failed (documented in docs/operations.md). */
export const EXIT_ASSESSMENTS_FAILED = 3;
/** Exit code of an interrupted backfill (128 + SIGINT): the checkpoint is kept. */
export const EXIT_INTERRUPTED = 130;

/** Default enqueue rate, patients per second: gentle enough for a production EHR beside live traffic. */
const DEFAULT_RATE_PER_S = 10;

export const BACKFILL_USAGE = `fhir-assess backfill (--all | --group ID | --patients FILE) [--since DATE] [--models ID,...]
    [--rate N/s] [--dry-run] [--source NAME] [--strategy auto|bulk|search] [--restart] [--detach] [--quiet]`;

export interface CliIo {
  out: Writable & { isTTY?: boolean };
  err: Writable & { isTTY?: boolean };
}

/**
 * `fhir-assess backfill`: assesses a population at backfill priority (below live events), enumerated
 * with Bulk `$export` when the EHR offers it, else by paging; resumable (run the same command again,
 * which also retries the assessments of a finished run that failed).
 * @returns 0 when finished without failures (or detached / dry run), 3 when assessments failed,
 *   130 when interrupted (the checkpoint is kept)
 */
export async function backfillCommand(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  io: CliIo = { out: process.stdout, err: process.stderr },
  models: Model[] = [createEmbeddedModel()],
): Promise<number> {
  const { values: v } = parse(argv, OPTIONS);
  const selection = parseSelection(v.all === true, v.group as string | undefined, v.patients as string | undefined);
  const cfg = loadConfig(env);
  const opts = backfillOptions(v, cfg, selection, models);
  const redis = producerConnection(cfg.REDIS_URL);
  const assessQueue = createAssessQueue(redis, cfg.QUEUE_PREFIX);
  const controller = new AbortController();
  const stop = () => controller.abort(); // the checkpoint is saved before the run returns
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const quiet = v.quiet === true || opts.dryRun === true;
  const cap = backfillRateCap(opts.ratePerSecond, cfg.EHR_RATE_LIMIT);
  if (!quiet) io.err.write(`${cap.message}\n`);
  const progress = progressReporter(io.err, quiet, cap.perSecond);
  try {
    await ready(redis);
    const deps = {
      sources: new SourceRegistry(cfg.sources),
      assessQueue,
      redis,
      prefix: cfg.QUEUE_PREFIX,
      redisUrl: cfg.REDIS_URL,
      modelTypes: [...new Set(models.flatMap((m) => m.requires.resourceTypes))],
    };
    const result = await runBackfill(deps, {
      ...opts,
      signal: controller.signal,
      onProgress: (p) => progress.update(p),
    });
    progress.stop();
    return report(result, io);
  } finally {
    progress.stop();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await assessQueue.close();
    redis.disconnect();
  }
}

const OPTIONS = {
  all: { type: 'boolean' },
  group: { type: 'string' },
  patients: { type: 'string' },
  since: { type: 'string' },
  models: { type: 'string' },
  rate: { type: 'string' },
  'dry-run': { type: 'boolean' },
  source: { type: 'string' },
  strategy: { type: 'string' },
  restart: { type: 'boolean' },
  detach: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

function backfillOptions(
  v: Record<string, string | boolean | string[] | undefined>,
  cfg: Config,
  selection: Selection,
  models: Model[],
): BackfillOptions {
  const source = (v.source as string | undefined) ?? cfg.sources[0].name;
  if (!cfg.sources.some((s) => s.name === source))
    throw new UsageError(
      `--source: unknown source '${source}'; configured: ${cfg.sources.map((s) => s.name).join(', ')}`,
    );
  return {
    source,
    selection,
    since: parseSince(v.since as string | undefined),
    models: parseModels(v.models as string | undefined, models),
    ratePerSecond: parseRate(v.rate as string | undefined),
    strategy: parseStrategy(v.strategy as string | undefined),
    dryRun: v['dry-run'] === true,
    restart: v.restart === true,
    wait: v.detach !== true,
  };
}

/** Prints the outcome: 130 when interrupted (resumable), 3 when assessments failed, else 0. */
function report(result: BackfillProgress, io: CliIo): number {
  io.out.write(`${line(result)}\n`);
  if (result.status) io.out.write(`${result.status}\n`);
  if (result.phase === 'interrupted') {
    io.out.write('interrupted: the checkpoint is kept in Redis; run the same command again to resume\n');
    return EXIT_INTERRUPTED;
  }
  if (result.failed === 0) return 0;
  const finished = result.done + result.failed + result.skipped;
  const { reasons = [], sampled = 0 } = result.failures ?? {};
  const of = sampled < result.failed ? ` (reasons of ${sampled} of them)` : '';
  io.out.write(`${result.failed} of ${finished} assessment(s) failed${reasons.length ? `${of}:` : ''}\n`);
  for (const r of reasons) {
    const example = `${r.patientId ? `Patient/${r.patientId}, ` : ''}job ${r.jobId}`;
    io.out.write(`  ${r.count} × ${r.reason} (e.g. ${example})\n`);
  }
  io.out.write('every failed job with its reason: fhir-assess jobs failed --queue assess\n');
  io.out.write(
    'to retry once the cause is fixed: run this same command again (it retries the failed assessments of this run), ' +
      'or fhir-assess jobs retry --all (every failed job of every queue)\n',
  );
  return EXIT_ASSESSMENTS_FAILED;
}

function parseSelection(all: boolean, group: string | undefined, file: string | undefined): Selection {
  const chosen = [all, group !== undefined, file !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('backfill needs exactly one of --all, --group ID, --patients FILE');
  if (all) return { kind: 'all' };
  if (group !== undefined) {
    if (!FHIR_ID.test(group)) throw new UsageError(`--group must be a FHIR id, got '${group}'`);
    return { kind: 'group', id: group };
  }
  return { kind: 'patients', file: file as string, ids: readPatientsFile(file as string) };
}

/** One patient per line (`id` or `Patient/id`); blank lines and `#` comments are ignored. */
export function readPatientsFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--patients: cannot read ${file}: ${(err as Error).message}`);
  }
  const ids: string[] = [];
  const bad: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const l = raw.trim();
    if (!l || l.startsWith('#')) return;
    const id = l.replace(/^Patient\//, '');
    if (FHIR_ID.test(id)) ids.push(id);
    else bad.push(i + 1);
  });
  if (bad.length)
    throw new UsageError(`--patients: line(s) ${bad.slice(0, 5).join(', ')} of ${file} are not patient ids`);
  return [...new Set(ids)];
}

function parseSince(since: string | undefined): string | undefined {
  if (since === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(since) || Number.isNaN(Date.parse(since)))
    throw new UsageError(`--since must be a date YYYY-MM-DD or an instant, got '${since}'`);
  return since;
}

/** `--rate N` or `N/s` (0 = unpaced). */
export function parseRate(rate: string | undefined, fallback = DEFAULT_RATE_PER_S, what = 'patients'): number {
  if (rate === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(rate);
  if (!m) throw new UsageError(`--rate must be ${what} per second, e.g. 5 or 5/s, got '${rate}'`);
  return Number(m[1]);
}

function parseStrategy(s: string | undefined): BackfillOptions['strategy'] {
  if (s === undefined || s === 'auto' || s === 'bulk' || s === 'search') return s ?? 'auto';
  throw new UsageError(`--strategy must be auto, bulk or search, got '${s}'`);
}

function parseModels(list: string | undefined, models: Model[]): string[] | undefined {
  if (list === undefined) return undefined;
  const ids = list
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  const unknown = ids.filter((id) => !models.some((m) => m.id === id));
  if (!ids.length || unknown.length)
    throw new UsageError(
      `--models: unknown model(s) ${unknown.join(', ') || '(none given)'}; available: ${models.map((m) => m.id).join(', ')}`,
    );
  return ids;
}
