//! `larder`: runs the server on the configuration in the environment.
//! `larder copy-data --from <URL>`: copies an instance into that
//! configuration (see `server::copy`).

use server::config::Config;

#[tokio::main]
async fn main() {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("larder: configuration error: {e}");
            std::process::exit(2);
        }
    };
    let telemetry = server::telemetry::init(&config);
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("copy-data") {
        let outcome = match server::copy::CopyArgs::parse(&args[1..]) {
            Ok(copy) => server::copy::run(&config, &copy, |line| println!("{line}")).await,
            Err(e) => Err(e),
        };
        finish(telemetry).await;
        if let Err(e) = outcome {
            eprintln!("larder copy-data: {e}");
            std::process::exit(1);
        }
        return;
    }
    let mut server = match server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("larder: {e}");
            finish(telemetry).await;
            std::process::exit(1);
        }
    };
    if let Some(stop) = server.shutdown_handle() {
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight");
            let _ = stop.send(());
        });
    }
    let stopped = server.wait().await;
    finish(telemetry).await;
    if let Err(e) = stopped {
        eprintln!("larder: server stopped: {e}");
        std::process::exit(1);
    }
}

/// Sends the last batched spans (a blocking call: off the runtime).
async fn finish(telemetry: server::telemetry::Telemetry) {
    if telemetry.exporting() {
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
