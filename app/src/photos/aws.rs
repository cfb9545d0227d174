//! Signing the vision model's requests to Amazon Bedrock: AWS credentials,
//! wherever the deployment keeps them, and a SigV4 signature over exactly
//! the request that is sent.
//!
//! Why these crates:
//! - `aws-sigv4` is AWS's own signer, the one every AWS SDK for Rust client
//!   signs with, so the canonical request's corners (the path encoded
//!   twice, header values normalised, the session token) follow AWS rather
//!   than our reading of its documentation.
//! - `aws-config` is the SDK's standard credential chain: environment
//!   variables, profile files (`~/.aws/credentials` and `~/.aws/config`:
//!   static keys, assumed roles, `credential_process`), web identity
//!   (EKS), container (ECS) and instance (EC2) roles. Only its `rt-tokio`
//!   and `credential_process` features: SSO profiles are for a person at a
//!   terminal, not a server, and would bring two more SDK clients.
//! - `aws-credential-types` is the credentials type the two share.
//! - `aws-smithy-http-client` is the HTTPS client the chain reaches STS and
//!   the metadata endpoints with, on rustls with `ring` (the crypto reqwest
//!   already brings) instead of aws-config's default aws-lc, a large C
//!   build.
//!
//! Not the Bedrock runtime SDK client: the request is one JSON POST that
//! reqwest already sends with the timeout and error sentences every vision
//! model gets, and the integration tests run this very code against a
//! local server that checks the signature.

use std::time::{Duration, SystemTime};

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::provider_config::ProviderConfig;
use aws_config::Region;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use tokio::sync::{Mutex, OnceCell};

/// Credentials expiring sooner than this are fetched again before use.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// Where the AWS credentials come from, and the last ones obtained.
pub struct AwsCredentials {
    /// Set at once for keys given in the configuration; otherwise built on
    /// first use (the chain needs the tokio runtime).
    provider: OnceCell<SharedCredentialsProvider>,
    /// "configured keys" or "standard chain", for Debug.
    source: &'static str,
    region: String,
    /// The chain's providers fetch on every call (an STS or metadata round
    /// trip); the SDK's identity cache only works inside an SDK client, so
    /// the credentials are kept here until shortly before they expire.
    cached: Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for AwsCredentials {
    // The secret and the session token stay out of logs and configuration
    // dumps; `Credentials`' own Debug redacts them too.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AwsCredentials({})", self.source)
    }
}

impl AwsCredentials {
    /// Keys read with the rest of Larder's configuration (the
    /// `AWS_ACCESS_KEY_ID` family of variables): the first place the
    /// standard chain would look, read once with everything else.
    pub fn from_keys(
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    ) -> Self {
        let keys = Credentials::new(
            access_key_id,
            secret_access_key,
            session_token,
            None,
            "Larder configuration",
        );
        Self {
            provider: OnceCell::new_with(Some(SharedCredentialsProvider::new(keys))),
            source: "configured keys",
            region: String::new(),
            cached: Mutex::new(None),
        }
    }

    /// AWS's standard credential chain, for `region` (where STS is asked
    /// when a role is assumed).
    pub fn standard_chain(region: String) -> Self {
        Self {
            provider: OnceCell::new(),
            source: "standard chain",
            region,
            cached: Mutex::new(None),
        }
    }

    /// Credentials valid for a while yet.
    async fn current(&self) -> Result<Credentials, String> {
        let mut cached = self.cached.lock().await;
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|at| at > SystemTime::now() + REFRESH_BEFORE)
        };
        if let Some(known) = cached.as_ref().filter(|c| fresh(c)) {
            return Ok(known.clone());
        }
        let provider = self
            .provider
            .get_or_init(|| async {
                let https = aws_smithy_http_client::Builder::new()
                    .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                        aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https();
                let chain = DefaultCredentialsChain::builder()
                    .region(Region::new(self.region.clone()))
                    .configure(ProviderConfig::default().with_http_client(https))
                    .build()
                    .await;
                SharedCredentialsProvider::new(chain)
            })
            .await;
        let loaded = provider
            .provide_credentials()
            .await
            .map_err(|e| format!("has no AWS credentials ({})", causes(&e)))?;
        *cached = Some(loaded.clone());
        Ok(loaded)
    }

    /// The headers that sign a POST of `body` to `url` (as sent: its path
    /// already percent-encoded) for `service` in `region`, `headers` among
    /// the signed ones: `authorization`, `x-amz-date` and, for temporary
    /// credentials, `x-amz-security-token`.
    pub async fn sign_post(
        &self,
        region: &str,
        service: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, String> {
        let identity = self.current().await?.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("could not be signed ({e})"))?
            .into();
        let request = SignableRequest::new(
            "POST",
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("could not be signed ({})", causes(&e)))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| format!("could not be signed ({})", causes(&e)))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect())
    }
}

/// An error and its causes on one line: the SDK's errors say little at the
/// top ("an error occurred while loading credentials") and the reason below.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        line.push_str(": ");
        line.push_str(&e.to_string());
        cause = e.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn configured_keys_sign_with_their_session_token() {
        let keys = AwsCredentials::from_keys(
            "AKIDEXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            Some("session".into()),
        );
        let headers = keys
            .sign_post(
                "us-east-1",
                "bedrock",
                "https://bedrock-runtime.us-east-1.amazonaws.com/model/m%3A0/converse",
                &[("content-type", "application/json")],
                b"{}",
            )
            .await
            .unwrap();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        assert!(header("authorization").starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
        assert!(header("authorization").contains(
            "/us-east-1/bedrock/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
        ));
        assert_eq!(header("x-amz-security-token"), "session");
        assert_eq!(header("x-amz-date").len(), "20150830T123600Z".len());
    }

    #[test]
    fn the_secret_stays_out_of_debug() {
        let keys =
            AwsCredentials::from_keys("AKID".into(), "EXAMPLEKEY".into(), Some("TOKEN".into()));
        let shown = format!("{keys:?}");
        assert!(
            !shown.contains("EXAMPLEKEY") && !shown.contains("TOKEN"),
            "{shown}"
        );
    }
}
