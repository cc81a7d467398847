//! The checks that span sections, once every section is read: references between ids,
//! `depends_on` cycles and push keys used twice.

use super::*;

/// The ids declared under a top-level section (`notifications.channels` for nested ones),
/// read from the tree so that an entry with its own problems still counts as declared.
pub(super) fn declared_ids<'n>(root: &'n Node, section: &str) -> BTreeSet<&'n str> {
    let mut node = Some(root);
    for key in section.split('.') {
        node = node.and_then(|node| match &node.kind {
            NodeKind::Mapping(entries) => entries
                .iter()
                .find(|entry| entry.key == key)
                .map(|entry| &entry.value),
            _ => None,
        });
    }
    match node.map(|node| &node.kind) {
        Some(NodeKind::Mapping(entries)) => {
            entries.iter().map(|entry| entry.key.as_str()).collect()
        }
        _ => BTreeSet::new(),
    }
}

impl Sections {
    /// Reports references to ids that no section declares.
    pub(super) fn check_references(&self, d: &mut Decoder, root: &Node) {
        let mut declared: BTreeMap<IdKind, BTreeSet<&str>> = BTreeMap::new();
        for kind in [
            IdKind::Component,
            IdKind::Region,
            IdKind::Tenant,
            IdKind::Channel,
            IdKind::Backup,
        ] {
            declared.insert(kind, declared_ids(root, kind.section()));
        }
        if let Some(components) = declared.get_mut(&IdKind::Component) {
            components.extend(self.generated_components.iter().map(String::as_str));
        }
        for (kind, id, pos) in &self.references {
            let Some(ids) = declared.get(kind) else {
                continue;
            };
            if ids.contains(id.as_str()) {
                continue;
            }
            let candidates: Vec<&str> = ids.iter().copied().collect();
            let hint = match suggest(id, &candidates) {
                Some(close) => format!("; did you mean `{close}`?"),
                None if candidates.is_empty() => format!("; `{}` declares none", kind.section()),
                None => format!(" (declared: {})", candidates.join(", ")),
            };
            d.error(*pos, format!("unknown {} `{id}`{hint}", kind.noun()));
        }
    }

    /// Reports each `depends_on` cycle once, at the edge that closes it.
    pub(super) fn check_cycles(&self, d: &mut Decoder, components: &BTreeMap<String, Component>) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Visiting,
            Done,
        }
        let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
        let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
        for start in components.keys() {
            if marks.contains_key(start.as_str()) {
                continue;
            }
            let mut path: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
            marks.insert(start.as_str(), Mark::Visiting);
            while let Some((node, next)) = path.last().copied() {
                let dependencies = components
                    .get(node)
                    .map_or(&[][..], |component| component.depends_on.as_slice());
                let Some(child) = dependencies.get(next) else {
                    marks.insert(node, Mark::Done);
                    path.pop();
                    continue;
                };
                if let Some(top) = path.last_mut() {
                    top.1 += 1;
                }
                if !components.contains_key(child) {
                    continue;
                }
                match marks.get(child.as_str()) {
                    None => {
                        marks.insert(child.as_str(), Mark::Visiting);
                        path.push((child.as_str(), 0));
                    }
                    Some(Mark::Visiting) => {
                        let from = path.iter().position(|(id, _)| *id == child).unwrap_or(0);
                        let mut cycle: Vec<&str> =
                            path.iter().skip(from).map(|(id, _)| *id).collect();
                        let mut canonical = cycle.clone();
                        canonical.sort_unstable();
                        if reported.insert(canonical) {
                            cycle.push(child.as_str());
                            let pos = self
                                .dependency_pos
                                .get(&(node.to_owned(), child.clone()))
                                .copied()
                                .unwrap_or_default();
                            d.error(pos, format!("dependency cycle: {}", cycle.join(" -> ")));
                        }
                    }
                    Some(Mark::Done) => {}
                }
            }
        }
    }

    /// Reports a push key used twice (by monitors or backups). A key written once in
    /// `tenant_services` but the same for two tenants is reported as such.
    pub(super) fn check_push_keys(&self, d: &mut Decoder) {
        let mut first: BTreeMap<&str, Pos> = BTreeMap::new();
        for (key, pos) in &self.push_keys {
            match first.get(key.as_str()) {
                Some(first) if first == pos => d.error(
                    *pos,
                    format!(
                        "push key `{key}` is the same for every tenant: put a placeholder such as {{tenant.id}} in it"
                    ),
                ),
                Some(first) => d.error(
                    *pos,
                    format!("duplicate push key `{key}`, first used at line {}", first.line),
                ),
                None => {
                    first.insert(key, *pos);
                }
            }
        }
    }
}
