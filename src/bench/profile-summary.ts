import { readFileSync } from 'node:fs';

/** The parts of a V8 `.cpuprofile` this summary reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  share: number;
}

/**
 * Self time per function of a V8 CPU profile (what `node --cpu-prof` writes), largest first. The
 * idle and GC pseudo-frames are kept: they say whether the process was busy at all.
 */
export function selfTimes(profile: CpuProfile): SelfTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, { fn: string; where: string; ms: number }>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    all += ms;
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName}|${where}`;
    const t = totals.get(key) ?? { fn: frame.functionName || '(anonymous)', where, ms: 0 };
    t.ms += ms;
    totals.set(key, t);
  });
  return [...totals.values()].sort((a, b) => b.ms - a.ms).map((t) => ({ ...t, share: all ? t.ms / all : 0 }));
}

/** `node_modules/pkg/...` or `dist/...`, without the checkout's path. */
function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1) : url.replace(/^file:\/\//, '');
}

/** `node dist/bench/profile-summary.js FILE.cpuprofile [TOP]`: the top self-time functions as a table. */
if (process.argv[1]?.endsWith('profile-summary.js')) {
  const [file, top = '25'] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile-summary.js FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  const rows = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  process.stdout.write('| self ms | share | function | where |\n|---|---|---|---|\n');
  for (const r of rows.slice(0, Number(top))) {
    process.stdout.write(`| ${r.ms.toFixed(0)} | ${(r.share * 100).toFixed(1)} % | ${r.fn} | ${r.where} |\n`);
  }
}
