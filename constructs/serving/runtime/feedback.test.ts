import { PutRecordCommand } from '@aws-sdk/client-firehose';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { pseudonymize } from '../../../lib/runtime/pseudonym';
import { baseConfig, harness, KEY, KEY_ARN, moderationConfig, RAW_USER, sleep, spyConsole, USER_PSEUDONYM } from './test-support/fixtures';
import { assignVariant } from './variant';

let consoleSpy: ReturnType<typeof spyConsole>;
beforeEach(() => {
  consoleSpy = spyConsole();
});
afterEach(() => jest.restoreAllMocks());

const NOW = Date.parse('2025-03-01T12:00:00.000Z');
const VARIANT = assignVariant('vrec', USER_PSEUDONYM, [
  { name: 'champion', weight: 0.9 },
  { name: 'challenger', weight: 0.1 },
]);

async function feedback(h: ReturnType<typeof harness>, body: unknown, requestId = 'fb-1') {
  const response = await h.server.feedback(typeof body === 'string' ? body : JSON.stringify(body), requestId);
  return { statusCode: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

function recorded(h: ReturnType<typeof harness>): Record<string, unknown>[] {
  return h.mocks.firehose.commandCalls(PutRecordCommand).map((call) => {
    expect(call.args[0].input.DeliveryStreamName).toBe('vrec-outcomes');
    const text = Buffer.from(call.args[0].input.Record?.Data as Uint8Array).toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    return JSON.parse(text) as Record<string, unknown>;
  });
}

test('202: one outcome line with the raw subject for the raw zone, the sticky variant and a metric', async () => {
  const h = harness(baseConfig(), { now: () => NOW });
  const result = await feedback(h, { request_id: 'req-1', item_id: 'v2', outcome: 'click', value: true, user_id: RAW_USER });
  expect(result).toEqual({ statusCode: 202, body: { requestId: 'fb-1' } });
  expect(recorded(h)).toEqual([
    // The outcomes dataset's value column is a double: true is written as 1.
    { request_id: 'req-1', item_id: 'v2', outcome: 'click', value: 1, received_at: '2025-03-01T12:00:00.000Z', variant: VARIANT, user_id: RAW_USER },
  ]);
  const [metric] = consoleSpy.lines();
  expect(metric).toEqual({
    _aws: {
      Timestamp: NOW,
      CloudWatchMetrics: [{ Namespace: 'MLSD/Serving', Dimensions: [['Pipeline', 'Variant', 'OutcomeName']], Metrics: [{ Name: 'Outcome', Unit: 'None' }] }],
    },
    Pipeline: 'vrec',
    Variant: VARIANT,
    OutcomeName: 'click',
    Outcome: 1,
    requestId: 'fb-1',
  });
  expect(consoleSpy.text()).not.toContain(RAW_USER);
});

test('number outcomes keep their value; the variant matches the one serve used', async () => {
  const h = harness();
  await feedback(h, { request_id: 'r', item_id: 'v2', outcome: 'watch_seconds', value: 42.5, user_id: 'erin@example.com' });
  const [line] = recorded(h);
  expect(line).toMatchObject({ value: 42.5, variant: assignVariant('vrec', pseudonymize(KEY, 'erin@example.com'), [{ name: 'champion', weight: 0.9 }, { name: 'challenger', weight: 0.1 }]) });
  expect(consoleSpy.lines()[0]).toMatchObject({ Outcome: 42.5, OutcomeName: 'watch_seconds' });
});

test('no rank stage: variant null ("none" as a metric dimension)', async () => {
  const config = baseConfig();
  config.stages = config.stages.filter((stage) => stage.kind !== 'rank');
  const h = harness(config);
  await feedback(h, { request_id: 'r', item_id: 'v2', outcome: 'click', value: false, user_id: RAW_USER });
  expect(recorded(h)[0]).toMatchObject({ variant: null, value: 0 });
  expect(consoleSpy.lines()[0]).toMatchObject({ Variant: 'none', Outcome: 0 });
});

test.each([
  ['an unknown outcome', { request_id: 'r', item_id: 'i', outcome: 'purchase', value: 1, user_id: RAW_USER }, 'field "outcome" must be one of click, watch_seconds'],
  ['a number for a boolean outcome', { request_id: 'r', item_id: 'i', outcome: 'click', value: 1, user_id: RAW_USER }, 'field "value" must be true or false for outcome "click"'],
  ['a boolean for a number outcome', { request_id: 'r', item_id: 'i', outcome: 'watch_seconds', value: true, user_id: RAW_USER }, 'field "value" must be a finite number for outcome "watch_seconds"'],
  ['a string value', { request_id: 'r', item_id: 'i', outcome: 'click', value: 'yes', user_id: RAW_USER }, 'field "value" must be true, false or a finite number'],
  ['no subject', { request_id: 'r', item_id: 'i', outcome: 'click', value: true }, 'field "user_id" is required'],
  ['an unknown field', { request_id: 'r', item_id: 'i', outcome: 'click', value: true, user_id: RAW_USER, email: 'x@y.z' }, 'unknown fields "email"; allowed: request_id, item_id, outcome, user_id, value'],
  ['not an object', '[1]', 'the request body must be a JSON object'],
])('400 for %s, nothing recorded', async (_what, body, message) => {
  const h = harness();
  const result = await feedback(h, body);
  expect(result).toEqual({ statusCode: 400, body: { error: message, requestId: 'fb-1' } });
  expect(h.mocks.firehose.commandCalls(PutRecordCommand)).toHaveLength(0);
  expect(JSON.stringify(result.body)).not.toContain(RAW_USER);
});

test('413 over maxRequestBytes', async () => {
  const h = harness();
  const result = await feedback(h, { request_id: 'r'.repeat(5000) });
  expect(result.statusCode).toBe(413);
});

test('503 when the stream write fails or hangs: no metric, the caller retries', async () => {
  const h = harness(baseConfig(), { server: { outcomeTimeoutMs: 50 } });
  h.mocks.firehose.on(PutRecordCommand).rejectsOnce(new Error('ServiceUnavailableException'));
  const body = { request_id: 'r', item_id: 'v2', outcome: 'click', value: true, user_id: RAW_USER };
  expect(await feedback(h, body)).toEqual({ statusCode: 503, body: { error: 'the outcome could not be recorded; retry', requestId: 'fb-1' } });
  h.mocks.firehose.on(PutRecordCommand).callsFake(async () => {
    await sleep(1000);
    return { RecordId: 'late' };
  });
  expect((await feedback(h, body)).statusCode).toBe(503);
  expect(consoleSpy.lines()).toEqual([]);
  const errors = consoleSpy.text();
  expect(errors).toContain('feedback not recorded');
  expect(errors).not.toContain(RAW_USER);
});

test('503 when the pseudonym key is unavailable', async () => {
  const h = harness();
  h.mocks.secrets.on(GetSecretValueCommand, { SecretId: KEY_ARN }).rejects(new Error('AccessDenied'));
  const result = await feedback(h, { request_id: 'r', item_id: 'v2', outcome: 'click', value: true, user_id: RAW_USER });
  expect(result).toEqual({ statusCode: 503, body: { error: 'the service is temporarily unavailable; retry', requestId: 'fb-1' } });
  expect(h.mocks.firehose.commandCalls(PutRecordCommand)).toHaveLength(0);
});

test('404 when the pipeline logs no outcomes', async () => {
  const h = harness(moderationConfig());
  expect(await feedback(h, {})).toEqual({ statusCode: 404, body: { error: 'this pipeline records no feedback', requestId: 'fb-1' } });
});
