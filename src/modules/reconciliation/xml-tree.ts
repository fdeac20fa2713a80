/**
 * Typed reading of an XML statement as a plain tree: element lookup that treats one
 * child and many alike, element text, attributes. The tree has fast-xml-parser's shape
 * (an element with neither attributes nor children is its text; otherwise an object of
 * its children by name, `#text` and `@_` attributes), built by saxes — a streaming,
 * strict (XML 1.0 well-formedness) parser, four times faster on a 10 000-entry camt.053
 * than fast-xml-parser's validator and parser together (0.2 s against 0.8 s for 3 MB).
 * Values stay the strings they were written as (never numbers: "1500.10" must not become
 * a float); namespace prefixes are dropped (camt files use both default and prefixed
 * namespaces); saxes decodes the predefined entities and character references and
 * refuses any other entity (a DOCTYPE never reaches it: refuseDoctype).
 */
import { XMLValidator } from 'fast-xml-parser';
import { SaxesParser } from 'saxes';
import { StatementError } from './model.js';
import { refuseDoctype } from './xml-safety.js';

export type XmlNode = unknown;

const ATTRIBUTE = '@_';

type Element = Record<string, unknown>;

/** A name without its namespace prefix. */
const local = (name: string) => name.slice(name.indexOf(':') + 1);

/** Parses a well-formed, DOCTYPE-free document; a StatementError names the line of the first fault. */
export function parseXmlDocument(text: string, what: string): XmlNode {
  refuseDoctype(text, what);
  const root: Element = {};
  const open: Element[] = [root];
  let texts: string[] = [];
  const parser = new SaxesParser({ position: true });
  parser.on('opentag', (tag) => {
    const element: Element = {};
    for (const [name, value] of Object.entries(tag.attributes)) {
      if (name !== 'xmlns' && !name.startsWith('xmlns:')) {
        element[`${ATTRIBUTE}${local(name)}`] = value;
      }
    }
    open.push(element);
    texts = [];
  });
  parser.on('text', (value) => texts.push(value));
  parser.on('cdata', (value) => texts.push(value));
  parser.on('closetag', (tag) => {
    const element = open.pop() ?? {};
    const parent = open.at(-1) ?? root;
    const value = texts.join('').trim();
    texts = [];
    const node = Object.keys(element).length === 0 ? value : value === '' ? element : Object.assign(element, { '#text': value });
    const name = local(tag.name);
    const before = parent[name];
    if (before === undefined) {
      parent[name] = node;
    } else if (Array.isArray(before)) {
      (before as unknown[]).push(node);
    } else {
      parent[name] = [before, node];
    }
  });
  try {
    parser.write(text).close();
  } catch (error) {
    throw notWellFormed(text, what, error instanceof Error ? error.message : String(error), parser.line);
  }
  return root;
}

/**
 * The fault of a document saxes refused, said as fast-xml-parser's validator says it
 * (which names the element and the line; an unclosed element is listed by name), or as
 * saxes said it when the validator finds nothing (an undefined entity, say).
 */
function notWellFormed(text: string, what: string, saxesMessage: string, line: number): StatementError {
  const verdict = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (verdict === true) {
    // saxes writes "line:column: message".
    return new StatementError('body', `the ${what} is not well-formed XML: ${saxesMessage.replace(/^\d+:\d+: /u, '')}`, line);
  }
  // An unclosed element is reported as a JSON list of the open tags at "line 1": name them instead.
  const unclosed = /^Invalid '\[(.*)\]' found\.$/su.exec(verdict.err.msg);
  if (unclosed) {
    const names = [...(unclosed[1] ?? '').matchAll(/"([^"]+)"/gu)].map((m) => `<${m[1]}>`);
    return new StatementError('body', `the ${what} is not well-formed XML: it ends with ${names.join(', ')} still open`);
  }
  return new StatementError('body', `the ${what} is not well-formed XML: ${verdict.err.msg}`, verdict.err.line);
}

function isObject(node: XmlNode): node is Readonly<Record<string, unknown>> {
  return typeof node === 'object' && node !== null && !Array.isArray(node);
}

/** Every child element of `node` named `name` (none, one or many). */
export function children(node: XmlNode, name: string): XmlNode[] {
  if (!isObject(node)) {
    return [];
  }
  const value = node[name];
  return value === undefined ? [] : Array.isArray(value) ? (value as XmlNode[]) : [value];
}

/** The first element along `path` ("BookgDt/Dt"), or undefined. */
export function at(node: XmlNode, path: string): XmlNode {
  let current: XmlNode = node;
  for (const name of path.split('/')) {
    current = children(current, name)[0];
    if (current === undefined) {
      return undefined;
    }
  }
  return current;
}

/** Every element along `path`, fanning out where an element repeats. */
export function all(node: XmlNode, path: string): XmlNode[] {
  return path.split('/').reduce<XmlNode[]>((nodes, name) => nodes.flatMap((n) => children(n, name)), [node]);
}

/** An element's text; undefined when absent or when it only has child elements. */
export function textOf(node: XmlNode): string | undefined {
  if (typeof node === 'string') {
    return node;
  }
  if (isObject(node)) {
    const text = node['#text'];
    if (typeof text === 'string') {
      return text;
    }
    return Object.keys(node).every((key) => key.startsWith(ATTRIBUTE)) ? '' : undefined;
  }
  return undefined;
}

/** The text at `path` below `node`, trimmed; undefined when absent or empty. */
export function textAt(node: XmlNode, path: string): string | undefined {
  const text = textOf(at(node, path))?.trim();
  return text === '' ? undefined : text;
}

/** An attribute's value. */
export function attributeOf(node: XmlNode, name: string): string | undefined {
  if (!isObject(node)) {
    return undefined;
  }
  const value = node[`${ATTRIBUTE}${name}`];
  return typeof value === 'string' ? value : undefined;
}
