import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Bench } from './bench.js';

/**
 * `npm run bench [-- NAME...]`: runs every `*.bench.js` next to this file (or the named ones), one after
 * the other in one process, and prints each one's ratios. Ratios, not absolute times, are what we
 * compare: both sides of a ratio are measured in the same run on the same machine.
 */
async function main(names: string[]): Promise<void> {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.bench.js'))
    .sort();
  const summary: Record<string, Record<string, number | string>> = {};
  for (const file of files) {
    const { bench } = (await import(new URL(file, import.meta.url).href)) as { bench: Bench };
    if (names.length && !names.includes(bench.name)) continue;
    process.stdout.write(`\n## ${bench.name}: ${bench.title}\n`);
    summary[bench.name] = await bench.run((line) => process.stdout.write(`${line}\n`));
  }
  process.stdout.write(`\n## summary\n${JSON.stringify(summary, null, 2)}\n`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
