#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { BLUEPRINTS } from '../blueprints';
import { createApp } from '../lib/app';
import { KitError } from '../lib/errors';

try {
  createApp(new App(), { blueprints: BLUEPRINTS });
} catch (error) {
  // A configuration mistake, ours or one aws-cdk-lib caught: the message says what to change,
  // and a stack trace through minified library code would only bury it.
  if (error instanceof KitError || (error instanceof Error && error.name === 'ValidationError')) {
    console.error(`mlsd-blueprints: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
