import { startSandbox } from '../sandbox/index.js';

/** One request as the EHR saw it: when it arrived (ms since epoch), what it was. */
export interface EhrHit {
  t: number;
  method: string;
  url: string;
  bundleType?: string;
}

/**
 * The EHR of the scale-out benchmark, in its own process (as a real EHR would be, and so that the
 * worker processes, not the EHR, are what the CPU count limits): the sandbox loaded with FILE
 * (at most PATIENTS patients), each request delayed LATENCY ms like a remote EHR's, counting every
 * request it answers. Talks to the benchmark over IPC:
 * sends `{ready, baseUrl, patients}`, answers `report` with the requests seen since the last report.
 *
 * Usage (forked): node dist/bench/scale-out-ehr.js FILE PATIENTS LATENCY
 */
async function main([file, patientsArg, latencyArg]: string[]): Promise<void> {
  let hits: EhrHit[] = [];
  const sb = await startSandbox({
    logger: false,
    latencyMs: Number(latencyArg),
    onResponse: (r) =>
      hits.push({ t: Date.now() - r.elapsedMs, method: r.method, url: r.url, bundleType: r.bundleType }),
  });
  await sb.loadFile(file, Number(patientsArg));
  const patients = [...sb.repo.resourcesOf('Patient')].map((p) => p.id);
  hits = [];
  process.on('message', (m: string) => {
    if (m === 'report') {
      process.send?.({ hits });
      hits = [];
    } else if (m === 'exit') void sb.close().then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0)); // never outlive the benchmark
  process.send?.({ ready: true, baseUrl: sb.baseUrl, patients });
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`scale-out EHR failed: ${err.stack}\n`);
  process.exit(1);
});
