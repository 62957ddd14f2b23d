/** Audio containers accepted for voice capture, recognised from their first bytes (never the file name). */
export type AudioKind = 'mp3' | 'm4a' | 'wav' | 'webm' | 'ogg';

/** Major brands of ISO media files that hold pictures (HEIF, AVIF), not sound. */
const IMAGE_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1', 'avif', 'avis']);

/** Detects an audio container from its magic bytes; undefined when it is not a supported one. */
export function detectAudio(b: Uint8Array): AudioKind | undefined {
  const ascii = (start: number, len: number) => String.fromCharCode(...b.slice(start, start + len));
  if (b.length < 12) return undefined;
  if (ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WAVE') return 'wav';
  if (ascii(0, 4) === 'OggS') return 'ogg';
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'webm';
  // ISO media (MPEG-4 audio from phones and recorders), but not the image formats that share the container.
  if (ascii(4, 4) === 'ftyp') return IMAGE_BRANDS.has(ascii(8, 4)) ? undefined : 'm4a';
  if (ascii(0, 3) === 'ID3') return 'mp3';
  // An MPEG audio frame: 11 set sync bits.
  if (b[0] === 0xff && (b[1]! & 0xe0) === 0xe0) return 'mp3';
  return undefined;
}
