//! The settings sections: `page`, `server`, `monitoring` and `alertmanager`.

use super::*;

pub(super) fn read_page(d: &mut Decoder, node: &Node) -> Option<Page> {
    let mut f = d.fields(node)?;
    let name = f.required(d, "name", Decoder::string);
    let url = f.required(d, "url", Decoder::url);
    let zone = f.required(d, "timezone", Decoder::zone);
    let public_text = f.optional(d, "public_text", read_public_text);
    f.finish(d);
    let Zone {
        zone,
        name: zone_name,
    } = zone?;
    Some(Page {
        name: name?,
        url: url?.trim_end_matches('/').to_owned(),
        timezone: zone,
        timezone_name: zone_name,
        public_text: public_text.unwrap_or_default(),
    })
}

fn read_public_text(d: &mut Decoder, node: &Node) -> Option<PublicText> {
    let defaults = PublicText::default();
    let mut f = d.fields(node)?;
    let template = |d: &mut Decoder, n: &Node| {
        d.parsed(n, |text| PublicText::check(text).map(|()| text.to_owned()))
    };
    let monitor = f.optional(d, "monitor", template);
    let alert = f.optional(d, "alert", template);
    f.finish(d);
    Some(PublicText {
        monitor: monitor.unwrap_or(defaults.monitor),
        alert: alert.unwrap_or(defaults.alert),
    })
}

pub(super) fn read_server(d: &mut Decoder, node: &Node) -> Option<Server> {
    let defaults = Server::default();
    let mut f = d.fields(node)?;
    let rate_limit = f
        .optional(d, "rate_limit", |d, n| {
            read_rate_limit(d, n, defaults.rate_limit)
        })
        .unwrap_or(defaults.rate_limit);
    let ping_rate_limit = f
        .optional(d, "ping_rate_limit", |d, n| {
            read_rate_limit(d, n, defaults.ping_rate_limit)
        })
        .unwrap_or(defaults.ping_rate_limit);
    let token_rate_limit = f
        .optional(d, "token_rate_limit", |d, n| {
            read_rate_limit(d, n, defaults.token_rate_limit)
        })
        .unwrap_or(defaults.token_rate_limit);
    let max_body_bytes = f.optional(d, "max_body", |d, n| d.parsed(n, parse_size));
    let request_timeout = f.optional(d, "request_timeout", positive_duration);
    let max_connections = f.optional(d, "max_connections", |d, n| {
        positive(d, n, Decoder::integer::<usize>, 0)
    });
    let shutdown_grace = f.optional(d, "shutdown_grace", Decoder::duration);
    let max_connections_per_client =
        f.optional(d, "max_connections_per_client", Decoder::integer::<usize>);
    let subscribe_rate_limit = f.optional(d, "subscribe_rate_limit", |d, n| {
        read_minute_rate_limit(d, n, defaults.subscribe_rate_limit)
    });
    let metrics_token = f.optional(d, "metrics_token", |d, n| {
        d.parsed(n, |text| {
            if text.len() < 16 {
                Err(
                    "`metrics_token` must be at least 16 characters (make one with \
                     `upkeep key new`)"
                        .to_owned(),
                )
            } else if !text.bytes().all(|b| b.is_ascii_graphic()) {
                Err("`metrics_token` must be printable ASCII without spaces".to_owned())
            } else {
                Ok(text.to_owned())
            }
        })
    });
    let ping_miss_rate_limit = f.optional(d, "ping_miss_rate_limit", |d, n| {
        read_minute_rate_limit(d, n, defaults.ping_miss_rate_limit)
    });
    let proxy_protocol = f.optional(d, "proxy_protocol", Decoder::bool);
    let confirmation_mail_budget = f.optional(d, "confirmation_mail_budget", |d, n| {
        let budget = defaults.confirmation_mail_budget;
        let mut f = d.fields(n)?;
        let per_hour = f.optional(d, "per_hour", Decoder::integer::<u32>);
        let per_domain = f.optional(d, "per_domain_per_hour", Decoder::integer::<u32>);
        f.finish(d);
        Some(MailBudget {
            per_hour: per_hour.unwrap_or(budget.per_hour),
            per_domain_per_hour: per_domain.unwrap_or(budget.per_domain_per_hour),
        })
    });
    let trusted_proxies = f.optional(d, "trusted_proxies", |d, n| {
        d.list(n, |d, n| d.parsed(n, str::parse::<crate::net::Cidr>))
    });
    f.finish(d);
    Some(Server {
        rate_limit,
        ping_rate_limit,
        token_rate_limit,
        max_body_bytes: max_body_bytes.unwrap_or(defaults.max_body_bytes),
        request_timeout: request_timeout.unwrap_or(defaults.request_timeout),
        max_connections: max_connections.unwrap_or(defaults.max_connections),
        shutdown_grace: shutdown_grace.unwrap_or(defaults.shutdown_grace),
        max_connections_per_client: max_connections_per_client
            .unwrap_or(defaults.max_connections_per_client),
        subscribe_rate_limit: subscribe_rate_limit.unwrap_or(defaults.subscribe_rate_limit),
        metrics_token,
        ping_miss_rate_limit: ping_miss_rate_limit.unwrap_or(defaults.ping_miss_rate_limit),
        trusted_proxies: trusted_proxies.unwrap_or_default(),
        proxy_protocol: proxy_protocol.unwrap_or(defaults.proxy_protocol),
        confirmation_mail_budget: confirmation_mail_budget
            .unwrap_or(defaults.confirmation_mail_budget),
    })
}

