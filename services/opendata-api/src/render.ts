import { csvCell, rowsToFeatureCollection, type Row } from '@ondijon/opendata';
import { Slicer, asText, fieldValue, project } from './query';

/**
 * Rendering of large answers as text chunks, time-sliced: the records of a large datastore_search
 * page, and Explore exports. Runs where the scan ran (the scan worker for large releases), so the
 * thread answering HTTP only forwards chunks.
 */

/** What to render from matching row indexes. */
export type RenderSpec =
  | { kind: 'ckan-records'; selected: string[]; lists: boolean }
  | {
      kind: 'export';
      format: 'csv' | 'json' | 'geojson';
      delimiter: string;
      /** Output key and source field of each column. */
      columns: { key: string; field: string }[];
      communeField: string;
    };

const CHUNK_BYTES = 256 * 1024;

/** Text chunks of the rendering; each chunk is bounded in size and in time. */
export async function* render(
  rows: Row[],
  indexes: ArrayLike<number>,
  spec: RenderSpec,
): AsyncGenerator<string> {
  const slicer = new Slicer();
  let line: (i: number, first: boolean) => string;
  let head: string;
  let tail: string;
  if (spec.kind === 'ckan-records') {
    const { selected, lists } = spec;
    head = '[';
    tail = ']';
    line = (i, first) =>
      (first ? '' : ',') +
      JSON.stringify(
        lists ? selected.map((n) => (n === '_id' ? i + 1 : rows[i]![n])) : project(rows[i]!, i, selected),
      );
  } else {
    const { columns, delimiter } = spec;
    const rec = (i: number) => {
      const r: Row = {};
      for (const c of columns) r[c.key] = fieldValue(rows[i]!, i, c.field);
      return r;
    };
    if (spec.format === 'json') {
      head = '[';
      tail = ']';
      line = (i, first) => (first ? '' : ',') + JSON.stringify(rec(i));
    } else if (spec.format === 'geojson') {
      head = '{"type":"FeatureCollection","features":[\n';
      tail = '\n]}\n';
      line = (i, first) =>
        (first ? '' : ',\n') +
        JSON.stringify(rowsToFeatureCollection([rec(i)], spec.communeField).features[0]);
    } else {
      const cell = (v: unknown) => {
        const s = asText(v);
        return delimiter === ','
          ? csvCell(s)
          : /["\r\n]/.test(s) || s.includes(delimiter)
            ? `"${s.replaceAll('"', '""')}"`
            : s;
      };
      head = columns.map((c) => cell(c.key)).join(delimiter) + '\r\n';
      tail = '';
      line = (i) => {
        let out = '';
        for (let c = 0; c < columns.length; c++)
          out += (c ? delimiter : '') + cell(fieldValue(rows[i]!, i, columns[c]!.field));
        return out + '\r\n';
      };
    }
  }
  let buf = head;
  for (let k = 0; k < indexes.length; k++) {
    buf += line(indexes[k]!, k === 0);
    if (buf.length > CHUNK_BYTES || slicer.due()) {
      yield buf;
      buf = '';
      await slicer.yield();
    }
  }
  yield buf + tail;
}
