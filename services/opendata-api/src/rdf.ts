/**
 * A tiny RDF model with two serialisations (JSON-LD, Turtle) from the same triples, so the DCAT
 * catalogue is identical in both. Not a general RDF library: IRIs, blank nodes and literals only.
 */

/** Prefixes used by DCAT-AP 3. */
export const PREFIXES = {
  adms: 'http://www.w3.org/ns/adms#',
  dcat: 'http://www.w3.org/ns/dcat#',
  dcatap: 'http://data.europa.eu/r5r/',
  dct: 'http://purl.org/dc/terms/',
  foaf: 'http://xmlns.com/foaf/0.1/',
  locn: 'http://www.w3.org/ns/locn#',
  owl: 'http://www.w3.org/2002/07/owl#',
  rdf: 'http://www.w3.org/1999/02/22-rdf-syntax-ns#',
  rdfs: 'http://www.w3.org/2000/01/rdf-schema#',
  skos: 'http://www.w3.org/2004/02/skos/core#',
  spdx: 'http://spdx.org/rdf/terms#',
  vcard: 'http://www.w3.org/2006/vcard/ns#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  geosparql: 'http://www.opengis.net/ont/geosparql#',
} as const;

type Prefix = keyof typeof PREFIXES;
/** A compact IRI `prefix:local` of a known prefix. */
export type CIri = `${Prefix}:${string}`;

/** An RDF term: IRI, blank node or literal. */
export type Term = { iri: string } | { bnode: string } | { value: string; datatype?: CIri; lang?: string };

/** A subject with its type(s) and predicate–object pairs. */
export interface Node {
  id: { iri: string } | { bnode: string };
  types: CIri[];
  props: [CIri, Term][];
}

/** An IRI term. */
export const iri = (s: string): Term => ({ iri: s });
/** A literal, optionally typed (`xsd:dateTime`…) or language-tagged. */
export const lit = (value: string | number, opts: { datatype?: CIri; lang?: string } = {}): Term => ({
  value: String(value),
  ...opts,
});

/** Builds nodes with stable blank-node labels. */
export class Graph {
  readonly nodes: Node[] = [];
  private n = 0;
  private readonly seen = new Set<string>();

  /** Adds a node with an IRI and returns its term. */
  named(id: string, types: CIri[], props: [CIri, Term | undefined | null][]): Term {
    this.nodes.push({
      id: { iri: id },
      types,
      props: props.filter((p): p is [CIri, Term] => p[1] !== undefined && p[1] !== null),
    });
    return { iri: id };
  }

  /** Adds a node with an IRI once (later calls with the same IRI return the term and add nothing). */
  once(id: string, types: CIri[], props: [CIri, Term | undefined | null][]): Term {
    if (this.seen.has(id)) return { iri: id };
    this.seen.add(id);
    return this.named(id, types, props);
  }

  /** Adds a blank node and returns its term. */
  blank(types: CIri[], props: [CIri, Term | undefined | null][]): Term {
    const id = { bnode: `b${++this.n}` };
    this.nodes.push({
      id,
      types,
      props: props.filter((p): p is [CIri, Term] => p[1] !== undefined && p[1] !== null),
    });
    return id;
  }
}

function jsonLdTerm(t: Term): unknown {
  if ('iri' in t) return { '@id': t.iri };
  if ('bnode' in t) return { '@id': `_:${t.bnode}` };
  if (t.lang) return { '@value': t.value, '@language': t.lang };
  if (t.datatype) return { '@value': t.value, '@type': t.datatype };
  return t.value;
}

/** JSON-LD: a flattened `@graph` with compact IRIs resolved by the `@context` prefixes. */
export function toJsonLd(g: Graph): object {
  return {
    '@context': { ...PREFIXES },
    '@graph': g.nodes.map((n) => {
      const o: Record<string, unknown> = {
        '@id': 'iri' in n.id ? n.id.iri : `_:${n.id.bnode}`,
      };
      if (n.types.length) o['@type'] = n.types.length === 1 ? n.types[0] : n.types;
      for (const [p, t] of n.props) {
        const v = jsonLdTerm(t);
        const prev = o[p];
        o[p] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
      return o;
    }),
  };
}

function ttlString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
}

function ttlIri(s: string): string {
  // Characters not allowed in IRIREF (Turtle §6.4) are percent-encoded.
  return `<${s.replace(/[\u0000-\u0020<>"{}|^`\\]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`)}>`;
}

function ttlTerm(t: Term): string {
  if ('iri' in t) return ttlIri(t.iri);
  if ('bnode' in t) return `_:${t.bnode}`;
  if (t.lang) return `${ttlString(t.value)}@${t.lang}`;
  if (t.datatype) return `${ttlString(t.value)}^^${t.datatype}`;
  return ttlString(t.value);
}

/** Turtle with the same prefixes. */
export function toTurtle(g: Graph): string {
  const out = Object.entries(PREFIXES).map(([p, ns]) => `@prefix ${p}: <${ns}> .`);
  out.push('');
  for (const n of g.nodes) {
    const subject = 'iri' in n.id ? ttlIri(n.id.iri) : `_:${n.id.bnode}`;
    const lines = [
      ...(n.types.length ? [`a ${n.types.join(', ')}`] : []),
      ...n.props.map(([p, t]) => `${p} ${ttlTerm(t)}`),
    ];
    if (!lines.length) continue;
    out.push(`${subject}\n    ${lines.join(' ;\n    ')} .`, '');
  }
  return out.join('\n');
}
