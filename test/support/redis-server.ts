/**
 * A throwaway redis-server on 127.0.0.1 (no TLS, AUTH on) for the cache tests: the serving path's
 * features stage and the lake's erasure of cache keys. Debian's `redis-server` package provides the
 * binary; there is no valkey-server package, and Valkey speaks the same protocol. A missing binary
 * fails the tests with an install hint.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { accepts, freePort } from '../../local/processes';

export { freePort };

export interface RedisServer {
  readonly port: number;
  stop(): Promise<void>;
}

export function redisServerBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const binary = found.stdout.trim();
  if (found.status !== 0 || binary === '') {
    throw new Error('redis-server is not on PATH: the cache tests need a real Redis. Install it with `apt-get install -y redis-server`.');
  }
  return binary;
}

export async function startRedis(password: string): Promise<RedisServer> {
  const binary = redisServerBinary();
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 5000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
