/**
 * Reading what the workflows keep of an Athena query: its result CSV (a header line, then fields in
 * double quotes that may hold commas, line breaks and `""`), one column of it, and work on each
 * value at most so many at a time. The erasure's runtime reads its saved lists (data files, record
 * identifiers) through here.
 */

/** The rows of a CSV text as Athena writes it; `fail` makes the error for text that is no CSV. */
export function athenaCsvRows(text: string, fail: (message: string) => Error): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let inQuotes = false;
  const endField = (): void => {
    row.push(field);
    field = '';
  };
  const endRow = (): void => {
    // A blank line is no row (an unquoted empty field alone; `""` is an empty value).
    if (row.length > 0 || field !== '' || quoted) {
      endField();
      rows.push(row);
    }
    row = [];
    quoted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuotes) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') field += text[++i];
      else inQuotes = false;
    } else if (c === '"') {
      inQuotes = true;
      quoted = true;
    } else if (c === ',') {
      endField();
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      endRow();
    } else {
      field += c;
    }
  }
  if (inQuotes) throw fail('ends inside a quoted value');
  endRow();
  return rows;
}

/**
 * The values of a one-column result under its header (`header` when it must be that column),
 * in order; `fail` makes the error for a result of another shape, given what is wrong (a phrase
 * after the list's name: `ends inside a quoted value`).
 */
export function athenaColumn(text: string, fail: (message: string) => Error, header?: string): string[] {
  const rows = athenaCsvRows(text, fail);
  if (rows.length === 0 || rows[0].length !== 1 || rows[0][0] === '' || (header !== undefined && rows[0][0] !== header)) {
    throw fail(header === undefined ? 'has no one-column header line' : `has no header "${header}"`);
  }
  return rows.slice(1).map((row, index) => {
    if (row.length !== 1) throw fail(`holds row ${index + 2} with ${row.length} columns, not 1`);
    return row[0];
  });
}

/** Runs `task` on every item, at most `limit` at once; after a failure no new item starts, and the first failure is thrown once all are settled. */
export async function eachAtMost<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await task(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
}
