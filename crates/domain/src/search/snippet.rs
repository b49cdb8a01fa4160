//! The passage of an article that best shows why it matched, with the matching words marked.
//!
//! Computed here from the article's plain text rather than by either database, so that it is the
//! same on both. Words are marked where the segmenter finds them as words, as the index does: a
//! search for 市长 marks nothing in 南京市长江大桥.

use super::text::{Segmenter, fold, join_broken_lines};
use crate::{
    entities::article,
    error::{Error, Result},
    render,
};

/// How a snippet is marked up: `start` before each marked run of words and `end` after it,
/// written as given (they are the caller's markup; the text around them is escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Highlight<'a> {
    start: &'a str,
    end: &'a str,
}

/// The longest marker accepted: markup such as `<mark class="hit">`, not a document.
pub const MAX_MARKER_CHARS: usize = 64;

impl<'a> Highlight<'a> {
    /// Checks the markers; an over-long one is a validation error on `highlightStart` or
    /// `highlightEnd`.
    pub fn new(start: &'a str, end: &'a str) -> Result<Self> {
        for (field, marker) in [("highlightStart", start), ("highlightEnd", end)] {
            if marker.chars().count() > MAX_MARKER_CHARS {
                return Err(Error::validation(
                    field,
                    format!("must be at most {MAX_MARKER_CHARS} characters"),
                ));
            }
        }
        Ok(Highlight { start, end })
    }
}

impl Default for Highlight<'static> {
    /// `<mark>` and `</mark>`.
    fn default() -> Self {
        Highlight {
            start: "<mark>",
            end: "</mark>",
        }
    }
}

/// The most characters of article text a snippet shows.
pub const SNIPPET_CHARS: usize = 120;

/// Characters shown before the first marked word when a passage is cut to fit.
const LEAD_IN: usize = 20;

/// How many candidate passages are cut into words before giving up on finding one: each costs a
/// segmentation, and a passage that contains a query word as text nearly always has it as a word.
const CANDIDATES: usize = 8;

/// The best passage of `a`'s lead and body for `words`, HTML-escaped, with each run of matching
/// words between `highlight.start` and `highlight.end`, and `…` where text was cut off. Without a
/// passage that holds a word, the beginning of the lead (or body), unmarked.
pub fn snippet(
    segmenter: &Segmenter,
    a: &article::Model,
    words: &[String],
    highlight: &Highlight<'_>,
) -> String {
    let lead = a.lead.as_deref().unwrap_or_default();
    let body = render::to_text(&a.body, a.body_format);
    let chars: Vec<char> = join_broken_lines(&format!("{lead}\n\n{body}"))
        .chars()
        .collect();
    let passages = passages(&chars);

    // Rank passages by the distinct query words they contain as text, then by their order.
    let mut candidates: Vec<(usize, &[char])> = passages
        .iter()
        .map(|p| {
            let folded = fold(&p.iter().collect::<String>());
            let found = words.iter().filter(|w| folded.contains(w.as_str())).count();
            (found, *p)
        })
        .filter(|(found, _)| *found > 0)
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    for (_, passage) in candidates.into_iter().take(CANDIDATES) {
        let marks = marked(segmenter, passage, words);
        if !marks.is_empty() {
            return render_window(passage, &marks, highlight);
        }
    }
    let opening = passages.first().copied().unwrap_or_default();
    render_window(opening, &[], highlight)
}

/// The text's sentences (ended by 。！？；!?; or a line break), without blank ones.
fn passages(text: &[char]) -> Vec<&[char]> {
    text.split_inclusive(|c| matches!(c, '。' | '！' | '？' | '；' | '!' | '?' | ';' | '\n'))
        .map(trim)
        .filter(|p| p.iter().any(|c| c.is_alphanumeric()))
        .collect()
}

fn trim(p: &[char]) -> &[char] {
    let start = p.iter().position(|c| !c.is_whitespace()).unwrap_or(p.len());
    let end = p
        .iter()
        .rposition(|c| !c.is_whitespace())
        .map_or(start, |e| e + 1);
    &p[start..end.max(start)]
}

/// The character ranges of `passage` holding one of `words` as a word, merged where they touch.
fn marked(segmenter: &Segmenter, passage: &[char], words: &[String]) -> Vec<(usize, usize)> {
    let folded: String = fold(&passage.iter().collect::<String>());
    let mut ranges: Vec<(usize, usize)> = segmenter
        .word_spans(&folded)
        .into_iter()
        .filter(|(_, _, word)| words.contains(word))
        .map(|(start, end, _)| (start, end))
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// At most [`SNIPPET_CHARS`] of `passage` around its first mark, escaped and marked.
fn render_window(passage: &[char], marks: &[(usize, usize)], highlight: &Highlight<'_>) -> String {
    let first = marks.first().map_or(0, |m| m.0);
    let start = if passage.len() <= SNIPPET_CHARS {
        0
    } else {
        first
            .saturating_sub(LEAD_IN)
            .min(passage.len() - SNIPPET_CHARS)
    };
    let end = (start + SNIPPET_CHARS).min(passage.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut i = start;
    for &(mark_start, mark_end) in marks {
        let (s, e) = (mark_start.max(start), mark_end.min(end));
        if s >= e {
            continue;
        }
        escape(&passage[i..s], &mut out);
        out.push_str(highlight.start);
        escape(&passage[s..e], &mut out);
        out.push_str(highlight.end);
        i = e;
    }
    escape(&passage[i..end], &mut out);
    if end < passage.len() {
        out.push('…');
    }
    out
}

fn escape(chars: &[char], out: &mut String) {
    let text: String = chars.iter().collect();
    // Writing to a String cannot fail.
    let _ = pulldown_cmark_escape::escape_html(out, &text);
}
