/**
 * Every blueprint README carries the "Service quotas at peak" section that `npm run quotas` would
 * write from today's templates: a change of figures, capacity or instance type that moves a quota
 * fails here until the READMEs are regenerated. All ten blueprints are synthesized once, without
 * the compliance gate (the blueprints' own tests run it).
 */
import * as fs from 'fs';
import * as path from 'path';
import { currentQuotaSection } from '../../lib/quotas';
import { quotaSections } from '../../scripts/quotas';
import { REPO_ROOT } from '../support/app';

const files = quotaSections();

test.each(files.map((f) => [f.id, f] as const))('%s: the README\'s quota section is what `npm run quotas` writes', (id, file) => {
  const current = currentQuotaSection(fs.readFileSync(file.readme, 'utf8'));
  if (current !== file.section) {
    const where = path.relative(REPO_ROOT, file.readme);
    throw new Error(`${where}: the "Service quotas at peak" section is ${current === undefined ? 'missing' : `out of date for ${id}`}: run \`npm run quotas\``);
  }
});
