//! Property tests of the domain's parsers of untrusted input: cursors and page arguments, slugs
//! made from titles, and the Markdown / HTML sanitizer. `make test` runs each property with
//! proptest's default number of cases; `make fuzz` runs them with many more (`PROPTEST_CASES`).
//! A failure proptest finds gets a named regression test beside the property.

use chrono::DateTime;
use newsroom_domain::{
    Error,
    editorial::checks,
    entities::BodyFormat,
    pagination::{Cursor, MAX_PAGE_SIZE, PageRequest, SlugCursor, TimeCursor},
    render,
};
use proptest::prelude::*;

/// The first and last microsecond both databases can hold (years 1 and 9999).
const FIRST_MICROS: i64 = -62_135_596_800_000_000;
const LAST_MICROS: i64 = 253_402_300_799_999_999;

/// Strings a client might send as a cursor: anything, or base64 of a payload that looks like one
/// of ours, so that decoding gets past the first checks.
fn raw_cursor() -> impl Strategy<Value = String> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,300}",
        ("[tsh]", "[-+0-9a-fA-F:. ]{0,60}")
            .prop_map(|(tag, rest)| URL_SAFE_NO_PAD.encode(format!("{tag}:{rest}"))),
        (any::<i64>(), any::<i64>())
            .prop_map(|(micros, id)| URL_SAFE_NO_PAD.encode(format!("t:{micros}:{id}"))),
        ("[-+0]{0,2}[0-9]{1,16}", "[-+0]{0,2}[0-9]{1,6}")
            .prop_map(|(micros, id)| URL_SAFE_NO_PAD.encode(format!("t:{micros}:{id}"))),
    ]
}

proptest! {
    #[test]
    fn fuzz_time_cursors_round_trip(micros in FIRST_MICROS..=LAST_MICROS, id in any::<i64>()) {
        let at = DateTime::from_timestamp_micros(micros).unwrap();
        let cursor = TimeCursor { at, id };
        prop_assert_eq!(TimeCursor::decode(&cursor.encode()), Some(cursor));
    }

    #[test]
    fn fuzz_slug_cursors_round_trip(slug in "[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?") {
        let cursor = SlugCursor(slug);
        prop_assert_eq!(SlugCursor::decode(&cursor.encode()), Some(cursor));
    }

    /// Whatever a client sends, decoding never panics, and a cursor it accepts is the one the API
    /// would have issued for that position: one spelling per position.
    #[test]
    fn fuzz_cursor_decoding_accepts_only_issued_cursors(raw in raw_cursor()) {
        if let Some(cursor) = TimeCursor::decode(&raw) {
            prop_assert_eq!(cursor.encode(), raw.clone());
        }
        if let Some(cursor) = SlugCursor::decode(&raw) {
            prop_assert_eq!(cursor.encode(), raw);
        }
    }

    #[test]
    fn fuzz_page_arguments_are_accepted_or_refused_by_name(
        first in proptest::option::of(any::<i32>()),
        after in proptest::option::of(raw_cursor()),
        last in proptest::option::of(any::<i32>()),
        before in proptest::option::of(raw_cursor()),
    ) {
        match PageRequest::<TimeCursor>::from_relay(first, after.as_deref(), last, before.as_deref()) {
            Ok(page) => prop_assert!(page.limit <= MAX_PAGE_SIZE),
            Err(Error::Validation { field, .. }) => {
                prop_assert!(["first", "after", "last", "before"].contains(&field.as_str()), "{}", field);
            }
            Err(other) => prop_assert!(false, "not a validation error: {other:?}"),
        }
    }

    /// A slug made from any title is one the slug rule accepts, within the length asked for.
    #[test]
    fn fuzz_slugs_made_from_titles_are_valid(title in any::<String>(), max in 1usize..=200) {
        if let Some(slug) = checks::slug_from(&title, max) {
            prop_assert!(checks::slug("slug", &slug, max).is_ok(), "{:?} from {:?}", slug, title);
        }
    }
}

