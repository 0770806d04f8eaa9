//! The operator CLI. Every command prints one JSON object on stdout and exits
//! 0; on failure it prints a message on stderr and exits non-zero.
//!
//! Commands go through the application layer like the admin API and the
//! console: every change is audited with the actor `cli:<os user>`. Only
//! `serve` and `migrate` may create a database; every other command refuses
//! to run on a database that is not there (and says which one it looked for).

mod asset;
mod storage;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret as _;
use serde_json::json;

use crate::app::App;
use crate::app::operators::Auditor;
use crate::app::search::HistoryPage;
use crate::config::Settings;
use crate::domain::{
    AdminId, AdminName, Environment, OrderNumber, Tenant, TokenId, VendorId, VendorStatus,
    ms_to_rfc3339,
};
use crate::http::params::{SearchQuery, encode_cursor};
use crate::http::wire::{
    AdminItem, AssetItem, OrderItem, OrderSummaryItem, TokenItem, VendorItem, VendorSummaryItem,
};
use crate::startup::{Application, build_app};
use crate::storage::Storage;
use crate::store::assets::AssetFilter;
use crate::store::{Open, Store};

#[derive(Parser, Debug)]
#[command(
    name = "assetgate",
    version,
    about = "Access-control gateway for digital assets with instantly revocable links",
    long_about = "Access-control gateway for digital assets with instantly revocable links.\n\n\
        Without a command it serves. Every other command prints one JSON object on stdout; \
        changes are written to the audit log as cli:<your user name>."
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
    /// Create the database if it does not exist and apply pending migrations.
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
    /// Find and inspect orders.
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
    /// Copy the local catalogue (storage.path) into the bucket of
    /// storage.s3.*, verifying every sha256; safe to run again (it copies
    /// what is missing). Then set storage.backend = "s3". Exits 1 if a file
    /// could not be copied.
    Migrate {
        /// Where to: `s3`.
        #[arg(long, value_parser = ["s3"])]
        to: String,
    },
}

