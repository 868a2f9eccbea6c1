//! Embeddings over HTTP: OpenAI-compatible `/embeddings` (OpenAI, Azure, Dashscope),
//! Gemini `batchEmbedContents` and Ollama `/api/embed`. Inputs are sent in batches no
//! larger than the provider accepts, and every vector must have the same dimension.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::config::ProviderSettings;
use super::dialect::{Dialect, Wire};
use super::gemini::TextContent;
use super::transport::{Transport, body_error};
use super::{EmbeddingProvider, ProviderError, gemini, openai_compatible};

/// One vector per input, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    /// The length of every vector.
    pub dimension: usize,
}

pub struct HttpEmbedder {
    settings: Arc<ProviderSettings>,
    model: String,
    wire: Wire,
    transport: Transport,
}

impl HttpEmbedder {
    /// `None` when the provider offers no embeddings or none is configured.
    pub(crate) fn new(settings: Arc<ProviderSettings>, transport: Transport) -> Option<Self> {
        let wire = match settings.dialect {
            Dialect::OpenAi
            | Dialect::Azure
            | Dialect::Dashscope
            | Dialect::Gemini
            | Dialect::Ollama => settings.dialect.wire(),
            Dialect::OpenRouter | Dialect::DeepSeek => return None,
        };
        let model = settings.embedding_model.clone()?;
        Some(Self {
            settings,
            model,
            wire,
            transport,
        })
    }

    async fn batch(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        let (settings, model) = (&*self.settings, self.model.as_str());
        match self.wire {
            Wire::OpenAi => {
                #[derive(Deserialize)]
                struct Answer {
                    data: Vec<Item>,
                }
                #[derive(Deserialize)]
                struct Item {
                    #[serde(default)]
                    index: usize,
                    embedding: Vec<f32>,
                }
                let body = InputBody {
                    input: inputs,
                    model,
                };
                let request = |c: &reqwest::Client| {
                    openai_compatible::post(settings, c, model, "embeddings").json(&body)
                };
                let mut answer: Answer = self.call(request).await?;
                // The order of `data` is not promised; `index` is.
                answer.data.sort_by_key(|item| item.index);
                Ok(answer.data.into_iter().map(|i| i.embedding).collect())
            }
            Wire::Gemini => {
                #[derive(Deserialize)]
                struct Answer {
                    embeddings: Vec<Values>,
                }
                #[derive(Deserialize)]
                struct Values {
                    values: Vec<f32>,
                }
                #[derive(Serialize)]
                struct Batch<'a> {
                    requests: Vec<EmbedContent<'a>>,
                }
                #[derive(Serialize)]
                struct EmbedContent<'a> {
                    content: TextContent<'a>,
                    model: &'a str,
                }
                let name = format!("models/{}", model.trim_start_matches("models/"));
                let requests = inputs
                    .iter()
                    .map(|text| EmbedContent {
                        content: TextContent::new(text.as_str()),
                        model: &name,
                    })
                    .collect();
                let body = Batch { requests };
                let request = |c: &reqwest::Client| {
                    gemini::post(settings, c, model, "batchEmbedContents").json(&body)
                };
                let answer: Answer = self.call(request).await?;
                Ok(answer.embeddings.into_iter().map(|e| e.values).collect())
            }
            Wire::Ollama => {
                #[derive(Deserialize)]
                struct Answer {
                    embeddings: Vec<Vec<f32>>,
                }
                let body = InputBody {
                    input: inputs,
                    model,
                };
                let url = format!("{}/api/embed", settings.base_url);
                let request = |c: &reqwest::Client| c.post(&url).json(&body);
                let answer: Answer = self.call(request).await?;
                Ok(answer.embeddings)
            }
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<T, ProviderError> {
        let response = self.transport.send(request, &self.model).await?;
        let bytes = response.bytes().await.map_err(body_error)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ProviderError::BadResponse(format!("unreadable embeddings answer: {e}")))
    }
}

/// The request OpenAI-compatible `/embeddings` and Ollama's `/api/embed` share.
#[derive(Serialize)]
struct InputBody<'a> {
    input: &'a [String],
    model: &'a str,
}

impl EmbeddingProvider for HttpEmbedder {
    fn id(&self) -> &'static str {
        self.settings.id
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn embed<'a>(
        &'a self,
        inputs: &'a [String],
    ) -> BoxFuture<'a, Result<Embeddings, ProviderError>> {
        Box::pin(async move {
            let mut vectors = Vec::with_capacity(inputs.len());
            for batch in inputs.chunks(self.settings.embedding_batch_size.max(1)) {
                let got = self.batch(batch).await?;
                if got.len() != batch.len() {
                    return Err(ProviderError::BadResponse(format!(
                        "asked for {} embeddings, got {}",
                        batch.len(),
                        got.len()
                    )));
                }
                vectors.extend(got);
            }
            let dimension = vectors.first().map_or(0, Vec::len);
            if let Some(odd) = vectors.iter().find(|v| v.len() != dimension) {
                return Err(ProviderError::BadResponse(format!(
                    "embeddings of different dimensions: {dimension} and {}",
                    odd.len()
                )));
            }
            if dimension == 0 && !inputs.is_empty() {
                return Err(ProviderError::BadResponse("empty embedding vectors".into()));
            }
            Ok(Embeddings { vectors, dimension })
        })
    }
}
