import type { FieldType, Row, TableSchema } from './schemas';

/** Quotes a CSV cell per RFC 4180 when it holds a comma, a quote, CR or LF (or edge spaces). */
export function csvCell(value: string): string {
  if (/[",\r\n]/.test(value) || value !== value.trim()) return `"${value.replaceAll('"', '""')}"`;
  return value;
}

/** Serialises a header and string cells as RFC 4180 CSV (CRLF line ends, UTF-8, no BOM). */
export function toCsv(header: readonly string[], rows: Iterable<readonly string[]>): string {
  const parts: string[] = [header.map(csvCell).join(',')];
  for (const r of rows) parts.push(r.map(csvCell).join(','));
  return parts.join('\r\n') + '\r\n';
}

/**
 * Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF) into arrays of strings.
 * A final line break does not produce an empty record.
 */
export function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  const n = text.length;
  let inQuotes = false;
  let fieldStarted = false;
  while (i < n) {
    const ch = text.charCodeAt(i);
    if (inQuotes) {
      if (ch === 34 /* " */) {
        if (text.charCodeAt(i + 1) === 34) {
          cell += '"';
          i += 2;
          continue;
        }
        inQuotes = false;
        i++;
        continue;
      }
      // Copy a run of plain characters at once: per-character concatenation is slow on big files.
      let j = text.indexOf('"', i);
      if (j === -1) j = n;
      cell += text.slice(i, j);
      i = j;
      continue;
    }
    if (ch === 34 && !fieldStarted) {
      inQuotes = true;
      fieldStarted = true;
      i++;
    } else if (ch === 44 /* , */) {
      row.push(cell);
      cell = '';
      fieldStarted = false;
      i++;
    } else if (ch === 13 || ch === 10) {
      row.push(cell);
      out.push(row);
      row = [];
      cell = '';
      fieldStarted = false;
      i += ch === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1;
    } else {
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === 44 || c === 13 || c === 10) break;
        j++;
      }
      cell += text.slice(i, j);
      fieldStarted = true;
      i = j;
    }
  }
  if (inQuotes) throw new Error('unterminated quoted field');
  if (fieldStarted || row.length > 0) {
    row.push(cell);
    out.push(row);
  }
  return out;
}

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** True when `s` is an ISO 8601 datetime with an offset (`Z` or ±hh:mm). */
export function isIsoDateTimeWithOffset(s: string): boolean {
  return ISO_DATETIME.test(s) && !Number.isNaN(Date.parse(s));
}

/** Casts one CSV cell to its Table Schema type; empty → null. Throws on a value of the wrong type. */
export function castCell(type: FieldType, raw: string): string | number | boolean | null {
  if (raw === '') return null;
  switch (type) {
    case 'string':
      return raw;
    case 'integer': {
      if (!/^-?\d+$/.test(raw)) throw new Error(`not an integer: ${raw.slice(0, 40)}`);
      return Number(raw);
    }
    case 'number': {
      const v = Number(raw);
      if (!Number.isFinite(v) || raw.trim() !== raw) throw new Error(`not a number: ${raw.slice(0, 40)}`);
      return v;
    }
    case 'boolean':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw new Error(`not a boolean: ${raw.slice(0, 40)}`);
    case 'datetime':
      if (!isIsoDateTimeWithOffset(raw))
        throw new Error(`not an ISO 8601 datetime with offset: ${raw.slice(0, 40)}`);
      return raw;
    case 'date':
      if (!ISO_DATE.test(raw)) throw new Error(`not an ISO 8601 date: ${raw.slice(0, 40)}`);
      return raw;
  }
}

/** Parses a release CSV into typed rows with its Table Schema; the header must match the fields. */
export function parseTypedCsv(text: string, schema: TableSchema): Row[] {
  const records = parseCsv(text);
  const header = records[0];
  const names = schema.fields.map((f) => f.name);
  if (!header || header.join(',') !== names.join(','))
    throw new Error('CSV header does not match the Table Schema');
  const types = schema.fields.map((f) => f.type);
  const rows: Row[] = new Array<Row>(records.length - 1);
  for (let r = 1; r < records.length; r++) {
    const rec = records[r]!;
    if (rec.length !== names.length)
      throw new Error(`CSV record ${r} has ${rec.length} cells, expected ${names.length}`);
    const row: Row = {};
    for (let c = 0; c < names.length; c++) row[names[c]!] = castCell(types[c]!, rec[c]!);
    rows[r - 1] = row;
  }
  return rows;
}
