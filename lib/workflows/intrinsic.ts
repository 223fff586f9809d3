/**
 * Step Functions intrinsic functions take string literals in single quotes, in which
 * `'`, `{`, `}` and `\` must be escaped with a backslash. SQL is full of quotes.
 *
 * Text may carry CDK tokens (`${Token[...]}`, e.g. a secret's ARN); those are left as they are,
 * so that CDK still substitutes them. Only the literal text around them is escaped.
 */
const TOKEN = /(\$\{Token\[[^\]]*\]\})/;

function escapeText(text: string): string {
  return text.split(TOKEN).map((part, i) => (i % 2 === 1 ? part : part.replace(/[\\'{}]/g, (c) => `\\${c}`))).join('');
}

/** `text` as a single-quoted intrinsic string literal. */
export function intrinsicLiteral(text: string): string {
  return `'${escapeText(text)}'`;
}

/**
 * `States.Format(<template>, ...args)` where `{}` in `template` marks the argument slots and
 * everything else is literal text (escaped here). `args` are JSONPath or intrinsic expressions.
 */
export function statesFormat(template: string, ...args: string[]): string {
  const parts = template.split('{}');
  if (parts.length - 1 !== args.length) {
    throw new Error(`statesFormat: ${parts.length - 1} slot(s) in the template but ${args.length} argument(s)`);
  }
  return `States.Format('${parts.map(escapeText).join('{}')}'${args.map((a) => `, ${a}`).join('')})`;
}
