//! Which providers are configured, with which models and defaults: read from environment
//! variables and an optional TOML file (`REPOWIKI_PROVIDERS_FILE`).
//!
//! The environment is read through a lookup closure so that tests pass a map and never
//! touch the process environment. Precedence: environment, then file, then built-in
//! defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::dialect::Dialect;

/// Every provider id with its display name, in the order that picks the default provider
/// (the first configured one). `offline` is always present and always last.
pub const KNOWN_PROVIDERS: [(&str, &str); 8] = [
    ("openai", "OpenAI"),
    ("openrouter", "OpenRouter"),
    ("deepseek", "DeepSeek"),
    ("azure", "Azure OpenAI"),
    ("dashscope", "Dashscope (Qwen)"),
    ("google", "Google Gemini"),
    ("ollama", "Ollama"),
    ("offline", "Offline (built-in, no model)"),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the providers file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the providers file is not valid: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("the providers file names an unknown provider {0:?}")]
    UnknownProvider(String),
}

/// A model and the defaults a request gets unless it says otherwise.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    pub name: String,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub top_p: Option<f32>,
    /// In tokens; sent to Ollama as `num_ctx`, informative elsewhere.
    #[serde(default)]
    pub context_window: Option<u32>,
}

impl ModelSettings {
    fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            temperature: None,
            top_p: None,
            context_window: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// What users and the API name the provider by; behaviour follows `dialect`.
    pub id: &'static str,
    pub name: &'static str,
    pub dialect: Dialect,
    /// For Azure, the resource endpoint (`https://x.openai.azure.com`).
    pub base_url: String,
    pub api_key: Option<String>,
    /// Azure's `api-version`.
    pub api_version: Option<String>,
    pub configured: bool,
    /// For Azure, a deployment name.
    pub default_model: String,
    pub models: Vec<ModelSettings>,
    pub embedding_model: Option<String>,
    pub embedding_batch_size: usize,
}

impl ProviderSettings {
    /// The defaults for `model`, when the configuration lists it.
    pub fn model(&self, model: &str) -> Option<&ModelSettings> {
        self.models.iter().find(|m| m.name == model)
    }
}

