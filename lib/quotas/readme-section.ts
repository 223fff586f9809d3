/**
 * The "Service quotas at peak" section of a blueprint's README, between two markers, and where it
 * goes: `npm run quotas` writes it, and a test fails when a README's section differs from what the
 * script would write.
 */
import { fmt } from '../cost/estimate';
import { KitError } from '../errors';
import { AOSS_OCU_MEMORY_GIB, COUNTING_SOURCES, LAMBDA_UNRESERVED_MINIMUM, QuotaNeed } from './quota-needs';

export const QUOTAS_START = '<!-- quotas:start -->';
export const QUOTAS_END = '<!-- quotas:end -->';
export const QUOTAS_HEADING = '## Service quotas at peak';

/** What the section says about the template it was computed from. */
export interface QuotaSectionInput {
  readonly region: string;
  readonly needs: readonly QuotaNeed[];
}

/** A table cell: no pipe or line break may end the cell early. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

function serviceCell(need: QuotaNeed): string {
  return need.serviceCode ? `${need.service} (\`${need.serviceCode}\`)` : need.service;
}

/** The counting rules that apply to the rows present, one bullet each. */
function countingNotes(needs: readonly QuotaNeed[]): string[] {
  const has = (test: (n: QuotaNeed) => boolean) => needs.some(test);
  const notes: string[] = [];
  if (has((n) => n.quota.endsWith('for endpoint usage'))) {
    notes.push('Endpoints: per instance type, the variants\' autoscaling maxima added up (the arithmetic is in each scalable target\'s '
      + '`mlsd:sizing` metadata). A model update keeps the old fleet while the new one starts, so an update at peak needs up to twice '
      + `these (${COUNTING_SOURCES.blueGreen}).`);
  }
  if (has((n) => / for (spot )?(training|processing|transform) job usage$/.test(n.quota))) {
    notes.push('Jobs: a workflow runs one state at a time, so it needs its largest job; the workflows are added up, because which of '
      + 'them overlap depends on schedules, events and run lengths the template cannot tell. A Map state runs its jobs in each of its '
      + 'concurrent iterations, except a job marked once per execution; each workflow is counted as one execution, so executions that '
      + 'overlap (e.g. windows anonymized close together) need more; the raw erasure batch never overlaps itself (it holds a lock). '
      + 'Spot training counts against the spot quota only.');
  }
  if (has((n) => n.quota === 'Concurrent executions')) {
    notes.push('Lambda: provisioned concurrency at its autoscaling maximum, reserved concurrency, one execution per shard of each '
      + `stream consumer (${COUNTING_SOURCES.parallelization}), and the ${LAMBDA_UNRESERVED_MINIMUM} that stay unreserved `
      + `(${COUNTING_SOURCES.unreserved}).`);
  }
  if (has((n) => n.quota === 'Throttle rate')) {
    notes.push('API Gateway: every API of the account in the Region shares the account throttle; the burst is set by AWS with the rate.');
  }
  if (has((n) => n.channel === 'aoss-account-settings')) {
    notes.push(`OpenSearch Serverless: search OCUs from the HNSW graph memory of the sizing at ${AOSS_OCU_MEMORY_GIB} GiB per OCU (${COUNTING_SOURCES.ocu}); `
      + 'an OCU also holds the engine, so this is a lower bound. These limits are account settings, raised with '
      + '`aws opensearchserverless update-account-settings --capacity-limits maxSearchCapacityInOCU=<n>,maxIndexingCapacityInOCU=<n>`.');
  }
  return notes;
}

/** The section, markers included, ending with a newline. */
export function quotaSection(input: QuotaSectionInput): string {
  const sources: string[] = [];
  const footnote = (source: string | undefined) => {
    if (!source) return '';
    if (!sources.includes(source)) sources.push(source);
    return ` [${sources.indexOf(source) + 1}]`;
  };
  const lines = [
    QUOTAS_START,
    QUOTAS_HEADING,
    '',
    `At the peak of its figures this blueprint needs the quotas below in ${input.region}. Before the peak comes, compare each with `
      + 'your account\'s value in the Service Quotas console and raise the ones below the need there, or with `aws service-quotas '
      + 'request-service-quota-increase --service-code <code> --quota-code <L-...> --desired-value <n>` (`aws service-quotas '
      + 'list-service-quotas --service-code <code>` lists the quota codes).',
    '',
  ];
  if (input.needs.length === 0) {
    lines.push('The template holds nothing whose capacity grows with traffic beyond what an account has by default.');
  } else {
    lines.push('| Service | Quota | Needed at peak | AWS default | From |', '|---|---|--:|---|---|');
    for (const need of input.needs) {
      const needed = `${need.atLeast ? '≥ ' : ''}${fmt(need.needed)}`;
      lines.push(`| ${cell(serviceCell(need))} | ${cell(need.quota)} | ${needed} | ${cell(need.awsDefault.text + footnote(need.awsDefault.source))} | ${cell(need.from.join('; '))} |`);
    }
    const notes = countingNotes(input.needs);
    if (notes.length > 0) lines.push('', 'How the numbers are counted:', '', ...notes.map((n) => `- ${n}`));
    if (sources.length > 0) lines.push('', 'Where the defaults come from (read from stored copies of the documents; the console has your account\'s values):', '', ...sources.map((s, i) => `${i + 1}. ${s}`));
  }
  lines.push('', 'Written by `npm run quotas` from the synthesized template; edits between the markers are overwritten.', QUOTAS_END);
  return `${lines.join('\n')}\n`;
}

/**
 * The README with `section` in place: between the markers when they are there, otherwise inserted
 * once before the heading that follows the deploy section (`## Deploy`, `## First deploy`), or at
 * the end when there is none.
 *
 * @throws KitError when only one marker is present, or the end marker comes first
 */
export function placeQuotaSection(readme: string, section: string): string {
  const start = readme.indexOf(QUOTAS_START);
  const end = readme.indexOf(QUOTAS_END);
  if (start >= 0 && end > start) {
    const after = readme.indexOf('\n', end);
    return readme.slice(0, start) + section + (after >= 0 ? readme.slice(after + 1) : '');
  }
  if (start >= 0 || end >= 0) {
    throw new KitError(`The README has ${start >= 0 ? QUOTAS_START : QUOTAS_END} without ${start >= 0 ? QUOTAS_END : QUOTAS_START} after it: fix the markers by hand, then run \`npm run quotas\``);
  }
  const deploy = /^## (First )?[Dd]eploy\b.*$/m.exec(readme);
  if (deploy) {
    const next = /^## /m.exec(readme.slice(deploy.index + deploy[0].length));
    if (next) {
      const at = deploy.index + deploy[0].length + next.index;
      return `${readme.slice(0, at)}${section}\n${readme.slice(at)}`;
    }
  }
  return `${readme.replace(/\n*$/, '\n\n')}${section}`;
}

/** The section between the markers (markers included), or undefined when the README has none. */
export function currentQuotaSection(readme: string): string | undefined {
  const start = readme.indexOf(QUOTAS_START);
  const end = readme.indexOf(QUOTAS_END);
  if (start < 0 || end < start) return undefined;
  return `${readme.slice(start, end + QUOTAS_END.length)}\n`;
}
