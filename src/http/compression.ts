import { gzipSync } from 'node:zlib';

/**
 * Whether gzip pays, measured on this repository's metadata: timestamp.json (~470 bytes, 340
 * gzipped) fits in one packet either way, so it is never compressed and never varies; a root
 * (1.5 KB → 0.7 KB) or a vendor's targets with many releases shrink to well under half. So a
 * versioned file is compressed when it is larger than one packet's payload and gzip saves a
 * quarter. Targets (artifacts) are never compressed: their length and hash are what the client
 * verifies, and they are usually compressed already.
 */
const MIN_BYTES = 1400;
const MAX_RATIO = 0.75;

const variants = new WeakMap<Buffer, Buffer | null>();

/** The gzip representation of immutable bytes when it pays, computed once per buffer. */
export function gzipVariant(bytes: Buffer): Buffer | undefined {
  let variant = variants.get(bytes);
  if (variant === undefined) {
    const gz = bytes.length > MIN_BYTES ? gzipSync(bytes, { level: 9 }) : undefined;
    variant = gz && gz.length <= bytes.length * MAX_RATIO ? gz : null;
    variants.set(bytes, variant);
  }
  return variant ?? undefined;
}

/** True when Accept-Encoding allows gzip (RFC 9110 §12.5.3: `gzip` or `*`, not with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let gzip: boolean | undefined;
  let any = false;
  for (const part of header.toLowerCase().split(',')) {
    const [coding = '', ...params] = part.trim().split(';');
    const q = params
      .map((p) => /^\s*q\s*=\s*([\d.]+)\s*$/.exec(p)?.[1])
      .find((v) => v !== undefined);
    const allowed = q === undefined || Number(q) > 0;
    if (coding.trim() === 'gzip' || coding.trim() === 'x-gzip') gzip = allowed;
    else if (coding.trim() === '*') any = allowed;
  }
  return gzip ?? any;
}
