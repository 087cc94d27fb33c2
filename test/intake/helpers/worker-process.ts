import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The CLI compiled from the current sources into a private directory (the shared dist/ is left alone). */
export interface CompiledCli {
  cliPath: string;
  /** Nothing to do: the compiled tree is cached for the other files of the run (see compileCli). */
  remove(): void;
}

const CACHE_PREFIX = 'fhir-assess-cli-';
/** Cached compiles of other sources older than this are deleted (none of them is still in use). */
const STALE_CACHE_MS = 60 * 60_000;

/**
 * Compiles src/ with tsc into a temporary directory laid out like the package (dist/ beside data/,
 * node_modules and a package.json), so `node <dir>/dist/cli.js worker` runs exactly what the tests see.
 * Type errors elsewhere in the tree do not stop the emit (tsc emits unless noEmitOnError).
 * The directory is named by a hash of this checkout's path and sources and reused by every test
 * file that needs the CLI (tsc takes 15-45 s on the shared machine); older compiles are removed.
 */
export async function compileCli(): Promise<CompiledCli> {
  const key = sourceHash();
  const cached = join(tmpdir(), `${CACHE_PREFIX}${key}`);
  const cliPath = join(cached, 'dist', 'cli.js');
  if (existsSync(cliPath)) return { cliPath, remove: () => {} };
  removeStaleCompiles(key);
  const dir = mkdtempSync(join(tmpdir(), `${CACHE_PREFIX}build-`));
  mkdirSync(join(dir, 'dist'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  symlinkSync(join(ROOT, 'data'), join(dir, 'data'));
  symlinkSync(join(ROOT, 'fhir-profiles'), join(dir, 'fhir-profiles'));
  symlinkSync(join(ROOT, 'package.json'), join(dir, 'package.json')); // "type": "module" and the version
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.json'), '--outDir', join(dir, 'dist')], {
    cwd: ROOT,
  }).catch(() => {}); // type errors still emit; a missing cli.js is reported below
  if (!existsSync(join(dir, 'dist', 'cli.js'))) throw new Error(`tsc did not emit ${join(dir, 'dist', 'cli.js')}`);
  try {
    renameSync(dir, cached); // atomic: a file compiling the same sources at the same time keeps its own
  } catch {
    rmSync(dir, { recursive: true, force: true }); // the other one won; both are identical
  }
  return { cliPath, remove: () => {} };
}

/** sha256 of the checkout's path, tsconfig, package.json and every src/ file (names and contents). */
function sourceHash(): string {
  const hash = createHash('sha256').update(ROOT);
  for (const f of ['tsconfig.json', 'package.json']) hash.update(readFileSync(join(ROOT, f)));
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else hash.update(p).update(readFileSync(p));
    }
  };
  walk(join(ROOT, 'src'));
  return hash.digest('hex').slice(0, 16);
}

function removeStaleCompiles(keep: string): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(CACHE_PREFIX) || name.endsWith(keep)) continue;
    const p = join(tmpdir(), name);
    if (Date.now() - statSync(p).mtimeMs > STALE_CACHE_MS) rmSync(p, { recursive: true, force: true });
  }
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
  /** Everything it wrote to stdout (pino JSON lines), up to 4 MB. */
  stdout(): string;
}

/** Starts `node cli.js worker` with the given environment (the test's Redis, sandbox and prefix). */
export function startWorkerProcess(cliPath: string, env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, [cliPath, 'worker'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  const keep = (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep); // pino logs go to stdout
  child.stdout?.on('data', (d: Buffer) => {
    if (out.length < 4_000_000) out += d.toString();
  });
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
  return { child, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM'), stderr: () => err, stdout: () => out };
}