fn read_minute_rate_limit(
    d: &mut Decoder,
    n: &Node,
    defaults: MinuteRateLimit,
) -> Option<MinuteRateLimit> {
    let mut f = d.fields(n)?;
    let per_minute = f.optional(d, "per_minute", Decoder::integer::<u32>);
    let burst = f.optional(d, "burst", |d, n| {
        positive(d, n, Decoder::integer::<u32>, 0)
    });
    f.finish(d);
    Some(MinuteRateLimit {
        per_minute: per_minute.unwrap_or(defaults.per_minute),
        burst: burst.unwrap_or(defaults.burst),
    })
}

pub(super) fn read_rate_limit(d: &mut Decoder, n: &Node, defaults: RateLimit) -> Option<RateLimit> {
    let mut f = d.fields(n)?;
    let per_second = f.optional(d, "per_second", Decoder::integer::<u32>);
    let burst = f.optional(d, "burst", |d, n| {
        positive(d, n, Decoder::integer::<u32>, 0)
    });
    f.finish(d);
    Some(RateLimit {
        per_second: per_second.unwrap_or(defaults.per_second),
        burst: burst.unwrap_or(defaults.burst),
    })
}

pub(super) fn read_monitoring(d: &mut Decoder, node: &Node) -> Option<MonitoringSettings> {
    let defaults = MonitoringSettings::default();
    let mut f = d.fields(node)?;
    let retention = f.optional(d, "retention", positive_duration);
    let max_concurrent = f.optional(d, "max_concurrent", |d, n| {
        positive(d, n, Decoder::integer::<usize>, 0)
    });
    f.finish(d);
    Some(MonitoringSettings {
        retention: retention.unwrap_or(defaults.retention),
        max_concurrent: max_concurrent.unwrap_or(defaults.max_concurrent),
    })
}

pub(super) fn read_alertmanager(d: &mut Decoder, node: &Node) -> Option<Alertmanager> {
    let mut f = d.fields(node)?;
    let url = f.required(d, "url", Decoder::url);
    let label = f.optional(d, "component_label", Decoder::string);
    f.finish(d);
    Some(Alertmanager {
        url: url?.trim_end_matches('/').to_owned(),
        component_label: label.unwrap_or_else(|| "component".to_owned()),
    })
}

/// Parses a size such as `64KB`, `1MB`, `10MB` or `1048576` (bytes). KB, MB and GB are powers
/// of 1024, as are KiB, MiB and GiB.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = trimmed.split_at(digits);
    let multiplier: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "KIB" | "K" => 1 << 10,
        "MB" | "MIB" | "M" => 1 << 20,
        "GB" | "GIB" | "G" => 1 << 30,
        _ => {
            return Err(format!(
                "bad size `{text}`: write e.g. 64KB, 1MB or a number of bytes"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .and_then(|bytes| usize::try_from(bytes).ok())
        .filter(|bytes| *bytes > 0)
        .ok_or_else(|| format!("bad size `{text}`: write e.g. 64KB, 1MB or a number of bytes"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64KB"), Ok(64 * 1024));
        assert_eq!(parse_size("1MB"), Ok(1024 * 1024));
        assert_eq!(parse_size("10MB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("2 MiB"), Ok(2 * 1024 * 1024));
        for bad in [
            "",
            "MB",
            "1TB",
            "-1",
            "0",
            "1.5MB",
            "99999999999999999999GB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
