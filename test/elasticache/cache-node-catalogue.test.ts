import { execFileSync } from 'child_process';
import * as path from 'path';
import { cacheNodeTypeProblem, closestCacheNodeType, isCurrentCacheNodeType } from '../../lib/elasticache';
import { REPO_ROOT } from '../support/app';

test('the committed catalogue is what the pinned botocore documents (scripts/cache_node_catalogue.py --check)', () => {
  execFileSync(path.join(REPO_ROOT, '.venv', 'bin', 'python'), [path.join(REPO_ROOT, 'scripts', 'cache_node_catalogue.py'), '--check'], { stdio: 'pipe' });
});

test('current types pass, previous-generation and misspelt types are named with what is allowed', () => {
  expect(isCurrentCacheNodeType('cache.r7g.large')).toBe(true);
  expect(isCurrentCacheNodeType('cache.t4g.micro')).toBe(true);
  expect(isCurrentCacheNodeType('cache.m1.small')).toBe(false);
  expect(closestCacheNodeType('r7g.large')).toBe('cache.r7g.large');
  expect(closestCacheNodeType('cache.r7g.larg')).toBe('cache.r7g.large');
  expect(cacheNodeTypeProblem('cacheNodeType', 'cache.r7g.large', 'cache.r7g.large')).toBeUndefined();
  expect(cacheNodeTypeProblem('cacheNodeType', '${Token[TOKEN.1]}', 'cache.r7g.large')).toBeUndefined();
  expect(cacheNodeTypeProblem('cacheNodeType', 'cache.m1.small', 'cache.r7g.large')).toMatch(/previous-generation 'cache\.m1\.small'/);
  expect(cacheNodeTypeProblem('cacheNodeType', 'cache.r7g.huge', 'cache.r7g.large'))
    .toMatch(/^cacheNodeType must be one of the \d+ current-generation ElastiCache node types \(botocore [\d.]+, elasticache 2015-02-02\), e\.g\. cache\.r7g\.large, but 'cache\.r7g\.huge' was provided; did you mean 'cache\.r7g\.large'\?$/);
});
