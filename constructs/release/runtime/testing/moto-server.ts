/**
 * A throwaway moto server on 127.0.0.1 for the integration tests: the AWS APIs it implements for
 * real (DynamoDB conditional writes; SageMaker models, endpoint configs, endpoints, weight updates,
 * model packages). It runs from the repository's `.venv`, where scripts/setup-local.sh installs
 * `moto[server]`, the way local/moto.ts starts it for the local run; a missing venv fails the tests
 * with that hint.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export interface MotoServer {
  readonly url: string;
  /** Client config aimed at the server, with dummy credentials (moto checks no signatures). */
  readonly clientConfig: { readonly region: string; readonly endpoint: string; readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string } };
  stop(): Promise<void>;
}

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
export const MOTO_REGION = 'eu-west-1';

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startMotoServer(timeoutMs = 60_000): Promise<MotoServer> {
  const binary = path.join(REPO_ROOT, '.venv', 'bin', 'moto_server');
  if (!fs.existsSync(binary)) {
    throw new Error(`${binary} is missing: the release integration tests need moto's server. Run scripts/setup-local.sh to create .venv.`);
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(binary, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore', env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'true' } });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/moto-api/data.json`)).ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server did not answer on port ${port} within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    clientConfig: { region: MOTO_REGION, endpoint: url, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } },
    stop,
  };
}