/// How provider requests behave on the network.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// Longest silence between two chunks of a response (and before its headers).
    pub read_timeout: Duration,
    /// Tries of a rate-limited request before giving up, the first included.
    pub max_attempts: u32,
    /// Wait before the second try when the provider gives no `Retry-After`; doubles each try.
    pub backoff_base: Duration,
    pub max_backoff: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            max_attempts: 3,
            backoff_base: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProvidersConfig {
    /// Every network provider, configured or not, in [`KNOWN_PROVIDERS`] order.
    pub providers: Vec<ProviderSettings>,
    /// The file's choice; used only when that provider is configured.
    pub default_provider: Option<String>,
    pub http: HttpSettings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    default_provider: Option<String>,
    #[serde(default)]
    http: FileHttp,
    #[serde(default)]
    providers: BTreeMap<String, FileProvider>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHttp {
    connect_timeout_ms: Option<u64>,
    read_timeout_ms: Option<u64>,
    max_attempts: Option<u32>,
    backoff_base_ms: Option<u64>,
    max_backoff_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProvider {
    base_url: Option<String>,
    api_version: Option<String>,
    default_model: Option<String>,
    #[serde(default)]
    models: Vec<ModelSettings>,
    embedding_model: Option<String>,
    embedding_batch_size: Option<usize>,
}

/// Built-in defaults per provider: base URL, models (first is the default), embedding
/// model and the largest batch its embedding endpoint accepts.
struct Builtin {
    base_url: &'static str,
    models: &'static [&'static str],
    embedding_model: Option<&'static str>,
    embedding_batch_size: usize,
}

fn builtin(dialect: Dialect) -> Builtin {
    let (base_url, models, embedding_model, embedding_batch_size): (_, &[&str], _, _) =
        match dialect {
            Dialect::OpenAi => (
                "https://api.openai.com/v1",
                &["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"],
                Some("text-embedding-3-small"),
                256,
            ),
            Dialect::OpenRouter => (
                "https://openrouter.ai/api/v1",
                &[
                    "openai/gpt-4o-mini",
                    "anthropic/claude-sonnet-4",
                    "google/gemini-2.5-flash",
                ],
                None,
                0,
            ),
            Dialect::DeepSeek => (
                "https://api.deepseek.com",
                &["deepseek-chat", "deepseek-reasoner"],
                None,
                0,
            ),
            // Azure's models are the user's deployments; the file lists them.
            Dialect::Azure => ("", &["gpt-4o-mini"], None, 16),
            Dialect::Dashscope => (
                "https://dashscope.aliyuncs.com/compatible-mode/v1",
                &["qwen-plus", "qwen-max", "qwen-turbo"],
                Some("text-embedding-v3"),
                10,
            ),
            Dialect::Gemini => (
                "https://generativelanguage.googleapis.com",
                &[
                    "gemini-2.5-flash",
                    "gemini-2.5-pro",
                    "gemini-2.5-flash-lite",
                ],
                Some("text-embedding-004"),
                100,
            ),
            Dialect::Ollama => (
                "http://localhost:11434",
                &["llama3.2", "qwen3:8b"],
                Some("nomic-embed-text"),
                32,
            ),
        };
    Builtin {
        base_url,
        models,
        embedding_model,
        embedding_batch_size,
    }
}

impl ProvidersConfig {
    /// Reads the environment through `lookup`, and the file it names, if any.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file = match non_empty(&lookup, "REPOWIKI_PROVIDERS_FILE") {
            Some(path) => {
                Some(
                    std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        Self::from_parts(lookup, file.as_deref())
    }

    /// Builds the configuration from an environment lookup and a TOML file's text.
    pub fn from_parts(
        lookup: impl Fn(&str) -> Option<String>,
        file: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let mut file: FileConfig = match file {
            Some(text) => toml::from_str(text)?,
            None => FileConfig::default(),
        };
        if let Some(unknown) = file
            .providers
            .keys()
            .find(|id| !KNOWN_PROVIDERS.iter().any(|(known, _)| known == id))
        {
            return Err(ConfigError::UnknownProvider(unknown.clone()));
        }
        let env = |name: &str| non_empty(&lookup, name);
        // `offline` has no dialect: it is no network provider and has no settings.
        let providers = KNOWN_PROVIDERS
            .iter()
            .filter_map(|&(id, name)| Some((id, name, Dialect::from_id(id)?)))
            .map(|(id, name, dialect)| {
                let listed = file.providers.remove(id);
                let in_file = listed.is_some();
                let from_file = listed.unwrap_or_default();
                let (key_var, url_var) = match dialect {
                    Dialect::OpenAi => (Some("OPENAI_API_KEY"), "OPENAI_BASE_URL"),
                    Dialect::OpenRouter => (Some("OPENROUTER_API_KEY"), "OPENROUTER_BASE_URL"),
                    Dialect::DeepSeek => (Some("DEEPSEEK_API_KEY"), "DEEPSEEK_BASE_URL"),
                    Dialect::Azure => (Some("AZURE_OPENAI_API_KEY"), "AZURE_OPENAI_ENDPOINT"),
                    Dialect::Dashscope => (Some("DASHSCOPE_API_KEY"), "DASHSCOPE_BASE_URL"),
                    Dialect::Gemini => (Some("GOOGLE_API_KEY"), "GEMINI_BASE_URL"),
                    Dialect::Ollama => (None, "OLLAMA_HOST"),
                };
                let api_key = key_var.and_then(env);
                let url_from_env = env(url_var);
                let configured = match dialect {
                    Dialect::Azure => {
                        api_key.is_some()
                            && (url_from_env.is_some() || from_file.base_url.is_some())
                    }
                    // Ollama needs no key: naming its host, or listing it in the file, is enough.
                    Dialect::Ollama => url_from_env.is_some() || in_file,
                    Dialect::OpenAi
                    | Dialect::OpenRouter
                    | Dialect::DeepSeek
                    | Dialect::Dashscope
                    | Dialect::Gemini => api_key.is_some(),
                };
                let defaults = builtin(dialect);
                let mut models = from_file.models;
                if models.is_empty() {
                    models = defaults
                        .models
                        .iter()
                        .map(|m| ModelSettings::named(m))
                        .collect();
                }
                let default_model = from_file
                    .default_model
                    .or_else(|| models.first().map(|m| m.name.clone()))
                    .unwrap_or_default();
                if !models.iter().any(|m| m.name == default_model) {
                    models.insert(0, ModelSettings::named(&default_model));
                }
                let base_url = url_from_env
                    .or(from_file.base_url)
                    .unwrap_or_else(|| defaults.base_url.to_owned());
                ProviderSettings {
                    id,
                    name,
                    dialect,
                    base_url: ollama_scheme(dialect, base_url.trim_end_matches('/')),
                    api_key,
                    api_version: (dialect == Dialect::Azure).then(|| {
                        env("AZURE_OPENAI_VERSION")
                            .or(from_file.api_version)
                            .unwrap_or_else(|| "2024-10-21".to_owned())
                    }),
                    configured,
                    default_model,
                    models,
                    embedding_model: from_file
                        .embedding_model
                        .or(defaults.embedding_model.map(str::to_owned)),
                    embedding_batch_size: from_file
                        .embedding_batch_size
                        .unwrap_or(defaults.embedding_batch_size)
                        .max(1),
                }
            })
            .collect();
        let base = HttpSettings::default();
        let ms = Duration::from_millis;
        let http = HttpSettings {
            connect_timeout: file
                .http
                .connect_timeout_ms
                .map_or(base.connect_timeout, ms),
            read_timeout: file.http.read_timeout_ms.map_or(base.read_timeout, ms),
            max_attempts: file.http.max_attempts.unwrap_or(base.max_attempts).max(1),
            backoff_base: file.http.backoff_base_ms.map_or(base.backoff_base, ms),
            max_backoff: file.http.max_backoff_ms.map_or(base.max_backoff, ms),
        };
        Ok(Self {
            providers,
            default_provider: file.default_provider,
            http,
        })
    }

    pub fn provider(&self, id: &str) -> Option<&ProviderSettings> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// The file's choice when that provider is configured, else the first configured
    /// provider, else `offline`.
    pub fn default_provider_id(&self) -> &'static str {
        let chosen = self
            .default_provider
            .as_deref()
            .and_then(|id| self.provider(id))
            .filter(|p| p.configured);
        chosen
            .or_else(|| self.providers.iter().find(|p| p.configured))
            .map_or("offline", |p| p.id)
    }
}

fn non_empty(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `OLLAMA_HOST` is often written as Ollama itself accepts it: `host:port`, no scheme.
fn ollama_scheme(dialect: Dialect, url: &str) -> String {
    if dialect == Dialect::Ollama && !url.contains("://") {
        format!("http://{url}")
    } else {
        url.to_owned()
    }
}
