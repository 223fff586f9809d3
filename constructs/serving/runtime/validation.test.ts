import { BatchGetRecordCommand } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { baseConfig, harness, RAW_USER, serve, spyConsole } from './test-support/fixtures';

beforeEach(() => {
  spyConsole();
});
afterEach(() => jest.restoreAllMocks());

// A value that must never come back in an error body.
const SECRET_VALUE = 'bob.secret@example.org';

async function rejected(request: unknown, config = baseConfig()) {
  const h = harness(config);
  const result = await serve(h, request, 'req-bad');
  // Nothing is looked up for a rejected request.
  expect(h.mocks.featureStore.commandCalls(BatchGetRecordCommand)).toHaveLength(0);
  expect(Object.keys(result.body).sort()).toEqual(['error', 'requestId']);
  expect(result.body.requestId).toBe('req-bad');
  return result;
}

describe('400: the body', () => {
  test.each([
    ['not JSON', `{"user_id": "${SECRET_VALUE}"`],
    ['a JSON array', JSON.stringify([SECRET_VALUE])],
    ['a JSON string', JSON.stringify(SECRET_VALUE)],
    ['empty', ''],
  ])('%s', async (_what, body) => {
    const { statusCode, body: answer } = await rejected(body);
    expect(statusCode).toBe(400);
    expect(answer.error).toBe('the request body must be a JSON object');
  });
});

describe('400: fields, named with what they allow, never echoing the value', () => {
  test.each([
    ['a number for a string', { user_id: 12345678 }, 'field "user_id" must be a string of at most 128 characters'],
    ['a string too long', { user_id: `${SECRET_VALUE}${'x'.repeat(200)}` }, 'field "user_id" must be a string of at most 128 characters'],
    ['a missing required field', { language: 'en' }, 'field "user_id" is required'],
    ['null for a required field', { user_id: null }, 'field "user_id" is required'],
    ['an object for a string', { user_id: { email: SECRET_VALUE } }, 'field "user_id" must be a string of at most 128 characters'],
    ['a non-string in a string[]', { user_id: RAW_USER, followed_ids: ['a', 7] }, 'field "followed_ids" must be an array of at most 20 strings of at most 256 characters'],
    ['too many ids', { user_id: RAW_USER, followed_ids: Array.from({ length: 21 }, (_, i) => `v${i}`) }, 'field "followed_ids" must be an array of at most 20 strings of at most 256 characters'],
    ['a lone surrogate in an identifier', { user_id: 'a\ud800b' }, 'field "user_id" contains text that has no UTF-8 encoding'],
  ])('%s', async (_what, request, message) => {
    const { statusCode, body } = await rejected(request);
    expect(statusCode).toBe(400);
    expect(body.error).toBe(message);
    expect(JSON.stringify(body)).not.toContain(SECRET_VALUE);
    expect(JSON.stringify(body)).not.toContain('12345678');
  });

  test('unknown fields are named, with the allowed ones; values are not echoed', async () => {
    const { statusCode, body } = await rejected({ user_id: RAW_USER, email: SECRET_VALUE, phone: '+49 170 0000000' });
    expect(statusCode).toBe(400);
    expect(body.error).toBe('unknown fields "email", "phone"; allowed: user_id, language, exclude_item, followed_ids');
    expect(JSON.stringify(body)).not.toContain(SECRET_VALUE);
    expect(JSON.stringify(body)).not.toContain(RAW_USER);
  });

  test('many or long unknown names are shortened', async () => {
    const request: Record<string, unknown> = { user_id: RAW_USER, ['n'.repeat(100)]: 1 };
    for (let i = 0; i < 10; i += 1) request[`f${i}`] = i;
    const { body } = await rejected(request);
    expect(body.error).toBe(`unknown fields "${'n'.repeat(40)}…", "f0", "f1", "f2", "f3" and 6 more; allowed: user_id, language, exclude_item, followed_ids`);
  });

  test('number and boolean fields: finite numbers (big integers exact), booleans only', async () => {
    const config = baseConfig();
    config.request.score = { type: 'number' };
    config.request.premium = { type: 'boolean' };
    config.request.weights = { type: 'number[]', maxLength: 2 };
    expect((await rejected({ user_id: RAW_USER, score: '1' }, config)).body.error).toBe('field "score" must be a finite number');
    expect((await rejected(`{"user_id": "${RAW_USER}", "score": 1e400}`, config)).body.error).toBe('field "score" must be a finite number');
    expect((await rejected({ user_id: RAW_USER, premium: 1 }, config)).body.error).toBe('field "premium" must be true or false');
    expect((await rejected({ user_id: RAW_USER, weights: [1, 2, 3] }, config)).body.error).toBe('field "weights" must be an array of at most 2 finite numbers');
    const h = harness(config);
    expect((await h.server.serve(`{"user_id": "${RAW_USER}", "score": 12345678901234567890, "premium": true, "weights": [1, 2.5]}`, 'ok')).statusCode).toBe(200);
  });
});

describe('413', () => {
  test('a body over maxRequestBytes, counted in UTF-8 bytes', async () => {
    const config = baseConfig();
    config.maxRequestBytes = 100;
    // 40 characters, 120 bytes.
    const { statusCode, body } = await rejected(JSON.stringify({ user_id: '€'.repeat(30) }), config);
    expect(statusCode).toBe(413);
    expect(body.error).toBe('the request body must be at most 100 bytes');
    const h = harness(config);
    expect((await h.server.serve(JSON.stringify({ user_id: 'a'.repeat(80) }), 'ok')).statusCode).toBe(200);
  });
});
