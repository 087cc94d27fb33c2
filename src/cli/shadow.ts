import { ConfigError, ConfigSchema } from '../config/config.js';
import { producerConnection, ready } from '../jobs/redis-connection.js';
import { formatPercent } from '../models/format.js';
import { ShadowStore, type ShadowSummary } from '../writeback/shadow-store.js';
import { intOption, parse, UsageError } from './args.js';

/** The settings the shadow store needs (no EHR settings: this command never talks to the EHR). */
const ShadowConfig = ConfigSchema.pick({
  REDIS_URL: true,
  QUEUE_PREFIX: true,
  SOURCE_NAME: true,
  SHADOW_RETENTION_DAYS: true,
});

/**
 * `shadow list [--model ID[@VERSION]] [--patient ID] [--source NAME] [--limit N] [--format table|json]`
 * and `shadow show KEY [--source NAME]`: what models in shadow mode would have written (docs/writeback.md).
 * The output contains PHI (whole resources for `show`): handle it like the EHR's data.
 */
export async function shadowCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(
    rest,
    {
      model: { type: 'string' },
      patient: { type: 'string' },
      source: { type: 'string' },
      limit: { type: 'string' },
      format: { type: 'string' },
    },
    true,
  );
  if (sub !== 'list' && sub !== 'show') throw new UsageError("shadow needs 'list' or 'show KEY'");
  if (sub === 'show' && positionals.length !== 1) throw new UsageError('shadow show needs exactly one assessment key');
  const format = (values.format as string | undefined) ?? 'table';
  if (format !== 'json' && format !== 'table') throw new UsageError(`--format must be json or table, got '${format}'`);
  const cfg = shadowConfig(env);
  const redis = producerConnection(cfg.REDIS_URL);
  try {
    await ready(redis);
    const store = new ShadowStore(redis, cfg.QUEUE_PREFIX, cfg.SHADOW_RETENTION_DAYS);
    const source = (values.source as string | undefined) ?? cfg.SOURCE_NAME;
    if (sub === 'show') return await show(store, source, positionals[0]);
    const rows = await store.list({
      source,
      model: values.model as string | undefined,
      patientId: values.patient as string | undefined,
      limit: intOption(values.limit as string | undefined, 'limit', 20),
    });
    process.stdout.write(format === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : formatRows(rows));
    return 0;
  } finally {
    redis.disconnect();
  }
}

async function show(store: ShadowStore, source: string, key: string): Promise<number> {
  const record = await store.get(source, key);
  if (!record) {
    process.stderr.write(`no shadow record ${key} for source ${source} (expired or never stored)\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
  return 0;
}

function shadowConfig(env: NodeJS.ProcessEnv) {
  const cleaned = Object.fromEntries(Object.keys(ShadowConfig.shape).map((k) => [k, env[k] || undefined]));
  const parsed = ShadowConfig.safeParse(cleaned);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  return parsed.data;
}

/** One line per record, newest first. */
export function formatRows(rows: ShadowSummary[]): string {
  if (!rows.length) return 'no shadow records\n';
  const lines = rows.map((r) => {
    const predictions = r.predictions
      .map((p) => `${p.calculator} ${p.probability === undefined ? '-' : formatPercent(p.probability, 2)}`)
      .join(', ');
    return [r.createdAt, r.key, `Patient/${r.patientId}`, `${r.modelId}@${r.modelVersion}`, predictions || '-'].join(
      '  ',
    );
  });
  return `${['created', 'assessment key', 'patient', 'model', 'predictions'].join('  ')}\n${lines.join('\n')}\n`;
}
