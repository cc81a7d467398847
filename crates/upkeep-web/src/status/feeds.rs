//! `/feed.atom` (RFC 4287) and `/feed.rss` (RSS 2.0): the recent incidents and maintenances,
//! most recently changed first, each with its timeline as HTML (sanitised Markdown, see
//! [`super::html::markdown`]).
//!
//! Entry ids are the permanent URL (`{page.url}/incidents/{id}`, `{page.url}/maintenance/{id}`),
//! so they never change; an entry's `updated` is its last change, so readers see new updates. The
//! feed's own `updated` is the latest change of anything on the page, not the build time, so an
//! unchanged page gives the same bytes and the same ETag. The XML is written by the
//! `atom_syndication` and `rss` crates, which escape every value.

use atom_syndication as atom;
use jiff::Timestamp;
use upkeep_store::incidents::IncidentRecord;

use super::html::{local, markdown};
use super::model::Model;

/// How many entries a feed carries.
pub const ENTRIES: usize = 50;

fn fixed(t: Timestamp) -> atom::FixedDateTime {
    chrono::DateTime::from_timestamp_millis(t.as_millisecond())
        .unwrap_or_default()
        .fixed_offset()
}

fn rfc2822(t: Timestamp) -> String {
    t.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

fn permalink(m: &Model, i: &IncidentRecord) -> String {
    format!("{}/incidents/{}", m.url, i.id)
}

/// The incident's timeline as HTML, newest update first.
fn content(m: &Model, i: &IncidentRecord) -> String {
    let mut html = format!("<p><strong>Impact:</strong> {}</p>", i.impact.as_str());
    for u in &i.updates {
        html.push_str(&format!(
            "<p><strong>{}</strong> — {}</p>{}",
            u.status.as_str(),
            local(u.created_at, &m.tz),
            markdown(&u.body)
        ));
    }
    html
}

fn title(i: &IncidentRecord) -> String {
    format!("{} ({})", i.title, i.status.as_str())
}

/// One feed entry, from an incident or a maintenance.
struct Item {
    link: String,
    title: String,
    html: String,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// The feed's items, most recently changed first.
fn items(m: &Model) -> Vec<Item> {
    let mut items: Vec<Item> = m
        .recent
        .iter()
        .map(|i| Item {
            link: permalink(m, i),
            title: title(i),
            html: content(m, i),
            created_at: i.created_at,
            updated_at: i.updated_at,
        })
        .collect();
    for w in &m.maintenances {
        let mut html = format!(
            "<p><strong>Scheduled:</strong> {} – {}</p>{}",
            local(w.starts_at, &m.tz),
            local(w.ends_at, &m.tz),
            markdown(w.description.as_deref().unwrap_or_default())
        );
        for u in w.updates.iter().filter(|u| !u.body.is_empty()) {
            html.push_str(&format!(
                "<p><strong>{}</strong> — {}</p>{}",
                u.status.as_str(),
                local(u.created_at, &m.tz),
                markdown(&u.body)
            ));
        }
        items.push(Item {
            link: format!("{}/maintenance/{}", m.url, w.id),
            title: format!("Maintenance: {} ({})", w.title, w.status.as_str()),
            html,
            created_at: w.created_at,
            updated_at: w.updated_at,
        });
    }
    items.sort_by(|a, b| (b.updated_at, &b.link).cmp(&(a.updated_at, &a.link)));
    items.truncate(ENTRIES);
    items
}

/// The Atom feed.
pub fn atom(m: &Model) -> Result<Vec<u8>, atom::Error> {
    let entries: Vec<atom::Entry> = items(m)
        .into_iter()
        .map(|i| {
            let link = atom::Link {
                href: i.link.clone(),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Default::default()
            };
            atom::Entry {
                title: atom::Text::plain(i.title),
                id: i.link,
                updated: fixed(i.updated_at),
                published: Some(fixed(i.created_at)),
                links: vec![link],
                content: Some(atom::Content {
                    value: Some(i.html),
                    content_type: Some("html".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect();
    let feed = atom::Feed {
        title: atom::Text::plain(format!("{} status", m.name)),
        id: format!("{}/feed.atom", m.url),
        updated: fixed(m.updated_at),
        links: vec![
            atom::Link {
                href: format!("{}/feed.atom", m.url),
                rel: "self".into(),
                mime_type: Some("application/atom+xml".into()),
                ..Default::default()
            },
            atom::Link {
                href: format!("{}/", m.url),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Default::default()
            },
        ],
        authors: vec![atom::Person {
            name: m.name.clone(),
            ..Default::default()
        }],
        generator: Some(atom::Generator {
            value: "upkeep".into(),
            ..Default::default()
        }),
        entries,
        ..Default::default()
    };
    feed.write_to(Vec::new())
}

/// The RSS feed.
pub fn rss(m: &Model) -> Result<Vec<u8>, rss::Error> {
    let items: Vec<rss::Item> = items(m)
        .into_iter()
        .map(|i| rss::Item {
            title: Some(i.title),
            link: Some(i.link.clone()),
            description: Some(i.html),
            guid: Some(rss::Guid {
                value: i.link,
                permalink: true,
            }),
            pub_date: Some(rfc2822(i.created_at)),
            ..Default::default()
        })
        .collect();
    let channel = rss::Channel {
        title: format!("{} status", m.name),
        link: format!("{}/", m.url),
        description: format!("Incidents and maintenance of {}", m.name),
        last_build_date: Some(rfc2822(m.updated_at)),
        generator: Some("upkeep".into()),
        items,
        ..Default::default()
    };
    channel.write_to(Vec::new())
}
