//! Bodies are stored once, as the editor wrote them, and rendered on the way out: as sanitized
//! HTML (pulldown-cmark for Markdown, then ammonia, so no script, event handler or `javascript:`
//! URL ever reaches a reader) or as plain text.

use pulldown_cmark::{Event, Options, Parser, TagEnd, html};

use crate::entities::BodyFormat;

fn markdown_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES
}

/// The body as sanitized HTML.
pub fn to_html(body: &str, format: BodyFormat) -> String {
    match format {
        BodyFormat::Markdown => {
            let mut raw = String::with_capacity(body.len() + body.len() / 4);
            html::push_html(&mut raw, Parser::new_ext(body, markdown_options()));
            sanitize(&raw)
        }
        BodyFormat::Html => sanitize(body),
    }
}

/// ammonia's cleaning, repeated until the output no longer changes. Mis-nested input (a heading
/// or paragraph opened inside another) comes out of one cleaning as markup that an HTML parser,
/// a browser's or ammonia's own, reads as a different tree: `<h2><a</script><h2>` becomes
/// `<h2><h2></h2></h2>`, which parses as two sibling headings. Whoever parses what we serve
/// must see exactly the tree that was checked, so the result is cleaned again until it is
/// stable (in practice the second cleaning is).
fn sanitize(html: &str) -> String {
    let mut clean = ammonia::clean(html);
    for _ in 0..4 {
        let again = ammonia::clean(&clean);
        if again == clean {
            break;
        }
        clean = again;
    }
    clean
}

/// The body as plain text: paragraphs and headings separated by blank lines, markup gone.
pub fn to_text(body: &str, format: BodyFormat) -> String {
    match format {
        BodyFormat::Markdown => markdown_to_text(body),
        // Sanitize first, then read the safe HTML back as Markdown-compatible text: inline HTML in
        // a Markdown parse is passed through, so strip every tag with an empty-allowlist clean.
        BodyFormat::Html => {
            let blocks = ammonia::clean(body)
                .replace("</p>", "\n\n")
                .replace("<br>", "\n")
                .replace("</h1>", "\n\n")
                .replace("</h2>", "\n\n")
                .replace("</h3>", "\n\n")
                .replace("</li>", "\n");
            let stripped = ammonia::Builder::empty().clean(&blocks).to_string();
            unescape_html(&stripped).trim().to_owned()
        }
    }
}

fn markdown_to_text(body: &str) -> String {
    let mut text = String::with_capacity(body.len());
    for event in Parser::new_ext(body, markdown_options()) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak => text.push('\n'),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::BlockQuote(_),
            ) => text.push_str("\n\n"),
            Event::End(TagEnd::Item) => text.push('\n'),
            _ => {}
        }
    }
    text.trim_end().to_owned()
}

fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_to_clean_html_and_text() {
        let body = "## 赵海东指出\n\n2020年，面对突如其来的疫情，全区上下团结一心。\n\n[点我](javascript:alert(1)) [安全](https://example.cn/)\n\n<img src=x onerror=alert(1)>\n\n<script>alert(1)</script>";
        let html = to_html(body, BodyFormat::Markdown);
        assert!(html.contains("<h2>赵海东指出</h2>"), "{html}");
        assert!(
            html.contains("<p>2020年，面对突如其来的疫情，全区上下团结一心。</p>"),
            "{html}"
        );
        assert!(html.contains("<a href=\"https://example.cn/\""), "{html}");
        for bad in ["<script", "javascript:", "onerror", "alert"] {
            assert!(!html.contains(bad), "{bad} survived: {html}");
        }
        let text = to_text(body, BodyFormat::Markdown);
        assert!(
            text.starts_with("赵海东指出\n\n2020年，面对突如其来的疫情"),
            "{text}"
        );
        assert!(!text.contains('#') && !text.contains("<h2>"), "{text}");
    }

    /// Found by `fuzz_sanitized_html_is_safe_and_stable` and its Markdown twin: one cleaning of
    /// mis-nested blocks gave markup that parses as another tree.
    #[test]
    fn sanitized_html_is_a_fixed_point() {
        for (body, format) in [
            ("<h2><a</script><h2>", BodyFormat::Html),
            (
                "\\<form action=\"javascript:alert(1)\"><button formaction=javascript:alert(1)>",
                BodyFormat::Markdown,
            ),
        ] {
            let html = to_html(body, format);
            assert_eq!(to_html(&html, BodyFormat::Html), html, "{body}");
        }
        assert_eq!(
            to_html("<h2><a</script><h2>", BodyFormat::Html),
            "<h2></h2><h2></h2>"
        );
    }

    #[test]
    fn html_bodies_are_sanitized_and_flattened() {
        let body = "<h2>机制保障</h2><p onclick=\"x()\">人事制度改革 &amp; 审批</p><script>steal()</script>";
        let html = to_html(body, BodyFormat::Html);
        assert_eq!(html, "<h2>机制保障</h2><p>人事制度改革 &amp; 审批</p>");
        assert_eq!(
            to_text(body, BodyFormat::Html),
            "机制保障\n\n人事制度改革 & 审批"
        );
    }
}
