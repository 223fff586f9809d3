/**
 * Integration tests through the local run of the harmful content detection blueprint: the deployed
 * SERVING_PIPELINE (the post as the one candidate → the author's violation history from the
 * Feature Store → the classifier's harm_score on the request's embeddings and reaction counts →
 * take down / send to review (SQS) / demote / allow by thresholds), the multi-task classifier
 * trained on the model tests' synthetic posts behind its own inference.py, and real local servers.
 * Started once for the file; the assertions that need a particular outcome take the first of a
 * few requests that has it (deployed stage timeouts, see video-recommendation.suite.ts).
 */
import { BatchGetRecordCommand, type BatchGetRecordCommandInput, SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { ActStage, FeaturesStage } from '../constructs/serving/runtime/contract';
import { pseudonymize } from '../lib/runtime/pseudonym';
import { clean, featureRecord, invokeEndpoint, lakeLines, post, pseudonymizationKey, rankStage, serveUntil, useLocalRun } from './integration-support';
import { REGION } from './local-config';
import { LOCAL_CREDENTIALS } from './moto';
import type { LocalRun } from './run';

type PostName = 'harmful' | 'benign' | 'borderline' | 'borderlineClean';
type PostRequest = { post_id: string; author_id: string; text_embedding: number[]; image_embedding: number[] } & Record<string, unknown>;

interface Facts {
  requests: Record<PostName, PostRequest>;
  answers: Record<PostName, { harmScore: number; decision: string; topClass: string }>;
  authors: Record<'clean' | 'repeat', { id: string; features: Record<string, number> }>;
}

const AUTHOR_GROUP = 'hcd-author-history';
const AUTHOR_FEATURES = ['violations_30d', 'violations_90d', 'upheld_appeals_90d', 'account_age_days'];
const REACTIONS = ['likes', 'comments', 'shares', 'reports', 'hides'];

let run: LocalRun;
let facts: Facts;
let key: string;
let sqs: SQSClient;

const actStage = (): ActStage => run.config.stages.find((s): s is ActStage => s.kind === 'act')!;

/** The act stage's decision for a score: the first rule it reaches, else the default. */
function actionFor(score: number): string {
  return actStage().rules.find((rule) => score >= rule.atLeast)?.action ?? actStage().defaultAction;
}

/** The classifier's harm_score for a request, invoked directly with the instance the rank stage sends. */
async function directScore(request: PostRequest): Promise<number> {
  const author = await featureRecord(run, AUTHOR_GROUP, pseudonymize(key, request.author_id));
  const instance = {
    id: request.post_id,
    text_embedding: request.text_embedding,
    image_embedding: request.image_embedding,
    ...Object.fromEntries(AUTHOR_FEATURES.flatMap((f) => (f in author ? [[f, author[f]]] : []))),
    ...Object.fromEntries(REACTIONS.flatMap((f) => (f in request ? [[f, request[f]]] : []))),
  };
  const [prediction] = await invokeEndpoint(run, rankStage(run.config).endpointName, [instance]);
  return prediction.harm_score as number;
}

/** Review-queue messages until one for `requestId` arrives (or `waitMs` passes); all received ones. */
async function reviewMessages(requestId: string, waitMs = 5_000): Promise<Message[]> {
  const received: Message[] = [];
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && !received.some((m) => (JSON.parse(m.Body!) as { requestId: string }).requestId === requestId)) {
    const answer = await sqs.send(new ReceiveMessageCommand({ QueueUrl: actStage().reviewQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    received.push(...(answer.Messages ?? []));
  }
  return received;
}

useLocalRun('harmful-content-detection', (started) => {
  run = started;
  facts = run.fixture.facts as unknown as Facts;
  key = pseudonymizationKey(run);
  sqs = new SQSClient({ endpoint: run.servers.moto.url, region: REGION, credentials: LOCAL_CREDENTIALS });
});

afterAll(() => {
  sqs?.destroy();
});

test('the deployed request path runs locally: the author feature group without cache, the review queue in moto', () => {
  const features = run.config.stages.find((s): s is FeaturesStage => s.kind === 'features')!;
  expect(features.cache).toBeUndefined();
  expect(features.groups.map((g) => g.featureGroupName)).toEqual([AUTHOR_GROUP]);
  expect(actStage().reviewActions).toEqual(['send_to_review']);
  expect(actStage().reviewQueueUrl).toContain(run.servers.moto.url.replace(/^https?:\/\//, ''));
});

test.each([
  ['harmful', 'take_down'],
  ['benign', 'allow'],
  ['borderline', 'send_to_review'],
] as const)('a %s post passes every stage and the trained model\'s harm_score decides: %s', async (name, decision) => {
  const request = facts.requests[name];
  const { status, body } = await serveUntil(run, request, clean);
  expect(status).toBe(200);
  expect(body.degraded).toEqual([]);
  expect(body.variant).toBe('champion');
  expect(Object.keys(body.timingsMs)).toEqual(['post', 'author', 'classifier', 'enforce']);
  expect(body.items).toHaveLength(1);
  const [item] = body.items;
  expect(item.id).toBe(request.post_id);
  // The served score is the endpoint's for the same instance, and the fixture's (the served inference.py).
  expect(item.score).toBe(await directScore(request));
  expect(item.score).toBeCloseTo(facts.answers[name].harmScore, 5);
  expect(item.action).toBe(actionFor(item.score!));
  expect(item.action).toBe(decision);
});

test('the author\'s history comes from the Feature Store stand-in, asked by pseudonym: it moves the same post from demote to review', async () => {
  const sent = jest.spyOn(SageMakerFeatureStoreRuntimeClient.prototype as unknown as { send: (command: unknown) => Promise<unknown> }, 'send');
  try {
    const repeat = await serveUntil(run, facts.requests.borderline, clean);
    const cleanAuthor = await serveUntil(run, facts.requests.borderlineClean, clean);
    const asked = sent.mock.calls
      .map(([command]) => command)
      .filter((command): command is BatchGetRecordCommand => command instanceof BatchGetRecordCommand)
      .flatMap((command) => (command.input as BatchGetRecordCommandInput).Identifiers ?? []);
    expect(asked).toEqual(expect.arrayContaining([
      expect.objectContaining({ FeatureGroupName: AUTHOR_GROUP, RecordIdentifiersValueAsString: [pseudonymize(key, facts.authors.repeat.id)] }),
      expect.objectContaining({ FeatureGroupName: AUTHOR_GROUP, RecordIdentifiersValueAsString: [pseudonymize(key, facts.authors.clean.id)] }),
    ]));
    expect(JSON.stringify(asked)).not.toContain(facts.authors.repeat.id);
    expect(JSON.stringify(asked)).not.toContain(facts.authors.clean.id);
    // The stored history (young account, recent violations) is what lifts the score.
    expect(await featureRecord(run, AUTHOR_GROUP, pseudonymize(key, facts.authors.repeat.id))).toMatchObject({ violations_90d: '5' });
    expect(await featureRecord(run, AUTHOR_GROUP, facts.authors.repeat.id)).toEqual({});
    expect(repeat.body.items[0]).toMatchObject({ action: 'send_to_review', score: await directScore(facts.requests.borderline) });
    expect(cleanAuthor.body.items[0]).toMatchObject({ action: 'demote', score: await directScore(facts.requests.borderlineClean) });
  } finally {
    sent.mockRestore();
  }
});

test('send_to_review puts a message on the local review queue with the author\'s pseudonym and the scores, never the raw id', async () => {
  const request = facts.requests.borderline;
  const { body } = await serveUntil(run, request, (b) => clean(b) && b.items[0]?.action === 'send_to_review');
  expect(body.items[0].action).toBe('send_to_review');
  const messages = (await reviewMessages(body.requestId)).filter((m) => m.Body!.includes(body.requestId));
  expect(messages).toHaveLength(1);
  expect(JSON.parse(messages[0].Body!)).toEqual({
    requestId: body.requestId,
    itemId: request.post_id,
    action: 'send_to_review',
    scores: expect.objectContaining({ harm_score: body.items[0].score, top_class: facts.answers.borderline.topClass }),
    subject: pseudonymize(key, request.author_id),
  });
  expect(messages[0].Body).not.toContain(request.author_id);

  // A take-down is not queued for review.
  const harmful = await serveUntil(run, facts.requests.harmful, clean);
  expect(harmful.body.items[0].action).toBe('take_down');
  expect((await reviewMessages(harmful.body.requestId, 1_500)).filter((m) => m.Body!.includes(harmful.body.requestId))).toEqual([]);
});

test('impressions and an appeal land in the local raw bucket', async () => {
  const request = facts.requests.harmful;
  const { body } = await serveUntil(run, request, clean);
  const impressions = (await lakeLines(run, run.config.log!.impressionStream)).filter((line) => line.request_id === body.requestId);
  expect(impressions).toEqual([
    expect.objectContaining({ author_id: request.author_id, ...Object.fromEntries(REACTIONS.map((f) => [f, request[f]])), item_id: request.post_id, score: body.items[0].score, action: 'take_down', variant: 'champion', degraded: '' }),
  ]);
  const appeal = await post(run, '/feedback', { ...run.fixture.sampleFeedback, request_id: body.requestId, item_id: request.post_id });
  expect(appeal.status).toBe(202);
  const outcomes = (await lakeLines(run, run.config.log!.outcomeStream)).filter((line) => line.request_id === body.requestId);
  expect(outcomes).toEqual([expect.objectContaining({ author_id: request.author_id, item_id: request.post_id, outcome: 'appealed', value: 1, variant: 'champion' })]);
});

test('a bad request answers 400 naming the field', async () => {
  const request = facts.requests.benign;
  const tooLong = await post(run, '/serve', { ...request, text_embedding: new Array(1025).fill(0.1) });
  expect(tooLong.status).toBe(400);
  expect(tooLong.body.error).toContain('text_embedding');
  const { image_embedding: _image, ...withoutImage } = request;
  const missing = await post(run, '/serve', withoutImage);
  expect(missing.status).toBe(400);
  expect(missing.body.error).toContain('"image_embedding"');
  const feedback = await post(run, '/feedback', { ...run.fixture.sampleFeedback, request_id: 'r', outcome: 'liked' });
  expect(feedback.status).toBe(400);
  expect(feedback.body.error).toContain('outcome');
});

test('a slow classifier degrades: the post is answered unscored with the act stage\'s unscored action (recheck, never allow), said in degraded', async () => {
  const classifier = rankStage(run.config);
  await run.setDelays({ endpointsMs: { [classifier.endpointName]: classifier.timeoutMs + 150 } });
  try {
    const { status, body } = await serveUntil(run, facts.requests.harmful, (b) => b.degraded.length === 1 && b.degraded[0] === 'classifier');
    expect(status).toBe(200);
    expect(body.degraded).toEqual(['classifier']);
    expect(body.variant).toBeNull();
    expect(body.timingsMs.classifier).toBeGreaterThanOrEqual(classifier.timeoutMs - 1);
    // No score: moderation fails closed, the post is to be checked again rather than allowed.
    expect(body.items).toEqual([{ id: facts.requests.harmful.post_id, action: 'recheck' }]);
    expect(actStage()).toMatchObject({ defaultAction: 'allow', unscoredAction: 'recheck' });
  } finally {
    await run.setDelays({ endpointsMs: { [classifier.endpointName]: 0 } });
  }
});
