import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { harness, invokeInputs, KEY, modelBody, moderationConfig, parseModelInput, REVIEW_QUEUE, serve, sleep, spyConsole } from './test-support/fixtures';
import { pseudonymize } from '../../../lib/runtime/pseudonym';

const AUTHOR = 'dave.author@example.com';
const AUTHOR_PSEUDONYM = pseudonymize(KEY, AUTHOR);
const REQUEST = { author_id: AUTHOR, post_id: 'post-1', text: 'some text' };

let consoleSpy: ReturnType<typeof spyConsole>;
beforeEach(() => {
  consoleSpy = spyConsole();
});
afterEach(() => jest.restoreAllMocks());

function classifierSays(h: ReturnType<typeof harness>, scores: Record<string, number>): void {
  h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'harm-classifier' }).resolves({ Body: modelBody({ predictions: [scores] }) });
}

test('the post is the single candidate; the classifier sees pseudonyms only', async () => {
  const h = harness(moderationConfig());
  classifierSays(h, { violence: 0.1, hate: 0.1 });
  await serve(h, REQUEST);
  const [input] = invokeInputs(h, 'harm-classifier');
  expect(input.TargetVariant).toBe('champion');
  expect(parseModelInput(input)).toEqual({ instances: [{ id: 'post-1', text: 'some text', author: AUTHOR_PSEUDONYM }] });
});

test.each([
  [{ violence: 0.95, hate: 0.9 }, 'take_down', true],
  [{ violence: 0.2, hate: 0.6 }, 'review', true],
  [{ violence: 0.55, hate: 0.1 }, 'demote', false],
  [{ violence: 0.1, hate: 0.1 }, 'allow', false],
])('scores %j: the first rule reached decides (%s)', async (scores, action, reviewed) => {
  const h = harness(moderationConfig());
  classifierSays(h, scores);
  const { statusCode, body } = await serve(h, REQUEST, 'req-act');
  expect(statusCode).toBe(200);
  expect(body.items).toEqual([{ id: 'post-1', score: scores.violence, action }]);
  const sent = h.mocks.sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
  if (!reviewed) {
    expect(sent).toEqual([]);
    return;
  }
  expect(sent).toHaveLength(1);
  expect(sent[0].QueueUrl).toBe(REVIEW_QUEUE);
  expect(sent[0].Entries).toHaveLength(1);
  const message = JSON.parse(sent[0].Entries?.[0].MessageBody ?? '{}');
  expect(message).toEqual({ requestId: 'req-act', itemId: 'post-1', action, scores, subject: AUTHOR_PSEUDONYM });
  expect(JSON.stringify(sent)).not.toContain(AUTHOR);
});

test('classifier down: no scores, the default action, nothing to review', async () => {
  const h = harness(moderationConfig());
  h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'harm-classifier' }).rejects(new Error('down'));
  const { body } = await serve(h, REQUEST);
  expect(body).toMatchObject({ items: [{ id: 'post-1', action: 'allow' }], variant: null, degraded: ['classifier'] });
  expect(h.mocks.sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
});

test('classifier down with unscoredAction: moderation fails closed; the unscored action can go to review too', async () => {
  const config = moderationConfig();
  const act = config.stages.find((stage) => stage.kind === 'act')!;
  Object.assign(act, { unscoredAction: 'recheck' });
  const h = harness(config);
  h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'harm-classifier' }).rejects(new Error('down'));
  expect((await serve(h, REQUEST)).body).toMatchObject({ items: [{ id: 'post-1', action: 'recheck' }], degraded: ['classifier'] });
  expect(h.mocks.sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  // Scored below every threshold: the default, not the unscored action.
  const scored = harness(config);
  classifierSays(scored, { violence: 0.1, hate: 0.1 });
  expect((await serve(scored, REQUEST)).body.items).toEqual([{ id: 'post-1', score: 0.1, action: 'allow' }]);

  Object.assign(act, { unscoredAction: 'review' });
  const reviewed = harness(config);
  reviewed.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'harm-classifier' }).rejects(new Error('down'));
  await serve(reviewed, REQUEST, 'req-unscored');
  const [sent] = reviewed.mocks.sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
  expect(JSON.parse(sent.Entries?.[0].MessageBody ?? '{}')).toEqual({ requestId: 'req-unscored', itemId: 'post-1', action: 'review', scores: {}, subject: AUTHOR_PSEUDONYM });
});

