import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Bench } from './bench.js';
import { runSuite } from './suite.js';

const USAGE = `usage: npm run bench [-- --quick]      the issue-13 measures as one table (+ bench-results.json)
       npm run bench -- NAME... | --all    the topic benches by name (${'intake, record, models, writeback, backfill, ehr-profiles'})`;

/**
 * `npm run bench`: the performance measures as one table (src/bench/suite.ts); `--quick` for the same
 * table from less data in under two minutes. `npm run bench -- NAME...` (or `--all`) runs the topic
 * benches (`*.bench.js` next to this file), one after the other in one process, each printing its own
 * ratios. Ratios, not absolute times, are what we compare: both sides of a ratio are measured in the
 * same run on the same machine.
 */
async function main(args: string[]): Promise<void> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  if (args.includes('--help') || args.includes('-h')) {
    log(USAGE);
    return;
  }
  const names = args.filter((a) => !a.startsWith('--'));
  if (!names.length && !args.includes('--all')) {
    await runSuite(args.includes('--quick'), log);
    return;
  }
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.bench.js'))
    .sort();
  const summary: Record<string, Record<string, number | string>> = {};
  for (const file of files) {
    const { bench } = (await import(new URL(file, import.meta.url).href)) as { bench: Bench };
    if (names.length && !names.includes(bench.name)) continue;
    log(`\n## ${bench.name}: ${bench.title}`);
    summary[bench.name] = await bench.run(log);
  }
  const unknown = names.filter((n) => !(n in summary));
  if (unknown.length) throw new Error(`no bench named ${unknown.join(', ')}\n${USAGE}`);
  log(`\n## summary\n${JSON.stringify(summary, null, 2)}`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
