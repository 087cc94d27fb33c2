import { readFileSync } from 'node:fs';

/** This service's version, from package.json (one level above src/ and dist/). */
export const SERVICE_VERSION: string = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
).version;
