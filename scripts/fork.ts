/**
 * `npm run fork -- <blueprint> <new-id> [--prefix <name-prefix>] [--no-snapshot]`
 *
 * Copies `blueprints/<blueprint>/` to `blueprints/<new-id>/` and renames what makes it a blueprint
 * of its own: the folder and file names, identifiers (`VideoRecommendationStack` →
 * `AcmeFeedStack`, `VIDEO_RECOMMENDATION` → `ACME_FEED`, `video_recommendation` → `acme_feed`),
 * the id, the stack name (`MlsdAcmeFeed`), and every physical name (the blueprint's `namePrefix`:
 * `'vrec-ranking'` → `'acme-ranking'`, `VREC_` constants → `ACME_`); registers the fork in
 * `blueprints/index.ts`, marks its README as a fork, writes its snapshot, and prints what to edit
 * next. The source blueprint is left as it is.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BLUEPRINTS } from '../blueprints';

const ID = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const PREFIX = /^[a-z][a-z0-9]{1,9}$/;
const TEXT_FILES = /\.(ts|py|md|json)$/;
const SKIPPED = new Set(['__snapshots__', '__pycache__', '.pytest_cache']);

export class ForkError extends Error {}

export interface ForkOptions {
  readonly source: string;
  readonly target: string;
  /** @default - the new id's initials (e.g. `af` for acme-feed) */
  readonly prefix?: string;
  /** The repository root to fork in. @default this repository */
  readonly root?: string;
}

/** The names one blueprint is known by, in each case convention. */
export interface Names {
  readonly kebab: string;
  readonly snake: string;
  readonly pascal: string;
  readonly constant: string;
  readonly prefix: string;
}

export function namesOf(id: string, prefix: string): Names {
  const words = id.split('-');
  return {
    kebab: id,
    snake: words.join('_'),
    pascal: words.map((w) => w[0].toUpperCase() + w.slice(1)).join(''),
    constant: words.join('_').toUpperCase(),
    prefix,
  };
}

/**
 * Rewrites one file's text from the source blueprint's names to the fork's, in one pass (a new id
 * that contains the old one, fork-news-feed of news-feed, must not be rewritten twice).
 */
export function rewrite(text: string, from: Names, to: Names): string {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const replacements: [string, (match: string) => string][] = [
    // Physical names: quoted prefixes ('vrec-…', "vrec_…", 'vrec'), and the prefix before - or _ in text.
    [`(?<=['"\`])${escape(from.prefix)}(?=[-_'"\`])`, () => to.prefix],
    [`\\b${escape(from.prefix)}(?=[-_][a-z])`, () => to.prefix],
    // Constants named after the prefix (VREC_MODEL_NAME).
    [`\\b${escape(from.prefix.toUpperCase())}(?=_)`, () => to.prefix.toUpperCase()],
    // The blueprint's own names in each convention.
    [escape(from.pascal), () => to.pascal],
    [`\\b${escape(from.constant)}`, () => to.constant],
    [escape(from.snake), () => to.snake],
    [escape(from.kebab), () => to.kebab],
  ];
  const combined = new RegExp(replacements.map(([pattern]) => `(${pattern})`).join('|'), 'g');
  return text.replace(combined, (match: string, ...groups: unknown[]) => {
    const index = groups.findIndex((g, i) => i < replacements.length && g !== undefined);
    return replacements[index][1](match);
  });
}

function copyTree(from: string, to: string, rename: (name: string) => string, transform: (file: string, text: string) => string): string[] {
  const written: string[] = [];
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const source = path.join(from, entry.name);
    const target = path.join(to, rename(entry.name));
    if (entry.isDirectory()) {
      written.push(...copyTree(source, target, rename, transform));
    } else if (TEXT_FILES.test(entry.name)) {
      fs.writeFileSync(target, transform(entry.name, fs.readFileSync(source, 'utf8')));
      written.push(target);
    } else {
      fs.copyFileSync(source, target);
      written.push(target);
    }
  }
  return written;
}

function register(root: string, to: Names): void {
  const index = path.join(root, 'blueprints', 'index.ts');
  let text = fs.readFileSync(index, 'utf8');
  const importLine = `import { ${to.constant} } from './${to.kebab}';\n`;
  const lastImport = text.lastIndexOf('\nimport ');
  const insertAt = text.indexOf('\n', lastImport + 1) + 1;
  text = text.slice(0, insertAt) + importLine + text.slice(insertAt);
  text = text.replace(/\n\];\s*$/, `\n  ${to.constant},\n];\n`);
  fs.writeFileSync(index, text);
}

