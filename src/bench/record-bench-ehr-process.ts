import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What `record-bench-ehr.js` prints once ready, and its process (close its stdin to stop it). */
export interface RecordBenchEhr {
  baseUrl: string;
  /** Synthetic patient id per requested record size. */
  synthetic: Record<number, string>;
  /** Ids of the patients loaded from the file. */
  patients: string[];
  child: ChildProcess;
}

/**
 * Starts the benchmark EHR (src/bench/record-bench-ehr.ts) in a child process, so that its CPU does
 * not count as ours: synthetic records of `sizes`, plus `file`'s patients (the first `patients`).
 */
export async function startRecordBenchEhr(sizes: number[], file?: string, patients?: number): Promise<RecordBenchEhr> {
  const script = fileURLToPath(new URL('./record-bench-ehr.js', import.meta.url));
  const args = [script, sizes.join(','), ...(file ? [file, ...(patients ? [String(patients)] : [])] : [])];
  const child = spawn(process.execPath, ['--max-old-space-size=6144', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`benchmark EHR exited with ${code}`)));
  });
  return { ...(JSON.parse(line) as Omit<RecordBenchEhr, 'child'>), child };
}