test('with log.actions, each impression line carries the action decided (and the unscored one)', async () => {
  const config = moderationConfig();
  config.log = { impressionStream: 'hcd-impressions', outcomeStream: 'hcd-outcomes', requestFields: [], outcomes: { appealed: 'boolean' }, actions: true };
  Object.assign(config.stages.find((stage) => stage.kind === 'act')!, { unscoredAction: 'recheck' });
  const lineOf = (h: ReturnType<typeof harness>) => {
    const records = h.mocks.firehose.commandCalls(PutRecordBatchCommand)[0].args[0].input.Records ?? [];
    return JSON.parse(Buffer.from(records[0].Data as Uint8Array).toString());
  };
  const scored = harness(config);
  classifierSays(scored, { violence: 0.95, hate: 0 });
  await serve(scored, REQUEST);
  expect(lineOf(scored)).toMatchObject({ item_id: 'post-1', score: 0.95, action: 'take_down', variant: 'champion' });
  const down = harness(config);
  down.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'harm-classifier' }).rejects(new Error('down'));
  await serve(down, REQUEST);
  expect(lineOf(down)).toMatchObject({ item_id: 'post-1', score: null, action: 'recheck', degraded: 'classifier' });
  // Without the flag the line has no action field (the dataset would have no such column).
  const plain = moderationConfig();
  plain.log = { ...config.log, actions: undefined };
  const h = harness(plain);
  classifierSays(h, { violence: 0.95, hate: 0 });
  await serve(h, REQUEST);
  expect(lineOf(h)).not.toHaveProperty('action');
});

test('review queue failing or slow: the decision stands, the stage is degraded', async () => {
  const h = harness(moderationConfig());
  classifierSays(h, { violence: 0.99, hate: 0 });
  h.mocks.sqs.on(SendMessageBatchCommand).resolvesOnce({ Successful: [], Failed: [{ Id: '0', SenderFault: false, Code: 'InternalError' }] });
  const failed = await serve(h, REQUEST);
  expect(failed.body).toMatchObject({ items: [{ id: 'post-1', action: 'take_down' }], degraded: ['decide'] });
  h.mocks.sqs.on(SendMessageBatchCommand).callsFake(async () => {
    await sleep(1000);
    return { Successful: [] };
  });
  const started = Date.now();
  const slow = await serve(h, REQUEST);
  expect(Date.now() - started).toBeLessThan(900); // the slow dependency takes 1000 ms: the request did not wait for it
  expect(slow.body).toMatchObject({ items: [{ action: 'take_down' }], degraded: ['decide'] });
  expect(consoleSpy.text()).not.toContain(AUTHOR);
});

test('many candidates: one action each, review messages in batches of 10', async () => {
  const config = moderationConfig();
  config.request.post_id = { type: 'string[]', required: true, maxLength: 50 };
  config.response.maxItems = 25;
  const h = harness(config);
  h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'harm-classifier' }).callsFake(async (input) => ({
    Body: modelBody((parseModelInput(input).instances as unknown[]).map(() => ({ violence: 0.95 }))),
  }));
  const ids = Array.from({ length: 30 }, (_, i) => `post-${i}`);
  const { body } = await serve(h, { author_id: AUTHOR, post_id: ids });
  // Only the served items are acted on.
  expect(body.items).toHaveLength(25);
  expect(body.items.every((item) => item.action === 'take_down')).toBe(true);
  const batches = h.mocks.sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input.Entries?.length);
  expect(batches).toEqual([10, 10, 5]);
});
