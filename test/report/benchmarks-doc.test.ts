import { withSection } from '../../scripts/benchmarks-doc';

const DOC = '# Benchmarks\n\nintro\n\n## Anonymization\n\nold figures\n\n## Serving\n\nserving figures\n';

test('a new section goes before the one named, and replaces itself on the next run', () => {
  const first = withSection(DOC, '## Raw erasure\n\nfirst run\n', '## Serving');
  expect(first).toBe('# Benchmarks\n\nintro\n\n## Anonymization\n\nold figures\n\n## Raw erasure\n\nfirst run\n\n## Serving\n\nserving figures\n');
  expect(withSection(first, '## Raw erasure\n\nsecond run\n', '## Serving')).toBe(first.replace('first run', 'second run'));
});

test('a section is replaced up to the next heading only: a bench script leaves the others\' sections', () => {
  const both = withSection(DOC, '## Raw erasure\n\nerasure\n', '## Serving');
  expect(withSection(both, '## Anonymization\n\nnew figures\n', '## Serving')).toBe(both.replace('old figures', 'new figures'));
  expect(withSection(both, '## Serving\n\nnew serving\n', '## Nowhere')).toBe(both.replace('serving figures', 'new serving'));
});

test('without the section named as the place, the new one goes last; a heading is a whole line', () => {
  expect(withSection('# B\n', '## X\n\nx\n', '## Serving')).toBe('# B\n\n## X\n\nx\n');
  expect(withSection('# B\n\n## Anonymization extra\n\na\n', '## Anonymization\n\nb\n', '## Nowhere')).toBe('# B\n\n## Anonymization extra\n\na\n\n## Anonymization\n\nb\n');
});
