import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('loadConfig', () => {
  it('When only FHIR_BASE_URL is set, Then defaults fill the rest', () => {
    const cfg = loadConfig({ FHIR_BASE_URL: 'http://127.0.0.1:8103/fhir/R4' });
    expect(cfg).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6379',
      PORT: 8080,
      MODEL_MODE: 'preliminary',
      COALESCE_WINDOW_MS: 3000,
    });
    expect(Object.isFrozen(cfg)).toBe(true);
  });

  it('When several settings are wrong, Then one error lists every one of them', () => {
    try {
      loadConfig({
        FHIR_BASE_URL: 'not a url',
        PORT: '99999',
        REDIS_URL: 'http://x',
        MODEL_MODE: 'live',
        NOTIFY_SECRET: 'short',
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const problems = (e as ConfigError).problems.join('\n');
      for (const key of ['FHIR_BASE_URL', 'PORT', 'REDIS_URL', 'MODEL_MODE', 'NOTIFY_SECRET'])
        expect(problems).toContain(key);
      expect((e as ConfigError).problems).toHaveLength(5);
    }
  });

  it('When SUBSCRIBE_ON_START is on without PUBLIC_URL, Then the dependency is reported', () => {
    expect(() => loadConfig({ FHIR_BASE_URL: 'http://h/fhir', SUBSCRIBE_ON_START: 'true' })).toThrow(
      /PUBLIC_URL: required/,
    );
  });

  it('When a variable is set to an empty string, Then it counts as unset', () => {
    expect(loadConfig({ FHIR_BASE_URL: 'http://h/fhir', PORT: '' }).PORT).toBe(8080);
  });
});

describe('sources', () => {
  it('When FHIR_* variables describe one EHR, Then it becomes the single source with its secrets', () => {
    const cfg = loadConfig({ FHIR_BASE_URL: 'http://h/fhir', NOTIFY_SECRET: 's'.repeat(16), FHIR_BEARER_TOKEN: 't' });
    expect(cfg.sources).toHaveLength(1);
    expect(cfg.sources[0]).toMatchObject({
      name: 'ehr',
      fhirBaseUrl: 'http://h/fhir',
      auth: { type: 'bearer', token: 't' },
    });
    expect(cfg.sources[0].notify.bearerSecrets).toEqual(['s'.repeat(16)]);
  });

  it('When SOURCES_FILE lists several EHRs with mistakes, Then every mistake is named with its path', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'sources.json');
    writeFileSync(
      file,
      JSON.stringify([
        { name: 'a', fhirBaseUrl: 'http://a/fhir', auth: { type: 'bearer' } },
        { name: 'B!', fhirBaseUrl: 'ftp://b' },
      ]),
    );
    try {
      loadConfig({ SOURCES_FILE: file, PORT: 'x' });
      expect.unreachable();
    } catch (e) {
      const text = (e as ConfigError).message;
      expect(text).toContain('PORT');
      expect(text).toContain('SOURCES_FILE.0.auth.token');
      expect(text).toContain('SOURCES_FILE.1.name');
      expect(text).toContain('SOURCES_FILE.1.fhirBaseUrl');
    }
  });

  it('When neither FHIR_BASE_URL nor SOURCES_FILE is given, Then the message says so', () => {
    expect(() => loadConfig({})).toThrow(/FHIR_BASE_URL: required \(or SOURCES_FILE/);
  });
});

/** A SOURCES_FILE in a fresh temporary directory. */
function fileWith(sources: unknown[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'sources.json');
  writeFileSync(file, JSON.stringify(sources));
  return file;
}

