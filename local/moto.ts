/**
 * moto server (PyPI `moto[server]`, installed in .venv by scripts/setup-local.sh): the AWS APIs of
 * the local run that it implements for real (Secrets Manager, DynamoDB, Firehose → S3, SQS, S3).
 * SDK clients are built against it with dummy credentials; S3 is spoken over plain HTTP (path
 * style; moto checks no signatures), since the kit has no S3 client dependency.
 */
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type MotoClients, REGION } from './local-config';
import { type Child, freePort, LocalRunError, spawnChild, waitUntil } from './processes';

/** Dummy credentials: moto and the stand-ins accept any; real ones are never read. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local-secret' } as const;

export interface S3Api {
  createBucket(name: string): Promise<void>;
  /** Turns on versioning, as the deployed bucket has it (a raw zone's erasure deletes older versions). */
  enableVersioning(name: string): Promise<void>;
  /** Keys under a prefix (all pages). */
  list(bucket: string, prefix?: string): Promise<string[]>;
  get(bucket: string, key: string): Promise<string>;
}

export interface MotoServer {
  readonly url: string;
  readonly child: Child;
  readonly clients: MotoClients;
  stop(): Promise<void>;
}

function decodeXml(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-fA-F]+);/g, (_, entity: string) => {
    switch (entity) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      case 'amp':
        return '&';
      default:
        return String.fromCodePoint(entity.startsWith('#x') ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10));
    }
  });
}

// moto answers an unauthenticated GetObject with 403 (an anonymous read of a private object); it
// checks no signatures, so a header of the right form is enough.
const AUTHORIZATION = {
  authorization: `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/20240101/${REGION}/s3/aws4_request, SignedHeaders=host, Signature=0`,
};

export function s3Api(url: string): S3Api {
  const objectUrl = (bucket: string, key = ''): string => `${url}/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const check = async (response: Response, what: string): Promise<string> => {
    const text = await response.text();
    if (!response.ok) throw new LocalRunError(`S3 ${what}: HTTP ${response.status}: ${text.slice(0, 300)}`);
    return text;
  };
  return {
    async createBucket(name) {
      const body = `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${REGION}</LocationConstraint></CreateBucketConfiguration>`;
      const response = await fetch(`${url}/${encodeURIComponent(name)}`, { method: 'PUT', body, headers: { ...AUTHORIZATION, 'content-type': 'application/xml' } });
      const text = await response.text();
      // Creating a bucket this run already owns is fine (two streams into one bucket).
      if (!response.ok && !text.includes('BucketAlreadyOwnedByYou')) throw new LocalRunError(`S3 CreateBucket ${name}: HTTP ${response.status}: ${text.slice(0, 300)}`);
    },
    async enableVersioning(name) {
      const body = '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>';
      await check(await fetch(`${url}/${encodeURIComponent(name)}?versioning`, { method: 'PUT', body, headers: { ...AUTHORIZATION, 'content-type': 'application/xml' } }), `PutBucketVersioning ${name}`);
    },
    async list(bucket, prefix = '') {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const query = new URLSearchParams({ 'list-type': '2', prefix, ...(token ? { 'continuation-token': token } : {}) });
        const text = await check(await fetch(`${url}/${encodeURIComponent(bucket)}?${query.toString()}`, { headers: AUTHORIZATION }), `ListObjectsV2 ${bucket}`);
        for (const match of text.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(decodeXml(match[1]));
        const next = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(text);
        token = /<IsTruncated>true<\/IsTruncated>/.test(text) && next ? decodeXml(next[1]) : undefined;
      } while (token);
      return keys;
    },
    async get(bucket, key) {
      return check(await fetch(objectUrl(bucket, key), { headers: AUTHORIZATION }), `GetObject ${bucket}/${key}`);
    },
  };
}

export function motoClients(url: string): MotoClients {
  const config = { region: REGION, endpoint: url, credentials: LOCAL_CREDENTIALS };
  return {
    dynamodb: new DynamoDBClient(config),
    firehose: new FirehoseClient(config),
    sqs: new SQSClient(config),
    secretsManager: new SecretsManagerClient(config),
    s3: s3Api(url),
  };
}

/**
 * Starts moto server on a free loopback port and waits until it answers. `executeStateMachines`:
 * its Step Functions interpreter runs executions, and its SDK integrations (aws-sdk:s3, DynamoDB,
 * CloudWatch, EventBridge) call back into this server (MOTO_PORT).
 */
export async function startMoto(options: { venv: string; logDir: string; env: NodeJS.ProcessEnv; timeoutMs?: number; executeStateMachines?: boolean }): Promise<MotoServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawnChild('moto', path.join(options.venv, 'bin', 'moto_server'), {
    args: ['-H', '127.0.0.1', '-p', String(port)],
    env: options.executeStateMachines ? { ...options.env, MOTO_PORT: String(port) } : options.env,
    logDir: options.logDir,
  });
  try {
    await waitUntil(child, 'answer on its port', options.timeoutMs ?? 60_000, async () => {
      try {
        return (await fetch(`${url}/moto-api/data.json`)).ok;
      } catch {
        return false;
      }
    });
    if (options.executeStateMachines) {
      await fetch(`${url}/moto-api/config`, { method: 'POST', body: JSON.stringify({ stepfunctions: { execute_state_machine: true } }) });
    }
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { url, child, clients: motoClients(url), stop: () => child.stop() };
}
