/** Audio containers accepted for voice capture, recognised from their first bytes (never the file name). */
export type AudioKind = 'mp3' | 'm4a' | 'wav' | 'webm' | 'ogg';

/** Detects an audio container from its magic bytes; undefined when it is not a supported one. */
export function detectAudio(b: Uint8Array): AudioKind | undefined {
  const ascii = (start: number, len: number) => String.fromCharCode(...b.slice(start, start + len));
  if (b.length < 12) return undefined;
  if (ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WAVE') return 'wav';
  if (ascii(0, 4) === 'OggS') return 'ogg';
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'webm';
  if (ascii(4, 4) === 'ftyp') return 'm4a';
  if (ascii(0, 3) === 'ID3') return 'mp3';
  // An MPEG audio frame: 11 set sync bits.
  if (b[0] === 0xff && (b[1]! & 0xe0) === 0xe0) return 'mp3';
  return undefined;
}
