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
