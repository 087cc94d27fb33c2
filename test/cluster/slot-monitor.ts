import type { Redis } from 'ioredis';

/** One atomic unit seen on a cluster node: a script (with every key it declared or touched) or a MULTI/EXEC. */
export interface AtomicUnit {
  kind: 'script' | 'multi';
  /** For scripts: the EVAL/EVALSHA first argument's first 40 characters (the SHA, or the Lua's start). */
  what: string;
  keys: string[];
}

/** Commands whose arguments hold no key (administration, scripting helpers, connection state). */
// biome-ignore format: a word list
const KEYLESS = new Set([
  'client', 'cluster', 'info', 'script', 'config', 'select', 'auth', 'hello', 'ping', 'echo', 'time',
  'command', 'readonly', 'readwrite', 'monitor', 'memory', 'function', 'slowlog', 'debug', 'multi', 'exec',
  'discard', 'watch', 'unwatch', 'quit', 'dbsize', 'role', 'lastsave', 'wait', 'publish',
]);
/** Commands whose every argument is a key. */
const ALL_KEYS = new Set(['del', 'unlink', 'exists', 'mget', 'touch']);
/** Commands whose first two arguments are keys. */
const TWO_KEYS = new Set(['rpoplpush', 'brpoplpush', 'lmove', 'blmove', 'smove', 'rename', 'renamenx', 'copy']);

export function keysOf(command: string, args: string[]): string[] {
  if (KEYLESS.has(command) || !args.length) return [];
  if (ALL_KEYS.has(command)) return args;
  if (TWO_KEYS.has(command)) return args.slice(0, 2);
  if (command === 'xread' || command === 'xreadgroup') {
    const after = args.slice(args.findIndex((a) => a.toLowerCase() === 'streams') + 1);
    return after.slice(0, after.length / 2);
  }
  return [args[0]];
}

/**
 * Watches cluster nodes with MONITOR and records every key any command names, and every atomic unit:
 * an EVAL/EVALSHA with its declared keys plus the keys of the commands the script then ran (MONITOR
 * shows them with source `lua`, right after the script), and each client's MULTI ... EXEC.
 */
export class SlotMonitor {
  readonly units: AtomicUnit[] = [];
  readonly keys = new Set<string>();
  private readonly monitors: Redis[] = [];
  private readonly open = new Map<string, string[]>();
  private lastScript = new Map<Redis, AtomicUnit>();

  async watch(node: Redis): Promise<void> {
    const mon = await node.monitor();
    this.monitors.push(mon);
    mon.on('monitor', (_time: string, argv: string[], source: string) => this.see(mon, argv, source));
  }

  private see(mon: Redis, [name, ...args]: string[], source: string): void {
    const command = name.toLowerCase();
    if (command === 'eval' || command === 'evalsha') {
      const unit: AtomicUnit = { kind: 'script', what: args[0].slice(0, 40), keys: args.slice(2, 2 + Number(args[1])) };
      this.units.push(unit);
      this.lastScript.set(mon, unit);
      for (const k of unit.keys) this.keys.add(k);
      return;
    }
    const keys = keysOf(command, args);
    for (const k of keys) this.keys.add(k);
    if (source === 'lua') {
      this.lastScript.get(mon)?.keys.push(...keys);
      return;
    }
    if (command === 'multi') this.open.set(source, []);
    else if (command === 'exec') {
      const held = this.open.get(source);
      this.open.delete(source);
      if (held) this.units.push({ kind: 'multi', what: 'MULTI/EXEC', keys: held });
    } else this.open.get(source)?.push(...keys);
  }

  async stop(): Promise<void> {
    for (const m of this.monitors) m.disconnect();
  }
}
