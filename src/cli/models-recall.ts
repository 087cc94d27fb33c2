import { SingleBar } from 'cli-progress';
import { loadConfig } from '../config/config.js';
import { loadFhirDefinitions } from '../fhir/definitions.js';
import { SourceRegistry } from '../fhir/source-client.js';
import { LifecycleError } from '../governance/model-registry-store.js';
import { type RecallProgress, runRecall } from '../governance/recall/run-recall.js';
import { producerConnection, ready } from '../jobs/redis-connection.js';
import { SERVICE_VERSION } from '../version.js';
import { ShadowStore } from '../writeback/shadow-store.js';
import { parse, UsageError } from './args.js';
import { type CliIo, parseRate } from './backfill.js';
import { openGovernanceDb } from './governance-db.js';
import { modelRef, required } from './models.js';

/** Default pace of a recall, assessments per second: gentle beside live traffic, yet 36,000 an hour. */
const DEFAULT_RECALL_RATE = 10;
/** Non-TTY output: a progress line at most this often (ms). */
const LINE_EVERY_MS = 2_000;

/**
 * `fhir-assess models recall ID@VERSION --by WHO --reason TEXT [--rate N/s] [--source NAME]`:
 * stops the version at once, then marks every output it wrote entered-in-error (docs/governance.md).
 * Resumable: run the same command again after a crash; a finished recall changes nothing.
 */
export async function recallCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { by: { type: 'string' }, reason: { type: 'string' }, rate: { type: 'string' }, source: { type: 'string' } },
    true,
  );
  const ref = modelRef(positionals);
  const by = required(values.by, '--by WHO (the person ordering the recall)');
  const reason = required(values.reason, '--reason TEXT (written into every withdrawn output)');
  const rate = parseRate(values.rate as string | undefined, DEFAULT_RECALL_RATE, 'assessments');
  const cfg = loadConfig(env);
  loadFhirDefinitions(); // the recall Provenance is validated before it is sent
  const registry = new SourceRegistry(cfg.sources);
  const sources = registry
    .all()
    .filter((s) => !values.source || s.source.name === values.source)
    .map((s) => ({ name: s.source.name, client: s.client }));
  if (!sources.length)
    throw new UsageError(`unknown source '${values.source}'; configured: ${cfg.sources.map((s) => s.name).join(', ')}`);
  const db = await openGovernanceDb(env, io);
  const redis = producerConnection(cfg.REDIS_URL);
  const progress = reporter(io);
  try {
    await ready(redis);
    const result = await runRecall({
      ...ref,
      reason,
      by,
      serviceVersion: SERVICE_VERSION,
      ratePerSecond: rate,
      db,
      sources,
      redis,
      prefix: cfg.QUEUE_PREFIX,
      shadow: new ShadowStore(redis, cfg.QUEUE_PREFIX, cfg.SHADOW_RETENTION_DAYS),
      onProgress: progress.update,
    });
    progress.stop();
    const name = `${ref.modelId}@${ref.version}`;
    io.out.write(
      `${result.newlyRecalled ? `${name} recalled: it writes nothing from now on` : `${name} was already recalled; continued`}\n` +
        `recall complete: ${result.assessments} assessment(s) on ${sources.map((s) => s.name).join(', ')}; ` +
        `${result.withdrawn} resource(s) marked entered-in-error by this recall; ${result.shadowDropped} shadow record(s) dropped\n`,
    );
    return 0;
  } catch (err) {
    progress.stop();
    if (err instanceof LifecycleError) {
      io.err.write(`error: ${err.message}\n`);
      return 1;
    }
    io.err.write(
      `recall interrupted: ${(err as Error).message}\nrun the same command again to continue from where it stopped\n`,
    );
    return 1;
  } finally {
    redis.disconnect();
    await db.end();
  }
}

/** A progress bar on a terminal, else a line every few seconds (logs, CI). */
function reporter(io: CliIo): { update: (p: RecallProgress) => void; stop: () => void } {
  const text = (p: RecallProgress) =>
    `recall ${p.source}: ${p.assessments}${p.total !== undefined ? `/${p.total}` : ''} assessment(s), ${p.withdrawn} resource(s) withdrawn${p.resumed ? ' (resumed)' : ''}`;
  if (!io.err.isTTY) {
    let last = 0;
    return {
      update: (p) => {
        if (Date.now() - last < LINE_EVERY_MS && p.assessments !== p.total) return;
        last = Date.now();
        io.err.write(`${text(p)}\n`);
      },
      stop: () => {},
    };
  }
  const bar = new SingleBar({
    stream: io.err as NodeJS.WritableStream,
    format: 'recall {source} [{bar}] {value}/{total} assessments | {withdrawn} withdrawn | ETA {eta_formatted}',
    hideCursor: true,
  });
  let started = false;
  return {
    update: (p) => {
      const payload = { source: p.source, withdrawn: p.withdrawn };
      const total = Math.max(p.total ?? 0, p.assessments, 1);
      if (!started) bar.start(total, p.assessments, payload);
      started = true;
      bar.setTotal(total);
      bar.update(p.assessments, payload);
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}
