//! `tls` probes: connect to `address`, handshake with SNI `server_name` and read the leaf
//! certificate's notAfter into `cert_expiry_days` (whole days, rounded down, negative once
//! expired).
//!
//! The handshake accepts any certificate chain — a `tls` monitor measures expiry, and an
//! expired or self-signed certificate must still report its days — but the handshake
//! signatures are still checked against the leaf's key, so the peer did prove it holds the
//! certificate it presented. The same expiry arithmetic serves https probes.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;
use upkeep_domain::config::TlsCheck;

use super::{Failure, ProbeSetupError, Progress, Seen, connect, split_host_port};

const SECONDS_PER_DAY: i64 = 86_400;

/// The shared client configuration of `tls` probes.
#[derive(Clone)]
pub(super) struct TlsProber {
    connector: TlsConnector,
}

impl TlsProber {
    pub(super) fn new() -> Result<TlsProber, ProbeSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(AcceptAnyChain {
            algorithms: provider.signature_verification_algorithms,
        });
        let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|err| ProbeSetupError::Tls(err.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(TlsProber {
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    pub(super) async fn probe(
        &self,
        check: &TlsCheck,
        progress: &Progress,
    ) -> Result<Seen, Failure> {
        let started = Instant::now();
        let server_name = ServerName::try_from(check.server_name.clone()).map_err(|_| {
            Failure::new(format!(
                "`{}` is not a valid TLS server name",
                check.server_name
            ))
        })?;
        let stream = connect(&check.address, progress).await?;
        let host = split_host_port(&check.address, 443)
            .map_or_else(|| check.address.clone(), |(host, _)| host);
        let tls = self
            .connector
            .connect(server_name, stream)
            .await
            .map_err(|err| Failure::new(handshake_failure_text(&err, &host, &check.address)))?;
        let elapsed = started.elapsed();
        let (_, connection) = tls.get_ref();
        let leaf = connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .ok_or_else(|| Failure::new(format!("{} presented no certificate", check.address)))?;
        let days = expiry_days_now(leaf).ok_or_else(|| {
            Failure::new(format!(
                "the certificate of {} could not be read",
                check.address
            ))
        })?;
        Ok(Seen {
            elapsed,
            cert_expiry_days: Some(days),
            ..Seen::default()
        })
    }
}

/// Whole days from now until the certificate's notAfter (rounded down, negative once
/// expired); `None` when the certificate cannot be parsed.
pub(super) fn expiry_days_now(der: &[u8]) -> Option<i64> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    expiry_days(der, i64::try_from(now).ok()?)
}

/// Whole days from `now` (Unix seconds) until the certificate's notAfter, rounded down.
pub(super) fn expiry_days(der: &[u8], now: i64) -> Option<i64> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = certificate.validity().not_after.timestamp();
    Some(not_after.saturating_sub(now).div_euclid(SECONDS_PER_DAY))
}

/// A failed handshake with `host` at `address` (as the TLS stream reports it), in words.
pub(super) fn handshake_failure_text(err: &std::io::Error, host: &str, address: &str) -> String {
    match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => handshake_error_text(tls, host),
        None if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("TLS handshake with {address} failed: the server closed the connection")
        }
        None => format!("TLS handshake with {address} failed: {err}"),
    }
}

/// A rustls error during a handshake with `host`, in words.
pub(super) fn handshake_error_text(err: &rustls::Error, host: &str) -> String {
    let reason = match err {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the certificate has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the certificate is not valid yet".to_owned()
            }
            CertificateError::UnknownIssuer => {
                "the certificate is not signed by a trusted authority".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the certificate is not valid for {host}")
            }
            CertificateError::Revoked => "the certificate has been revoked".to_owned(),
            CertificateError::BadSignature => "the certificate's signature is invalid".to_owned(),
            other => format!("invalid certificate ({other:?})"),
        },
        rustls::Error::AlertReceived(alert) => format!("the server sent the alert {alert:?}"),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the server does not speak TLS".to_owned()
        }
        rustls::Error::PeerIncompatible(_) => {
            "the server supports no protocol version or cipher suite in common".to_owned()
        }
        rustls::Error::NoCertificatesPresented => "the server presented no certificate".to_owned(),
        other => other.to_string(),
    };
    format!("TLS handshake with {host} failed: {reason}")
}

/// Accepts any certificate chain; checks handshake signatures against the leaf's key.
#[derive(Debug)]
struct AcceptAnyChain {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyChain {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
