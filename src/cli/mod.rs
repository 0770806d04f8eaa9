//! The operator CLI. Every command prints one JSON object on stdout and exits
//! 0; on failure it prints a message on stderr and exits non-zero.

mod asset;
mod storage;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret as _;
use serde_json::json;

use crate::config::Settings;
use crate::domain::{
    AdminId, AdminName, Environment, OrderNumber, Tenant, TokenId, VendorId, VendorStatus,
    ms_to_rfc3339,
};
use crate::http::wire::{AdminItem, AssetItem, OrderItem, TokenItem, VendorItem};
use crate::startup::Application;
use crate::store::Store;

#[derive(Parser, Debug)]
#[command(
    name = "assetgate",
    version,
    about = "Access-control gateway for digital assets with instantly revocable links"
)]
pub struct Cli {
    /// Configuration file (TOML); overrides the built-in defaults. Also ASSETGATE_CONFIG.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Manage vendors (shops).
    #[command(subcommand)]
    Vendor(VendorCmd),
    /// Manage vendor API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Manage operators (admin API and web console).
    #[command(subcommand)]
    Admin(AdminCmd),
    /// Manage the asset catalogue.
    #[command(subcommand)]
    Asset(AssetCmd),
    /// Inspect orders.
    #[command(subcommand)]
    Order(OrderCmd),
    /// Check the asset files.
    #[command(subcommand)]
    Storage(StorageCmd),
    /// Link signing keys.
    #[command(subcommand)]
    Key(KeyCmd),
}

#[derive(Subcommand, Debug)]
enum KeyCmd {
    /// Print a fresh random signing key (base64 of 32 bytes) and its key id,
    /// for `links.signing_key`; see the rotation recipe in the README.
    Generate,
}

#[derive(Subcommand, Debug)]
enum StorageCmd {
    /// Re-hash every asset file against the catalogue; prints a JSON report
    /// and exits 1 if any file is missing or altered.
    Verify,
}

