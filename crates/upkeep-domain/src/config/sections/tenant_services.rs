//! `tenant_services`: components and monitors written once and instantiated for every tenant.
//!
//! For each tenant (in id order) each template entry is copied as a tree, its string scalars
//! have their placeholders filled in (`{tenant.id}`, `{tenant.name}`, `{tenant.region}`,
//! `{tenant.vars.NAME}`; `{{` and `}}` write a literal brace), references to template components
//! (a monitor's `component`, a component's `depends_on`) become the tenant's own ids, and the
//! copy is then decoded by the same readers as a shared component or monitor, so every check
//! applies. Positions stay those of the template. A problem that every tenant shares is
//! reported once; one that only some tenants have is reported once per tenant, naming it.
//! Instantiated ids are `TENANT.ID`; one that is also declared as a shared id is refused.

use super::checks::declared_ids;
use super::*;

/// The placeholders a template may use, for messages.
const PLACEHOLDERS: &str = "{tenant.id}, {tenant.name}, {tenant.region} or {tenant.vars.NAME}";

/// The decoded instances of `tenant_services`, to be added to the shared sections.
#[derive(Default)]
pub(super) struct TenantServices {
    pub components: Vec<(String, Component)>,
    pub monitors: Vec<(String, Monitor)>,
}

/// The entries of one template section (`components` or `monitors`), ids checked.
fn template_entries<'n>(d: &mut Decoder, node: &'n Node) -> Option<Vec<&'n Entry>> {
    match &node.kind {
        NodeKind::Mapping(entries) => Some(
            entries
                .iter()
                .filter(|entry| d.check_id(&entry.key, entry.key_pos))
                .collect(),
        ),
        _ if node.is_null() => Some(Vec::new()),
        _ => {
            d.error(
                node.pos,
                format!("expected a mapping of ids, found {}", describe(node)),
            );
            None
        }
    }
}

impl Sections {
    /// Reads `tenant_services` and instantiates it for every tenant. `root` tells which ids
    /// the shared sections declare (an instance may not take one of them).
    pub(super) fn tenant_services(
        &mut self,
        d: &mut Decoder,
        node: &Node,
        root: &Node,
        tenants: &BTreeMap<String, Tenant>,
    ) -> Option<TenantServices> {
        let mut f = d.fields(node)?;
        let components = f
            .optional(d, "components", template_entries)
            .unwrap_or_default();
        let monitors = f
            .optional(d, "monitors", template_entries)
            .unwrap_or_default();
        f.finish(d);

        let local: BTreeSet<&str> = components.iter().map(|e| e.key.as_str()).collect();
        let shared_components = declared_ids(root, "components");
        let shared_monitors = declared_ids(root, "monitors");
        let mut out = TenantServices::default();
        let mut generated: BTreeMap<String, String> = BTreeMap::new();
        let mut per_tenant: Vec<(&str, Vec<Problem>)> = Vec::new();

        for (tenant_id, tenant) in tenants {
            let mut td = Decoder::default();
            let instances = [
                (&components, "components", &shared_components, "depends_on"),
                (&monitors, "monitors", &shared_monitors, "component"),
            ];
            for (entries, section, shared, reference_key) in instances {
                for entry in entries.iter() {
                    let id = format!("{tenant_id}.{}", entry.key);
                    if !td.check_id(&id, entry.key_pos) {
                        continue;
                    }
                    if shared.contains(id.as_str()) {
                        td.error(
                            entry.key_pos,
                            format!(
                                "`{id}` is also declared under `{section}`: rename one of them"
                            ),
                        );
                        continue;
                    }
                    let key = format!("{section}.{id}");
                    if let Some(other) = generated.insert(key, tenant_id.clone()) {
                        td.error(
                            entry.key_pos,
                            format!("`{id}` is also the id of a service of tenant `{other}`"),
                        );
                        continue;
                    }
                    if section == "components" {
                        self.generated_components.insert(id.clone());
                    }
                    let mut copy = entry.value.clone();
                    let mut unfilled = BTreeSet::new();
                    fill_placeholders(&mut copy, tenant_id, tenant, &mut td, &mut unfilled);
                    own_references(&mut copy, reference_key, tenant_id, &local);
                    let marks = (
                        td.problems.len(),
                        self.references.len(),
                        self.push_keys.len(),
                    );
                    if section == "components" {
                        if let Some(mut component) = self.component(&mut td, &id, &copy) {
                            component.tenant = Some(tenant_id.clone());
                            out.components.push((id, component));
                        }
                    } else if let Some(mut monitor) = self.monitor_entry(&mut td, &id, &copy) {
                        monitor.tenant = Some(tenant_id.clone());
                        out.monitors.push((id, monitor));
                    }
                    if !unfilled.is_empty() {
                        // A scalar whose placeholder failed is already reported: drop what
                        // its unfilled text caused, keep the entry's other problems.
                        let (problems, references, push_keys) = marks;
                        retain_from(&mut td.problems, problems, |p| !unfilled.contains(&p.0));
                        retain_from(&mut self.references, references, |r| {
                            !unfilled.contains(&r.2)
                        });
                        retain_from(&mut self.push_keys, push_keys, |k| !unfilled.contains(&k.1));
                    }
                }
            }
            let mut problems = td.problems;
            problems.sort();
            problems.dedup();
            per_tenant.push((tenant_id, problems));
        }

        let mut tenants_of: BTreeMap<&Problem, usize> = BTreeMap::new();
        for (_, problems) in &per_tenant {
            for problem in problems {
                *tenants_of.entry(problem).or_default() += 1;
            }
        }
        // With a single tenant every problem still names it.
        let everyone = per_tenant.len().max(2);
        let mut shared_problems: Vec<Problem> = Vec::new();
        let mut own_problems: Vec<Problem> = Vec::new();
        for (tenant_id, problems) in &per_tenant {
            for problem in problems {
                if tenants_of.get(problem) == Some(&everyone) {
                    if !shared_problems.contains(problem) {
                        shared_problems.push(problem.clone());
                    }
                } else {
                    own_problems.push((problem.0, format!("tenant `{tenant_id}`: {}", problem.1)));
                }
            }
        }
        d.problems.extend(shared_problems);
        d.problems.extend(own_problems);
        Some(out)
    }
}