/// Pieces of hostile and ordinary bodies, Markdown and HTML, that random text alone would
/// seldom produce.
const FRAGMENTS: &[&str] = &[
    "<script>alert(1)</script>",
    "<script",
    "</script>",
    "<SCRIPT SRC=//x.example/x.js>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"javascript:alert(1)\">",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\" javascript:alert(1)\">x</a>",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
    "<a href=vbscript:msgbox(1)>x</a>",
    "<a href=\"https://example.cn/\" title=\"t\">ok</a>",
    "<svg onload=alert(1)>",
    "<iframe src=\"https://example.cn\"></iframe>",
    "<style>p{color:red}</style>",
    "<p style=\"background:url(javascript:alert(1))\">",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<form action=\"javascript:alert(1)\"><button formaction=javascript:alert(1)>",
    "<object data=\"x\"></object>",
    "<base href=\"javascript:/\">",
    "<meta http-equiv=refresh content=\"0;url=javascript:alert(1)\">",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<table><tr><td>",
    "</td></tr></table>",
    "<p>",
    "</p>",
    "<a>",
    "<h2>",
    "<ul><li>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "[x](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "[x](https://example.cn/ \"t\")",
    "<javascript:alert(1)>",
    "<https://example.cn/>",
    "[r]: javascript:alert(1)\n\n[r]",
    "[^1]\n\n[^1]: note",
    "`code`",
    "```\n<script>\n```",
    "    indented <script>\n",
    "\n\n",
    "## ",
    "> ",
    "- ",
    "| a | b |\n|---|---|\n| 1 | 2 |\n",
    "&lt;script&gt;",
    "&amp;",
    "&#0;",
    "&",
    "\"",
    "'",
    "<",
    ">",
    "=",
    "南昌开发区",
];

fn body() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
        2 => "[a-zA-Z0-9 =\"'<>/&#;:-]{0,8}",
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// A tag of sanitized HTML: its name and its attributes, values with entities decoded.
#[derive(Debug)]
struct Tag {
    name: String,
    attributes: Vec<(String, String)>,
}

/// The tags of HTML as the sanitizer writes it: in text `<` is always `&lt;`, and attribute
/// values are double-quoted with `"` written `&quot;`, so every `<` opens a tag.
fn tags(html: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        if rest.starts_with('/') {
            continue;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let mut tag = Tag {
            name: rest[..name_end].to_ascii_lowercase(),
            attributes: Vec::new(),
        };
        rest = &rest[name_end..];
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            if rest.is_empty() || rest.starts_with('>') {
                break;
            }
            let name_end = rest
                .find(|c: char| c.is_whitespace() || c == '=' || c == '>')
                .unwrap_or(rest.len());
            let name = rest[..name_end].to_ascii_lowercase();
            rest = &rest[name_end..];
            let mut value = String::new();
            if let Some(after) = rest.strip_prefix("=\"") {
                let end = after.find('"').unwrap_or(after.len());
                value = decode_entities(&after[..end]);
                rest = after.get(end + 1..).unwrap_or("");
            }
            tag.attributes.push((name, value));
        }
        out.push(tag);
    }
    out
}

fn decode_entities(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Why `html` is unsafe to show a reader, if it is.
fn unsafe_part(html: &str) -> Option<String> {
    const FORBIDDEN_TAGS: &[&str] = &[
        "script", "style", "iframe", "object", "embed", "svg", "math", "form", "button", "base",
        "meta", "link", "noscript", "frame", "frameset",
    ];
    const URL_ATTRIBUTES: &[&str] = &["href", "src", "cite", "action", "formaction", "xlink:href"];
    for tag in tags(html) {
        if FORBIDDEN_TAGS.contains(&tag.name.as_str()) {
            return Some(format!("a <{}> tag", tag.name));
        }
        for (name, value) in &tag.attributes {
            if name.starts_with("on") || name == "style" || name == "srcdoc" {
                return Some(format!("a {name} attribute on <{}>", tag.name));
            }
            if URL_ATTRIBUTES.contains(&name.as_str()) {
                // Browsers drop ASCII whitespace and control characters inside a scheme.
                let squeezed: String = value
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
                    .collect::<String>()
                    .to_ascii_lowercase();
                for scheme in ["javascript:", "vbscript:", "data:"] {
                    if squeezed.starts_with(scheme) {
                        return Some(format!("{name}=\"{value}\" on <{}>", tag.name));
                    }
                }
            }
        }
    }
    None
}

proptest! {
    #[test]
    fn fuzz_sanitized_html_is_safe_and_stable(body in body()) {
        let html = render::to_html(&body, BodyFormat::Html);
        prop_assert_eq!(unsafe_part(&html), None, "{}", html);
        prop_assert_eq!(render::to_html(&html, BodyFormat::Html), html);
    }

    #[test]
    fn fuzz_rendered_markdown_is_safe_and_stable(body in body()) {
        let html = render::to_html(&body, BodyFormat::Markdown);
        prop_assert_eq!(unsafe_part(&html), None, "{}", html);
        prop_assert_eq!(render::to_html(&html, BodyFormat::Html), html);
    }

    #[test]
    fn fuzz_plain_text_never_fails(body in body()) {
        for format in [BodyFormat::Markdown, BodyFormat::Html] {
            let text = render::to_text(&body, format);
            prop_assert!(text.len() <= body.len() * 4 + 16);
        }
    }
}

#[test]
fn the_checker_sees_what_it_must() {
    assert!(unsafe_part("<p>ok</p><a href=\"https://example.cn/\">x</a>").is_none());
    assert!(unsafe_part("<p>a &lt;script&gt; in text</p>").is_none());
    assert!(unsafe_part("<script>x</script>").is_some());
    assert!(unsafe_part("<img src=\"x\" onerror=\"y\">").is_some());
    assert!(unsafe_part("<a href=\"java\tscript:x\">").is_some());
    assert!(unsafe_part("<a title=\"&quot;&gt;\" href=\" JavaScript:x\">").is_some());
}