function markReadme(file: string, source: string, to: Names): void {
  if (!fs.existsSync(file)) return;
  const text = fs.readFileSync(file, 'utf8');
  const body = text.replace(/^# .*\n/, '');
  fs.writeFileSync(file, `# ${to.pascal.replace(/([a-z])([A-Z])/g, '$1 $2')} (fork of ${source})\n\n`
    + `> Forked from \`blueprints/${source}\` with \`npm run fork\`. Stack \`Mlsd${to.pascal}\`, id \`${to.kebab}\`, `
    + `physical names prefixed \`${to.prefix}-\`. The text below is the original's: rewrite it for your design.\n${body}`);
}

/** Forks a blueprint; returns the files written. */
export function fork(options: ForkOptions): string[] {
  const root = options.root ?? path.resolve(__dirname, '..');
  const definition = BLUEPRINTS.find((b) => b.id === options.source);
  const problems: string[] = [];
  if (definition === undefined) problems.push(`<blueprint> must be one of ${BLUEPRINTS.map((b) => b.id).join(', ')}, but '${options.source}' was provided`);
  if (!ID.test(options.target)) problems.push(`<new-id> must be lower case words joined by -, e.g. acme-feed, but '${options.target}' was provided`);
  const prefix = options.prefix ?? options.target.split('-').map((w) => w[0]).join('') + (options.target.includes('-') ? '' : 'x');
  if (!PREFIX.test(prefix)) problems.push(`--prefix must be 2-10 lower case letters or digits, starting with a letter, but '${prefix}' was provided`);
  const folder = path.join(root, 'blueprints', options.target);
  if (fs.existsSync(folder)) problems.push(`blueprints/${options.target} exists already`);
  const taken = BLUEPRINTS.find((b) => b.id === options.target || b.namePrefix === prefix || b.stackName === `Mlsd${namesOf(options.target, prefix).pascal}`);
  if (taken) problems.push(`blueprint '${taken.id}' already uses that id, stack name or prefix ('${taken.namePrefix}'); choose another`);
  if (problems.length > 0 || definition === undefined) throw new ForkError(`fork: ${problems.join('; ')}`);

  const from = { ...namesOf(definition.id, definition.namePrefix), pascal: definition.stackName.replace(/^Mlsd/, '') };
  const to = namesOf(options.target, prefix);
  const written = copyTree(path.join(root, 'blueprints', definition.id), folder,
    (name) => name.replace(from.snake, to.snake).replace(from.kebab, to.kebab),
    (_file, text) => rewrite(text, from, to));
  register(root, to);
  markReadme(path.join(folder, 'README.md'), definition.id, to);
  return written;
}

function main(args: string[]): void {
  const positional = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--prefix');
  const prefixAt = args.indexOf('--prefix');
  if (positional.length !== 2) {
    throw new ForkError('usage: npm run fork -- <blueprint> <new-id> [--prefix <name-prefix>] [--no-snapshot]');
  }
  const [source, target] = positional;
  fork({ source, target, prefix: prefixAt >= 0 ? args[prefixAt + 1] : undefined });
  const to = `blueprints/${target}`;
  if (!args.includes('--no-snapshot')) {
    // The fork's own snapshot, from its own stack (the copied tests pass as they stand).
    const jest = spawnSync('npx', ['jest', '--ci=false', to], { stdio: 'inherit' });
    if (jest.status !== 0) throw new ForkError(`fork: the fork's tests failed; see above (${to}/stack.test.ts)`);
  }
  console.log(`\nForked into ${to} and registered it in blueprints/index.ts. Next:
  1. ${to}/figures.ts     your figures (traffic, latency budget, data size): the stack sizes itself from them
  2. ${to}/datasets.ts    your data and the classification of every column (docs/forking.md)
  3. ${to}/model/         your model behind the same train.py / inference.py contract
  4. ${to}/README.md      your design; then npx jest ${to} -u once the template changes are the ones you meant
  5. npx cdk synth Mlsd${namesOf(target, 'x').pascal} -c blueprint=${target}`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    if (error instanceof ForkError) {
      console.error(`mlsd-blueprints: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}
