/**
 * botocore's patterns are the services' own: Java regular expressions, which AWS applies to the
 * whole value (Java's `matches()`: SageMaker rejects `my_job` against `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`,
 * which a search would accept). JavaScript's `u` mode is closest to Java (`\p{L}`, and
 * `\uD800\uDC00-\uDBFF\uDFFF` read as the supplementary code points, as Java reads them); the rest
 * is converted here. A construct this does not know fails loudly instead of being skipped, so that a
 * pattern is never silently not checked.
 */

/** Java's POSIX classes (US-ASCII, as `Pattern` defines them without UNICODE_CHARACTER_CLASS), as class contents. */
const POSIX: Readonly<Record<string, string>> = {
  Lower: 'a-z',
  Upper: 'A-Z',
  ASCII: '\\x00-\\x7F',
  Alpha: 'a-zA-Z',
  Digit: '0-9',
  Alnum: 'a-zA-Z0-9',
  Punct: '!-\\/:-@\\[-`{-~',
  Graph: '!-~',
  Print: ' -~',
  Blank: ' \\t',
  Cntrl: '\\x00-\\x1F\\x7F',
  XDigit: '0-9a-fA-F',
  Space: ' \\t\\n\\x0B\\f\\r',
};

/** Unicode general categories, which both engines name alike. */
const CATEGORIES = new Set([
  'L', 'Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'M', 'Mn', 'Mc', 'Me', 'N', 'Nd', 'Nl', 'No', 'P', 'Pc', 'Pd', 'Ps', 'Pe', 'Pi', 'Pf', 'Po',
  'S', 'Sm', 'Sc', 'Sk', 'So', 'Z', 'Zs', 'Zl', 'Zp', 'C', 'Cc', 'Cf', 'Co', 'Cn', 'Cs',
]);

/** Java's `\v` and `\h` (vertical and horizontal whitespace), which JavaScript's `\v` is not. */
const VERTICAL = '\\n\\x0B\\f\\r\\x85\\u2028\\u2029';
const HORIZONTAL = ' \\t\\xA0\\u1680\\u180E\\u2000-\\u200A\\u202F\\u205F\\u3000';

/** Characters JavaScript's `u` mode accepts escaped outside a class; Java accepts any non-alphanumeric. */
const SYNTAX = new Set([...'^$\\.*+?()[]{}|/']);

function propertyClass(name: string, negated: boolean, inClass: boolean, pattern: string): string {
  const posix = POSIX[name.replace(/^Is/, '')];
  if (posix !== undefined) {
    if (!negated) return inClass ? posix : `[${posix}]`;
    if (inClass) throw new Error(`java-regex: \\P{${name}} inside a class is not supported, in ${pattern}`);
    return `[^${posix}]`;
  }
  const bare = name.replace(/^Is/, '').replace(/^general_category=|^gc=/, '');
  let property: string | undefined;
  if (CATEGORIES.has(bare)) property = bare;
  else if (bare === 'Alphabetic' || bare === 'Letter') property = bare === 'Letter' ? 'L' : 'Alphabetic';
  else if (/^(?:script=|sc=)?(Latin|Greek|Cyrillic|Han|Arabic|Hebrew)$/.test(bare)) property = `Script=${bare.replace(/^(?:script=|sc=)/, '')}`;
  if (property === undefined) throw new Error(`java-regex: unknown property \\p{${name}} in ${pattern}`);
  return `\\${negated ? 'P' : 'p'}{${property}}`;
}

/** A quantifier starting at `i` (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, with a lazy or possessive mark): its end, and whether it allows zero. */
function quantifierAt(pattern: string, i: number): { end: number; zero: boolean } | undefined {
  const c = pattern[i];
  let end: number;
  let zero: boolean;
  if (c === '*' || c === '?') {
    end = i + 1;
    zero = true;
  } else if (c === '+') {
    end = i + 1;
    zero = false;
  } else if (c === '{') {
    const m = /^\{(\d+)(,\d*)?\}/.exec(pattern.slice(i));
    if (m === null) return undefined;
    end = i + m[0].length;
    zero = Number(m[1]) === 0;
  } else {
    return undefined;
  }
  if (pattern[end] === '?' || pattern[end] === '+') end += 1;
  return { end, zero };
}

