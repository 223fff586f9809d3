#!/usr/bin/env node
/**
 * Prints every acknowledged compliance finding in the app: rule, construct path, reason.
 * Usage: npm run compliance [-- -c key=value ...]  (the same context flags as cdk synth)
 */
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { BLUEPRINTS } from '../blueprints';
import { createApp } from '../lib/app';
import { listAcknowledgments } from '../lib/compliance/acknowledgments';
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

const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8'));
try {
  const app = new App({ context: { ...cdkJson.context, ...contextFromArgs(process.argv.slice(2)) } });
  createApp(app, { blueprints: BLUEPRINTS });
  app.synth({ validateOnSynthesis: false });
  const records = listAcknowledgments(app);
  for (const r of records) {
    console.log(`${r.ruleId}\n  at ${r.constructPath}\n  because ${r.reason}\n`);
  }
  console.log(`${records.length} acknowledgment(s)`);
} catch (error) {
  if (error instanceof KitError) {
    console.error(`mlsd-blueprints: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
