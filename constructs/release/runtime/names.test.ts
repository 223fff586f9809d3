import {
  SAGEMAKER_NAME, boundedName, deployedEndpointConfigName, isSageMakerName, parseModelPackageArn, quoteIdentifier, releaseEndpointConfigName,
  releaseModelName, releaseModelVersion,
} from './names';
import { serviceModelProblems } from './testing/service-model';

const LONGEST = `a${'-b'.repeat(30)}cd`; // 63 characters, hyphens everywhere a cut can land
const LONGEST_ALNUM = 'e'.repeat(63);

describe('release names', () => {
  test('short names stay readable', () => {
    expect(releaseModelName('news-feed-ranker', 3)).toBe('news-feed-ranker-v3');
    expect(releaseEndpointConfigName('news-feed-ranker', 3, 'challenger')).toBe('news-feed-ranker-v3-challenger');
  });

  test.each([LONGEST, LONGEST_ALNUM])('at the longest endpoint name (%s) every name is a valid SageMaker name', (endpoint) => {
    expect(endpoint).toHaveLength(63);
    const names = [
      releaseModelName(endpoint, 1),
      releaseModelName(endpoint, 999_999_999),
      releaseEndpointConfigName(endpoint, 999_999_999, 'challenger'),
      releaseEndpointConfigName(endpoint, 7, 'c'.repeat(63)),
      deployedEndpointConfigName(endpoint, 'content'),
    ];
    for (const name of names) {
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(SAGEMAKER_NAME);
    }
    // And as the service model checks them, in the requests that carry them.
    expect(serviceModelProblems('sagemaker', 'CreateModel', { ModelName: names[1] })).toEqual([]);
    expect(serviceModelProblems('sagemaker', 'CreateEndpointConfig', {
      EndpointConfigName: names[2], ProductionVariants: [{ VariantName: 'challenger', ModelName: names[1] }],
    })).toEqual([]);
  });

  test('a deploy\'s config is named by its content, under the loop\'s prefix', () => {
    expect(deployedEndpointConfigName('news-feed-ranker', 'a')).toMatch(/^news-feed-ranker-vd[0-9a-f]{12}$/);
    expect(deployedEndpointConfigName('news-feed-ranker', 'a')).toBe(deployedEndpointConfigName('news-feed-ranker', 'a'));
    expect(deployedEndpointConfigName('news-feed-ranker', 'a')).not.toBe(deployedEndpointConfigName('news-feed-ranker', 'b'));
  });

  test.each([LONGEST, 'news-feed-ranker'])('tells the loop\'s models on %s from any other', (endpoint) => {
    expect(releaseModelVersion(endpoint, releaseModelName(endpoint, 42))).toBe(42);
    expect(releaseModelVersion(endpoint, releaseModelName(endpoint, 999_999_999))).toBe(999_999_999);
    // The template's models, another endpoint's, and names that only look alike.
    for (const name of ['ModelChampion-abc123', releaseModelName('other-endpoint', 3), `${endpoint}-v0`, `${endpoint}-v3x`, `x${releaseModelName(endpoint, 3)}`]) {
      expect(releaseModelVersion(endpoint, name)).toBeNull();
    }
  });

  test('the service model check catches what SageMaker would reject', () => {
    expect(serviceModelProblems('sagemaker', 'CreateModel', { ModelName: 'x'.repeat(64), Mode: 1 })).toEqual([
      `CreateModel.ModelName: length 64 > max 63`,
      'CreateModel.Mode: not a member of CreateModelInput',
    ]);
    expect(serviceModelProblems('sagemaker', 'UpdateEndpoint', { EndpointName: 'ep', ExcludeRetainedVariantProperties: [{ VariantPropertyType: 'Weight' }] })).toEqual([
      'UpdateEndpoint.EndpointConfigName: required by UpdateEndpointInput',
      "UpdateEndpoint.ExcludeRetainedVariantProperties[0].VariantPropertyType: 'Weight' is not one of VariantPropertyType's values",
    ]);
    expect(serviceModelProblems('sagemaker', 'CreateEndpointConfig', { EndpointConfigName: 'ep-', ProductionVariants: [] })).toEqual([
      "CreateEndpointConfig.EndpointConfigName: 'ep-' does not match EndpointConfigName's pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
      'CreateEndpointConfig.ProductionVariants: length 0 < min 1',
    ]);
  });

  test('long names that share a prefix do not share a release name', () => {
    const a = `${'x'.repeat(60)}-aa`;
    const b = `${'x'.repeat(60)}-bb`;
    expect(releaseModelName(a, 2)).not.toBe(releaseModelName(b, 2));
    expect(releaseEndpointConfigName(a, 2, 'challenger')).not.toBe(releaseEndpointConfigName(b, 2, 'challenger'));
  });

  test('names are deterministic: a retry finds what the first try created', () => {
    expect(releaseEndpointConfigName(LONGEST, 12, 'challenger')).toBe(releaseEndpointConfigName(LONGEST, 12, 'challenger'));
    expect(releaseEndpointConfigName('ep', 12, 'champion')).not.toBe(releaseEndpointConfigName('ep', 12, 'challenger'));
  });

  test.each([0, -1, 1.5, Number.NaN])('fails for version %p, naming it', (version) => {
    expect(() => releaseModelName('ep', version)).toThrow(`model package version must be a whole number from 1, but ${version} was provided`);
  });

  test.each(['', '-ep', 'ep-', 'e_p', 'x'.repeat(64)])('fails for the invalid base %p', (base) => {
    expect(isSageMakerName(base)).toBe(false);
    expect(() => boundedName(base, 'v1')).toThrow(/name base must be a SageMaker name/);
  });

  test('parses versioned model package ARNs only', () => {
    expect(parseModelPackageArn('arn:aws:sagemaker:eu-west-1:123456789012:model-package/news-feed-models/12')).toEqual({ group: 'news-feed-models', version: 12 });
    expect(parseModelPackageArn('arn:aws:sagemaker:eu-west-1:123456789012:model-package/unversioned')).toBeNull();
    expect(parseModelPackageArn('bootstrap')).toBeNull();
  });

  test.each(['user_id', 'news_feed_impressions', '_x9'])('quotes the Glue identifier %p', (name) => {
    expect(quoteIdentifier(name)).toBe(`"${name}"`);
  });

  test.each(['user_id" OR 1=1 --', 'UserId', '1table', 'a b', 'x'.repeat(129), ''])('refuses the identifier %p', (name) => {
    expect(() => quoteIdentifier(name)).toThrow(/SQL identifier must be lower-case letters, digits and underscores/);
  });
});
