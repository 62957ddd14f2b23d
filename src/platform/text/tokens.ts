const DIACRITICS = /[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]/gu;

const STOP_WORDS = (

    'a an and are as at be but by for from has have in is it its of on or that the this to was were will with what which who whom whose when where why how ' +
    'do does did not no yes can could should would may might must than then there their they them these those i you he she we our your his her ' +
    'في من على إلى الى عن مع هذا هذه ذلك تلك التي الذي الذين هو هي هم ما ماذا متى أين اين كيف لماذا هل لم لن قد كان كانت يكون أن ان إن او أو ثم كل بعض غير بين عند حتى ' +
    // Demonstratives, prepositions and particles with their attached forms, which the stemmer would
    // otherwise leave as rare-looking terms (لهذه → لهذ).
    'لهذا لهذه بهذا بهذه وهذا وهذه فهذا هذان هاتان هؤلاء لذلك بذلك وذلك كذلك به بها بهم له لها لهم لهما فيه فيها فيهم ' +
    'منه منها منهم عليه عليها عليهم إليه إليها عنه عنها وهو وهي فهو فهي وهم تم يتم لا ولا أي أية كم إذا إذ لو لولا إلا ' +
    'عندما حيث بينما أيضا لكن ولكن لكنه بل أما إما أنه أنها إنه إنها لأن كما لما وقد لقد كانوا وكان وكانت اللذان اللتان ' +
    'اللذين اللتين اللواتي اللاتي التى الذى سوف ليس ليست مثل هما يمكن يمكنه يمكنها تتم قام قامت'
  ).split(/\s+/);

/**
 * Version of what `terms` makes of a text. Stored terms are only comparable with a query's when both
 * came from the same version: bump it with any change to folding, stemming or stop words, and every
 * organisation indexed under an older one is re-indexed when the new version starts.
 */
export const ANALYZER_VERSION = 2;

/** One spelling of each Arabic letter written several ways, and Western digits for Arabic-Indic ones. */
const LETTER_FOLDS: Record<string, string> = {
  أ: 'ا',
  إ: 'ا',
  آ: 'ا',
  ٱ: 'ا',
  ى: 'ي',
  ة: 'ه',
  ؤ: 'ء',
  ئ: 'ء',
  ...Object.fromEntries(Array.from({ length: 10 }, (_, d) => [[String.fromCharCode(0x0660 + d), String(d)], [String.fromCharCode(0x06f0 + d), String(d)]]).flat()),
};
const LETTER_VARIANTS = new RegExp(`[${Object.keys(LETTER_FOLDS).join('')}]`, 'gu');

/** Folds Arabic spelling variants, compatibility forms and digits so that equivalent words compare equal. */
export function foldArabic(s: string): string {
  return s
    // Compatibility forms to their letters: Arabic presentation forms (as PDFs often hold them), ligatures, full-width Latin.
    .normalize('NFKC')
    .replace(DIACRITICS, '')
    .replace(LETTER_VARIANTS, (c) => LETTER_FOLDS[c]!);
}

/** Arabic suffixes the light stemmer removes, longest first where one ends another. */
const SUFFIXES = ['تين', 'تان', 'هما', 'ات', 'ون', 'ين', 'ان', 'ها', 'هم', 'هن', 'كم', 'نا', 'يه', 'ه', 'ي'];
/** Attached pronouns among them (after folding, ة reads as ه). */
const PRONOUNS = new Set(['هما', 'ها', 'هم', 'هن', 'كم', 'نا', 'ه']);

/** A light stemmer: Arabic article and common prefixes/suffixes, English plural and -ing/-ed. */
export function lightStem(word: string): string {
  if (/[\u0600-\u06FF]/u.test(word)) {
    let w = word;
    // A conjunction (و، ف) may precede the article or a preposition: وبالمضخات → بالمضخات → مضخات.
    if (w.length > 4 && (w.startsWith('و') || w.startsWith('ف')) && /^[وف](ال|بال|كال|لل)/u.test(w)) w = w.slice(1);
    let stripped = false;
    for (const p of ['بال', 'كال', 'فال', 'وال', 'لل', 'ال']) {
      if (w.startsWith(p) && w.length - p.length >= 2) {
        w = w.slice(p.length);
        stripped = true;
        break;
      }
    }
    // A bare و is mostly the conjunction; a bare ف mostly begins the word (فحص، فريق، فرع), so only و goes.
    if (!stripped && w.length > 3 && w.startsWith('و')) w = w.slice(1);
    // A preposition joined to the word (لمسافات، بتقديم). Taken from every word of five letters or more,
    // with or without the article, so that a word whose own first letter is ب، ل or ك (برلمان) still reads
    // the same in all its forms; shorter words keep theirs (بناء، لوثر).
    if (w.length >= 5 && /^[بلك]/u.test(w)) w = w.slice(1);
    // Suffixes, at most two layers (مضخاتها → مضخات → مضخ). A noun's ta marbuta shows as ت before a
    // pronoun (ترنيمته), so that ت goes with the pronoun; duals (نقطتين) end like the singular (نقطة).
    for (let round = 0; round < 2; round++) {
      const before = w;
      for (const s of SUFFIXES) {
        if (w.endsWith(s) && w.length - s.length >= 3) {
          w = w.slice(0, -s.length);
          if (PRONOUNS.has(s) && w.endsWith('ت') && !w.endsWith('ات') && w.length >= 4) w = w.slice(0, -1);
          break;
        }
      }
      if (w === before) break;
    }
    return w;
  }
  let w = word;
  if (w.length > 4 && w.endsWith('ies')) w = `${w.slice(0, -3)}y`;
  else if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) w = w.slice(0, -1);
  if (w.length > 5 && w.endsWith('ing')) w = w.slice(0, -3);
  else if (w.length > 4 && w.endsWith('ed')) w = w.slice(0, -2);
  else if (w.length > 4 && w.endsWith('e')) w = w.slice(0, -1);
  // A doubled final consonant left by -ing/-ed (running → runn) is undoubled: run.
  if (w.length > 3 && /([b-df-hj-np-tv-z])\1$/.test(w) && !/(ll|ss|ff|zz)$/.test(w)) w = w.slice(0, -1);
  return w;
}

let stop: Set<string> | undefined;
/** Stop words, folded the same way as the text they are compared with. */
function isStop(w: string): boolean {
  stop ??= new Set(STOP_WORDS.map((x) => foldArabic(x)));
  return stop.has(w);
}

/** The term of each folded word seen lately ('' for a stop word): most text repeats a few thousand words. */
const termOfWord = new Map<string, string>();
const TERM_CACHE_SIZE = 50_000;

function termOf(word: string): string {
  let t = termOfWord.get(word);
  if (t === undefined) {
    if (isStop(word)) t = '';
    else {
      t = lightStem(word);
      if (t.length < 2 || isStop(t)) t = '';
    }
    if (termOfWord.size >= TERM_CACHE_SIZE) termOfWord.clear();
    termOfWord.set(word, t);
  }
  return t;
}

/** Normalised, stemmed, stop-word-free terms of a text in Arabic, English or both. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const raw of foldArabic(text.toLowerCase()).split(/[^\p{L}\p{N}]+/u)) {
    if (!raw) continue;
    const t = termOf(raw);
    if (t) out.push(t);
  }
  return out;
}
