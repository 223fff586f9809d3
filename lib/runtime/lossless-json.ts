/**
 * JSON.parse, except that integer literals beyond Number.MAX_SAFE_INTEGER become exact bigints,
 * as Python's json module keeps them. Pseudonyms of such identifiers must match the Python
 * anonymizer's, and feature values must not be silently rounded.
 *
 * Everything else is JSON.parse's result: the same values, own "__proto__" properties, the last of
 * duplicate keys, float literals (1e21, 2.0) as numbers. Errors never quote the input.
 */

// An unsafe integer literal has at least 16 digits; without such a run, JSON.parse is exact.
const LONG_DIGIT_RUN = /\d{16}/;
// Nesting deeper than this is not an event; refusing it keeps recursion off the stack limit.
const MAX_DEPTH = 512;

const WHITESPACE = /[ \t\n\r]*/y;
// eslint-disable-next-line no-control-regex -- JSON forbids raw U+0000..U+001F inside strings
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

export function parseJsonLossless(text: string): unknown {
  if (!LONG_DIGIT_RUN.test(text)) return JSON.parse(text);
  return new LosslessParser(text).document();
}

class LosslessParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  document(): unknown {
    const value = this.value(0);
    this.skipWhitespace();
    if (this.pos !== this.text.length) this.fail();
    return value;
  }

  private value(depth: number): unknown {
    this.skipWhitespace();
    switch (this.text[this.pos]) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        return this.number();
    }
  }

  private object(depth: number): Record<string, unknown> {
    this.enter(depth);
    const result: Record<string, unknown> = {};
    if (this.consume('}')) return result;
    do {
      this.skipWhitespace();
      const key = this.string();
      this.expect(':');
      // defineProperty, not assignment: a "__proto__" key must stay data, as with JSON.parse.
      Object.defineProperty(result, key, { value: this.value(depth), writable: true, enumerable: true, configurable: true });
    } while (this.consume(','));
    this.expect('}');
    return result;
  }

  private array(depth: number): unknown[] {
    this.enter(depth);
    const result: unknown[] = [];
    if (this.consume(']')) return result;
    do {
      result.push(this.value(depth));
    } while (this.consume(','));
    this.expect(']');
    return result;
  }

  private string(): string {
    // The token is validated by the pattern; JSON.parse decodes its escapes exactly.
    return JSON.parse(this.token(STRING)) as string;
  }

  private number(): number | bigint {
    const literal = this.token(NUMBER);
    const value = Number(literal);
    const isIntegerLiteral = !/[.eE]/.test(literal);
    return isIntegerLiteral && !Number.isSafeInteger(value) ? BigInt(literal) : value;
  }

  private literal<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail();
    this.pos += word.length;
    return value;
  }

  private token(pattern: RegExp): string {
    pattern.lastIndex = this.pos;
    const match = pattern.exec(this.text);
    if (!match) this.fail();
    this.pos = pattern.lastIndex;
    return match[0];
  }

  private enter(depth: number): void {
    if (depth > MAX_DEPTH) throw new SyntaxError(`JSON nested deeper than ${MAX_DEPTH} levels`);
    this.pos += 1; // the opening bracket
  }

  private consume(char: string): boolean {
    this.skipWhitespace();
    if (this.text[this.pos] !== char) return false;
    this.pos += 1;
    return true;
  }

  private expect(char: string): void {
    if (!this.consume(char)) this.fail();
  }

  private skipWhitespace(): void {
    WHITESPACE.lastIndex = this.pos;
    WHITESPACE.exec(this.text);
    this.pos = WHITESPACE.lastIndex;
  }

  private fail(): never {
    throw new SyntaxError(`invalid JSON at position ${this.pos}`);
  }
}
