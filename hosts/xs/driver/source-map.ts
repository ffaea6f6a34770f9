/**
 * Rewrites XS stack frames, which point into the evaluated bundle as `(#<script>:<line>)`, to
 * `(tests/core/x.test.ts:<line>)` using the bundle's source map. Line granularity is enough to
 * find an assertion. Runs on Node.
 */
import { relative, resolve } from 'node:path';

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decodes one segment's base64 VLQ fields. */
function decodeSegment(segment: string): number[] {
  const fields: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = BASE64.indexOf(char);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return fields;
}

/** Maps each generated line (1-based) to "source:line" from its first mapped segment. */
export function lineMapper(mapJson: string, mapDir: string, root: string): (line: number) => string | undefined {
  const map = JSON.parse(mapJson) as { sources: string[]; mappings: string };
  const sources = map.sources.map((source) => relative(root, resolve(mapDir, source)));
  const lines: (string | undefined)[] = [];
  let sourceIndex = 0;
  let sourceLine = 0;
  for (const lineMappings of map.mappings.split(';')) {
    let first: string | undefined;
    for (const segment of lineMappings.split(',')) {
      if (segment === '') continue;
      const fields = decodeSegment(segment);
      if (fields.length < 4) continue;
      sourceIndex += fields[1];
      sourceLine += fields[2];
      first ??= `${sources[sourceIndex]}:${sourceLine + 1}`;
    }
    lines.push(first);
  }
  return (line) => lines[line - 1];
}

export function rewriteFrames(text: string, map: (line: number) => string | undefined): string {
  return text.replace(/\(#\d+:(\d+)\)/g, (frame, line: string) => {
    const source = map(Number(line));
    return source ? `(${source})` : frame;
  });
}
