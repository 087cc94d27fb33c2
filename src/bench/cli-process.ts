import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../util/local-redis.js';

/** The built CLI, as a user runs it (`fhir-assess ...` is `node dist/cli.js ...`). */
const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

export interface CliProcess {
  child: ChildProcess;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Resident set size now (MB), read from /proc; undefined where /proc is absent. */
  rssMb(): number | undefined;
  /** CPU seconds (user + system) the process has used so far, from /proc; undefined where /proc is absent. */
  cpuSeconds(): number | undefined;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Runs `fhir-assess ARGS` in its own process with `env` on top of this process's environment.
 * stdout is read by `onStdout` (or discarded); stderr goes to this process's stderr unless `quiet`.
 */
export function spawnCli(
  args: string[],
  env: Record<string, string>,
  opts: { onStdout?: (chunk: string) => void; quiet?: boolean; nodeArgs?: string[] } = {},
): CliProcess {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...profileArgs(args[0]), CLI, ...args], {
    stdio: ['ignore', 'pipe', opts.quiet ? 'ignore' : 'inherit'],
    env: { ...process.env, ...env },
  });
  child.stdout?.on('data', (d: Buffer) => opts.onStdout?.(String(d)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    rssMb: () => rssOf(child.pid),
    cpuSeconds: () => cpuOf(child.pid),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Waits until `text` (a line's content) has appeared on the process's stdout, or fails after `ms`. */
export function waitForOutput(p: CliProcess, pattern: RegExp, ms: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += String(d);
      const m = pattern.exec(out);
      if (m) {
        p.child.stdout?.off('data', onData);
        resolve(m);
      }
    };
    p.child.stdout?.on('data', onData);
    p.exited.then((code) => reject(new Error(`process exited (code ${code}) before printing ${pattern}`)));
    setTimeout(() => reject(new Error(`no ${pattern} within ${ms / 1000} s`)), ms).unref();
  });
}

/** `fhir-assess sandbox --data FILE` in its own process (its own heap), ready once it prints its base URL. */
export async function startSandboxProcess(
  file: string,
  readyWithinMs: number,
): Promise<{ baseUrl: string; process: CliProcess; close(): Promise<void> }> {
  const port = await freePort();
  const p = spawnCli(
    ['sandbox', '--port', String(port), '--data', file],
    { LOG_LEVEL: 'warn' },
    {
      nodeArgs: ['--max-old-space-size=6144'],
    },
  );
  try {
    const [, baseUrl] = await waitForOutput(p, /ready in .* at (http:\/\/\S+)/, readyWithinMs);
    return { baseUrl, process: p, close: p.stop };
  } catch (err) {
    await p.stop();
    throw err;
  }
}

/**
 * `BENCH_CPU_PROF=DIR`: each CLI process writes a V8 CPU profile into DIR when it exits (open it in Chrome
 * DevTools, or summarise it with `node dist/bench/profile-summary.js FILE`), under DIR/COMMAND/.
 */
function profileArgs(command: string | undefined): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return [];
  return ['--cpu-prof', `--cpu-prof-dir=${join(dir, command ?? 'cli')}`];
}

function rssOf(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Kernel clock ticks per second (USER_HZ): 100 on Linux. */
const CLOCK_TICKS = 100;

function cpuOf(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
