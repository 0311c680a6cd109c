//! Markdown to HTML that is safe to put on a page: rendered by pulldown-cmark, then cleaned by
//! ammonia (no scripts, styles or event attributes; links only to http, https and mailto, with
//! `rel="noopener noreferrer"`; images allowed).

use std::sync::OnceLock;

use pulldown_cmark::{html, Options, Parser};

fn cleaner() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.url_schemes(["http", "https", "mailto"].into_iter().collect());
        b
    })
}

/// The body as cleaned HTML.
pub fn markdown(body: &str) -> String {
    let parser = Parser::new_ext(body, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH);
    let mut raw = String::with_capacity(body.len() * 3 / 2);
    html::push_html(&mut raw, parser);
    cleaner().clean(&raw).to_string()
}

#[cfg(test)]
mod tests {
    use super::markdown;

    #[test]
    fn markdown_keeps_what_a_notice_needs() {
        let html = markdown("# 停机通知\n\n**12月8日** 维护，详见[公告](https://example.cn/a)。\n\n![图](https://example.cn/a.png)\n\n| 时间 | 仪器 |\n|---|---|\n| 上午 | SEM |");
        assert!(html.contains("<h1>停机通知</h1>"), "{html}");
        assert!(html.contains("<strong>12月8日</strong>"));
        assert!(html.contains(r#"href="https://example.cn/a""#));
        assert!(html.contains(r#"rel="noopener noreferrer""#));
        assert!(html.contains("<img"));
        assert!(html.contains("<table>"));
    }

    #[test]
    fn nothing_runs() {
        for payload in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<svg onload=alert(1)>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        ] {
            let html = markdown(payload).to_lowercase();
            for bad in [
                "<script",
                "onerror",
                "onload",
                "javascript:",
                "<iframe",
                "style=",
                "data:",
            ] {
                assert!(!html.contains(bad), "{payload} → {html}");
            }
        }
    }
}