/// Keeps, among the items from index `from` on, those `keep` accepts.
fn retain_from<T>(items: &mut Vec<T>, from: usize, keep: impl Fn(&T) -> bool) {
    let tail: Vec<T> = items.split_off(from.min(items.len()));
    items.extend(tail.into_iter().filter(|item| keep(item)));
}

/// Rewrites the references under `key` (a scalar or a list of scalars) that name a template
/// component into the tenant's own id; other references (shared components) stay as written.
fn own_references(node: &mut Node, key: &str, tenant_id: &str, local: &BTreeSet<&str>) {
    let NodeKind::Mapping(entries) = &mut node.kind else {
        return;
    };
    let Some(entry) = entries.iter_mut().find(|entry| entry.key == key) else {
        return;
    };
    let rewrite = |node: &mut Node| {
        if let NodeKind::Scalar(scalar) = &mut node.kind
            && local.contains(scalar.text.as_str())
        {
            scalar.text = format!("{tenant_id}.{}", scalar.text);
            scalar.content_column = None;
        }
    };
    match &mut entry.value.kind {
        NodeKind::Sequence(items) => items.iter_mut().for_each(rewrite),
        NodeKind::Scalar(_) => rewrite(&mut entry.value),
        NodeKind::Mapping(_) => {}
    }
}

/// Fills the placeholders of every scalar value under `node` (never keys). A scalar whose
/// placeholders cannot be filled is reported, left as written, and its position added to
/// `unfilled`; a filled scalar's text no longer maps onto the source, so later problems in it
/// point at the scalar.
fn fill_placeholders(
    node: &mut Node,
    tenant_id: &str,
    tenant: &Tenant,
    d: &mut Decoder,
    unfilled: &mut BTreeSet<Pos>,
) {
    match &mut node.kind {
        NodeKind::Sequence(items) => {
            for item in items {
                fill_placeholders(item, tenant_id, tenant, d, unfilled);
            }
        }
        NodeKind::Mapping(entries) => {
            for entry in entries {
                fill_placeholders(&mut entry.value, tenant_id, tenant, d, unfilled);
            }
        }
        NodeKind::Scalar(scalar) => {
            if !scalar.text.contains(['{', '}']) {
                return;
            }
            match fill(&scalar.text, tenant_id, tenant) {
                Ok(filled) => {
                    scalar.text = filled;
                    scalar.content_column = None;
                }
                Err((offset, message)) => {
                    let pos = node.pos_in_text(offset);
                    d.error(pos, message);
                    if let NodeKind::Scalar(scalar) = &mut node.kind {
                        scalar.content_column = None;
                    }
                    unfilled.insert(node.pos);
                }
            }
        }
    }
}

