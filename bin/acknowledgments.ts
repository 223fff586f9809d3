#!/usr/bin/env node
/**
 * The compliance picture of the app: acknowledged findings summarized by rule and by construct,
 * and, with `-c packs=...`, each optional pack's findings summarized by rule.
 *
 * Usage: npm run compliance [-- -c key=value ...] [--details [RULE]]
 *   -c ...            the same context flags as cdk synth (e.g. -c blueprint=news-feed, -c packs=hipaa)
 *   --details         also every acknowledgment: rule, construct path, reason
 *   --details RULE    only those whose rule id starts with RULE (e.g. GDPR-, AwsSolutions-IAM5)
 */
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { NagPack } from 'cdk-nag';
import { BLUEPRINTS } from '../blueprints';
import { createApp } from '../lib/app';
import { parseList } from '../lib/context';
import { listAcknowledgments } from '../lib/compliance/acknowledgments';
import { OPTIONAL_PACKS, OPTIONAL_PACKS_CONTEXT } from '../lib/compliance/gate';
import { constructOf, countBy, ruleOf, summarizeAcknowledgments, table } from '../lib/compliance/summary';
import { KitError } from '../lib/errors';

function contextFromArgs(args: readonly string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    if ((args[i] === '-c' || args[i] === '--context') && args[i + 1]?.includes('=')) {
      const [key, ...value] = args[++i].split('=');
      context[key] = value.join('=');
    }
  }
  return context;
}

const args = process.argv.slice(2);
const detailsAt = args.indexOf('--details');
const detailsFilter = detailsAt >= 0 && args[detailsAt + 1] && !args[detailsAt + 1].startsWith('-') ? args[detailsAt + 1] : undefined;
const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8'));
try {
  const app = new App({ context: { ...cdkJson.context, ...contextFromArgs(args) } });
  createApp(app, { blueprints: BLUEPRINTS });
  app.synth({ validateOnSynthesis: false });
  const records = listAcknowledgments(app);
  console.log(summarizeAcknowledgments(records));
  if (detailsAt >= 0) {
    console.log('\nDetails:\n');
    for (const r of records.filter((x) => detailsFilter === undefined || x.ruleId.startsWith(detailsFilter))) {
      console.log(`${r.ruleId}\n  at ${r.constructPath}\n  because ${r.reason}\n`);
    }
  } else {
    console.log('\nEvery acknowledgment with its reason: npm run compliance -- --details [RULE]');
  }
  for (const pack of parseList(app.node.tryGetContext(OPTIONAL_PACKS_CONTEXT))) {
    // Report-only packs: what they would say, as a summary table per rule.
    const plugin = OPTIONAL_PACKS[pack](app) as NagPack;
    const violations = plugin.validateScope(app).violations;
    const findings = violations.flatMap((v) => v.violatingResources.map((r) => ({ rule: ruleOf(v.ruleName), path: r.constructPath ?? '' })));
    const byRule = countBy(findings, (f) => f.rule, (f) => f.path.split('/')[0]);
    console.log(`\n${pack}: ${findings.length} finding(s) (reported, not enforced), ${byRule.length} rule(s)`);
    console.log(table(['rule', 'findings', 'stacks', 'constructs'], byRule.map((r) => [
      r.key, r.count, r.stacks, new Set(findings.filter((f) => f.rule === r.key).map((f) => constructOf(f.path))).size,
    ])));
  }
} catch (error) {
  if (error instanceof KitError) {
    console.error(`mlsd-blueprints: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
