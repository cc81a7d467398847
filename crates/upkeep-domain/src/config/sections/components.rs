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

impl Sections {
    pub(super) fn tenant(&mut self, d: &mut Decoder, node: &Node) -> Option<Tenant> {
        let mut f = d.fields(node)?;
        let name = f.required(d, "name", Decoder::string);
        let region = f.required(d, "region", |d, n| self.id_ref(d, n, IdKind::Region));
        f.finish(d);
        Some(Tenant {
            name: name?,
            region: region?,
            vars: BTreeMap::new(),
            public: true,
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
            tenant: None,
        })
    }
}
