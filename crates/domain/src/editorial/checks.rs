//! Field checks shared by every write: each failure names the input field it is about, as the
//! client spelled it.

use crate::error::{Error, Result};

/// Refuses control characters other than tab and line breaks: PostgreSQL cannot store NUL, and
/// none of them belongs in content.
pub fn no_control(field: &str, value: &str) -> Result<()> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::validation(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A time both databases can store and compare: years 1 to 9999.
pub fn time(field: &str, at: chrono::DateTime<chrono::Utc>) -> Result<()> {
    use chrono::Datelike;
    if (1..=9999).contains(&at.year()) {
        Ok(())
    } else {
        Err(Error::validation(
            field,
            "must be between the years 1 and 9999",
        ))
    }
}

/// Trims `value` and requires 1 to `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String> {
    no_control(field, value)?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    max_chars(field, trimmed, max)?;
    Ok(trimmed.to_owned())
}

/// Trims an optional value; blank becomes `None`; at most `max` characters.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    if let Some(value) = value {
        no_control(field, value)?;
    }
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => {
            max_chars(field, v, max)?;
            Ok(Some(v.to_owned()))
        }
        None => Ok(None),
    }
}

/// At most `max` characters.
pub fn max_chars(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// An absolute `http(s)://` URL of at most 2000 characters.
pub fn url(field: &str, value: &str) -> Result<()> {
    max_chars(field, value, 2000)?;
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !value.chars().any(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(Error::validation(
            field,
            "must be an absolute http:// or https:// URL",
        )),
    }
}

/// A URL as [`url`] allows, or a path on this site starting with `/`.
pub fn url_or_path(field: &str, value: &str) -> Result<()> {
    // `//host` and `/\host` are protocol-relative to a browser, so not paths on this site.
    let path_like = value.starts_with('/') && !value.starts_with("//") && !value.contains('\\');
    if path_like && !value.chars().any(char::is_whitespace) {
        return max_chars(field, value, 2000);
    }
    url(field, value)
}

/// A slug: 1 to `max` lowercase ASCII letters, digits and single inner hyphens.
pub fn slug(field: &str, value: &str, max: usize) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && !value.starts_with('-')
        && !value.ends_with('-')
        && !value.contains("--")
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            field,
            format!(
                "must be 1 to {max} lowercase ASCII letters, digits and single hyphens, like `nanchang-2020`"
            ),
        ))
    }
}

/// A slug made from `text`: Chinese becomes its pinyin, other scripts their closest ASCII, and
/// anything else a hyphen; cut at a word boundary to at most `max` characters. `None` when
/// nothing usable is left.
pub fn slug_from(text: &str, max: usize) -> Option<String> {
    let full = slug::slugify(text);
    let mut cut = String::with_capacity(max);
    for word in full.split('-').filter(|w| !w.is_empty()) {
        if !cut.is_empty() && cut.len() + 1 + word.len() > max {
            break;
        }
        if !cut.is_empty() {
            cut.push('-');
        }
        cut.push_str(&word[..word.len().min(max)]);
    }
    (!cut.is_empty()).then_some(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_titles_give_pinyin_slugs() {
        assert_eq!(
            slug_from("南昌开发区", 80).as_deref(),
            Some("nan-chang-kai-fa-qu")
        );
        assert_eq!(
            slug_from(
                "奋力“双过半”, 勇夺“全年胜”! 南昌开发区召开2020年全区干部大会",
                40
            )
            .as_deref(),
            Some("fen-li-shuang-guo-ban-yong-duo-quan-nian")
        );
        assert_eq!(
            slug_from("iPhone 16 发布", 80).as_deref(),
            Some("iphone-16-fa-bu")
        );
        assert_eq!(slug_from("！？…", 80), None);
        for generated in [
            slug_from("数字经济创新发展试验基地", 200),
            slug_from("5G 与新基建", 200),
        ] {
            let generated = generated.unwrap();
            slug("slug", &generated, 200).unwrap();
        }
    }

    #[test]
    fn field_checks_name_the_field() {
        assert!(slug("slug", "nanchang-2020", 200).is_ok());
        for bad in ["", "Nanchang", "a--b", "-a", "a-", "南昌", "a b", "a_b"] {
            let err = slug("slug", bad, 200).unwrap_err().to_string();
            assert!(err.starts_with("slug:"), "{bad}: {err}");
        }
        assert!(url("originalUrl", "https://example.cn/a").is_ok());
        for bad in [
            "javascript:alert(1)",
            "ftp://x",
            "https://",
            "https:///x",
            "http://a b",
        ] {
            assert!(url("originalUrl", bad).is_err(), "{bad}");
        }
        assert!(url_or_path("coverImage", "/media/a.jpg").is_ok());
        assert!(url_or_path("coverImage", "//evil.example/a.jpg").is_err());
        assert!(url_or_path("coverImage", "/\\evil.example/a.jpg").is_err());
        assert!(required_text("title", "a\u{0}b", 10).is_err());
        assert!(optional_text("lead", Some("x\u{7}"), 10).is_err());
        assert!(required_text("title", "第一段\n第二段", 10).is_ok());
        assert_eq!(required_text("title", "  标题  ", 10).unwrap(), "标题");
        assert!(required_text("title", "   ", 10).is_err());
        assert!(required_text("title", "一二三四五六七八九十十", 10).is_err());
        assert_eq!(optional_text("lead", Some("  "), 10).unwrap(), None);
    }
}