/** The problems loadConfig reports (none when it loads). */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('SOURCES_FILE and the environment: one precedence rule', () => {
  const PER_SOURCE: Record<string, string> = {
    FHIR_BASE_URL: 'http://h/fhir',
    FHIR_BEARER_TOKEN: 't',
    SOURCE_NAME: 'ehr',
    FHIR_TIMEOUT_MS: '30000',
    RECORD_STRATEGY: 'auto',
    NOTIFY_SECRET: 's'.repeat(16),
    NOTIFY_HMAC_SECRET: 'h'.repeat(16),
    INTAKE_MODE: 'push',
    POLL_INTERVAL_MS: '60000',
    INTAKE_RECONCILE: 'false',
    SUBSCRIBE_ON_START: 'false',
    SUBSCRIPTION_KIND: 'auto',
    HEARTBEAT_SECONDS: '60',
  };

  it('When SOURCES_FILE is given, Then every per-source variable set beside it is an error naming the file field, even at its default value', () => {
    const file = fileWith([{ name: 'a', fhirBaseUrl: 'http://a/fhir', notify: { bearerSecrets: ['b'.repeat(16)] } }]);
    const problems = problemsOf({ SOURCES_FILE: file, ...PER_SOURCE });
    expect(problems).toHaveLength(Object.keys(PER_SOURCE).length);
    for (const name of Object.keys(PER_SOURCE))
      expect(problems.some((p) => p.startsWith(`${name}: set together with SOURCES_FILE`))).toBe(true);
    expect(problems.find((p) => p.startsWith('NOTIFY_HMAC_SECRET'))).toContain('"notify": { "hmacSecrets": ["..."] }');
    expect(problems.find((p) => p.startsWith('SUBSCRIBE_ON_START'))).toContain('subscription.manage');
    expect(problems.join('\n')).not.toContain('h'.repeat(16)); // never echoes a secret
  });

  it('When SOURCES_FILE is given with only global settings (or per-source ones left empty), Then it loads', () => {
    const file = fileWith([{ name: 'a', fhirBaseUrl: 'http://a/fhir', notify: { bearerSecrets: ['b'.repeat(16)] } }]);
    const cfg = loadConfig({ SOURCES_FILE: file, NOTIFY_SECRET: '', PORT: '9000', POLL_OVERLAP_MS: '100' });
    expect(cfg.sources.map((s) => s.name)).toEqual(['a']);
  });

  it('When the environment has a bad value as well, Then the precedence problems are in the same message', () => {
    const file = fileWith([{ name: 'a', fhirBaseUrl: 'http://a/fhir' }]);
    const problems = problemsOf({ SOURCES_FILE: file, NOTIFY_HMAC_SECRET: 'h'.repeat(16), PORT: 'x' });
    expect(problems.some((p) => p.startsWith('PORT'))).toBe(true);
    expect(problems.some((p) => p.startsWith('NOTIFY_HMAC_SECRET: set together with SOURCES_FILE'))).toBe(true);
  });
});

describe('security settings that would not apply stop start-up', () => {
  const S = 's'.repeat(16);
  const H = 'h'.repeat(16);
  const base = { FHIR_BASE_URL: 'http://h/fhir' };

  it('When a polled source has notify secrets or a managed Subscription, Then each is named (env names)', () => {
    const problems = problemsOf({
      ...base,
      INTAKE_MODE: 'poll',
      NOTIFY_SECRET: S,
      NOTIFY_HMAC_SECRET: H,
      SUBSCRIBE_ON_START: 'true',
      PUBLIC_URL: 'https://us/',
    });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^NOTIFY_SECRET: given, but INTAKE_MODE is poll/);
    expect(problems[1]).toMatch(/^NOTIFY_HMAC_SECRET: given, but INTAKE_MODE is poll/);
    expect(problems[2]).toMatch(/^SUBSCRIBE_ON_START: on, but INTAKE_MODE is poll/);
  });

  it('When the service manages a Subscription without any secret to put in it, Then start-up fails saying what to set', () => {
    const [p] = problemsOf({ ...base, SUBSCRIBE_ON_START: 'true', PUBLIC_URL: 'https://us/' });
    expect(p).toMatch(/^SUBSCRIBE_ON_START: .*carry no secret.*set NOTIFY_SECRET .* or NOTIFY_HMAC_SECRET/);
  });

  it('When a managed Backport Subscription would only have the HMAC secret, Then it is an error (auto: a warning)', () => {
    const env = { ...base, SUBSCRIBE_ON_START: 'true', PUBLIC_URL: 'https://us/', NOTIFY_HMAC_SECRET: H };
    expect(problemsOf({ ...env, SUBSCRIPTION_KIND: 'backport' })[0]).toMatch(/Backport .* set NOTIFY_SECRET/);
    const cfg = loadConfig({ ...env, SUBSCRIPTION_KIND: 'auto' });
    expect(cfg.warnings.join('\n')).toMatch(/NOTIFY_HMAC_SECRET is the only notify secret/);
    expect(loadConfig({ ...env, SUBSCRIPTION_KIND: 'classic' }).warnings).toEqual([]);
  });

  it('When several sources are configured, Then a push source without a secret and a secret shared by two are errors (file names)', () => {
    const file = fileWith([
      { name: 'a', fhirBaseUrl: 'http://a/fhir', notify: { bearerSecrets: [S] } },
      { name: 'b', fhirBaseUrl: 'http://b/fhir', notify: { hmacSecrets: [S] } },
      { name: 'c', fhirBaseUrl: 'http://c/fhir' },
      { name: 'd', fhirBaseUrl: 'http://d/fhir', intake: { mode: 'poll' } },
    ]);
    const problems = problemsOf({ SOURCES_FILE: file });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^SOURCES_FILE source 'c': notify.bearerSecrets: a push source needs a notify secret/);
    expect(problems[1]).toMatch(/sources a, b share a notify secret/);
    expect(problems.join('\n')).not.toContain(S);
  });

  it('When API or dashboard credentials are given without what makes them apply, Then each is an error', () => {
    const problems = problemsOf({
      ...base,
      API_ISSUER: 'https://idp',
      API_AUDIENCE: 'fhir-assess',
      CDS_ISSUER: 'https://ehr',
      ADMIN_USER: 'ops',
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['API_ISSUER', 'API_AUDIENCE', 'CDS_ISSUER', 'ADMIN_USER']);
    expect(problems[3]).toContain('set ADMIN_PASSWORD');
    // ADMIN_USER's default alone is no setting: nothing to complain about.
    expect(problemsOf(base)).toEqual([]);
    expect(problemsOf({ ...base, ADMIN_USER: 'ops', ADMIN_PASSWORD: 'p'.repeat(12) })).toEqual([]);
  });

  it('When the settings work but weaken protection, Then they are start-up warnings, not errors', () => {
    const open = loadConfig(base);
    expect(open.warnings.join('\n')).toMatch(/no notify secret .*accepts notifications from anyone/);
    const cleartext = loadConfig({
      FHIR_BASE_URL: 'http://ehr.example.org/fhir',
      FHIR_BEARER_TOKEN: 't',
      NOTIFY_SECRET: S,
    });
    expect(cleartext.warnings).toEqual([
      expect.stringMatching(/^FHIR_BEARER_TOKEN: credentials go to the EHR over plain http/),
    ]);
    const loopback = loadConfig({
      FHIR_BASE_URL: 'http://127.0.0.1:8103/fhir',
      FHIR_BEARER_TOKEN: 't',
      NOTIFY_SECRET: S,
    });
    expect(loopback.warnings).toEqual([]);
  });

  it('When everything is wrong at once, Then one ConfigError lists the schema, precedence and security problems together', () => {
    const file = fileWith([
      { name: 'a', fhirBaseUrl: 'http://a/fhir', intake: { mode: 'poll' }, notify: { hmacSecrets: [H] } },
    ]);
    const problems = problemsOf({ SOURCES_FILE: file, NOTIFY_SECRET: S, PORT: 'x', API_ISSUER: 'https://idp' });
    expect(problems.some((p) => p.startsWith('PORT'))).toBe(true);
    expect(problems.some((p) => p.startsWith('NOTIFY_SECRET: set together with SOURCES_FILE'))).toBe(true);
    expect(problems.some((p) => p.startsWith("SOURCES_FILE source 'a': notify.hmacSecrets: given, but"))).toBe(true);
  });
});

