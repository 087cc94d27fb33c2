import type { Subscription } from '@medplum/fhirtypes';
import { loadConfig } from '../config/config.js';
import type { Source } from '../config/sources.js';
import { SourceRegistry } from '../fhir/source-client.js';
import { ensureSourceSubscriptions } from '../intake/ensure-subscriptions.js';
import { listOurSubscriptions, stateOf } from '../intake/our-subscriptions.js';
import { SubscriptionStates } from '../intake/subscription-states.js';
import { producerConnection, ready } from '../jobs/redis-connection.js';
import { buildModelRegistry } from '../models/registry.js';
import { parse, UsageError } from './args.js';
import type { CliIo } from './backfill.js';

/**
 * `fhir-assess subscriptions [--source NAME] [--repair]`: lists, per configured source, the
 * Subscriptions on the EHR that notify `PUBLIC_URL/notify` (id, kind, criteria, status, error), as
 * the EHR reports them. Exits 1 when a Subscription the service manages does not deliver (not active,
 * or missing), so it can gate a deployment. `--repair` first runs the same create/repair/activation
 * as start-up (SUBSCRIBE_ON_START), under the same Redis lock.
 */
export async function subscriptionsCommand(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  io: CliIo = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const { values } = parse(argv, { source: { type: 'string' }, repair: { type: 'boolean' } });
  const cfg = loadConfig(env);
  const registry = new SourceRegistry(cfg.sources);
  const wanted = values.source as string | undefined;
  const sources = cfg.sources.filter((s) => !wanted || s.name === wanted);
  if (wanted && !sources.length) {
    throw new UsageError(`unknown source '${wanted}' (configured: ${cfg.sources.map((s) => s.name).join(', ')})`);
  }
  const endpoint = cfg.PUBLIC_URL ? `${cfg.PUBLIC_URL.replace(/\/$/, '')}/notify` : undefined;
  if (values.repair && !endpoint) throw new UsageError('--repair needs PUBLIC_URL (where the EHR reaches /notify)');
  const redis = values.repair ? producerConnection(cfg.REDIS_URL) : undefined;
  let failing = 0;
  try {
    if (redis) await ready(redis);
    const watchedTypes = [...new Set(buildModelRegistry(cfg).flatMap((r) => r.model.requires.resourceTypes))];
    for (const source of sources) {
      const client = registry.client(source.name);
      if (source.intake.mode === 'poll') {
        io.out.write(`${source.name}: polled every ${source.intake.pollIntervalMs / 1000} s (no Subscriptions)\n`);
        continue;
      }
      if (redis && endpoint && values.repair) {
        if (!source.subscription.manage) {
          io.err.write(`${source.name}: not managed (subscription.manage / SUBSCRIBE_ON_START is off): not repaired\n`);
        } else {
          const r = await ensureSourceSubscriptions({
            client,
            source,
            endpoint,
            watchedTypes,
            redis,
            prefix: cfg.QUEUE_PREFIX,
          });
          for (const s of r.subscriptions) io.out.write(`${source.name}: Subscription/${s.id} ${s.action}\n`);
        }
      }
      const subs = endpoint
        ? await listOurSubscriptions(client, endpoint)
        : await client.searchAll<Subscription>('Subscription', { _count: '100' });
      if (redis && source.subscription.manage) {
        await new SubscriptionStates(redis, cfg.QUEUE_PREFIX).save(source.name, subs.map(stateOf));
      }
      io.out.write(describeSource(source, endpoint, subs));
      if (source.subscription.manage && notDelivering(subs, watchedTypes.length)) failing++;
    }
  } finally {
    redis?.disconnect();
  }
  if (failing) {
    io.err.write(
      `${failing} source(s) with a managed Subscription that does not deliver: run \`fhir-assess subscriptions --repair\`, and check that the EHR can reach ${endpoint ?? 'PUBLIC_URL/notify'}\n`,
    );
  }
  return failing ? 1 : 0;
}

function describeSource(source: Source, endpoint: string | undefined, subs: Subscription[]): string {
  const managed = source.subscription.manage ? 'managed by the service' : 'not managed (created by hand)';
  const where = endpoint ? `notifying ${endpoint}` : 'PUBLIC_URL unset: every Subscription on the EHR';
  const head = `${source.name} (${source.fhirBaseUrl}): ${subs.length} Subscription(s) ${where}, ${managed}\n`;
  if (!subs.length) return `${head}  none\n`;
  const rows = subs.map((s) => [
    `Subscription/${s.id}`,
    s.criteria?.startsWith('http') ? 'backport' : 'classic',
    s.criteria ?? '',
    s.status ?? '',
    endpoint ? '' : (s.channel?.endpoint ?? ''),
    s.error ?? '',
  ]);
  return `${head}${table(['id', 'kind', 'criteria', 'status', endpoint ? '' : 'endpoint', 'error'], rows)}\n`;
}

/** Not delivering: none there, one not active, or fewer classic Subscriptions than watched types. */
function notDelivering(subs: Subscription[], watchedTypes: number): boolean {
  if (!subs.length || subs.some((s) => s.status !== 'active')) return true;
  const classic = subs.every((s) => !s.criteria?.startsWith('http'));
  return classic && subs.length < watchedTypes;
}

function table(head: string[], rows: string[][]): string {
  const keep = head.map((h, i) => h !== '' || rows.some((r) => r[i]));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    `  ${cells
      .filter((_, i) => keep[i])
      .map((c, i) => c.padEnd(widths.filter((_, j) => keep[j])[i]))
      .join('  ')
      .trimEnd()}`;
  return [line(head), ...rows.map(line)].join('\n');
}
