/**
 * A small util.inspect for XS, which has none: shows values in assertion messages and console
 * output, in roughly Node's notation. Not a serializer; it only has to be readable.
 */

const MAX_ITEMS = 50;
const MAX_STRING = 2000;

export function inspect(value: unknown, depth = 3): string {
  return show(value, depth, new Set());
}

function quote(text: string): string {
  const clipped = text.length > MAX_STRING ? `${text.slice(0, MAX_STRING)}…` : text;
  return `'${JSON.stringify(clipped).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

function key(name: string | symbol): string {
  if (typeof name === 'symbol') return `[${name.toString()}]`;
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : quote(name);
}

function list(open: string, items: string[], close: string, more: number): string {
  if (more > 0) items.push(`... ${more} more item${more === 1 ? '' : 's'}`);
  if (items.length === 0) return `${open}${close}`;
  const flat = `${open} ${items.join(', ')} ${close}`;
  return flat.length <= 76 ? flat : `${open}\n${items.map((item) => `  ${item.replace(/\n/g, '\n  ')}`).join(',\n')}\n${close}`;
}

function prefixOf(value: object, fallback: string): string {
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  if (proto === null) return `[${fallback}: null prototype] `;
  const name = proto.constructor?.name;
  return name && name !== 'Object' ? `${name} ` : '';
}

function ownEntries(value: object, skipIndexes: boolean, depth: number, seen: Set<object>): string[] {
  const record = value as Record<string | symbol, unknown>;
  const names: (string | symbol)[] = Object.keys(value);
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (Object.prototype.propertyIsEnumerable.call(value, symbol)) names.push(symbol);
  }
  return names
    .filter((name) => !(skipIndexes && typeof name === 'string' && /^\d+$/.test(name)))
    .map((name) => `${key(name)}: ${show(record[name], depth - 1, seen)}`);
}

function show(value: unknown, depth: number, seen: Set<object>): string {
  switch (typeof value) {
    case 'string': return quote(value);
    case 'number': return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint': return `${value}n`;
    case 'symbol': return value.toString();
    case 'undefined': return 'undefined';
    case 'boolean': return String(value);
    case 'function': {
      const name = value.name ? `: ${value.name}` : ' (anonymous)';
      return /^class\b/.test(Function.prototype.toString.call(value)) ? `[class${name}]` : `[Function${name}]`;
    }
  }
  if (value === null) return 'null';
  const object = value as object;
  if (seen.has(object)) return '[Circular]';
  seen.add(object);
  try {
    return showObject(object, depth, seen);
  } finally {
    seen.delete(object);
  }
}

function showObject(value: object, depth: number, seen: Set<object>): string {
  if (value instanceof Error) {
    const head = String(value);
    const extra = ownEntries(value, false, depth, seen).filter((entry) => !entry.startsWith('stack:') && !entry.startsWith('message:'));
    return extra.length ? `[${head}] { ${extra.join(', ')} }` : `[${head}]`;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (value instanceof RegExp) return String(value);
  if (value instanceof Number || value instanceof String || value instanceof Boolean) {
    return `[${value.constructor.name}: ${show(value.valueOf(), depth, seen)}]`;
  }
  if (value instanceof ArrayBuffer) {
    const bytes = Array.from(new Uint8Array(value, 0, Math.min(value.byteLength, MAX_ITEMS)), (b) => b.toString(16).padStart(2, '0'));
    const more = value.byteLength > MAX_ITEMS ? ` ... ${value.byteLength - MAX_ITEMS} more bytes` : '';
    return `ArrayBuffer { [Uint8Contents]: <${bytes.join(' ')}${more}>, byteLength: ${value.byteLength} }`;
  }
  if (ArrayBuffer.isView(value)) {
    if (value instanceof DataView) return `DataView { byteLength: ${value.byteLength}, byteOffset: ${value.byteOffset} }`;
    const typed = value as unknown as ArrayLike<number | bigint>;
    const items = Array.from({ length: Math.min(typed.length, MAX_ITEMS) }, (_, i) => show(typed[i], depth, seen));
    return list(`${value.constructor.name}(${typed.length}) [`, items, ']', typed.length - items.length);
  }
  if (depth < 0) return Array.isArray(value) ? '[Array]' : `[${value.constructor?.name ?? 'Object'}]`;
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((item) => show(item, depth - 1, seen));
    items.push(...ownEntries(value, true, depth, seen));
    return list(`${prefixOf(value, 'Array').replace(/^Array $/, '')}[`, items, ']', value.length - Math.min(value.length, MAX_ITEMS));
  }
  if (value instanceof Map) {
    const items: string[] = [];
    for (const [k, v] of value) {
      if (items.length === MAX_ITEMS) break;
      items.push(`${show(k, depth - 1, seen)} => ${show(v, depth - 1, seen)}`);
    }
    return list(`Map(${value.size}) {`, items, '}', value.size - items.length);
  }
  if (value instanceof Set) {
    const items: string[] = [];
    for (const v of value) {
      if (items.length === MAX_ITEMS) break;
      items.push(show(v, depth - 1, seen));
    }
    return list(`Set(${value.size}) {`, items, '}', value.size - items.length);
  }
  if (value instanceof Promise) return 'Promise { <state unknown> }';
  return list(`${prefixOf(value, 'Object')}{`, ownEntries(value, false, depth, seen), '}', 0);
}
