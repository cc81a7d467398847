//! The platform: `regions`, `tenants` and `components`.

use super::*;

pub(super) fn read_region(d: &mut Decoder, node: &Node) -> Option<Region> {
    let mut f = d.fields(node)?;
    let zone = f.required(d, "timezone", Decoder::zone);
    let business_hours = f.optional(d, "business_hours", |d, n| {
        d.parsed(n, BusinessHours::parse)
    });
    f.finish(d);
    let Zone { zone, name } = zone?;
    Some(Region {
        timezone: zone,
        timezone_name: name,
        business_hours: business_hours.unwrap_or_default(),
    })
}

/// `tenants.ID.vars`: names of letters, digits and `_`, each mapped to a string.
fn read_tenant_vars(d: &mut Decoder, node: &Node) -> Option<BTreeMap<String, String>> {
    let NodeKind::Mapping(entries) = &node.kind else {
        d.error(
            node.pos,
            format!("expected a mapping of variables, found {}", describe(node)),
        );
        return None;
    };
    let before = d.problems.len();
    let mut vars = BTreeMap::new();
    for entry in entries {
        if entry.key.is_empty()
            || !entry
                .key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            d.error(
                entry.key_pos,
                format!(
                    "invalid variable name `{}`: use letters, digits and `_`",
                    entry.key
                ),
            );
            continue;
        }
        if let Some(value) = d.text(&entry.value) {
            vars.insert(entry.key.clone(), value.to_owned());
        }
    }
    (d.problems.len() == before).then_some(vars)
}

impl Sections {
    pub(super) fn tenant(&mut self, d: &mut Decoder, node: &Node) -> Option<Tenant> {
        let mut f = d.fields(node)?;
        let name = f.required(d, "name", Decoder::string);
        let region = f.required(d, "region", |d, n| self.id_ref(d, n, IdKind::Region));
        let vars = f.optional(d, "vars", read_tenant_vars);
        let public = f.optional(d, "public", Decoder::bool);
        f.finish(d);
        Some(Tenant {
            name: name?,
            region: region?,
            vars: vars.unwrap_or_default(),
            public: public.unwrap_or(true),
        })
    }

    pub(super) fn component(
        &mut self,
        d: &mut Decoder,
        id: &str,
        node: &Node,
    ) -> Option<Component> {
        let mut f = d.fields(node)?;
        let name = f.required(d, "name", Decoder::string);
        let group = f.optional(d, "group", Decoder::string);
        let description = f.optional(d, "description", Decoder::string);
        let show_latency = f.optional(d, "show_latency", Decoder::bool);
        let depends_on = f.optional(d, "depends_on", |d, n| {
            d.list(n, |d, item| {
                let dependency = self.id_ref(d, item, IdKind::Component)?;
                self.dependency_pos
                    .entry((id.to_owned(), dependency.clone()))
                    .or_insert(item.pos);
                Some(dependency)
            })
        });
        f.finish(d);
        Some(Component {
            name: name?,
            group,
            description,
            depends_on: depends_on.unwrap_or_default(),
            show_latency: show_latency.unwrap_or(false),
            tenant: None,
        })
    }
}
