//! The `server` binary: reads configuration, starts RepoWiki, stops on SIGTERM or Ctrl-C.

use std::process::ExitCode;

use clap::Parser;
use leptos::config::get_configuration;
use server::config::Config;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is worth a warning once logging is up.
    let dotenv = dotenvy::dotenv();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    if let Err(e) = dotenv
        && !e.not_found()
    {
        tracing::warn!(error = %e, "ignoring .env");
    }

    let config = Config::parse();
    let leptos_options = match get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(e) => {
            tracing::error!(error = %e, "invalid LEPTOS_* configuration");
            return ExitCode::FAILURE;
        }
    };
    let addr = leptos_options.site_addr;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));

    let state = match server::build_state(config, leptos_options, shutdown).await {
        Ok(state) => state,
        Err(e) => {
            tracing::error!(error = %e, "could not start");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(error = %e, %addr, "could not listen");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("RepoWiki listening on http://{addr}");
    match server::serve(listener, state).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch SIGTERM; Ctrl-C still works");
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
