//! The HTTP side shared by every network provider: one pooled client with connect and
//! per-read timeouts, and sending with retries while the provider rate-limits us.
//!
//! Retries happen only before a response body is read, so a request that has streamed
//! tokens is never sent twice.

use std::time::Duration;

use futures::StreamExt;
use futures::stream;
use reqwest::{RequestBuilder, Response};

use super::config::HttpSettings;
use super::{EventStream, ProviderError, ProviderEvent, http_errors};

#[derive(Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
    http: HttpSettings,
}

/// One try's outcome.
enum Attempt {
    Answered(Response),
    RetryAfter(Duration),
    Failed(ProviderError),
}

impl Transport {
    pub fn new(http: HttpSettings) -> Result<Self, ProviderError> {
        let client = reqwest::Client::builder()
            .connect_timeout(http.connect_timeout)
            .read_timeout(http.read_timeout)
            .build()
            .map_err(|e| ProviderError::Unavailable(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self { client, http })
    }

    async fn attempt(&self, request: RequestBuilder, attempt: u32, model: &str) -> Attempt {
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Failed(send_error(e)),
        };
        let status = response.status();
        if status.is_success() {
            return Attempt::Answered(response);
        }
        let told = retry_after_header(&response);
        let body = response.text().await.unwrap_or_default();
        match http_errors::classify(status, &body, model) {
            // Only a rate limit is worth waiting for; an exhausted quota is not one.
            ProviderError::RateLimited if attempt < self.http.max_attempts => {
                let told = told.or_else(|| http_errors::retry_delay(&body));
                Attempt::RetryAfter(self.wait_before_retry(told, attempt))
            }
            error => Attempt::Failed(error),
        }
    }

    /// The provider's wait when it gave one, else exponential backoff from the base.
    fn wait_before_retry(&self, told: Option<Duration>, attempt: u32) -> Duration {
        let backoff = self
            .http
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        told.unwrap_or(backoff).min(self.http.max_backoff)
    }

    /// Sends until answered, waiting out rate limits silently (for requests that have no
    /// event stream to report on, such as embeddings).
    pub async fn send(
        &self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        model: &str,
    ) -> Result<Response, ProviderError> {
        let mut attempt = 1;
        loop {
            match self.attempt(build(&self.client), attempt, model).await {
                Attempt::Answered(r) => return Ok(r),
                Attempt::Failed(e) => return Err(e),
                Attempt::RetryAfter(wait) => tokio::time::sleep(wait).await,
            }
            attempt += 1;
        }
    }

    /// Sends a streaming request, announcing each rate-limit wait as
    /// [`ProviderEvent::RateLimited`], then yields what `parse` makes of the response.
    /// Dropping the returned stream drops the response, which aborts the request.
    pub fn stream<B, P>(&self, model: String, build: B, parse: P) -> EventStream
    where
        B: Fn(&reqwest::Client) -> RequestBuilder + Send + 'static,
        P: FnOnce(Response) -> EventStream + Send + 'static,
    {
        enum Phase<P> {
            Send {
                attempt: u32,
                parse: P,
            },
            Wait {
                attempt: u32,
                wait: Duration,
                parse: P,
            },
            Body(EventStream),
            Done,
        }
        // Carried through the stream's state rather than captured, so a token costs no
        // clones.
        struct Call<B> {
            transport: Transport,
            build: B,
            model: String,
        }
        let call = Call {
            transport: self.clone(),
            build,
            model,
        };
        let start = (call, Phase::Send { attempt: 1, parse });
        stream::unfold(start, |(call, mut phase)| async move {
            loop {
                phase = match phase {
                    Phase::Send { attempt, parse } => {
                        let request = (call.build)(&call.transport.client);
                        match call.transport.attempt(request, attempt, &call.model).await {
                            Attempt::Answered(response) => Phase::Body(parse(response)),
                            Attempt::RetryAfter(wait) => {
                                let event = ProviderEvent::RateLimited {
                                    retry_in_ms: wait.as_millis() as u64,
                                };
                                let next = Phase::Wait {
                                    attempt,
                                    wait,
                                    parse,
                                };
                                return Some((Ok(event), (call, next)));
                            }
                            Attempt::Failed(e) => return Some((Err(e), (call, Phase::Done))),
                        }
                    }
                    Phase::Wait {
                        attempt,
                        wait,
                        parse,
                    } => {
                        tokio::time::sleep(wait).await;
                        Phase::Send {
                            attempt: attempt + 1,
                            parse,
                        }
                    }
                    Phase::Body(mut body) => {
                        let next = body.next().await?;
                        return Some((next, (call, Phase::Body(body))));
                    }
                    Phase::Done => return None,
                }
            }
        })
        .boxed()
    }
}

/// `Retry-After` in seconds (the form providers use; an HTTP date is ignored).
fn retry_after_header(response: &Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| seconds(v.trim()))
}

/// A non-negative number of seconds, as `Retry-After` and Gemini's `retryDelay` give it.
pub(crate) fn seconds(text: &str) -> Option<Duration> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

/// A request that got no response.
fn send_error(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else if e.is_connect() {
        ProviderError::Unavailable(format!("cannot connect: {e}"))
    } else {
        ProviderError::Unavailable(e.to_string())
    }
}

/// A response body that broke off: a silent provider is a timeout, anything else a cut.
pub(crate) fn body_error(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout
    } else {
        ProviderError::StreamCut
    }
}
