//! The `server` binary: reads configuration, starts RepoWiki, stops on SIGTERM or Ctrl-C.

use std::process::ExitCode;

use clap::Parser;
use leptos::config::get_configuration;
use server::config::Config;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // A child the server started to read one PDF under limits (`projects::pdf`): no
    // runtime, no threads, so its whole address-space budget goes to the PDF.
    if std::env::args().nth(1).as_deref() == Some(server::projects::pdf::EXTRACT_ARG) {
        return server::projects::pdf::run_extractor();
    }
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(serve()),
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
    // A missing .env is normal; a malformed one is worth a warning once logging is up.
    let dotenv = dotenvy::dotenv();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // `json`: one object per line with the span fields (request id, conversation), for
    // log pipelines; anything else: text for people.
    let json = std::env::var("REPOWIKI_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    if let Err(e) = dotenv
        && !e.not_found()
    {
        tracing::warn!(error = %e, "ignoring .env");
    }

    match server::fd_limit::raise_to_hard_limit() {
        Ok((before, after)) if after > before => {
            tracing::info!(before, after, "open-file limit raised for sockets");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
    let config = Config::parse();
    let leptos_options = match get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(e) => {
            tracing::error!(error = %e, "invalid LEPTOS_* configuration");
            return ExitCode::FAILURE;
        }
    };
    let mut leptos_options = leptos_options;
    // The release build names its files after their content and lists the names in a
    // hash file beside the executable; with it there, pages must ask for those names.
    if !leptos_options.hash_files
        && std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(&*leptos_options.hash_file)))
            .is_some_and(|file| file.exists())
    {
        leptos_options.hash_files = true;
    }
    let addr = leptos_options.site_addr;
    if !config.auth_enabled && !addr.ip().is_loopback() {
        if !config.allow_open {
            tracing::error!(
                %addr,
                "refusing to serve every conversation to the network without API keys: \
                 set REPOWIKI_AUTH_ENABLED=true with REPOWIKI_API_KEYS, bind a loopback \
                 address, or set REPOWIKI_ALLOW_OPEN=true to accept the risk"
            );
            return ExitCode::FAILURE;
        }
        tracing::warn!(
            %addr,
            "auth is off on a network address (REPOWIKI_ALLOW_OPEN): anyone who can reach \
             it can read and write every conversation and project"
        );
    }
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