#[derive(Subcommand, Debug)]
enum VendorCmd {
    /// Create a vendor (a shop); then give it a token with `token create`.
    Create {
        /// The shop's name, 1 to 200 characters.
        #[arg(long)]
        name: String,
    },
    /// List every vendor with its number of active API tokens.
    List,
    /// Suspend a vendor: its API calls get 403 until it is activated.
    Suspend {
        /// The vendor's id (from `vendor list`).
        vendor_id: String,
    },
    /// Activate a suspended vendor.
    Activate {
        /// The vendor's id (from `vendor list`).
        vendor_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCmd {
    /// Create an API token for a vendor; prints the secret once.
    Create {
        /// The vendor's id (from `vendor list`).
        #[arg(long)]
        vendor: String,
        /// The environment its orders live in.
        #[arg(long, value_name = "SANDBOX|LIVE")]
        environment: String,
    },
    /// List a vendor's API tokens (never their secrets).
    List {
        /// The vendor's id (from `vendor list`).
        #[arg(long)]
        vendor: String,
    },
    /// Revoke an API token: its calls get 401 from then on.
    Revoke {
        /// The token's id (from `token list`).
        token_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCmd {
    /// Create an operator; prints its token once.
    Create {
        /// The operator's name, as the audit log shows it (1 to 100 characters).
        #[arg(long)]
        name: String,
        /// What the operator may do: `viewer` reads everything; `support` also
        /// reissues links; `admin` also cancels and manages everything.
        #[arg(long, default_value = "admin", value_parser = ["viewer", "support", "admin"])]
        role: String,
    },
    /// List operators with their roles (never their tokens).
    List,
    /// Change an operator's role (its open console sessions follow at once).
    SetRole {
        /// The operator's id (from `admin list`).
        admin_id: String,
        /// `viewer`, `support` or `admin`.
        #[arg(value_parser = ["viewer", "support", "admin"])]
        role: String,
    },
    /// Revoke an operator's token and end its console sessions.
    Revoke {
        /// The operator's id (from `admin list`).
        admin_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum AssetCmd {
    /// Copy a file into storage and add it to the catalogue.
    Add(asset::AddArgs),
    /// List the catalogue by ascending asset id.
    List {
        /// Start after this asset id.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many assets (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
}

#[derive(Subcommand, Debug)]
enum OrderCmd {
    /// Print an order, its lines and their full history.
    Show {
        /// The vendor's id (from `vendor list`).
        #[arg(long)]
        vendor: String,
        /// The environment the order lives in.
        #[arg(long, value_name = "SANDBOX|LIVE")]
        environment: String,
        /// The shop's order number.
        #[arg(long)]
        order: i64,
    },
    /// Find orders, newest first (the console's search).
    Search {
        /// An order number, or part of a customer's name.
        #[arg(long)]
        q: Option<String>,
        /// Only this vendor's orders.
        #[arg(long)]
        vendor: Option<String>,
        /// Only orders in this environment.
        #[arg(long, value_name = "SANDBOX|LIVE")]
        environment: Option<String>,
        /// Only orders with a line in this state.
        #[arg(long, value_name = "PROCESSING|COMPLETED|CANCELED|FAILED")]
        status: Option<String>,
        /// Only orders with a line canceled for this reason.
        #[arg(long, value_name = "refund|dispute|manual|legal")]
        reason_code: Option<String>,
        /// Created at or after this time (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        created_from: Option<String>,
        /// Created before this time (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        created_to: Option<String>,
        /// At most this many orders (1 to 200).
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// The `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    for (name, meant) in Settings::unknown_env_vars(std::env::vars().map(|(k, _)| k)) {
        let hint = meant.map_or_else(
            || "settings are ASSETGATE__SECTION__KEY, e.g. ASSETGATE__SERVER__PORT".to_owned(),
            |m| format!("did you mean {m}?"),
        );
        eprintln!("warning: {name} is not a setting and is ignored ({hint})");
    }
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

/// The application over the existing database (never a new one).
async fn open_app(settings: &Settings) -> anyhow::Result<App> {
    crate::webhooks::install_tls_provider();
    let store = Store::open(&settings.database, Open::Existing).await?;
    if settings.database.migrate_on_start {
        store
            .migrate()
            .await
            .context("running database migrations")?;
    }
    let storage = Storage::open(&settings.storage)?;
    let instance = format!("cli-{}", std::process::id());
    build_app(settings, store, storage, "http://cli.invalid", &instance)
}

/// The person at the CLI, as the audit log names them.
fn auditor() -> Auditor {
    Auditor::Cli(whoami::username())
}

fn vendor_id(raw: &str) -> anyhow::Result<VendorId> {
    VendorId::parse(raw)
        .map_err(|_| anyhow::anyhow!("{raw:?} is not a vendor id (a UUID from `vendor list`)"))
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
        Command::Key(KeyCmd::Generate) => {
            let key: [u8; 32] = rand::random();
            json!({
                "key": base64::engine::general_purpose::STANDARD.encode(key),
                "kid": crate::links::key_id(&key),
            })
        }
        Command::Storage(StorageCmd::Migrate { .. }) => {
            let from = Storage::local(&settings.storage.path)?;
            let mut to = settings.clone();
            to.storage.backend = crate::config::StorageBackend::S3;
            to.validate_storage()?;
            let app = open_app(&to).await?;
            eprintln!(
                "copying the catalogue from {} to {}",
                from.describe(),
                app.storage_description()
            );
            let report = storage::migrate(&app, &from).await?;
            let failure = (report.failed > 0).then(|| {
                format!(
                    "{} of {} asset files could not be copied; see \"problems\" (run again once fixed)",
                    report.failed, report.assets
                )
            });
            return Ok(Some(Output {
                json: serde_json::to_value(report)?,
                failure,
            }));
        }
        Command::Storage(StorageCmd::Verify) => {
            let app = open_app(&settings).await?;
            let report = storage::verify(&app).await?;
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
        other => {
            let app = open_app(&settings).await?;
            manage(&app, other).await?
        }
    };
    Ok(Some(Output {
        json: value,
        failure: None,
    }))
}

fn admin_id_arg(s: &str) -> anyhow::Result<AdminId> {
    AdminId::parse(s).map_err(|_| anyhow::anyhow!("{s:?} is not an admin id (see `admin list`)"))
}

/// The commands that read or change the gateway's data.
async fn manage(app: &App, command: Command) -> anyhow::Result<serde_json::Value> {
    let by = auditor();
    Ok(match command {
        Command::Vendor(VendorCmd::Create { name }) => {
            serde_json::to_value(VendorItem::from(app.create_vendor(&by, &name).await?))?
        }
        Command::Vendor(VendorCmd::List) => {
            let vendors: Vec<VendorSummaryItem> =
                app.vendors().await?.into_iter().map(Into::into).collect();
            json!({ "vendors": vendors })
        }
        Command::Vendor(VendorCmd::Suspend { vendor_id: id }) => {
            let vendor = app
                .set_vendor_status(by, vendor_id(&id)?, VendorStatus::Suspended)
                .await?;
            serde_json::to_value(VendorItem::from(vendor))?
        }
        Command::Vendor(VendorCmd::Activate { vendor_id: id }) => {
            let vendor = app
                .set_vendor_status(by, vendor_id(&id)?, VendorStatus::Active)
                .await?;
            serde_json::to_value(VendorItem::from(vendor))?
        }
        Command::Token(TokenCmd::Create {
            vendor,
            environment: env,
        }) => {
            let created = app
                .create_token(&by, vendor_id(&vendor)?, environment(&env)?)
                .await?;
            let mut shown = serde_json::to_value(TokenItem::from(created.record))?;
            shown["token"] = json!(created.secret.expose_secret());
            shown
        }
        Command::Token(TokenCmd::List { vendor }) => {
            let tokens: Vec<TokenItem> = app
                .vendor_tokens(vendor_id(&vendor)?)
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            json!({ "tokens": tokens })
        }
        Command::Token(TokenCmd::Revoke { token_id }) => {
            let id = TokenId::parse(&token_id).map_err(|_| {
                anyhow::anyhow!("{token_id:?} is not a token id (see `token list`)")
            })?;
            serde_json::to_value(TokenItem::from(app.operator_revoke_token(by, id).await?))?
        }
        Command::Admin(AdminCmd::Create { name, role }) => {
            let name = AdminName::parse(&name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
            let role = role.parse().map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let created = app.create_admin(&by, name, role).await?;
            let mut shown = serde_json::to_value(AdminItem::from(created.admin))?;
            shown["token"] = json!(created.token.expose_secret());
            shown
        }
        Command::Admin(AdminCmd::List) => {
            let admins: Vec<AdminItem> = app.admins().await?.into_iter().map(Into::into).collect();
            json!({ "admins": admins })
        }
        Command::Admin(AdminCmd::Revoke { admin_id }) => {
            let id = admin_id_arg(&admin_id)?;
            serde_json::to_value(AdminItem::from(app.revoke_admin(&by, id).await?))?
        }
        Command::Admin(AdminCmd::SetRole { admin_id, role }) => {
            let id = admin_id_arg(&admin_id)?;
            let role = role.parse().map_err(|e| anyhow::anyhow!("ROLE: {e}"))?;
            serde_json::to_value(AdminItem::from(app.set_admin_role(&by, id, role).await?))?
        }
        Command::Asset(AssetCmd::Add(args)) => {
            serde_json::to_value(AssetItem::from(asset::add(app, &by, args).await?))?
        }
        Command::Asset(AssetCmd::List { after, limit }) => {
            anyhow::ensure!((1..=1000).contains(&limit), "--limit must be 1 to 1000");
            let page = app
                .list_assets(&AssetFilter::default(), after.max(0), limit)
                .await?;
            let next_after = page
                .more
                .then(|| page.assets.last().map(|a| a.asset_id))
                .flatten();
            let assets: Vec<AssetItem> = page.assets.into_iter().map(Into::into).collect();
            json!({ "assets": assets, "next_after": next_after })
        }
        Command::Order(OrderCmd::Show {
            vendor,
            environment: env,
            order,
        }) => order_show(app, vendor_id(&vendor)?, environment(&env)?, order).await?,
        Command::Order(OrderCmd::Search {
            q,
            vendor,
            environment,
            status,
            reason_code,
            created_from,
            created_to,
            limit,
            cursor,
        }) => {
            let query = SearchQuery {
                vendor_id: vendor,
                environment,
                status,
                reason_code,
                q,
                created_from,
                created_to,
                page_size: Some(limit),
                cursor,
            };
            let flag = |e: crate::http::error::ApiError| {
                anyhow::anyhow!("{}", e.to_string().replace('_', "-"))
            };
            let page = app
                .search_orders(
                    &query.filter().map_err(flag)?,
                    query.cursor().map_err(flag)?,
                    query.page_size().map_err(flag)?,
                )
                .await?;
            let orders: Vec<OrderSummaryItem> = page.orders.into_iter().map(Into::into).collect();
            json!({
                "orders": orders,
                "next_cursor": page.next.map(|c| encode_cursor(&[c.created_at_ms, c.id])),
            })
        }
        Command::Serve | Command::Migrate | Command::Key(_) | Command::Storage(_) => {
            anyhow::bail!("not a data command")
        }
    })
}

/// An order, its lines and its whole history, oldest first.
async fn order_show(
    app: &App,
    vendor: VendorId,
    environment: Environment,
    order: i64,
) -> anyhow::Result<serde_json::Value> {
    let number = OrderNumber::parse(order).map_err(|e| anyhow::anyhow!("--order: {e}"))?;
    let tenant = Tenant {
        vendor,
        environment,
    };
    let whole = HistoryPage {
        limit: 10_000_000,
        before_ms: None,
    };
    let detail = app
        .order_detail(tenant.order(number), whole)
        .await
        .with_context(|| format!("no order {order} for vendor {vendor} in {environment}"))?;
    let history: Vec<_> = detail
        .history
        .into_iter()
        .rev()
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
    let lines: Vec<OrderItem> = detail
        .lines
        .into_iter()
        .map(|(line, _)| OrderItem::of_line(line))
        .collect();
    Ok(json!({
        "vendor_id": vendor,
        "environment": environment,
        "order_id": order,
        "lines": lines,
        "history": history,
    }))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// Every subcommand and every flag or argument says what it is for.
    #[test]
    fn every_command_and_flag_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                let here = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(here.clone());
                }
                walk(sub, &here, missing);
            }
            for arg in cmd.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() {
                    missing.push(format!("{path} --{}", arg.get_id()));
                }
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "assetgate", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:?}");
        Cli::command().debug_assert();
    }
}
