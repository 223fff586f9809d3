import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, PolicyViolation } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BLUEPRINTS } from '../../blueprints';
import { BlueprintDefinition, createApp } from '../../lib/app';
import { GdprChecks } from '../../lib/compliance';
import { ForkError, fork, namesOf, rewrite } from '../../scripts/fork';
import { REPO_ROOT, cdkJsonContext } from '../support/app';

/** A repository to fork in: its own blueprints folder, everything else the real one's. */
function scratchRepo(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mlsd-fork-'));
  for (const entry of ['lib', 'constructs', 'node_modules', 'test', 'cdk.json', 'tsconfig.json', 'package.json']) {
    fs.symlinkSync(path.join(REPO_ROOT, entry), path.join(root, entry));
  }
  fs.cpSync(path.join(REPO_ROOT, 'blueprints'), path.join(root, 'blueprints'), {
    recursive: true, filter: (source) => !/__snapshots__|__pycache__/.test(source),
  });
  return root;
}

describe('every blueprint forks into a blueprint of its own that synthesizes beside the original', () => {
  const root = scratchRepo();
  const forks = BLUEPRINTS.map((b, i) => ({ source: b.id, target: `fork-${b.id}`, prefix: `fk${i}` }));
  for (const f of forks) fork({ ...f, root });
  // The scratch repo's registry: the ten originals and their ten forks.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const all = (require(path.join(root, 'blueprints')) as { BLUEPRINTS: readonly BlueprintDefinition[] }).BLUEPRINTS;

  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('registered with their own id, stack name and prefix', () => {
    expect(all).toHaveLength(20);
    const forked = all.filter((b) => b.id.startsWith('fork-'));
    expect(forked.map((b) => b.id)).toEqual(forks.map((f) => f.target));
    expect(forked.map((b) => b.namePrefix)).toEqual(forks.map((f) => f.prefix));
    expect(forked[4].stackName).toBe('MlsdForkVideoRecommendation');
    expect(fs.readFileSync(path.join(root, 'blueprints', 'fork-news-feed', 'README.md'), 'utf8')).toMatch(/^# Fork News Feed \(fork of news-feed\)\n/);
  });

  test('nothing of the original is left in the fork but its text', () => {
    const text = fs.readdirSync(path.join(root, 'blueprints', 'fork-video-recommendation'), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(ts|py)$/.test(f))
      .map((f) => fs.readFileSync(path.join(root, 'blueprints', 'fork-video-recommendation', f), 'utf8')).join('\n');
    expect(text).not.toMatch(/['"]vrec[-_']|\bVREC_|(?<!Fork)VideoRecommendation|(?<!fork_)video_recommendation_model/);
  });

  test('all twenty stacks in one app: no physical name is deployed twice; the forks pass the gate', () => {
    const saved = process.env.CDK_DEFAULT_ACCOUNT;
    process.env.CDK_DEFAULT_ACCOUNT = '123456789012';
    try {
      // createApp fails on any physical name two stacks share (lib/app/physical-names.ts).
      expect(() => createApp(new App({ context: cdkJsonContext() }), { blueprints: all })).not.toThrow();
      const app = new App({ context: cdkJsonContext() });
      const stacks = createApp(app, { blueprints: all.filter((b) => b.id.startsWith('fork-')) });
      app.synth();
      const errors = (v: PolicyViolation) => v.severity === 'error' || v.severity === undefined;
      expect(new GdprChecks().validateScope(app).violations.filter(errors)).toEqual([]);
      expect(Template.fromStack(stacks[4]).toJSON().Resources).toBeDefined();
      expect(JSON.stringify(Template.fromStack(stacks[4]).toJSON())).toContain('fk4-ranking');
    } finally {
      if (saved === undefined) delete process.env.CDK_DEFAULT_ACCOUNT;
      else process.env.CDK_DEFAULT_ACCOUNT = saved;
    }
  });
});

describe('fork on bad input', () => {
  test.each([
    [{ source: 'nope', target: 'acme-feed' }, /<blueprint> must be one of visual-search, .*but 'nope' was provided/],
    [{ source: 'news-feed', target: 'Acme Feed' }, /<new-id> must be lower case words joined by -, e\.g\. acme-feed, but 'Acme Feed' was provided/],
    [{ source: 'news-feed', target: 'acme-feed', prefix: 'A!' }, /--prefix must be 2-10 lower case letters or digits, starting with a letter, but 'A!' was provided/],
    [{ source: 'news-feed', target: 'acme-feed', prefix: 'vrec' }, /blueprint 'video-recommendation' already uses that id, stack name or prefix \('vrec'\)/],
    [{ source: 'news-feed', target: 'news-feed', prefix: 'acme' }, /blueprints\/news-feed exists already/],
  ])('%j', (options, message) => {
    expect(() => fork({ ...options, root: REPO_ROOT })).toThrow(ForkError);
    expect(() => fork({ ...options, root: REPO_ROOT })).toThrow(message);
  });

  test('names are rewritten by convention, physical names by prefix only when quoted or followed by - or _', () => {
    const from = namesOf('video-recommendation', 'vrec');
    const to = namesOf('acme-feed', 'acme');
    expect(rewrite("const VREC_X = 'vrec-ranking'; name: 'vrec'; class VideoRecommendationStack; VIDEO_RECOMMENDATION; video_recommendation_model; 'MlsdVideoRecommendation'; vrecord",
      { ...from, pascal: 'VideoRecommendation' }, to))
      .toBe("const ACME_X = 'acme-ranking'; name: 'acme'; class AcmeFeedStack; ACME_FEED; acme_feed_model; 'MlsdAcmeFeed'; vrecord");
  });
});
