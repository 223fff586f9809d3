/**
 * Structured log lines: one JSON object per line, which CloudWatch Logs Insights parses without a
 * pattern. Callers pass names, ARNs, versions, counts and decisions only: the release loop handles
 * no personal data, and no request or event body is ever logged whole.
 */

/** Severity of a log line. */
export type LogLevel = 'INFO' | 'WARN' | 'ERROR';

/** Writes one line; tests collect them instead. */
export type Logger = (level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>) => void;

/** The handlers' logger: a JSON line on stdout (Lambda sends it to the function's log group). */
export const jsonLogger: Logger = (level, message, fields = {}) => {
  console.log(JSON.stringify({ level, message, ...fields }));
};
