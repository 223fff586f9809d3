import { Token } from 'aws-cdk-lib';
import { PropRule, ruleProblems } from '../../lib/validation';

/** Context key with the e-mail addresses subscribed to a blueprint's alerts (`-c alertEmail=a@x.com,b@y.com`). */
export const ALERT_EMAIL_CONTEXT = 'alertEmail';
/** Context key with HTTPS endpoints subscribed (an incident tool's webhook), comma-separated. */
export const ALERT_URL_CONTEXT = 'alertUrl';

/** The topic's name: `<name>-alerts`; SNS allows 256 characters of letters, digits, `-` and `_`. */
export const ALERT_TOPIC_SUFFIX = '-alerts';
const NAME_PATTERN = /^[a-z][a-z0-9-]{0,40}$/;
// Deliberately plain: one @, no spaces, a dot in the domain. SNS validates the rest by sending a confirmation.
const EMAIL_PATTERN = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;

/** What an {@link Alerting} is configured with, after context defaults. */
export interface AlertingSettings {
  readonly name: string;
  readonly emails: readonly string[];
  readonly urls: readonly string[];
  /** Where the lists came from, for the messages (`emails` or `-c alertEmail`). */
  readonly emailSource: string;
  readonly urlSource: string;
}

/** One subscriber as its rules see it: the address and the prop (or context key) it came from. */
interface Subscriber {
  readonly protocol: 'email' | 'https';
  readonly address: string;
  readonly source: string;
}

function httpsProblem(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:') return `${url} is not https (SNS sends alerts in clear over http)`;
    return undefined;
  } catch {
    return `${url} is not a URL`;
  }
}

const RULES: readonly PropRule<AlertingSettings>[] = [
  {
    condition: (s) => !Token.isUnresolved(s.name) && !NAME_PATTERN.test(s.name),
    message: (s) => `name must start with a lower-case letter and hold 1–41 lower-case letters, digits or hyphens (the topic is <name>${ALERT_TOPIC_SUFFIX}), but '${s.name}' was provided`,
  },
  {
    condition: (s) => repeated([...s.emails, ...s.urls]).length > 0,
    message: (s) => `each subscriber may be given once, but ${repeated([...s.emails, ...s.urls]).join(', ')} appeared twice`,
  },
];

/** Checked one by one, so that each bad address gets its own message. */
const SUBSCRIBER_RULES: readonly PropRule<Subscriber>[] = [
  {
    condition: (s) => s.protocol === 'email' && !Token.isUnresolved(s.address) && !EMAIL_PATTERN.test(s.address),
    message: (s) => `${s.source} must hold e-mail addresses (name@domain), but '${s.address}' was provided`,
  },
  {
    condition: (s) => s.protocol === 'https' && !Token.isUnresolved(s.address) && httpsProblem(s.address) !== undefined,
    message: (s) => `${s.source} must hold https:// endpoints: ${httpsProblem(s.address)}`,
  },
];

function repeated(values: readonly string[]): string[] {
  return [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];
}

/** Every problem with the settings, each saying what was received and what is allowed. */
export function validateAlertingSettings(settings: AlertingSettings): string[] {
  const subscribers: Subscriber[] = [
    ...settings.emails.map((address) => ({ protocol: 'email' as const, address, source: settings.emailSource })),
    ...settings.urls.map((address) => ({ protocol: 'https' as const, address, source: settings.urlSource })),
  ];
  return [...ruleProblems(RULES, settings), ...subscribers.flatMap((subscriber) => ruleProblems(SUBSCRIBER_RULES, subscriber))];
}
