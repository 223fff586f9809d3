/**
 * Step Functions intrinsic functions take string literals in single quotes, in which
 * `'`, `{`, `}` and `\` must be escaped with a backslash. SQL is full of quotes.
 */
export function intrinsicLiteral(text: string): string {
  return `'${text.replace(/[\\'{}]/g, (c) => `\\${c}`)}'`;
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
  const escaped = parts.map((p) => p.replace(/[\\'{}]/g, (c) => `\\${c}`)).join('{}');
  return `States.Format('${escaped}'${args.map((a) => `, ${a}`).join('')})`;
}