#[derive(Subcommand, Debug)]
enum VendorCmd {
    Create {
        #[arg(long)]
        name: String,
    },
    Suspend {
        vendor_id: String,
    },
    Activate {
        vendor_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCmd {
    Create {
        #[arg(long)]
        vendor: String,
        #[arg(long, value_name = "SANDBOX|LIVE")]
        environment: String,
    },
    Revoke {
        token_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCmd {
    /// Create an operator; prints its token once.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List operators (never their tokens).
    List,
    /// Revoke an operator's token and end its console sessions.
    Revoke { admin_id: String },
}

#[derive(Subcommand, Debug)]
enum AssetCmd {
    Add(asset::AddArgs),
}

#[derive(Subcommand, Debug)]
enum OrderCmd {
    /// Print an order, its lines and their full history.
    Show {
        #[arg(long)]
        vendor: String,
        #[arg(long, value_name = "SANDBOX|LIVE")]
        environment: String,
        #[arg(long)]
        order: i64,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let serving = matches!(cli.command, None | Some(Command::Serve));
    if serving && let Err(e) = settings.check_for_serving() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let level = if serving {
        settings.log.level.clone()
    } else {
        "warn".to_owned()
    };
    crate::telemetry::init(settings.log.format, &level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings)) {
        Ok(Some(Output { json, failure })) => {
            println!("{json}");
            match failure {
                None => ExitCode::SUCCESS,
                Some(message) => {
                    eprintln!("error: {message}");
                    ExitCode::FAILURE
                }
            }
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What a command prints; a `failure` (printed on stderr) makes it exit 1
/// even though its report is printed (e.g. `storage verify` found damage).
struct Output {
    json: serde_json::Value,
    failure: Option<String>,
}

async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.database).await?;
    if settings.database.migrate_on_start {
        store
            .migrate()
            .await
            .context("running database migrations")?;
    }
    Ok(store)
}

fn vendor_id(raw: &str) -> anyhow::Result<VendorId> {
    VendorId::parse(raw)
        .map_err(|_| anyhow::anyhow!("{raw:?} is not a vendor id (a UUID from `vendor create`)"))
}

fn environment(raw: &str) -> anyhow::Result<Environment> {
    raw.parse()
        .map_err(|e| anyhow::anyhow!("--environment: {e}"))
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<Option<Output>> {
    let value = match command {
        Command::Serve => {
            let app = Application::build(settings).await?;
            println!(
                "assetgate is serving on {}  (health: {}/health)",
                app.public_url(),
                app.public_url()
            );
            app.run_until_stopped().await?;
            return Ok(None);
        }
        Command::Migrate => {
            let store = Store::connect(&settings.database).await?;
            json!({ "applied": store.migrate().await.context("running database migrations")? })
        }
        Command::Vendor(cmd) => {
            let store = open_store(&settings).await?;
            let vendor = match cmd {
                VendorCmd::Create { name } => {
                    let name = name.trim();
                    anyhow::ensure!(
                        (1..=200).contains(&name.chars().count()),
                        "--name must be 1 to 200 characters"
                    );
                    store.create_vendor(name).await?
                }
                VendorCmd::Suspend { vendor_id: id } => store
                    .set_vendor_status(vendor_id(&id)?, VendorStatus::Suspended)
                    .await?
                    .with_context(|| format!("no vendor with id {id}"))?,
                VendorCmd::Activate { vendor_id: id } => store
                    .set_vendor_status(vendor_id(&id)?, VendorStatus::Active)
                    .await?
                    .with_context(|| format!("no vendor with id {id}"))?,
            };
            serde_json::to_value(VendorItem::from(vendor))?
        }
        Command::Token(TokenCmd::Create {
            vendor,
            environment: env,
        }) => {
            let store = open_store(&settings).await?;
            let (record, secret) = store
                .create_token(vendor_id(&vendor)?, environment(&env)?)
                .await?
                .with_context(|| format!("no vendor with id {vendor}"))?;
            let mut shown = serde_json::to_value(TokenItem::from(record))?;
            shown["token"] = json!(secret.expose_secret());
            shown
        }
        Command::Token(TokenCmd::Revoke { token_id }) => {
            let store = open_store(&settings).await?;
            let id = TokenId::parse(&token_id)
                .map_err(|_| anyhow::anyhow!("{token_id:?} is not a token id"))?;
            let record = store
                .revoke_token(id)
                .await?
                .with_context(|| format!("no token with id {token_id}"))?;
            serde_json::to_value(TokenItem::from(record))?
        }
        Command::Admin(cmd) => {
            let store = open_store(&settings).await?;
            match cmd {
                AdminCmd::Create { name } => {
                    let name =
                        AdminName::parse(&name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
                    let (admin, token) = store.create_admin(name).await?;
                    let mut shown = serde_json::to_value(AdminItem::from(admin))?;
                    shown["token"] = json!(token.expose_secret());
                    shown
                }
                AdminCmd::List => {
                    let admins: Vec<AdminItem> = store
                        .list_admins()
                        .await?
                        .into_iter()
                        .map(Into::into)
                        .collect();
                    json!({ "admins": admins })
                }
                AdminCmd::Revoke { admin_id } => {
                    let id = AdminId::parse(&admin_id).map_err(|_| {
                        anyhow::anyhow!("{admin_id:?} is not an admin id (see `admin list`)")
                    })?;
                    let admin = store
                        .revoke_admin(id)
                        .await?
                        .with_context(|| format!("no admin with id {admin_id}"))?;
                    serde_json::to_value(AdminItem::from(admin))?
                }
            }
        }
        Command::Asset(AssetCmd::Add(args)) => {
            let store = open_store(&settings).await?;
            serde_json::to_value(AssetItem::from(asset::add(&store, &settings, args).await?))?
        }
        Command::Key(KeyCmd::Generate) => {
            let key: [u8; 32] = rand::random();
            json!({
                "key": base64::engine::general_purpose::STANDARD.encode(key),
                "kid": crate::links::key_id(&key),
            })
        }
        Command::Storage(StorageCmd::Verify) => {
            let store = open_store(&settings).await?;
            let report = storage::verify(&store, &settings).await?;
            let failure = (report.failed > 0).then(|| {
                format!(
                    "{} of {} asset files are missing or altered; see \"problems\"",
                    report.failed, report.checked
                )
            });
            return Ok(Some(Output {
                json: serde_json::to_value(report)?,
                failure,
            }));
        }
        Command::Order(OrderCmd::Show {
            vendor,
            environment: env,
            order,
        }) => {
            let store = open_store(&settings).await?;
            order_show(&store, vendor_id(&vendor)?, environment(&env)?, order).await?
        }
    };
    Ok(Some(Output {
        json: value,
        failure: None,
    }))
}

async fn order_show(
    store: &Store,
    vendor: VendorId,
    environment: Environment,
    order: i64,
) -> anyhow::Result<serde_json::Value> {
    let number = OrderNumber::parse(order).map_err(|e| anyhow::anyhow!("--order: {e}"))?;
    let lines = store
        .order_lines(
            Tenant {
                vendor,
                environment,
            }
            .order(number),
        )
        .await?;
    anyhow::ensure!(
        !lines.is_empty(),
        "no order {order} for vendor {vendor} in {environment}"
    );
    let ids: Vec<_> = lines.iter().map(|l| l.line_id).collect();
    let history: Vec<_> = store
        .history(&ids)
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "line_id": e.line_id,
                "kind": e.kind,
                "at": ms_to_rfc3339(e.at_ms),
                "actor": e.actor,
                "data": e.data,
            })
        })
        .collect();
    let lines: Vec<OrderItem> = lines.into_iter().map(OrderItem::of_line).collect();
    Ok(json!({
        "vendor_id": vendor,
        "environment": environment,
        "order_id": order,
        "lines": lines,
        "history": history,
    }))
}
