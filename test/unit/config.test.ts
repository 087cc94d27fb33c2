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
