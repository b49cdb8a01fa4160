//! Text as the index sees it: Chinese segmented into words by jieba, with its bundled dictionary
//! and the site's user dictionary, mixed with English words and numbers.
//!
//! Articles and queries go through the same steps, so that what a reader types meets what an
//! editor wrote: full-width ASCII becomes half-width and ASCII is lower-cased (`ＩＰｈｏｎｅ` and
//! `iPhone` are one word); a line break inside a run of Chinese is dropped, since it breaks no
//! word; punctuation and spaces are never words; a word is only letters and digits, so the
//! backends' own tokenizers never split one further.

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
};

use jieba_rs::{Jieba, KeywordExtract, TfIdf};

/// The dictionary every site gets: names and terms of the portal's beat that jieba's bundled
/// dictionary lacks or cuts apart. One entry a line: word, frequency, optional part of speech.
const USER_DICTIONARY: &str = include_str!("user_dict.txt");

/// Words longer than this (in characters) are not indexed: a run of letters that long is a hash
/// or an encoded blob, not something a reader types, and PostgreSQL refuses very long lexemes.
const MAX_WORD_CHARS: usize = 32;

/// Single characters so common in Chinese that a query for them finds everything. They are left
/// out of the index and of queries alike.
const STOP_WORDS: &[&str] = &[
    "的", "了", "着", "是", "在", "和", "与", "及", "或", "也", "都", "就", "而", "并", "之", "其",
    "对", "把", "被", "让", "向", "从", "为", "以", "于", "等", "啊", "吗", "呢", "吧", "a", "an",
    "the", "of", "and", "or", "to", "in",
];

/// The user dictionary could not be read.
#[derive(Debug, thiserror::Error)]
#[error("search dictionary: {0}")]
pub struct DictionaryError(String);

/// Cuts text into index words. Building one loads jieba's dictionary, which takes a noticeable
/// fraction of a second, so the application builds one at start-up and clones it (cheaply) to
/// every place that writes or searches.
///
/// The table of inverse document frequencies that picks an article's keywords (34 MiB, a third
/// of an idle server's memory) is loaded only for writes: [`Segmenter::warm_keywords`] starts
/// loading it in the background when an editor is first admitted, and the first indexing waits
/// for it otherwise. A process that only serves readers never loads it.
#[derive(Clone)]
pub struct Segmenter(Arc<(Jieba, OnceLock<TfIdf>)>);

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Segmenter")
    }
}

impl Segmenter {
    /// jieba's bundled dictionary, then ours, then `extra` (a site's own dictionary in the same
    /// format), each able to add words or change their frequency.
    pub fn new(extra: Option<&str>) -> Result<Self, DictionaryError> {
        let mut jieba = Jieba::new();
        for dictionary in std::iter::once(USER_DICTIONARY).chain(extra) {
            jieba
                .load_dict(&mut dictionary.as_bytes())
                .map_err(|e| DictionaryError(e.to_string()))?;
        }
        Ok(Segmenter(Arc::new((jieba, OnceLock::new()))))
    }

    /// Starts loading the keyword table on a blocking thread, unless it is loaded: so that the
    /// first save, which indexes inside its transaction, finds it ready rather than holding its
    /// locks for the 120 ms the load takes.
    pub fn warm_keywords(&self) {
        if self.0.1.get().is_some() {
            return;
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            this.0.1.get_or_init(TfIdf::default);
        });
    }

    /// The `most` words of `text` that say most about it: frequent in it and rare in Chinese
    /// at large (TF-IDF with jieba's bundled frequencies), folded like index words.
    pub(super) fn keywords(&self, text: &str, most: usize) -> Vec<String> {
        let text = fold(&join_broken_lines(text));
        let (jieba, tfidf) = &*self.0;
        let tfidf = tfidf.get_or_init(TfIdf::default);
        let mut words = Vec::new();
        for keyword in tfidf.extract_keywords(jieba, &text, most, Vec::new()) {
            push_parts(&keyword.keyword, &mut words);
        }
        words
    }

    /// Every word of `text` for the index: the words of jieba's search mode, which adds the
    /// dictionary words inside a longer word (`数字` and `经济` of `数字经济`), so that a reader
    /// finds the long word by its parts.
    pub fn index_words(&self, text: &str) -> Vec<String> {
        let text = fold(&join_broken_lines(text));
        let mut words = Vec::new();
        for token in self.0.0.cut_for_search(&text, true) {
            push_parts(token.word, &mut words);
        }
        words
    }

    /// The words of a query, once each, in order: jieba's precise mode, since the index holds
    /// every word it would give and a reader means the whole word they typed.
    pub fn query_words(&self, query: &str) -> Vec<String> {
        let text = fold(query);
        let mut words = Vec::new();
        for token in self.0.0.cut(&text, true) {
            push_parts(token.word, &mut words);
        }
        let mut seen = std::collections::HashSet::new();
        words.retain(|w| seen.insert(w.clone()));
        words
    }

    /// Where the words of `text` (already folded with [`fold`]) stand, in characters, with the
    /// word each span holds; search mode, so that the parts of a long word are found too.
    pub(super) fn word_spans(&self, folded: &str) -> Vec<(usize, usize, String)> {
        let mut spans = Vec::new();
        for token in self.0.0.cut_for_search(folded, true) {
            let mut parts = Vec::new();
            push_parts(token.word, &mut parts);
            // A token that splits into parts (`e-mail`) is rare enough to mark whole.
            for part in parts {
                spans.push((token.start, token.end, part));
            }
        }
        spans
    }
}

