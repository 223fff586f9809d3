/**
 * An error in how the kit was configured or used (a bad prop, an unknown blueprint id,
 * a region outside the allow-list). Its message names the construct or option, what was
 * received and what is allowed; the CLI prints the message alone, without a stack trace.
 */
export class KitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KitError';
  }
}
