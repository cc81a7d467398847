//! `inventory`: the update inventory's items (each bound to its chart in a Helm repository,
//! optionally a successor chart, an end-of-life file and sources per place), its refresh
//! period and its policies.

use super::*;
use crate::config::decode::check_http_url;

pub(super) fn read_inventory(d: &mut Decoder, node: &Node) -> Option<Inventory> {
    let defaults = Inventory::default();
    let mut f = d.fields(node)?;
    let refresh = f.optional(d, "refresh", positive_duration);
    let max_index_bytes = f.optional(d, "max_index_size", |d, n| {
        let size = d.parsed(n, parse_size)?;
        if size == 0 {
            d.error(n.pos, "must be greater than zero");
            return None;
        }
        u64::try_from(size).ok()
    });
    let items = f
        .optional(d, "items", |d, n| {
            Some(d.id_map(n, |d, e| read_item(d, &e.value)))
        })
        .unwrap_or_default();
    let policies = f
        .optional(d, "policies", |d, n| d.list(n, read_policy))
        .unwrap_or_default();
    f.finish(d);
    Some(Inventory {
        refresh: refresh.unwrap_or(defaults.refresh),
        max_index_bytes: max_index_bytes.unwrap_or(defaults.max_index_bytes),
        items,
        policies,
    })
}

fn read_item(d: &mut Decoder, node: &Node) -> Option<InventoryItem> {
    let mut f = d.fields(node)?;
    let helm = f.required(d, "helm", read_helm);
    let eol = f.optional(d, "eol", read_eol);
    let places = f.optional(d, "places", |d, n| {
        Some(d.id_map(n, |d, e| read_place(d, &e.value)))
    });
    f.finish(d);
    Some(InventoryItem {
        helm: helm?,
        eol,
        places: places.unwrap_or_default(),
    })
}

fn read_place(d: &mut Decoder, node: &Node) -> Option<PlaceSources> {
    let mut f = d.fields(node)?;
    let helm = f.optional(d, "helm", read_helm);
    let eol = f.optional(d, "eol", read_eol);
    f.finish(d);
    Some(PlaceSources { helm, eol })
}

fn read_helm(d: &mut Decoder, node: &Node) -> Option<HelmSource> {
    let mut f = d.fields(node)?;
    let index = f.required(d, "index", read_index_location);
    let chart = f.required(d, "chart", Decoder::string);
    let successor = f.optional(d, "successor", |d, n| {
        let mut f = d.fields(n)?;
        let chart = f.required(d, "chart", Decoder::string);
        let index = f.optional(d, "index", read_index_location);
        f.finish(d);
        Some((chart?, index))
    });
    f.finish(d);
    let index = index?;
    let successor = successor.map(|(chart, own)| ChartRef {
        index: own.unwrap_or_else(|| index.clone()),
        chart,
    });
    Some(HelmSource {
        index,
        chart: chart?,
        successor,
    })
}

/// An `http(s)://` URL, a `file://` URL or a path.
fn read_index_location(d: &mut Decoder, node: &Node) -> Option<IndexLocation> {
    d.parsed(node, |text| {
        let text = text.trim();
        if text.starts_with("http://") || text.starts_with("https://") {
            check_http_url(text)?;
            Ok(IndexLocation::Url(text.to_owned()))
        } else if let Some(path) = text.strip_prefix("file://") {
            Ok(IndexLocation::File(std::path::PathBuf::from(path)))
        } else if text.contains("://") {
            Err(format!(
                "`{text}`: an index is an http:// or https:// URL, or a local file path"
            ))
        } else if text.is_empty() {
            Err("expected a URL or a file path".to_owned())
        } else {
            Ok(IndexLocation::File(std::path::PathBuf::from(text)))
        }
    })
}

fn read_eol(d: &mut Decoder, node: &Node) -> Option<EolSource> {
    let mut f = d.fields(node)?;
    let file = f.required(d, "file", Decoder::string);
    f.finish(d);
    Some(EolSource {
        file: std::path::PathBuf::from(file?),
    })
}

fn read_policy(d: &mut Decoder, node: &Node) -> Option<InventoryPolicy> {
    let mut f = d.fields(node)?;
    let (kind, value, _) = one_kind(
        d,
        &mut f,
        "an inventory policy",
        &["max_behind", "end_of_life"],
    )?;
    let rule = match kind {
        "max_behind" => d
            .choice(value, "lag", &Lag::ALL)
            .map(InventoryRule::MaxBehind),
        _ => match d.bool(value)? {
            true => Some(InventoryRule::EndOfLife),
            false => {
                d.error(value.pos, "`end_of_life: false` checks nothing: write `end_of_life: true` or remove the policy");
                None
            }
        },
    };
    let severity = f.required(d, "severity", read_severity);
    f.finish(d);
    Some(InventoryPolicy {
        rule: rule?,
        severity: severity?,
    })
}
