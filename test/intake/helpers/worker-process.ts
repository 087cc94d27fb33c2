import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The CLI compiled from the current sources into a private directory (the shared dist/ is left alone). */
export interface CompiledCli {
  cliPath: string;
  remove(): void;
}

/**
 * Compiles src/ with tsc into a temporary directory laid out like the package (dist/ beside data/,
 * node_modules and a package.json), so `node <dir>/dist/cli.js worker` runs exactly what the tests see.
 * Type errors elsewhere in the tree do not stop the emit (tsc emits unless noEmitOnError).
 */
export async function compileCli(): Promise<CompiledCli> {
  const dir = mkdtempSync(join(tmpdir(), 'fhir-assess-cli-'));
  mkdirSync(join(dir, 'dist'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  symlinkSync(join(ROOT, 'data'), join(dir, 'data'));
  symlinkSync(join(ROOT, 'fhir-profiles'), join(dir, 'fhir-profiles'));
  symlinkSync(join(ROOT, 'package.json'), join(dir, 'package.json')); // "type": "module" and the version
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.json'), '--outDir', join(dir, 'dist')], {
    cwd: ROOT,
  }).catch(() => {}); // type errors still emit; a missing cli.js is reported below
  const cliPath = join(dir, 'dist', 'cli.js');
  if (!existsSync(cliPath)) throw new Error(`tsc did not emit ${cliPath}`);
  return { cliPath, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A `fhir-assess worker` child process. */
export interface WorkerProcess {
  child: ChildProcess;
  /** SIGKILL: no shutdown hooks, in-flight jobs keep their (expiring) locks. */
  kill(): Promise<void>;
  /** SIGTERM and wait (graceful). */
  stop(): Promise<void>;
  /** The last 4 kB the process wrote (logs and errors). */
  stderr(): string;
}

/** Starts `node cli.js worker` with the given environment (the test's Redis, sandbox and prefix). */
export function startWorkerProcess(cliPath: string, env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, [cliPath, 'worker'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const keep = (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep); // pino logs go to stdout
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Never outlive the test process, even when a failing test skips its clean-up.
  const reap = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
  process.once('exit', reap);
  void exited.then(() => process.off('exit', reap));
  const signal = async (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
    await exited;
  };
  return { child, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM'), stderr: () => err };
}
