import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Chart.js's UMD build from node_modules (installed by `npm install`, never fetched from a CDN): the
 * package exports only its ESM/CJS entry points, so the UMD file is found beside the CJS one.
 */
export function chartJsPath(): string {
  const entry = createRequire(import.meta.url).resolve('chart.js');
  return join(dirname(entry), 'chart.umd.min.js');
}

let cached: string | undefined;

/** The Chart.js UMD source, read once. */
export function chartJsSource(): string {
  cached ??= readFileSync(chartJsPath(), 'utf8');
  return cached;
}
