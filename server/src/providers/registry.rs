//! The providers this server can use, by id: chat and embeddings for each configured
//! provider, the built-in offline provider always, and a catalog of every known
//! provider (configured or not) for `GET /api/models`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::config::{KNOWN_PROVIDERS, ProviderSettings, ProvidersConfig};
use super::embeddings::HttpEmbedder;
use super::http_chat::HttpChatProvider;
use super::transport::Transport;
use super::{ChatProvider, EmbeddingProvider, OfflineProvider, ProviderError};

/// One provider as clients see it in the model picker.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderInfo {
    pub id: &'static str,
    pub name: &'static str,
    pub configured: bool,
    pub default_model: String,
    pub models: Vec<String>,
}

/// The configured providers; the default is the first configured, else the offline one.
#[derive(Clone)]
pub struct Providers {
    by_id: BTreeMap<&'static str, Arc<dyn ChatProvider>>,
    embedders: BTreeMap<&'static str, Arc<dyn EmbeddingProvider>>,
    catalog: Vec<ProviderInfo>,
    default_id: &'static str,
}

impl Providers {
    /// Just one provider, which is the default.
    pub fn new(default: Arc<dyn ChatProvider>) -> Self {
        let default_id = default.id();
        let info = ProviderInfo {
            id: default_id,
            name: name_of(default_id),
            configured: true,
            default_model: default.default_model().to_owned(),
            models: vec![default.default_model().to_owned()],
        };
        Self {
            by_id: BTreeMap::from([(default_id, default)]),
            embedders: BTreeMap::new(),
            catalog: vec![info],
            default_id,
        }
    }

    /// Every configured provider, plus `offline`.
    pub fn from_config(
        config: &ProvidersConfig,
        offline: OfflineProvider,
    ) -> Result<Self, ProviderError> {
        let transport = Transport::new(config.http.clone())?;
        let offline: Arc<dyn ChatProvider> = Arc::new(offline);
        let mut providers = Self::new(Arc::clone(&offline));
        providers.catalog.clear();
        for settings in &config.providers {
            providers.catalog.push(info_of(settings));
            if !settings.configured {
                continue;
            }
            let settings = Arc::new(settings.clone());
            let chat = HttpChatProvider::new(Arc::clone(&settings), transport.clone());
            providers.by_id.insert(settings.id, Arc::new(chat));
            if let Some(embedder) = HttpEmbedder::new(Arc::clone(&settings), transport.clone()) {
                providers.embedders.insert(settings.id, Arc::new(embedder));
            }
        }
        providers.catalog.push(ProviderInfo {
            id: "offline",
            name: name_of("offline"),
            configured: true,
            default_model: offline.default_model().to_owned(),
            models: vec![offline.default_model().to_owned()],
        });
        providers.default_id = config.default_provider_id();
        Ok(providers)
    }

    /// The server's providers from its environment (`lookup` reads a variable). A bad
    /// providers file or HTTP setup is logged and leaves the providers the environment
    /// alone configures, or only `offline`: the server still starts.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>, offline_tokens_per_sec: f64) -> Self {
        let config = ProvidersConfig::from_env(&lookup).or_else(|e| {
            tracing::error!(error = %e, "ignoring the providers file");
            ProvidersConfig::from_parts(&lookup, None)
        });
        let offline = || OfflineProvider::new(offline_tokens_per_sec);
        match config
            .map_err(|e| e.to_string())
            .and_then(|c| Self::from_config(&c, offline()).map_err(|e| e.to_string()))
        {
            Ok(providers) => providers,
            Err(e) => {
                tracing::error!(error = %e, "no network provider available");
                Self::new(Arc::new(offline()))
            }
        }
    }

    /// The named provider, or the default one for `None`.
    /// The named provider; none named (or an empty name, as forms send) is the default.
    pub fn get(&self, id: Option<&str>) -> Option<Arc<dyn ChatProvider>> {
        let id = id.map(str::trim).filter(|id| !id.is_empty());
        self.by_id.get(id.unwrap_or(self.default_id)).cloned()
    }

    /// The named provider's embeddings; for `None`, the default provider's, else the first
    /// configured provider that offers them.
    pub fn embedder(&self, id: Option<&str>) -> Option<Arc<dyn EmbeddingProvider>> {
        match id {
            Some(id) => self.embedders.get(id).cloned(),
            None => self
                .embedders
                .get(self.default_id)
                .or_else(|| {
                    KNOWN_PROVIDERS
                        .iter()
                        .find_map(|(id, _)| self.embedders.get(id))
                })
                .cloned(),
        }
    }

    pub fn default_id(&self) -> &'static str {
        self.default_id
    }

    /// Every known provider in a stable order, configured or not.
    pub fn catalog(&self) -> &[ProviderInfo] {
        &self.catalog
    }
}

fn name_of(id: &str) -> &'static str {
    KNOWN_PROVIDERS
        .iter()
        .find(|(known, _)| *known == id)
        .map_or("", |(_, name)| name)
}

fn info_of(settings: &ProviderSettings) -> ProviderInfo {
    ProviderInfo {
        id: settings.id,
        name: settings.name,
        configured: settings.configured,
        default_model: settings.default_model.clone(),
        models: settings.models.iter().map(|m| m.name.clone()).collect(),
    }
}
