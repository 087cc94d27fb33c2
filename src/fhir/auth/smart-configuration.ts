import { z } from 'zod';
import type { BaseUrlGuard } from '../base-url-guard.js';
import { AuthError } from '../fhir-errors.js';

const SmartConfigurationSchema = z.object({
  token_endpoint: z.string().min(1),
  grant_types_supported: z.array(z.string()).optional(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
  token_endpoint_auth_signing_alg_values_supported: z.array(z.string()).optional(),
  scopes_supported: z.array(z.string()).optional(),
  capabilities: z.array(z.string()).optional(),
});

export type SmartConfiguration = z.infer<typeof SmartConfigurationSchema>;

/**
 * `GET {base}/.well-known/smart-configuration` (SMART App Launch 2.x, standards.md §2a), checked to
 * support what Backend Services need: `client_credentials`, `private_key_jwt` and our signing
 * algorithm. Lists a server leaves out are not held against it (many omit them).
 */
export async function discoverSmartConfiguration(
  guard: BaseUrlGuard,
  fetchImpl: typeof fetch,
  alg: string,
  timeoutMs: number,
): Promise<SmartConfiguration> {
  const url = guard.resolve('.well-known/smart-configuration');
  let res: Response;
  try {
    res = await fetchImpl(url, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new AuthError(`SMART discovery at ${url.pathname} failed: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) throw new AuthError(`SMART discovery at ${url.pathname} answered HTTP ${res.status}`, res.status);
  let parsed: ReturnType<typeof SmartConfigurationSchema.safeParse>;
  try {
    parsed = SmartConfigurationSchema.safeParse(JSON.parse(text));
  } catch {
    throw new AuthError(`SMART discovery at ${url.pathname} did not answer JSON`);
  }
  if (!parsed.success) throw new AuthError(`SMART discovery at ${url.pathname}: no token_endpoint`);
  const cfg = parsed.data;
  const lacks = (list: string[] | undefined, value: string) => list !== undefined && !list.includes(value);
  const problems = [
    lacks(cfg.grant_types_supported, 'client_credentials') && 'grant type client_credentials',
    lacks(cfg.token_endpoint_auth_methods_supported, 'private_key_jwt') && 'auth method private_key_jwt',
    lacks(cfg.token_endpoint_auth_signing_alg_values_supported, alg) && `signing algorithm ${alg}`,
  ].filter(Boolean);
  if (problems.length) throw new AuthError(`the EHR's SMART configuration does not support ${problems.join(', ')}`);
  return cfg;
}
