const ARABIC = /[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]/gu;
const LATIN = /[A-Za-z\u00C0-\u024F]/gu;

/** Share of Arabic letters among Arabic and Latin letters (0..1); undefined when there are none. */
export function arabicShare(text: string): number | undefined {
  const ar = text.match(ARABIC)?.length ?? 0;
  const la = text.match(LATIN)?.length ?? 0;
  return ar + la === 0 ? undefined : ar / (ar + la);
}

/**
 * Detects whether text is Arabic, English or a real mix, from the share of Arabic letters: Arabic
 * prose quoting a few Latin names stays Arabic, English with an Arabic word stays English.
 */
export function detectLanguage(text: string): 'ar' | 'en' | 'mixed' {
  const share = arabicShare(text);
  if (share === undefined) return 'en';
  if (share >= 0.75) return 'ar';
  if (share <= 0.25) return 'en';
  return 'mixed';
}
