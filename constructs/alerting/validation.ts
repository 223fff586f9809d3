import { Token } from 'aws-cdk-lib';

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

interface ValidationRule {
  readonly problems: (s: AlertingSettings) => string[];
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

const RULES: readonly ValidationRule[] = [
  {
    problems: (s) => (Token.isUnresolved(s.name) || NAME_PATTERN.test(s.name) ? []
      : [`name must start with a lower-case letter and hold 1–41 lower-case letters, digits or hyphens (the topic is <name>${ALERT_TOPIC_SUFFIX}), but '${s.name}' was provided`]),
  },
  {
    problems: (s) => s.emails.filter((e) => !Token.isUnresolved(e) && !EMAIL_PATTERN.test(e))
      .map((e) => `${s.emailSource} must hold e-mail addresses (name@domain), but '${e}' was provided`),
  },
  {
    problems: (s) => s.urls.flatMap((u) => {
      const problem = Token.isUnresolved(u) ? undefined : httpsProblem(u);
      return problem ? [`${s.urlSource} must hold https:// endpoints: ${problem}`] : [];
    }),
  },
  {
    problems: (s) => {
      const all = [...s.emails, ...s.urls];
      const duplicates = all.filter((x, i) => all.indexOf(x) !== i);
      return duplicates.length > 0 ? [`each subscriber may be given once, but ${[...new Set(duplicates)].join(', ')} appeared twice`] : [];
    },
  },
];

/** Every problem with the settings, each saying what was received and what is allowed. */
export function validateAlertingSettings(settings: AlertingSettings): string[] {
  return RULES.flatMap((rule) => rule.problems(settings));
}

