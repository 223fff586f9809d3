import * as fs from 'node:fs';
import * as path from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { BatchGetRecordCommand } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { parseJsonLossless } from '../../../lib/runtime/lossless-json';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { pseudonymize } from '../../../lib/runtime/pseudonym';
import { baseConfig, CACHE_TOKEN_ARN, harness, type Harness, KEY, MemoryCache, modelBody, moderationConfig, serve, spyConsole } from './test-support/fixtures';

afterEach(() => jest.restoreAllMocks());

interface Vector {
  key: string;
  value: unknown;
  pseudonym: string;
}

const VECTORS = parseJsonLossless(
  fs.readFileSync(path.join(__dirname, '..', '..', 'data-lake', 'runtime', 'pseudonym_vectors.json'), 'utf8'),
) as Vector[];

function vector(predicate: (v: Vector) => boolean): Vector {
  const found = VECTORS.find(predicate);
  if (!found) throw new Error('vector missing from pseudonym_vectors.json');
  return found;
}

/** Every request any AWS client or the k-NN client received, except Firehose (the raw zone). */
function everythingSentOutsideTheLake(h: Harness): string {
  const mocks = [h.mocks.sagemaker, h.mocks.featureStore, h.mocks.dynamodb, h.mocks.sqs, h.mocks.secrets];
  const inputs = mocks.flatMap((mock) =>
    mock.calls().map((call) => {
      const input = (call.args[0] as { input: Record<string, unknown> }).input;
      return JSON.stringify(input, (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value));
    }),
  );
  return [...inputs, JSON.stringify(h.search.requests)].join('\n');
}

describe('pseudonyms match the lake anonymizer (shared vectors)', () => {
  test.each([
    ['an e-mail address', (v: Vector) => v.key === KEY && v.value === 'alice@example.com', 'string'],
    ['an integer beyond 2^53', (v: Vector) => v.key === KEY && v.value === 9007199254740993n, 'number'],
    ['an integer at 2^63 - 1', (v: Vector) => v.key === KEY && v.value === 9223372036854775807n, 'number'],
    ['a non-ASCII name', (v: Vector) => v.key === KEY && typeof v.value === 'string' && v.value.startsWith('Zoë'), 'string'],
  ] as const)('%s: Feature Store, models and the index see the vector\'s pseudonym', async (_what, select, type) => {
    spyConsole();
    const v = vector(select);
    const config = baseConfig();
    config.request.user_id = { type, required: true };
    const h = harness(config);
    // The body text as a client sends it: a big integer literal, not a rounded double.
    const literal = typeof v.value === 'bigint' ? v.value.toString() : JSON.stringify(v.value);
    const response = await h.server.serve(`{"user_id": ${literal}, "language": "en"}`, 'req-vector');
    expect(response.statusCode).toBe(200);
    const subjectIds = h.mocks.featureStore.commandCalls(BatchGetRecordCommand)[0].args[0].input.Identifiers?.[0].RecordIdentifiersValueAsString;
    expect(subjectIds).toEqual([v.pseudonym]);
    const rank = h.mocks.sagemaker.commandCalls(InvokeEndpointCommand, { EndpointName: 'ranker' })[0].args[0].input;
    expect(Buffer.from(rank.Body as Uint8Array).toString()).toContain(`"user":"${v.pseudonym}"`);
    // The raw zone gets the raw value with its exact digits, for the anonymizer to pseudonymize alike.
    const impression = Buffer.from(h.mocks.firehose.commandCalls(PutRecordBatchCommand)[0].args[0].input.Records?.[0].Data as Uint8Array).toString();
    expect(impression).toContain(`"user_id":${literal}`);
  });
});

describe('raw identifiers never reach stdout or any store outside the raw zone', () => {
  const RAW = 'frank.private@example.com';

  async function assertNoLeak(run: (h: Harness) => Promise<unknown>, config = baseConfig(), prepare?: (h: Harness) => void) {
    const logged = spyConsole();
    const cache = new MemoryCache();
    const h = harness(config, { cache });
    prepare?.(h);
    await run(h);
    const text = logged.text();
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain(RAW);
    expect(text).not.toContain(KEY);
    expect(everythingSentOutsideTheLake(h)).not.toContain(RAW);
    expect(JSON.stringify([...cache.data.entries(), ...cache.sets])).not.toContain(RAW);
    return h;
  }

  test('a full request, cache included', async () => {
    const config = baseConfig();
    const features = config.stages[0];
    if (features.kind === 'features') features.cache = { host: 'h', port: 1, authSecretArn: CACHE_TOKEN_ARN, ttlSeconds: 5, keyPrefix: 'p:' };
    const h = await assertNoLeak((h) => serve(h, { user_id: RAW, language: 'en' }), config);
    // It did reach the raw zone.
    expect(Buffer.from(h.mocks.firehose.commandCalls(PutRecordBatchCommand)[0].args[0].input.Records?.[0].Data as Uint8Array).toString()).toContain(RAW);
  });

  test('every stage failing with errors whose messages quote the id', async () => {
    await assertNoLeak(
      (h) => serve(h, { user_id: RAW, language: 'en' }),
      baseConfig(),
      (h) => {
        const leaky = new Error(`failed for ${RAW}`);
        h.mocks.featureStore.on(BatchGetRecordCommand).rejects(leaky);
        h.mocks.sagemaker.on(InvokeEndpointCommand).rejects(leaky);
        h.mocks.dynamodb.on(GetItemCommand).rejects(leaky);
        h.mocks.firehose.on(PutRecordBatchCommand).rejects(leaky);
        h.search.answer = async () => {
          throw leaky;
        };
      },
    );
  });

  test('4xx paths: invalid values, unknown fields named like the id, oversized bodies', async () => {
    await assertNoLeak(async (h) => {
      await serve(h, { user_id: RAW, language: 'x'.repeat(50) });
      await serve(h, { user_id: RAW, [RAW.slice(0, 20)]: RAW });
      await serve(h, `{"user_id": "${RAW}"`);
      await serve(h, { user_id: RAW, language: 'x'.repeat(5000) });
    });
  });

  test('feedback, accepted and failed', async () => {
    await assertNoLeak(async (h) => {
      await h.server.feedback(JSON.stringify({ request_id: 'r', item_id: 'i', outcome: 'click', value: true, user_id: RAW }), 'f1');
      h.mocks.firehose.rejects(new Error(`write failed for ${RAW}`));
      await h.server.feedback(JSON.stringify({ request_id: 'r', item_id: 'i', outcome: 'click', value: true, user_id: RAW }), 'f2');
    });
  });

  test('moderation: the review queue gets the pseudonym', async () => {
    const h = await assertNoLeak(
      (h) => serve(h, { author_id: RAW, post_id: 'p1' }),
      moderationConfig(),
      (h) => {
        h.mocks.sagemaker.on(InvokeEndpointCommand).resolves({ Body: modelBody([{ violence: 1 }]) });
      },
    );
    const message = h.mocks.sqs.commandCalls(SendMessageBatchCommand)[0].args[0].input.Entries?.[0].MessageBody ?? '';
    expect(JSON.parse(message).subject).toBe(pseudonymize(KEY, RAW));
  });
});
