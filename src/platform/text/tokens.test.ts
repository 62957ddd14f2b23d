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

  it('stems Arabic so that a word matches its forms with the article, pronouns, duals and plurals', () => {
    // A bare ف begins the word (فحص), not a conjunction to strip; و before it is.
    expect(terms('فحص')).toEqual(terms('الفحص'));
    expect(terms('وفحص')).toEqual(terms('الفحص'));
    expect(terms('فريق')).toEqual(terms('الفريق'));
    // The ta marbuta shows as ت before a pronoun; a dual ends like its singular.
    expect(terms('ترنيمته')).toEqual(terms('الترنيمة'));
    expect(terms('النقطتين')).toEqual(terms('نقطة'));
    // Two layers of suffix: plural and pronoun.
    expect(terms('مضخاتها')).toEqual(terms('المضخات'));
    // A joined preposition goes, and a word beginning with one of its letters reads the same with or without the article.
    expect(terms('لمسافات')).toEqual(terms('المسافات'));
    expect(terms('بتقديم')).toEqual(terms('التقديم'));
    expect(terms('برلمان')).toEqual(terms('البرلمان'));
    expect(terms('بناء')).toEqual(terms('البناء'));
    // Short words keep their letters.
    expect(terms('بيته')).toEqual(terms('بيت'));
  });

  it('drops particles and demonstratives with their attached prepositions', () => {
    expect(terms('من هو المترجم لهذه الترنيمة')).toEqual(terms('المترجم الترنيمة'));
    expect(terms('ما الاسم الذي تعرف به')).toEqual(terms('الاسم تعرف'));
  });
});