/// Splits a jieba token at anything that is not a letter or digit and keeps the parts that can be
/// words.
fn push_parts(token: &str, out: &mut Vec<String>) {
    for part in token.split(|c: char| !c.is_alphanumeric()) {
        let chars = part.chars().count();
        if chars == 0 || chars > MAX_WORD_CHARS || STOP_WORDS.contains(&part) {
            continue;
        }
        out.push(part.to_owned());
    }
}

/// The same character as the index sees it: full-width ASCII as half-width, the ideographic
/// space as a space, ASCII in lower case. One character for one, so positions carry over.
pub(super) fn fold_char(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    };
    c.to_ascii_lowercase()
}

/// [`fold_char`] over a string.
pub(super) fn fold(text: &str) -> String {
    text.chars().map(fold_char).collect()
}

/// Chinese ideographs: a line break between two of them is a hard wrap, not a space.
fn is_ideograph(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}')
}

/// `text` without the single line breaks that stand between two ideographs. Chinese has no spaces
/// between words, so a text wrapped by hand (`数字\n经济`) has its words cut by the break; a blank
/// line is a paragraph and stays.
pub fn join_broken_lines(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\n') {
        return text.into();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let broken = c == '\n'
            && i > 0
            && chars.get(i + 1).is_some_and(|&next| is_ideograph(next))
            && is_ideograph(chars[i - 1]);
        if !broken {
            out.push(c);
        }
    }
    out.into()
}

/// How often each word occurs in `words`.
pub(super) fn counts(words: &[String]) -> HashMap<&str, usize> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for w in words {
        *counts.entry(w.as_str()).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segmenter() -> Segmenter {
        Segmenter::new(None).unwrap()
    }

    #[test]
    fn mixed_text_becomes_words() {
        let s = segmenter();
        let words = s.index_words("奋力“双过半”, 勇夺“全年胜”! 南昌开发区召开2020年全区干部大会");
        for w in [
            "双过半",
            "过半",
            "南昌开发区",
            "开发区",
            "南昌",
            "2020",
            "年",
            "干部",
        ] {
            assert!(words.iter().any(|x| x == w), "{w} missing from {words:?}");
        }
        assert!(
            words.iter().all(|w| w.chars().all(char::is_alphanumeric)),
            "{words:?}"
        );
        assert_eq!(
            s.query_words("iPhone 16发布５Ｇ手机"),
            ["iphone", "16", "发布", "5g", "手机"]
        );
        assert_eq!(s.query_words("“双过半”"), ["双过半"]);
        assert_eq!(s.query_words("数字经济的发展"), ["数字经济", "发展"]);
        assert_eq!(s.query_words("赵海东"), ["赵海东"]);
        // Operators of either backend's query language are only punctuation here.
        assert_eq!(
            s.query_words("\"数字\" OR 经济* NEAR(a b) -x:y ^z 'q'"),
            ["数字", "经济", "near", "b", "x", "y", "z", "q"]
        );
        assert!(s.query_words("“”！？*（）").is_empty());
    }

    #[test]
    fn words_inside_words_and_across_wrapped_lines() {
        let s = segmenter();
        // 南京市长江大桥 is 南京市 / 长江大桥: no 市长 (mayor) in it.
        let bridge = s.index_words("南京市长江大桥完成智慧化改造");
        assert!(!bridge.iter().any(|w| w == "市长"), "{bridge:?}");
        assert!(bridge.iter().any(|w| w == "长江"));
        // A word wrapped onto the next line is still the word.
        assert_eq!(
            join_broken_lines("数字\n经济。\n\n下一段\nabc\n中"),
            "数字经济。\n\n下一段\nabc\n中"
        );
        assert!(
            s.index_words("发展数字\n经济")
                .iter()
                .any(|w| w == "数字经济")
        );
    }

    #[test]
    fn folding_keeps_positions() {
        assert_eq!(fold("ＡＢＣ１２３　ｘ，Hello"), "abc123 x,hello");
        assert_eq!(fold("ＡＢＣ１２３　ｘ").chars().count(), 8);
    }

    #[test]
    fn a_bad_extra_dictionary_is_refused_and_a_good_one_is_used() {
        assert!(Segmenter::new(Some("新词 not-a-number\n")).is_err());
        let s = Segmenter::new(Some("沙蓬绿色种养 500 n\n")).unwrap();
        assert_eq!(s.query_words("沙蓬绿色种养"), ["沙蓬绿色种养"]);
        assert_ne!(segmenter().query_words("沙蓬绿色种养"), ["沙蓬绿色种养"]);
    }

    #[test]
    fn keywords_are_what_a_text_is_about() {
        let s = segmenter();
        let text = include_str!("../demo/seed-article.md");
        let keywords = s.keywords(text, 32);
        for w in ["招商引资", "赵海东", "党工委"] {
            assert!(
                keywords.iter().any(|k| k == w),
                "{w} missing from {keywords:?}"
            );
        }
        assert!(!keywords.iter().any(|k| k == "要"), "{keywords:?}");
    }
}
