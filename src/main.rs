//! The `gatehouse` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use gatehouse::cli::config::ConfigCommand;
use gatehouse::cli::{Cli, Command};
use gatehouse::config::Settings;
use gatehouse::startup::Application;

fn main() -> ExitCode {
    let cli = Cli::parse(); // usage errors exit 2
    // `config check` loads what it checks itself: FILE rather than the default source, and
    // its own error rather than the one of a configuration loaded here first.
    if let Some(Command::Config(ConfigCommand::Check { file })) = &cli.command {
        return match gatehouse::cli::config::check(file.as_deref().or(cli.config.as_deref())) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format!("{e:#}")),
        };
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        other => gatehouse::cli::run(other, settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("{e:#}")),
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    // One line naming the problem.
    let line = message.to_string().replace('\n', " ");
    eprintln!("gatehouse: {line}");
    ExitCode::FAILURE
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    gatehouse::telemetry::init(&settings.server.log_level);
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        app.announce();
        app.run_until_stopped().await?;
        Ok(())
    })
}
