//! From a response's bytes to provider events: records are cut from the byte stream (SSE
//! by `eventsource-stream`, NDJSON by lines), and a provider-specific [`Decoder`] turns
//! each record into events. A stream that ends before its decoder saw the provider's
//! terminator is reported as [`ProviderError::StreamCut`].

use std::collections::VecDeque;

use axum::body::Bytes;
use eventsource_stream::{EventStreamError, Eventsource};
use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt};

use super::{EventStream, ProviderError, ProviderEvent};

/// Reads one provider's records.
pub(crate) trait Decoder: Send + 'static {
    /// Pushes the record's events; returns true when the record ends the answer.
    fn record(
        &mut self,
        text: &str,
        out: &mut VecDeque<ProviderEvent>,
    ) -> Result<bool, ProviderError>;
}

type Records = BoxStream<'static, Result<String, ProviderError>>;

/// The `data` of each server-sent event.
pub(crate) fn sse_records<S, B>(bytes: S) -> Records
where
    S: Stream<Item = Result<B, ProviderError>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
{
    bytes
        .eventsource()
        .map(|event| match event {
            Ok(event) => Ok(event.data),
            Err(EventStreamError::Transport(e)) => Err(e),
            Err(e) => Err(ProviderError::BadResponse(e.to_string())),
        })
        .boxed()
}

/// Each line of a newline-delimited JSON body. A last line without its newline means the
/// body was cut mid-record.
pub(crate) fn ndjson_records<S, B>(bytes: S) -> Records
where
    S: Stream<Item = Result<B, ProviderError>> + Send + Unpin + 'static,
    B: AsRef<[u8]> + Send + 'static,
{
    stream::unfold(
        (bytes, Vec::<u8>::new(), false),
        |(mut bytes, mut buffer, ended)| async move {
            loop {
                if let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=end).collect();
                    let text = String::from_utf8_lossy(&line).trim().to_owned();
                    if text.is_empty() {
                        continue;
                    }
                    return Some((Ok(text), (bytes, buffer, ended)));
                }
                if ended {
                    return None;
                }
                match bytes.next().await {
                    Some(Ok(chunk)) => buffer.extend_from_slice(chunk.as_ref()),
                    Some(Err(e)) => return Some((Err(e), (bytes, Vec::new(), true))),
                    None if buffer.iter().all(u8::is_ascii_whitespace) => return None,
                    None => {
                        return Some((Err(ProviderError::StreamCut), (bytes, Vec::new(), true)));
                    }
                }
            }
        },
    )
    .boxed()
}

/// One JSON record of a stream.
pub(crate) fn json_record<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ProviderError> {
    serde_json::from_str(text)
        .map_err(|e| ProviderError::BadResponse(format!("unreadable stream record: {e}")))
}

/// Decodes records into events until the decoder's terminator, an error, or the end.
pub(crate) fn decode(records: Records, decoder: impl Decoder) -> EventStream {
    struct State<D> {
        records: Option<Records>,
        decoder: D,
        queue: VecDeque<ProviderEvent>,
    }
    let start = State {
        records: Some(records),
        decoder,
        queue: VecDeque::new(),
    };
    stream::unfold(start, |mut state| async move {
        loop {
            if let Some(event) = state.queue.pop_front() {
                return Some((Ok(event), state));
            }
            let records = state.records.as_mut()?;
            let failure = match records.next().await {
                Some(Ok(text)) => match state.decoder.record(&text, &mut state.queue) {
                    Ok(false) => continue,
                    Ok(true) => {
                        // Done: release the connection now rather than when dropped.
                        state.records = None;
                        continue;
                    }
                    Err(e) => e,
                },
                Some(Err(e)) => e,
                None => ProviderError::StreamCut,
            };
            state.records = None;
            return Some((Err(failure), state));
        }
    })
    .boxed()
}

/// A response's bytes, with transport errors already told apart.
pub(crate) fn body_bytes(
    response: reqwest::Response,
) -> impl Stream<Item = Result<Bytes, ProviderError>> + Send + Unpin + 'static {
    response
        .bytes_stream()
        .map(|chunk| chunk.map_err(super::transport::body_error))
}
