import { describe, expect, it } from 'vitest';
import { foldArabic, terms } from './tokens.ts';

describe('terms', () => {
  it('reads Arabic presentation forms (as PDFs often hold them) as the letters they show', () => {
    // ﺻﻤﺎﻡ ﺍﻷﻣﺎﻥ: "safety valve" in contextual glyph forms, with the lam-alef ligature.
    expect(terms('ﺻﻤﺎﻡ ﺍﻷﻣﺎﻥ')).toEqual(terms('صمام الأمان'));
    expect(foldArabic('ﻻ')).toBe('لا');
  });

  it('folds diacritics, tatweel, alef and ya variants, and Arabic-Indic digits', () => {
    expect(terms('المُضَخّـــات ٢٠٢٦')).toEqual(terms('المضخات 2026'));
    expect(terms('إلى مستشفى')).toEqual(terms('الى مستشفي'));
  });

  it('folds full-width Latin and ligatures as well', () => {
    expect(terms('ｐｕｍｐ ﬁlter')).toEqual(terms('pump filter'));
  });
});
