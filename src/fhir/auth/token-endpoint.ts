import { z } from 'zod';
import { AuthError } from '../fhir-errors.js';
import { connectionFailure } from '../retry-policy.js';

/** An access token as the token endpoint issued it. */
export interface IssuedToken {
  accessToken: string;
  /** Lifetime in seconds (`expires_in`; 300 when the endpoint did not say). */
  expiresInS: number;
  scope?: string;
}

/** Assumed lifetime when a token response has no `expires_in`: 300 s (SMART's recommended maximum). */
const DEFAULT_EXPIRES_IN_S = 300;
/** Token responses are small; anything bigger is not a token response: 1 MiB. */
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

const TokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z
    .string()
    .refine((t) => t.toLowerCase() === 'bearer', 'token_type must be Bearer')
    .nullish(),
  expires_in: z.coerce.number().positive().nullish(),
  scope: z.string().nullish(),
});

/**
 * Token endpoints are usually on an authorization server, not under the FHIR base, so the base-URL
 * guard does not cover them. They must be https (or http on loopback, for tests and sandboxes):
 * client secrets and signed assertions never travel in clear text.
 */
export function assertTokenUrlAllowed(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AuthError(`token endpoint is not an absolute URL`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new AuthError(`token endpoint ${url.origin} must use https (http only on loopback)`);
  }
  return url;
}

/**
 * POSTs an `application/x-www-form-urlencoded` token request (RFC 6749 §4.4) and validates the
 * answer. One retry on a connection error or 5xx; an OAuth error (`invalid_client`, ...) is reported
 * with its code, never with what we sent.
 */
export async function requestToken(
  fetchImpl: typeof fetch,
  tokenUrl: URL,
  form: Record<string, string>,
  timeoutMs: number,
): Promise<IssuedToken> {
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await fetchImpl(tokenUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: new URLSearchParams(form),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      const why = connectionFailure(err) ?? (err as Error).message;
      if (attempt < 2) continue;
      throw new AuthError(`token endpoint ${tokenUrl.origin}: ${why}`);
    }
    if (res.status >= 500 && attempt < 2) {
      await res.body?.cancel();
      continue;
    }
    return parseTokenResponse(res, tokenUrl);
  }
}

async function parseTokenResponse(res: Response, tokenUrl: URL): Promise<IssuedToken> {
  const text = await res.text();
  if (text.length > MAX_TOKEN_RESPONSE_BYTES)
    throw new AuthError(`token endpoint ${tokenUrl.origin}: oversized answer`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = json as { error?: unknown; error_description?: unknown } | undefined;
    const code = typeof e?.error === 'string' ? `: ${e.error}` : '';
    const desc = typeof e?.error_description === 'string' ? ` (${e.error_description.slice(0, 200)})` : '';
    throw new AuthError(`token endpoint ${tokenUrl.origin} answered HTTP ${res.status}${code}${desc}`, res.status);
  }
  const parsed = TokenResponseSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'} ${i.message}`).join('; ');
    throw new AuthError(
      `token endpoint ${tokenUrl.origin} answered an invalid token response: ${problems}`,
      res.status,
    );
  }
  return {
    accessToken: parsed.data.access_token,
    expiresInS: parsed.data.expires_in ?? DEFAULT_EXPIRES_IN_S,
    scope: parsed.data.scope ?? undefined,
  };
}
