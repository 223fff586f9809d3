import { createHash } from 'node:crypto';
import { pseudonymize } from '../../../lib/runtime/pseudonym';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { assignVariant } from './variant';
import { harness, KEY, serve, spyConsole } from './test-support/fixtures';

const WEIGHTS = [
  { name: 'champion', weight: 7 },
  { name: 'challenger', weight: 2 },
  { name: 'shadow-free', weight: 1 },
];

test('the documented formula: first 8 hex digits of SHA-256("<pipeline>:<pseudonym>") against cumulative weights', () => {
  const pseudonym = pseudonymize(KEY, 'alice@example.com');
  const u = parseInt(createHash('sha256').update(`vrec:${pseudonym}`).digest('hex').slice(0, 8), 16) / 2 ** 32;
  const expected = u < 0.7 ? 'champion' : u < 0.9 ? 'challenger' : 'shadow-free';
  expect(assignVariant('vrec', pseudonym, WEIGHTS)).toBe(expected);
});

test('sticky: the same pseudonym always gets the same variant; the pipeline name splits independently', () => {
  const subjects = Array.from({ length: 200 }, (_, i) => pseudonymize(KEY, `user-${i}`));
  for (const subject of subjects) {
    expect(assignVariant('vrec', subject, WEIGHTS)).toBe(assignVariant('vrec', subject, WEIGHTS));
  }
  const same = subjects.filter((s) => assignVariant('vrec', s, [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }]) === assignVariant('other', s, [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }]));
  // Independent halves agree about half the time, not always.
  expect(same.length).toBeGreaterThan(60);
  expect(same.length).toBeLessThan(140);
});

test('over 10,000 synthetic subjects the split is close to the weights', () => {
  const counts = new Map<string, number>();
  for (let i = 0; i < 10_000; i += 1) {
    const variant = assignVariant('vrec', pseudonymize(KEY, `subject-${i}`), WEIGHTS);
    counts.set(String(variant), (counts.get(String(variant)) ?? 0) + 1);
  }
  // Binomial standard deviation at n = 10,000 is at most 0.5 %; allow 4 of them.
  expect(Math.abs((counts.get('champion') ?? 0) / 10_000 - 0.7)).toBeLessThan(0.02);
  expect(Math.abs((counts.get('challenger') ?? 0) / 10_000 - 0.2)).toBeLessThan(0.02);
  expect(Math.abs((counts.get('shadow-free') ?? 0) / 10_000 - 0.1)).toBeLessThan(0.02);
});

test('a zero-weight variant is never assigned; no positive weight gives null', () => {
  const variants = [
    { name: 'off', weight: 0 },
    { name: 'on', weight: 1 },
  ];
  for (let i = 0; i < 500; i += 1) expect(assignVariant('vrec', `p${i}`, variants)).toBe('on');
  expect(assignVariant('vrec', 'p', [{ name: 'off', weight: 0 }])).toBeNull();
});

test('moving weight moves only the subjects at the boundary (ramp up keeps earlier challenger users)', () => {
  const before = [{ name: 'challenger', weight: 0.1 }, { name: 'champion', weight: 0.9 }];
  const after = [{ name: 'challenger', weight: 0.5 }, { name: 'champion', weight: 0.5 }];
  for (let i = 0; i < 2000; i += 1) {
    const subject = pseudonymize(KEY, `ramp-${i}`);
    if (assignVariant('vrec', subject, before) === 'challenger') expect(assignVariant('vrec', subject, after)).toBe('challenger');
  }
});

test('the serve route sends the same subject to the same variant on every request', async () => {
  spyConsole();
  const h = harness();
  for (let i = 0; i < 5; i += 1) await serve(h, { user_id: 'carol@example.com', language: 'en' }, `r${i}`);
  const targets = new Set(h.mocks.sagemaker.commandCalls(InvokeEndpointCommand, { EndpointName: 'ranker' }).map((call) => call.args[0].input.TargetVariant));
  expect(targets).toEqual(new Set([assignVariant('vrec', pseudonymize(KEY, 'carol@example.com'), [{ name: 'champion', weight: 0.9 }, { name: 'challenger', weight: 0.1 }])]));
  jest.restoreAllMocks();
});
