import { execFileSync } from 'child_process';
import * as path from 'path';
import { closestInstanceType, instanceTypeProblem, isSageMakerInstanceType } from '../../lib/sagemaker/instance-types';
import { REPO_ROOT } from '../support/app';

test('the committed catalogue is what the pinned botocore lists (scripts/instance_catalogue.py --check)', () => {
  // Throws (exit 1, with the command to run) when requirements-dev.txt moves botocore and the catalogue was not rewritten.
  execFileSync(path.join(REPO_ROOT, '.venv', 'bin', 'python'), [path.join(REPO_ROOT, 'scripts', 'instance_catalogue.py'), '--check'], { stdio: 'pipe' });
});

test('each use has its own list: a type of one API is not always one of another', () => {
  expect(isSageMakerInstanceType('ml.g5.xlarge', 'endpoint')).toBe(true);
  expect(isSageMakerInstanceType('ml.m5d.large', 'endpoint')).toBe(true);
  expect(isSageMakerInstanceType('ml.m5d.large', 'processing')).toBe(false);
  expect(isSageMakerInstanceType('ml.g5.xlarg', 'training')).toBe(false);
});

test('a misspelt or EC2-named type gets the closest known type; a token is left to deploy time', () => {
  expect(closestInstanceType('g5.2xlarge', 'training')).toBe('ml.g5.2xlarge');
  expect(closestInstanceType('ml.g5.xlarg', 'training')).toBe('ml.g5.xlarge');
  expect(closestInstanceType('something-else-entirely', 'training')).toBeUndefined();
  expect(instanceTypeProblem('instanceType', 'ml.m5.xlarge', 'transform', 'ml.m5.xlarge')).toBeUndefined();
  expect(instanceTypeProblem('instanceType', '${Token[TOKEN.1]}', 'transform', 'ml.m5.xlarge')).toBeUndefined();
  expect(instanceTypeProblem('instanceType', 'huge', 'transform', 'ml.m5.xlarge')).toMatch(/^instanceType must be one of the \d+ instance types SageMaker accepts for transform \(botocore [\d.]+, sagemaker 2017-07-24\), e\.g\. ml\.m5\.xlarge, but 'huge' was provided$/);
});
