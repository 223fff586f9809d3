import { parseJsonLossless } from './lossless-json';

// A 16-digit run anywhere (here in a string) sends the text through the hand-written parser.
const SLOW = '"pad":"1234567890123456"';

describe('parseJsonLossless', () => {
  it('keeps integers beyond 2^53 exact, as bigint', () => {
    expect(parseJsonLossless('[9007199254740991, 9007199254740992, 9007199254740993, -9223372036854775808]')).toEqual([
      9007199254740991,
      9007199254740992n,
      9007199254740993n,
      -9223372036854775808n,
    ]);
  });

  it('keeps float literals as numbers, as Python does', () => {
    expect(parseJsonLossless('[1e21, 9007199254740993.0, 12345678901234567e3]')).toEqual([1e21, 9007199254740992, 12345678901234567e3]);
  });

  it.each([
    `{${SLOW},"a":1,"b":[true,false,null],"c":{"d":"x\\u00e9\\ud83d\\ude00\\n\\"y\\\\"},"e":-0.5e-3}`,
    `{${SLOW},"a":1,"a":2}`,
    `{${SLOW},"__proto__":{"polluted":true}}`,
    `{${SLOW},"lone":"\\ud800"}`,
    ` \t\n\r{${SLOW} , "e" : [ ] , "f" : { } } \n`,
    `[${SLOW.replace(':', ',')},-0,0,1E2,1e-7]`,
    '"1234567890123456"',
  ])('matches JSON.parse on %s', (text) => {
    const expected: unknown = JSON.parse(text);
    const actual = parseJsonLossless(text);
    expect(actual).toEqual(expected);
    expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
  });

  it('defines "__proto__" as an own property, never the prototype', () => {
    const parsed = parseJsonLossless(`{${SLOW},"__proto__":{"polluted":true}}`) as Record<string, unknown>;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.hasOwn(parsed, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    '',
    `{${SLOW},}`,
    `[1234567890123456,]`,
    `{${SLOW} "a":1}`,
    `{${SLOW},'a':1}`,
    `[01234567890123456]`,
    `[1234567890123456.]`,
    `[-1234567890123456-]`,
    `[+1234567890123456]`,
    `[1234567890123456, NaN]`,
    `[1234567890123456, tru]`,
    `{${SLOW},"a":"tab\there"}`,
    `{${SLOW},"a":"\\x41"}`,
    `[1234567890123456] x`,
  ])('rejects what JSON.parse rejects: %j', (text) => {
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
    expect(() => parseJsonLossless(text)).toThrow(SyntaxError);
  });

  it('does not quote the input in errors', () => {
    expect(() => parseJsonLossless('{"pad":"1234567890123456", "secret-value" }')).toThrow(/^invalid JSON at position \d+$/);
  });

  it('refuses pathological nesting instead of overflowing the stack', () => {
    const deep = `${'['.repeat(100_000)}1234567890123456${']'.repeat(100_000)}`;
    expect(() => parseJsonLossless(deep)).toThrow(/nested deeper/);
  });
});