/// Fills one scalar's placeholders; the error carries the byte offset of the offending brace.
pub(super) fn fill(
    text: &str,
    tenant_id: &str,
    tenant: &Tenant,
) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' if chars.peek().is_some_and(|(_, next)| *next == '{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek().is_some_and(|(_, next)| *next == '}') => {
                chars.next();
                out.push('}');
            }
            '}' => {
                return Err((at, "a lone `}`: write `}}` for a literal `}`".to_owned()));
            }
            '{' => {
                let rest = text.get(at + 1..).unwrap_or("");
                let Some(end) = rest.find('}') else {
                    return Err((
                        at,
                        "unterminated `{`: close the placeholder with `}` or write `{{` for a literal `{`"
                            .to_owned(),
                    ));
                };
                let inner = rest.get(..end).unwrap_or("");
                out.push_str(&placeholder(inner, tenant_id, tenant).map_err(|e| (at, e))?);
                while chars.next_if(|(i, _)| *i <= at + end + 1).is_some() {}
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

fn placeholder(inner: &str, tenant_id: &str, tenant: &Tenant) -> Result<String, String> {
    match inner {
        "tenant.id" => Ok(tenant_id.to_owned()),
        "tenant.name" => Ok(tenant.name.clone()),
        "tenant.region" => Ok(tenant.region.clone()),
        _ => match inner.strip_prefix("tenant.vars.") {
            Some(name) => tenant.vars.get(name).cloned().ok_or_else(|| {
                let names: Vec<&str> = tenant.vars.keys().map(String::as_str).collect();
                let has = if names.is_empty() {
                    format!("{tenant_id} has none")
                } else {
                    format!("{tenant_id} has: {}", names.join(", "))
                };
                format!("unknown variable `{{{inner}}}` ({has})")
            }),
            None => Err(format!(
                "unknown placeholder `{{{inner}}}`: use {PLACEHOLDERS} (write `{{{{` for a literal `{{`)"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn acme() -> Tenant {
        Tenant {
            name: "Acme Corp".into(),
            region: "eu".into(),
            vars: BTreeMap::from([("host".into(), "acme.example".into())]),
            public: true,
        }
    }

    #[test]
    fn placeholders_and_escapes() {
        let t = acme();
        assert_eq!(
            fill("https://{tenant.vars.host}/h?t={tenant.id}", "acme", &t).unwrap(),
            "https://acme.example/h?t=acme"
        );
        assert_eq!(
            fill("{tenant.name} ({tenant.region})", "acme", &t).unwrap(),
            "Acme Corp (eu)"
        );
        assert_eq!(
            fill("{{\"a\": {{}}}} {{tenant.id}}", "acme", &t).unwrap(),
            "{\"a\": {}} {tenant.id}"
        );
        assert_eq!(fill("é{tenant.id}é", "acme", &t).unwrap(), "éacmeé");
    }

    #[test]
    fn placeholder_errors_carry_their_offset() {
        let t = acme();
        let (at, message) = fill("x {tenant.foo}", "acme", &t).unwrap_err();
        assert_eq!(at, 2);
        assert!(
            message.contains("unknown placeholder `{tenant.foo}`"),
            "{message}"
        );
        let (at, message) = fill("ab{tenant.vars.port}", "acme", &t).unwrap_err();
        assert_eq!(at, 2);
        assert_eq!(
            message,
            "unknown variable `{tenant.vars.port}` (acme has: host)"
        );
        assert!(
            fill("a {tenant.id", "acme", &t)
                .unwrap_err()
                .1
                .contains("unterminated")
        );
        assert_eq!(fill("a } b", "acme", &t).unwrap_err().0, 2);
    }
}
