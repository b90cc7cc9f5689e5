//! Which objects a page needs: the requisites an HTML document links
//! (stylesheets, scripts, images, icons, media; parsed with html5ever
//! through `scraper`, as a browser tokenises) and the `url(...)` and
//! `@import` references inside a stylesheet (CSS Values 4 §4.5, CSS
//! Cascade 4 §2). Pure functions over text; the page loader resolves and
//! filters what they return.

/// The references an HTML document makes to the objects needed to render
/// it, in document order, with `<base href>` if present.
pub(super) fn html_links(html: &str) -> (Option<String>, Vec<String>) {
    // html5ever tokenises as browsers do: script and style contents are raw
    // text, entities in attributes are decoded, bad markup is recovered.
    let doc = scraper::Html::parse_document(html);
    let mut base = None;
    let mut out = Vec::new();
    for el in doc
        .root_element()
        .descendants()
        .filter_map(scraper::ElementRef::wrap)
    {
        let e = el.value();
        let attr = |want: &str| {
            e.attr(want)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let name = e.name();
        match name {
            "base" if base.is_none() => base = attr("href"),
            "link" => {
                let rel = attr("rel").unwrap_or_default().to_ascii_lowercase();
                let wanted = rel.split_ascii_whitespace().any(|r| {
                    matches!(
                        r,
                        "stylesheet" | "icon" | "preload" | "modulepreload" | "apple-touch-icon"
                    )
                });
                if wanted {
                    out.extend(attr("href"));
                }
            }
            "script" | "img" | "audio" | "video" | "source" | "track" | "embed" | "iframe" => {
                out.extend(attr("src"));
                if let Some(set) = attr("srcset") {
                    // "a.png 1x, b.png 2x": the URL is the first word of each.
                    out.extend(
                        set.split(',')
                            .filter_map(|c| c.split_ascii_whitespace().next())
                            .map(str::to_string),
                    );
                }
                if name == "video" {
                    out.extend(attr("poster"));
                }
            }
            "input" if attr("type").is_some_and(|t| t.eq_ignore_ascii_case("image")) => {
                out.extend(attr("src"));
            }
            "object" => out.extend(attr("data")),
            _ => {}
        }
    }
    (base, out)
}

/// `url(...)` and `@import "..."` references in a stylesheet.
pub(super) fn css_links(css: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = css.to_ascii_lowercase();
    let mut at = 0;
    while let Some(i) = lower.get(at..).and_then(|s| s.find("url(")) {
        let start = at + i + 4;
        let Some(len) = css.get(start..).and_then(|s| s.find(')')) else {
            break;
        };
        let raw = css.get(start..start + len).unwrap_or("").trim();
        let v = raw.trim_matches(|c| c == '"' || c == '\'').trim();
        if !v.is_empty() && !v.starts_with("data:") {
            out.push(v.to_string());
        }
        at = start + len;
    }
    let mut at = 0;
    while let Some(i) = lower.get(at..).and_then(|s| s.find("@import")) {
        let rest = css.get(at + i + 7..).unwrap_or("").trim_start();
        for q in ['"', '\''] {
            if let Some(r) = rest.strip_prefix(q) {
                if let Some(end) = r.find(q) {
                    out.push(r.get(..end).unwrap_or("").to_string());
                }
            }
        }
        at += i + 7;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_links_finds_every_kind_of_requisite_in_order() {
        let html = r#"<!doctype html><html><head>
            <base href="/sub/">
            <LINK REL="stylesheet" HREF="a.css">
            <link rel="icon" href="/favicon.ico">
            <link rel="alternate" href="/feed.xml">
            <script src="app.js?v=1&amp;x=2"></script>
            <script>var notALink = "<img src=nope.png>";</script>
            </head><body>
            <img src="i.png" srcset="i.png 1x, i2.png 2x">
            <picture><source srcset="p.webp"><img src=p.jpg></picture>
            <video poster="poster.jpg" src="v.mp4"></video>
            <input type="image" src="btn.gif"><input type="text" src="no.gif">
            <a href="/page2.html">not a requisite</a>
            <img src="">
            </body></html>"#;
        let (base, links) = html_links(html);
        assert_eq!(base.as_deref(), Some("/sub/"));
        assert_eq!(
            links,
            [
                "a.css",
                "/favicon.ico",
                "app.js?v=1&x=2",
                "i.png",
                "i.png",
                "i2.png",
                "p.webp",
                "p.jpg",
                "v.mp4",
                "poster.jpg",
                "btn.gif"
            ]
        );
    }

    #[test]
    fn broken_html_gives_what_it_can_and_never_panics() {
        for html in [
            "",
            "<",
            "<img src=",
            "<img src='x.png'",
            "<<<>>>",
            "\u{0}<img src=a>",
        ] {
            let _ = html_links(html);
        }
        let (_, links) = html_links("<p><img src=a.png><p><img src=b.png");
        assert!(links.contains(&"a.png".to_string()), "{links:?}");
    }

    #[test]
    fn css_links_finds_urls_and_imports() {
        let css = r#"@import "base.css"; @import url('print.css');
            body { background: URL( "bg.png" ) } .x { src: url(font.woff2) format("woff2") }
            .y { background: url(data:image/png;base64,AAAA) } .z { background: url("#;
        assert_eq!(
            css_links(css),
            ["print.css", "bg.png", "font.woff2", "base.css"]
        );
    }
}
