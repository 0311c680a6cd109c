//! Atom feeds (RFC 4287) of the article lists, for feed readers and the province's portal.

use atom_syndication::{Content, Entry, Feed, FixedDateTime, Link, Person, Text};

use super::model::Article;
use crate::mail::templates::page_url;

fn link(href: String, rel: &str) -> Link {
    Link {
        href,
        rel: rel.to_owned(),
        ..Link::default()
    }
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> FixedDateTime {
    t.unwrap_or_default().fixed_offset()
}

/// The feed `title` at `path` (its own address) of `articles`, newest first.
pub fn atom(title: &str, path: &str, page: &str, articles: &[Article]) -> String {
    let entries: Vec<Entry> = articles
        .iter()
        .map(|a| {
            let url = page_url(&format!("/articles/{}", a.id));
            Entry {
                title: Text::plain(a.title.clone()),
                id: url.clone(),
                updated: a.updated_at.fixed_offset(),
                published: Some(when(a.publish_at)),
                authors: vec![Person {
                    name: a.publisher.clone(),
                    ..Person::default()
                }],
                links: vec![link(url, "alternate")],
                summary: (!a.summary.is_empty()).then(|| Text::plain(a.summary.clone())),
                content: Some(Content {
                    value: Some(a.body_html.clone()),
                    content_type: Some("html".to_owned()),
                    ..Content::default()
                }),
                ..Entry::default()
            }
        })
        .collect();
    let updated = articles
        .iter()
        .map(|a| a.updated_at)
        .max()
        .unwrap_or_default()
        .fixed_offset();
    Feed {
        title: Text::plain(title.to_owned()),
        id: page_url(path),
        updated,
        links: vec![
            link(page_url(path), "self"),
            link(page_url(page), "alternate"),
        ],
        entries,
        ..Feed::default()
    }
    .to_string()
}
