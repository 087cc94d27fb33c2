import type { z } from 'zod';
import { ConfigError, ConfigSchema } from './config.js';

type Settings = z.infer<typeof ConfigSchema>;

/**
 * A few settings validated by the same schema as `loadConfig`, for commands that need no EHR
 * (governance, shadow store): empty strings count as unset; every problem is reported at once.
 */
export function loadConfigPart<K extends keyof Settings>(
  env: Record<string, string | undefined>,
  keys: readonly K[],
): Pick<Settings, K> {
  const mask = Object.fromEntries(keys.map((k) => [k, true])) as Record<string, true>;
  const schema = ConfigSchema.pick(mask as never);
  const parsed = schema.safeParse(Object.fromEntries(keys.map((k) => [k, env[k] || undefined])));
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  return parsed.data as unknown as Pick<Settings, K>;
}
