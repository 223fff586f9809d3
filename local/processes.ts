/**
 * Child processes of the local run (redis-server, moto server, the Python stand-ins): each is
 * tracked from the moment it is spawned, so that a failed start-up, an error, SIGINT/SIGTERM or
 * the parent's exit never leaves one behind. Output goes to a log file per child in the run's
 * work folder; stand-ins announce their port with one `{"port": N}` line on stdout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export class LocalRunError extends Error {
  override readonly name = 'LocalRunError';
}

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly logFile: string;
  /** Resolves once the process has exited (immediately if it already has). */
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
  /** The port of the first `{"port": N}` line on stdout, once printed (see {@link waitForPortLine}). */
  readonly announcedPort: Promise<number>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** On the parent's exit (normal or not), kill whatever is still running: no orphans. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export interface SpawnOptions {
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Folder of the log file `<name>.log`. */
  readonly logDir: string;
}

/** Spawns a tracked child whose stdout and stderr go to `<logDir>/<name>.log` (stdout is also readable by {@link waitForPortLine}). */
export function spawnChild(name: string, command: string, options: SpawnOptions): Child {
  installExitHook();
  fs.mkdirSync(options.logDir, { recursive: true });
  const logFile = path.join(options.logDir, `${name}.log`);
  const log = fs.createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, [...options.args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.stderr?.pipe(log, { end: false });
  // Read from the start, so that a port line printed before anyone waits for it is not missed.
  let announce: (port: number) => void = () => undefined;
  const announcedPort = new Promise<number>((resolve) => (announce = resolve));
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    log.write(chunk);
    buffered += chunk.toString('utf8');
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      const port = portOf(line);
      if (port !== undefined) announce(port);
    }
    // Only the first lines matter; a chatty child must not grow this.
    if (buffered.length > 65536) buffered = '';
  });
  const exited = new Promise<void>((resolve) => {
    const done = (): void => {
      live.delete(child);
      // Let the pipes drain into the log before closing it.
      setImmediate(() => log.end());
      resolve();
    };
    child.once('exit', done);
    child.once('error', done);
  });
  return {
    name,
    process: child,
    logFile,
    exited,
    announcedPort,
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The last lines of a child's log, for error messages. */
export function logTail(child: Child, lines = 20): string {
  try {
    return fs.readFileSync(child.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function portOf(line: string): number | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as { port?: unknown };
    return typeof parsed.port === 'number' ? parsed.port : undefined;
  } catch {
    return undefined;
  }
}

/** Waits for the `{"port": N}` line a stand-in prints once it listens; fails if it exits first or takes longer than `timeoutMs`. */
export function waitForPortLine(child: Child, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // The log may still be filling: read it a moment later.
      setTimeout(() => reject(new LocalRunError(`${child.name} ${why}; its log (${child.logFile}) ends with:\n${logTail(child)}`)), 50);
    };
    const timer = setTimeout(() => fail(`did not listen within ${timeoutMs} ms`), timeoutMs);
    child.announcedPort.then((port) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(port);
    });
    child.exited.then(() => {
      const { exitCode, signalCode } = child.process;
      // An exit after the port line is someone else's concern.
      setImmediate(() => fail(`exited (${signalCode ?? `code ${exitCode}`}) before it listened`));
    });
  });
}

/** A port nothing listens on right now (on 127.0.0.1). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls until `ready()` is true; fails when the child exits or the time is up. */
export async function waitUntil(child: Child, what: string, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new LocalRunError(`${child.name} exited before ${what}; its log (${child.logFile}) ends with:\n${logTail(child)}`);
    }
    if (await ready()) return;
    if (Date.now() > deadline) throw new LocalRunError(`${child.name}: no ${what} within ${timeoutMs} ms; its log (${child.logFile}) ends with:\n${logTail(child)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