/** `pattern` (Java syntax) as JavaScript `u`-mode source, not anchored. Throws on a construct it cannot convert. */
export function javaToJavaScript(pattern: string): string {
  let out = '';
  let inClass = false;
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      const e = pattern[i + 1];
      if (e === undefined) throw new Error(`java-regex: trailing backslash in ${pattern}`);
      if (e === 'Q') {
        const close = pattern.indexOf('\\E', i + 2);
        const quoted = pattern.slice(i + 2, close < 0 ? undefined : close);
        out += [...quoted].map((ch) => (/[A-Za-z0-9]/.test(ch) ? ch : `\\u{${ch.codePointAt(0)!.toString(16)}}`)).join('');
        i = close < 0 ? pattern.length : close + 2;
        continue;
      }
      if (e === 'p' || e === 'P') {
        const m = /^\{([^}]+)\}/.exec(pattern.slice(i + 2));
        if (m === null) throw new Error(`java-regex: \\${e} without {name} in ${pattern}`);
        out += propertyClass(m[1], e === 'P', inClass, pattern);
        i += 2 + m[0].length;
        continue;
      }
      if (e === 'x' && pattern[i + 2] === '{') {
        const close = pattern.indexOf('}', i + 3);
        out += `\\u{${pattern.slice(i + 3, close)}}`;
        i = close + 1;
        continue;
      }
      if (e === '0') {
        const m = /^[0-7]{1,3}/.exec(pattern.slice(i + 2));
        if (m === null) throw new Error(`java-regex: \\0 without octal digits in ${pattern}`);
        out += `\\u{${parseInt(m[0], 8).toString(16)}}`;
        i += 2 + m[0].length;
        continue;
      }
      const simple: Readonly<Record<string, string>> = { a: '\\x07', e: '\\x1B' };
      if (simple[e] !== undefined) {
        out += simple[e];
      } else if (e === 'v' || e === 'h') {
        const set = e === 'v' ? VERTICAL : HORIZONTAL;
        out += inClass ? set : `[${set}]`;
      } else if (e === 'A') {
        out += '^';
      } else if (e === 'z') {
        out += '$';
      } else if (e === 'Z') {
        out += '(?=\\r?\\n?$)';
      } else if (e === 'R' && !inClass) {
        out += `(?:\\r\\n|[${VERTICAL}])`;
      } else if ('dDwWsStnrfbBuxck123456789'.includes(e)) {
        // The same in both engines (\b and \B outside a class; \x and \u with their hex digits follow as text).
        out += `\\${e}`;
      } else if (/[A-Za-z0-9]/.test(e)) {
        throw new Error(`java-regex: unsupported escape \\${e} in ${pattern}`);
      } else if (inClass) {
        // In a class, `u` mode takes escaped `\ ] [ ^ -` and syntax characters; the rest as themselves.
        out += SYNTAX.has(e) || e === '-' ? `\\${e}` : e;
      } else {
        out += SYNTAX.has(e) ? `\\${e}` : e;
      }
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === '[') throw new Error(`java-regex: nested classes (Java unions) are not supported, in ${pattern}`);
      if (c === '&' && pattern[i + 1] === '&') throw new Error(`java-regex: class intersections (&&) are not supported, in ${pattern}`);
      if (c === ']') inClass = false;
      out += c;
      i += 1;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      i += 1;
      // A `]` right after `[` or `[^` is a literal in Java; JavaScript needs it escaped.
      if (pattern[i] === '^') {
        out += '^';
        i += 1;
      }
      if (pattern[i] === ']') {
        out += '\\]';
        i += 1;
      }
      continue;
    }
    if (c === '^' || c === '$') {
      // Java takes a quantified anchor (`${1,128}`, in SageMaker's CustomerMetadataKey); JavaScript does not.
      // Repeating a zero-width assertion changes nothing, unless the quantifier allows zero: then it is optional.
      const q = quantifierAt(pattern, i + 1);
      if (q !== undefined) {
        out += q.zero ? '' : c;
        i = q.end;
        continue;
      }
      out += c;
      i += 1;
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const flags = /^\(\?([a-z]+)\)/.exec(pattern.slice(i));
      if (flags !== null) throw new Error(`java-regex: inline flags (?${flags[1]}) are not supported, in ${pattern}`);
    }
    const q = quantifierAt(pattern, i);
    if (q !== undefined) {
      // Possessive quantifiers (`*+`) backtrack less in Java; as greedy ones they accept a superset, the safe side here.
      const text = pattern.slice(i, q.end);
      out += text.endsWith('+') && text.length > 1 ? text.slice(0, -1) : text;
      i = q.end;
      continue;
    }
    out += c;
    i += 1;
  }
  if (inClass) throw new Error(`java-regex: unterminated class in ${pattern}`);
  return out;
}

const compiled = new Map<string, RegExp>();

/** `pattern` as a RegExp that matches a whole value, as AWS applies it. */
export function javaRegex(pattern: string): RegExp {
  let regex = compiled.get(pattern);
  if (regex === undefined) {
    const source = javaToJavaScript(pattern);
    try {
      regex = new RegExp(`^(?:${source})$`, 'u');
    } catch (error) {
      throw new Error(`java-regex: ${pattern} converted to ${source}, which JavaScript rejects: ${(error as Error).message}`, { cause: error });
    }
    compiled.set(pattern, regex);
  }
  return regex;
}
