//! The JSON of `helm list --all-namespaces --output json`: an array of releases
//! `{name, namespace, revision, updated, status, chart, app_version}` where `chart` is the
//! chart's name and version joined by `-` (`ingress-nginx-4.10.1`). Which chart a release
//! runs is never guessed from its name: [`chart_version_of`] reads the version only after the
//! name of a chart the inventory is bound to.

use serde::Deserialize;

use super::version::parse_lenient;

/// One release of `helm list`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct HelmRelease {
    /// The release's name.
    pub name: String,
    /// Its namespace.
    #[serde(default)]
    pub namespace: String,
    /// `CHART-VERSION`.
    pub chart: String,
    /// The application version, when the chart declares one.
    #[serde(default)]
    pub app_version: Option<String>,
}

/// Most releases read from one file.
pub const MAX_RELEASES: usize = 10_000;

/// Reads the output of `helm list -o json`.
pub fn parse_helm_list(text: &str) -> Result<Vec<HelmRelease>, String> {
    let releases: Vec<HelmRelease> = serde_json::from_str(text)
        .map_err(|e| format!("not the JSON of `helm list --all-namespaces --output json` ({e})"))?;
    if releases.len() > MAX_RELEASES {
        return Err(format!(
            "{} releases: at most {MAX_RELEASES} are read from one file",
            releases.len()
        ));
    }
    Ok(releases)
}

/// The version in `chart_field` (`CHART-VERSION`) when it is a release of `chart`.
pub fn chart_version_of<'a>(chart_field: &'a str, chart: &str) -> Option<&'a str> {
    let version = chart_field.strip_prefix(chart)?.strip_prefix('-')?;
    parse_lenient(version).map(|_| version)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn real_output_is_read() {
        let text = r#"[{"name":"traefik","namespace":"traefik","revision":"3","updated":"2024-08-01 10:00:00.123456 +0000 UTC","status":"deployed","chart":"traefik-30.1.0","app_version":"v3.1.2"},
          {"name":"ingress","namespace":"ingress-nginx","revision":"1","updated":"2024-08-01 10:00:00 +0000 UTC","status":"deployed","chart":"ingress-nginx-4.10.1-rc.1","app_version":""}]"#;
        let list = parse_helm_list(text).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(chart_version_of(&list[0].chart, "traefik"), Some("30.1.0"));
        assert_eq!(
            chart_version_of(&list[1].chart, "ingress-nginx"),
            Some("4.10.1-rc.1")
        );
        assert_eq!(
            chart_version_of(&list[1].chart, "ingress"),
            None,
            "`nginx-4.10.1` is no version"
        );
        assert_eq!(chart_version_of("traefik-mesh-1.0.0", "traefik"), None);
        assert!(parse_helm_list("{}").is_err());
        assert!(
            parse_helm_list(r#"[{"name": "x"}]"#)
                .unwrap_err()
                .contains("chart")
        );
    }
}