describe('every problem in one message', () => {
  it('When a setting is invalid and the valid ones conflict, Then both are reported, the invalid one once', () => {
    const problems = problemsOf({
      FHIR_BASE_URL: 'http://h/fhir',
      PORT: 'x',
      INTAKE_MODE: 'poll',
      NOTIFY_SECRET: 's'.repeat(16),
      ADMIN_USER: 'ops',
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['PORT', 'NOTIFY_SECRET', 'ADMIN_USER']);
    // A bad FHIR_BASE_URL is named once, not again as "required".
    expect(problemsOf({ FHIR_BASE_URL: 'not a url' }).map((p) => p.split(':')[0])).toEqual(['FHIR_BASE_URL']);
  });
});

describe('reconciliation default', () => {
  it('When the service manages its Subscription, Then reconciliation is on unless explicitly off; otherwise off unless on', () => {
    const managed = {
      FHIR_BASE_URL: 'http://h/fhir',
      SUBSCRIBE_ON_START: 'true',
      PUBLIC_URL: 'https://us',
      NOTIFY_SECRET: 's'.repeat(16),
    };
    expect(loadConfig(managed).sources[0].intake.reconcile).toBe(true);
    expect(loadConfig({ ...managed, INTAKE_RECONCILE: 'false' }).sources[0].intake.reconcile).toBe(false);
    expect(loadConfig({ FHIR_BASE_URL: 'http://h/fhir' }).sources[0].intake.reconcile).toBe(false);
    expect(loadConfig({ FHIR_BASE_URL: 'http://h/fhir', INTAKE_RECONCILE: 'true' }).sources[0].intake.reconcile).toBe(
      true,
    );
  });

  it('When a SOURCES_FILE source sets subscription.manage, Then its intake.reconcile follows it (explicit false honoured)', () => {
    const notify = (n: string) => ({ bearerSecrets: [n.repeat(16)] });
    const file = fileWith([
      { name: 'a', fhirBaseUrl: 'http://a/fhir', notify: notify('a'), subscription: { manage: true } },
      {
        name: 'b',
        fhirBaseUrl: 'http://b/fhir',
        notify: notify('b'),
        subscription: { manage: true },
        intake: { reconcile: false },
      },
      { name: 'c', fhirBaseUrl: 'http://c/fhir', notify: notify('c') },
    ]);
    const cfg = loadConfig({ SOURCES_FILE: file, PUBLIC_URL: 'https://us' });
    expect(cfg.sources.map((s) => s.intake.reconcile)).toEqual([true, false, false]);
    expect(typeof cfg.sources[0].intake.reconcile).toBe('boolean');
  });
});
