//! The Cognito user pool's people, for the site admin: list the pool's
//! users and their groups, add or remove a user from a group, disable or
//! enable a user, resend an invitation email. Through AWS's official SDK
//! client (`aws-sdk-cognitoidentityprovider`); credentials from the keys
//! in Larder's environment or AWS's standard chain, as for Bedrock.
//!
//! Errors from AWS become sentences an admin can act on; the cause goes to
//! the log.

use aws_sdk_cognitoidentityprovider::config::{
    BehaviorVersion, Credentials, Region, SharedCredentialsProvider,
};
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::MessageActionType;
use aws_sdk_cognitoidentityprovider::Client;

use super::model::{PoolUser, PoolView};
use crate::error::{AppError, AppResult};

/// Where the pool is and how to reach it.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub region: String,
    pub user_pool_id: String,
    /// Another endpoint than AWS's (a local emulator, a VPC endpoint).
    pub endpoint_url: Option<String>,
    /// Keys from Larder's environment; `None`: AWS's standard chain.
    pub keys: Option<(String, String, Option<String>)>,
}

pub struct Pool {
    client: Client,
    pool_id: String,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool({})", self.pool_id)
    }
}

impl Pool {
    pub async fn new(settings: &PoolSettings) -> Self {
        // rustls on ring, like the rest of Larder's AWS calls, rather than
        // the SDK's default aws-lc build.
        let https = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let credentials = match &settings.keys {
            Some((id, secret, token)) => SharedCredentialsProvider::new(Credentials::new(
                id.clone(),
                secret.clone(),
                token.clone(),
                None,
                "Larder configuration",
            )),
            None => SharedCredentialsProvider::new(
                aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                    .region(Region::new(settings.region.clone()))
                    .configure(
                        aws_config::provider_config::ProviderConfig::default()
                            .with_http_client(https.clone()),
                    )
                    .build()
                    .await,
            ),
        };
        let mut config = aws_sdk_cognitoidentityprovider::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .credentials_provider(credentials)
            .http_client(https);
        config.set_endpoint_url(settings.endpoint_url.clone());
        let config = config.build();
        Self {
            client: Client::from_conf(config),
            pool_id: settings.user_pool_id.clone(),
        }
    }

    /// A page of the pool's users (60 at most) with their groups, and the
    /// pool's groups.
    pub async fn view(&self, page: Option<String>) -> AppResult<PoolView> {
        let listed = self
            .client
            .list_users()
            .user_pool_id(&self.pool_id)
            .limit(60)
            .set_pagination_token(page)
            .send()
            .await
            .map_err(aws_error)?;
        let mut users = Vec::new();
        for u in listed.users() {
            let username = u.username().unwrap_or_default().to_string();
            let attribute = |name: &str| {
                u.attributes()
                    .iter()
                    .find(|a| a.name() == name)
                    .and_then(|a| a.value())
                    .map(String::from)
            };
            let groups = self
                .client
                .admin_list_groups_for_user()
                .user_pool_id(&self.pool_id)
                .username(&username)
                .send()
                .await
                .map_err(aws_error)?
                .groups()
                .iter()
                .filter_map(|g| g.group_name().map(String::from))
                .collect();
            users.push(PoolUser {
                email: attribute("email").unwrap_or_else(|| username.clone()),
                name: attribute("name"),
                username,
                status: u
                    .user_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                enabled: u.enabled(),
                groups,
            });
        }
        let groups = self
            .client
            .list_groups()
            .user_pool_id(&self.pool_id)
            .limit(60)
            .send()
            .await
            .map_err(aws_error)?
            .groups()
            .iter()
            .filter_map(|g| g.group_name().map(String::from))
            .collect();
        Ok(PoolView {
            pool_id: self.pool_id.clone(),
            users,
            groups,
            next_page: listed.pagination_token().map(String::from),
        })
    }

    pub async fn add_to_group(&self, username: &str, group: &str) -> AppResult<()> {
        self.client
            .admin_add_user_to_group()
            .user_pool_id(&self.pool_id)
            .username(username)
            .group_name(group)
            .send()
            .await
            .map_err(aws_error)?;
        Ok(())
    }

    pub async fn remove_from_group(&self, username: &str, group: &str) -> AppResult<()> {
        self.client
            .admin_remove_user_from_group()
            .user_pool_id(&self.pool_id)
            .username(username)
            .group_name(group)
            .send()
            .await
            .map_err(aws_error)?;
        Ok(())
    }

    /// Disables (`enabled = false`) or enables a user: a disabled user
    /// cannot sign in through the pool.
    pub async fn set_enabled(&self, username: &str, enabled: bool) -> AppResult<()> {
        if enabled {
            self.client
                .admin_enable_user()
                .user_pool_id(&self.pool_id)
                .username(username)
                .send()
                .await
                .map_err(aws_error)?;
        } else {
            self.client
                .admin_disable_user()
                .user_pool_id(&self.pool_id)
                .username(username)
                .send()
                .await
                .map_err(aws_error)?;
        }
        Ok(())
    }

    /// Sends the pool's invitation email again (a user who has not signed
    /// in yet, whose temporary password lapsed).
    pub async fn resend_invitation(&self, username: &str) -> AppResult<()> {
        self.client
            .admin_create_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .message_action(MessageActionType::Resend)
            .send()
            .await
            .map_err(aws_error)?;
        Ok(())
    }
}

/// What an admin reads when AWS says no.
fn aws_error<E, R>(e: SdkError<E, R>) -> AppError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = e.code().map(String::from);
    let message = e.message().unwrap_or_default().to_string();
    tracing::warn!(code = ?code, %message, error = ?e, "the user pool refused");
    match code.as_deref() {
        Some("UserNotFoundException") => {
            AppError::NotFound("That person is not in the user pool.".into())
        }
        Some("ResourceNotFoundException") => AppError::NotFound(format!(
            "The user pool, or that group, does not exist ({message})."
        )),
        Some(
            "NotAuthorizedException"
            | "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredTokenException",
        ) => AppError::Forbidden(format!(
            "AWS refused Larder's credentials for the user pool ({message}). Check the AWS credentials and their permissions."
        )),
        Some("TooManyRequestsException" | "LimitExceededException") => AppError::TooManyRequests {
            message: "The user pool is limiting requests; try again in a minute.".into(),
            retry_after_secs: 60,
        },
        Some("UnsupportedUserStateException") => AppError::conflict(
            "username",
            format!("The user pool cannot do that for this person in their state ({message})."),
        ),
        Some("InvalidParameterException") => {
            AppError::invalid("username", format!("The user pool refused: {message}"))
        }
        Some(other) => AppError::Busy {
            message: format!("The user pool answered {other}: {message}"),
            retry_after_secs: 30,
        },
        None => AppError::Busy {
            message: "The user pool could not be reached. Try again in a minute.".into(),
            retry_after_secs: 30,
        },
    }
}
